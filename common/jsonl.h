/*
 * jsonl: newline-delimited JSON framing (DESIGN §6), at most
 * JSONL_MAX_LINE bytes a line.  One request in, one response out.
 */
#ifndef JSONL_H
#define JSONL_H

#include <stddef.h>
#include <jansson.h>

#include "common/buf.h"

#define JSONL_MAX_LINE	(64 * 1024)

enum jsonl_status {
	JSONL_OK,	/* *out holds a parsed object */
	JSONL_MORE,	/* no complete line yet */
	JSONL_TOOBIG,	/* line over the cap: the connection must close */
	JSONL_BAD	/* a line that is not a JSON object; *errstr why */
};

/* Take the next line out of b (consuming it) and parse it.  Duplicate
 * keys are rejected.  *out is a new reference on JSONL_OK. */
enum jsonl_status jsonl_next(struct buf *b, json_t **out,
		    const char **errstr);

/* Serialize o (compact, one line) followed by '\n' into a heap string. */
char	*jsonl_dump(const json_t *o, size_t *len);

/* Blocking helpers for clients: write all of s; read one line with a
 * deadline in ms (-1: none).  read returns JSONL_OK, or JSONL_BAD with
 * *errstr "timeout", "closed", "too long" or the parse error. */
int	 jsonl_write_all(int fd, const char *s, size_t len);
enum jsonl_status jsonl_read(int fd, struct buf *b, int timeout_ms,
		    json_t **out, const char **errstr);

#endif
