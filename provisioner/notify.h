/*
 * notify: tells the owner that a secret waits for `agentid approve`.
 * Callers (channel and admin threads) only queue; one background thread
 * sends the email through mail/smtp.c, retries with backoff, and marks
 * approvals.notified once the server took it.  The notice never carries
 * the code or link.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "provisioner/daemon.h"

/* Start the sender thread (only when [smtp] host is set) and queue the
 * held secrets whose notice was never sent, e.g. before a crash.  Call
 * once from main() after the store is set up and privileges are
 * dropped. */
void	notify_start(struct daemon *);

/* Queue a notice for held secret secret_id of agent, from sender.  Never
 * blocks on the network.  Without [smtp] host it only logs that approval
 * is needed. */
void	notify_held(struct daemon *, const char *agent, long long secret_id,
	    const char *sender);

#endif
