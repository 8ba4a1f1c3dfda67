/*
 * audit: an append-only hash chain in the audit table.  Each row's hash
 * is an HMAC (under a key derived from the key file) over the row and the
 * previous row's hash, so an edit, deletion or reordering is found by
 * audit_verify(), and a forger without the key cannot recompute it.
 * Secret values appear only as audit_value_mac().
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <jansson.h>

#include "provisioner/store.h"

/* Append one row; call inside the caller's transaction so the action and
 * its record commit together (fail closed).  0 or -1. */
int	 audit_append(struct store *, const char *actor, const char *action,
	    const char *agent, const char *detail);

/* Recompute the chain.  0 intact (*count rows), 1 broken at *bad_seq,
 * -1 error. */
int	 audit_verify(struct store *, long long *bad_seq, long long *count);

/* Rows, oldest first, optionally of one agent (new reference). */
json_t	*audit_list(struct store *, const char *agent);

/* Hex HMAC-SHA256 of a secret value under the audit value key, into out
 * (65 bytes). */
void	 audit_value_mac(const char *value, char out[65]);

#endif
