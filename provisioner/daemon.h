/*
 * daemon: what every part of agentidd shares: the configuration, the
 * channels, counters, and the queue of events that wakes the main loop
 * (a new secret for an agent, an agent revoked, a token rotated).
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <stdatomic.h>
#include <sys/types.h>

#include "common/config.h"

struct phone;
struct mailbox;

enum notify_kind {
	NOTIFY_SECRET,		/* new deliverable secret for agent */
	NOTIFY_REVOKED,		/* agent revoked: close, wake with revoked */
	NOTIFY_TOKEN		/* token rotated: close bound connections */
};

struct daemon {
	struct config	*conf;
	struct phone	*phone;
	struct mailbox	*mailbox;
	uid_t		 euid;
	long long	 started;
	int		 notify_fd;	/* eventfd the main loop polls */

	atomic_long	 waiters;
	atomic_long	 agent_conns;
	atomic_long	 delivered;
	atomic_long	 ingested;
	atomic_long	 duplicates;
	atomic_long	 dropped;	/* for no active identity */
	atomic_long	 skipped;	/* mail not parsed: too large,
					   rejected, quarantined */
	atomic_long	 auth_failures;
};

/* Queue an event for the main loop and wake it.  Any thread. */
void	daemon_notify(struct daemon *, enum notify_kind, long long agent_id);
/* Main loop: take the queued events; returns how many were copied into
 * kinds/ids (at most max); call again while it returns max. */
size_t	daemon_events(struct daemon *, enum notify_kind *kinds,
	    long long *ids, size_t max);

#endif
