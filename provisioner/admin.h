/*
 * admin: the admin socket.  Each accepted connection is served by a
 * thread of its own, because provisioning and revocation call provider
 * APIs that may take seconds; the main loop never waits for them.  Only
 * root, the daemon's uid and [daemon] admin_uids are served.
 */
#ifndef ADMIN_H
#define ADMIN_H

#include "provisioner/daemon.h"

/* Accept one connection on listen_fd and start its thread. */
void	admin_accept(struct daemon *, int listen_fd);

/* Start the thread that retries releasing numbers and mailboxes whose
 * provider failed at revoke time, and re-watches email identities. */
void	admin_start_releaser(struct daemon *);

/* Start watching every active email identity (at startup). */
void	admin_watch_all(struct daemon *);

/* Agent names: [a-z][a-z0-9-]{0,31}. */
int	admin_valid_name(const char *);

#endif
