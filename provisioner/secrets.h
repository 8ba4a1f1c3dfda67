/*
 * secrets: messages and the codes and links taken from them, in the
 * store.  Ingest commits a message and its secrets in one transaction;
 * take hands the newest matching secret to one caller, wipes its value
 * and writes the audit row in the same transaction (fail closed).
 */
#ifndef SECRETS_H
#define SECRETS_H

#include <jansson.h>

#include "common/inbound.h"
#include "provisioner/store.h"

enum { SF_ANY = 0, SF_CODE, SF_LINK };		/* kind */
enum { SC_ANY = 0, SC_SMS, SC_EMAIL };		/* channel */

struct secret_filter {
	int		 kind;
	int		 channel;
	const char	*from;		/* substring of sender, or NULL */
	const char	*origin;	/* domain, or NULL */
	long long	 since;		/* unix seconds */
};

struct secret_row {
	long long	 id;
	char		 kind[8];
	char		*value;		/* heap; wipe with secret_free() */
	char		 channel[8];
	char		 from[256];
	char		 subject[512];
	char		 origin[256];
	char		 link_domain[256];
	long long	 received_at;
	char		 state[16];
};

struct ingest_result {
	long long	 agent_id;
	long long	 message_id;
	int		 duplicate;
	int		 codes, links, held;
	long long	 held_ids[4];
};

/* One message of a group commit; pointers are borrowed. */
struct ingest_job {
	const struct inbound		*in;
	long long			 agent_id;
	const struct extract_result	*res;
	int				 held;
	long long			 code_ttl;
	long long			 retention;
	struct ingest_result		*out;
	enum inbound_status		*status;	/* written back */
};

/* Minimum confidence for a code or link to be stored as a secret. */
#define SECRETS_MIN_CONFIDENCE	0.5

/*
 * Store one message for agent_id (0: the owner of in->to on its
 * channel) with the best code and the best link of res.  held: the
 * sender needs approval.  Runs its own transaction.  Returns
 * INBOUND_STORED (also for a replay: out->duplicate), INBOUND_UNKNOWN or
 * INBOUND_RETRY.
 */
enum inbound_status secrets_ingest(struct store *, const struct inbound *in,
		    long long agent_id, const struct extract_result *res,
		    int held, long long code_ttl, long long retention,
		    struct ingest_result *out);

/* Store n messages in one transaction (one fsync), each under its own
 * savepoint; every *status is set.  If the COMMIT fails, every status is
 * INBOUND_RETRY: nothing may be acknowledged. */
enum inbound_status secrets_ingest_batch(struct store *,
		    const struct ingest_job *jobs, size_t n);

/* 0 delivered into *row, 1 nothing matches, 2 the newest match was
 * filtered by the provider (error 30038), -1 error. */
int	secrets_take(struct store *, long long agent_id, const char *agent,
	    const struct secret_filter *, struct secret_row *row);
/* 1 when a held secret matches (for pending_approval), else 0. */
int	secrets_held(struct store *, long long agent_id,
	    const struct secret_filter *);
/* Metadata of pending and held matches, newest first (new reference). */
json_t	*secrets_list(struct store *, long long agent_id,
	    const struct secret_filter *);
/* Counts by state for agent (new reference). */
json_t	*secrets_counts(struct store *, long long agent_id);

/* Mark expired secrets and drop bodies past retention; count or -1. */
int	secrets_expire(struct store *);
/* Inside a transaction: delete every secret and message of agent. */
int	secrets_purge(struct store *, long long agent_id);
/* Approve (1) or deny (0) held secret id; 0 ok, 1 no such held secret,
 * -1 error.  Audited.  *agent_id is set for waking waiters. */
int	secrets_decide(struct store *, long long id, int approve,
	    const char *actor, long long *agent_id);

void	secret_row_clear(struct secret_row *);

#endif
