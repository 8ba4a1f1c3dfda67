/*
 * buf: a growable byte buffer with a hard cap.  Everything read from the
 * network goes through one, so an oversize peer is an error, never an
 * allocation storm.
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

struct buf {
	char	*data;		/* owned; always NUL-terminated when len>0 */
	size_t	 len;
	size_t	 cap;		/* allocated */
	size_t	 max;		/* hard limit on len */
};

void	buf_init(struct buf *, size_t max);
/* Append; returns -1 (and appends nothing) when len would exceed max. */
int	buf_add(struct buf *, const void *, size_t);
int	buf_addstr(struct buf *, const char *);
int	buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void	buf_consume(struct buf *, size_t n);
void	buf_reset(struct buf *);
/* Wipe with explicit_bzero, then free. */
void	buf_clear(struct buf *);

#endif
