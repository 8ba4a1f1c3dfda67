/*
 * mime: turn one raw RFC 5322 message into normalized UTF-8 fields.
 * Untrusted input: the daemon runs this only inside the sandboxed parser
 * child (mail/parser.h).  Bounded: size, nesting depth, part count and
 * header size are capped; over a cap the message is rejected, not parsed.
 */
#ifndef MIME_H
#define MIME_H

#include <stddef.h>

#define MIME_MAX_SIZE		(25 * 1024 * 1024)
#define MIME_MAX_DEPTH		16
#define MIME_MAX_PARTS		256
#define MIME_MAX_HEADER		(256 * 1024)

/* All fields owned, NUL-terminated UTF-8, never NULL after a successful
 * mime_parse() (empty string when absent). */
struct mime_msg {
	char	*from;		/* bare address of the first From mailbox */
	char	*from_display;	/* display name, decoded */
	char	*subject;	/* RFC 2047 decoded */
	char	*message_id;
	char	*text;		/* text/plain, or text derived from html */
	size_t	 textlen;
	char	*html;		/* text/html, as UTF-8 */
	size_t	 htmllen;
	long long date;		/* unix seconds, 0 when missing or bad */
};

/* Parse raw[0..len).  Returns 0 and fills m, or -1 and sets *errstr to a
 * static reason ("too large", "bad boundary", ...).  m is cleared first. */
int	mime_parse(const char *raw, size_t len, struct mime_msg *m,
	    const char **errstr);

/* Load every charset converter now.  The sandboxed parser child calls it
 * before its seccomp filter goes on, so that no later conversion needs a
 * file; mime_parse() calls it itself when needed.  Thread-safe. */
void	mime_init(void);

/* Free what mime_parse() filled; m may be zeroed or already cleared. */
void	mime_clear(struct mime_msg *m);

#endif
