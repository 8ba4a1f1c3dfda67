/*
 * outfmt: human output for agentid: aligned tables, key/value blocks,
 * times, and JSON.  Text that came from the network (senders, subjects)
 * is shown with control characters replaced, so it cannot drive the
 * terminal.
 */
#ifndef OUTFMT_H
#define OUTFMT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

struct outfmt_table;

/* A table of ncols columns with the given headers (copied). */
struct outfmt_table *outfmt_table_new(size_t ncols,
		    const char *const *headers);
/* Add a row of ncols cells (copied, control characters replaced). */
void		 outfmt_table_add(struct outfmt_table *,
		    const char *const *cells);
/* Print with columns padded to their widest cell; the last unpadded. */
void		 outfmt_table_print(const struct outfmt_table *, FILE *);
void		 outfmt_table_free(struct outfmt_table *);

/* A JSON scalar as text into buf: strings as is, numbers, true/false,
 * "-" for null or absent.  Returns buf. */
const char	*outfmt_value(const json_t *v, char *buf, size_t len);
/* A unix time (integer) as local "YYYY-MM-DD HH:MM:SS"; other values as
 * outfmt_value().  Returns buf. */
const char	*outfmt_time(const json_t *v, char *buf, size_t len);

/* "key      value" with the key padded to width; value sanitized. */
void		 outfmt_kv(FILE *, int width, const char *key,
		    const char *value);

/* Print o and a newline on stdout: indented on a terminal, compact
 * otherwise (one line, for scripts). */
void		 outfmt_json(const json_t *o);

/* Copy s into buf with control characters replaced by '?'. */
const char	*outfmt_clean(const char *s, char *buf, size_t len);

#endif
