/*
 * server: the main thread.  One poll loop owns the agent socket and its
 * connections and waiters, accepts admin connections (each served by a
 * thread of its own, see admin.h), and wakes on the daemon's eventfd
 * when a secret is committed or an agent is revoked.
 */
#ifndef SERVER_H
#define SERVER_H

#include "provisioner/daemon.h"

struct server;

/* Bind both sockets (refusing to start over a live daemon).  NULL and
 * *errstr on failure. */
struct server	*server_new(struct daemon *, const char **errstr);
/* Run until SIGTERM or SIGINT. */
void		 server_run(struct server *);
void		 server_free(struct server *);

/* Make a Unix socket listening at path with the given mode. */
int		 server_listen(const char *path, mode_t mode,
		    const char **errstr);

#endif
