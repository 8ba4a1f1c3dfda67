/*
 * client: the agentid side of the socket protocols (docs/protocol.md):
 * connect to a Unix socket with a deadline, send one JSON request line,
 * read one response line.  Used by the admin and agent verbs and by mcp.
 */
#ifndef CLIENT_H
#define CLIENT_H

#include <jansson.h>

#include "common/buf.h"

enum client_status {
	CLIENT_OK,
	CLIENT_UNREACHABLE,	/* no daemon at the path, or it hung */
	CLIENT_DENIED,		/* the socket's permissions refused us */
	CLIENT_TIMEOUT,		/* no complete answer before the deadline */
	CLIENT_PROTO		/* closed early, garbage, oversize, no "ok" */
};

/* Connect to path within timeout_ms.  Returns a blocking, close-on-exec
 * fd, or -1 with *st and *errstr (static or strerror text) set. */
int	client_connect(const char *path, int timeout_ms,
	    enum client_status *st, const char **errstr);

/* Send req as one line.  The serialized copy is wiped after the write
 * because requests carry the token.  0, or -1 with *errstr. */
int	client_send(int fd, const json_t *req, const char **errstr);

/*
 * Read one response line into *resp (a new reference) within timeout_ms,
 * using b (buf_init'ed by the caller with client_bufmax(); it keeps bytes
 * across calls, so a caller may call again after CLIENT_TIMEOUT to keep
 * waiting).  A response must be an object with a boolean "ok".
 */
enum client_status client_recv(int fd, struct buf *b, int timeout_ms,
	    json_t **resp, const char **errstr);
size_t	client_bufmax(void);

/* connect + send + recv + close, one deadline for all. */
enum client_status client_call(const char *path, const json_t *req,
	    int timeout_ms, json_t **resp, const char **errstr);

/* Print "agentid: VERB: why" for a failed transport status. */
void	client_warn(const char *verb, const char *path, enum client_status st,
	    const char *errstr);

/* Exit code for a transport status (DESIGN §7). */
int	client_exit(enum client_status st);

/* The "error" and "message" of a failed response ("" when absent). */
const char *client_error(const json_t *resp);
const char *client_message(const json_t *resp);

#endif
