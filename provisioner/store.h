/*
 * store: the daemon's SQLite database (DESIGN §5).  One connection per
 * thread, opened lazily by store_get(); every write is BEGIN IMMEDIATE;
 * WAL with synchronous=FULL so a COMMIT is on disk before anything is
 * acknowledged.  All SQL of the daemon lives in store.c, secrets.c and
 * audit.c, with bound parameters only.
 */
#ifndef STORE_H
#define STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <sys/types.h>

#include "common/crypto.h"

struct store;

/* Open (creating 0600 and migrating) the database at path; remember
 * path and keys for the per-thread connections.  Call once, before any
 * thread starts.  -1 and *errstr on failure. */
int		 store_setup(const char *path, const uint8_t key[CRYPTO_KEY_LEN],
		    const char **errstr);
/* This thread's connection (opened on first use); NULL on failure. */
struct store	*store_get(void);
/* Close this thread's connection now (threads that exit call it). */
void		 store_release(void);
void		 store_shutdown(void);

sqlite3		*store_db(struct store *);
const uint8_t	*store_key(void);		/* data key */
const uint8_t	*store_audit_key(void);		/* HMAC key for audit */

/* Transactions.  begin is BEGIN IMMEDIATE (retrying on BUSY); commit
 * returns -1 when the COMMIT failed (then nothing may be acknowledged);
 * rollback is safe to call at any point. */
int		 store_begin(struct store *);
int		 store_commit(struct store *);
void		 store_rollback(struct store *);

/* A prepared statement cached on this connection, reset and unbound. */
sqlite3_stmt	*store_stmt(struct store *, const char *sql);

/* Load or create the 32-byte master key in dir/key (0600). */
int		 store_keyfile(const char *dir, uint8_t key[CRYPTO_KEY_LEN],
		    const char **errstr);

long long	 store_now(void);

/* Agents. */
struct agent_row {
	long long	 id;
	char		 name[64];
	long long	 uid;		/* -1: not bound */
	int		 revoked;
	long long	 created_at;
	long long	 revoked_at;
};

#define STORE_TOKEN_HASH_LEN	65	/* hex SHA-256 + NUL */
void		 store_token_hash(const char *token, char out[STORE_TOKEN_HASH_LEN]);

/* 0 ok, 1 name exists, -1 error.  Call inside a transaction. */
int		 store_agent_add(struct store *, const char *name, long long uid,
		    const char *token_hash, long long *id);
/* 0 found, 1 not found, -1 error. */
int		 store_agent_by_name(struct store *, const char *name,
		    struct agent_row *);
int		 store_agent_by_id(struct store *, long long id,
		    struct agent_row *);
int		 store_agent_by_token(struct store *, const char *token_hash,
		    struct agent_row *);
int		 store_agent_set_token(struct store *, long long id,
		    const char *token_hash);
int		 store_agent_revoke(struct store *, long long id);

/* Identities. */
struct identity_row {
	long long	 id;
	long long	 agent_id;
	char		 channel[8];	/* "email" | "sms" */
	char		 address[256];
	char		 provider[32];
	char		 ref[256];
	char		 state[16];	/* active | releasing | released */
	char		 error[256];
	long long	 attempts;
	long long	 next_attempt;
	unsigned long long uidvalidity;
	unsigned long long last_uid;
};

int		 store_identity_add(struct store *, long long agent_id,
		    const char *channel, const char *address,
		    const char *provider, const char *ref,
		    const char *credential, long long *id);
/* The active identity owning (channel, address): 0, 1 none, -1 error. */
int		 store_identity_find(struct store *, const char *channel,
		    const char *address, struct identity_row *);
/* Call cb for each identity of agent (agent_id > 0) or each identity in
 * state (state != NULL) whose next_attempt <= now (state "releasing"). */
int		 store_identity_each(struct store *, long long agent_id,
		    const char *state, int (*cb)(const struct identity_row *,
		    void *), void *arg);
int		 store_identity_set_state(struct store *, long long id,
		    const char *state, const char *error, long long next_attempt);
/* Decrypt the stored credential (heap, wipe with secret_free). */
char		*store_identity_credential(struct store *, long long id);
/* Address taken by a non-released identity on that channel? 1/0/-1 */
int		 store_address_taken(struct store *, const char *channel,
		    const char *address);

#endif
