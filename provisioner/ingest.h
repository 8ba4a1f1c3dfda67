/*
 * ingest: where every inbound message enters the daemon.  Runs
 * extraction (unless the sandboxed mail parser already did), applies the
 * approval policy, commits message and secrets, then wakes the main loop.
 * Thread-safe: each calling thread uses its own store connection.
 */
#ifndef INGEST_H
#define INGEST_H

#include "common/inbound.h"
#include "provisioner/daemon.h"
#include "provisioner/secrets.h"

/* Start the group-commit thread (before any channel starts).  Without
 * it, each message commits on its caller's own connection. */
void	ingest_start(void);

/* The inbound_cb given to channels; arg is the struct daemon. */
enum inbound_status ingest_inbound(const struct inbound *, void *arg);

/* The same for a known agent (inject); fills *out. */
enum inbound_status ingest_for_agent(struct daemon *, const struct inbound *,
		    long long agent_id, struct ingest_result *out);

/* 1 when sender matches a [policy] approve_senders glob. */
int	ingest_needs_approval(const struct config *, const char *sender);

#endif
