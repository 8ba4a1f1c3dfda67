/*
 * SQLite store: per-thread connections, migrations, agents, identities.
 * Secrets live in secrets.c, the audit chain in audit.c; both use the
 * helpers here.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "provisioner/store.h"

struct stmt {
	const char	*sql;		/* borrowed: a string literal */
	sqlite3_stmt	*st;
	struct stmt	*next;
};

struct store {
	sqlite3		*db;
	struct stmt	*stmts;
	int		 intx;
};

static char		*store_path;
static uint8_t		 data_key[CRYPTO_KEY_LEN];
static uint8_t		 audit_key[CRYPTO_KEY_LEN];
static pthread_key_t	 tls_key;
static pthread_once_t	 tls_once = PTHREAD_ONCE_INIT;

/* Schema versions, applied in order; user_version counts them. */
static const char *migrations[] = {
	"CREATE TABLE agents ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  uid INTEGER,"
	"  token_hash TEXT NOT NULL UNIQUE,"
	"  state TEXT NOT NULL CHECK (state IN ('active','revoked')),"
	"  created_at INTEGER NOT NULL,"
	"  revoked_at INTEGER) STRICT;"
	"CREATE TABLE identities ("
	"  id INTEGER PRIMARY KEY,"
	"  agent_id INTEGER NOT NULL REFERENCES agents(id),"
	"  channel TEXT NOT NULL CHECK (channel IN ('email','sms')),"
	"  address TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  provider_ref TEXT,"
	"  credential BLOB,"
	"  state TEXT NOT NULL"
	"    CHECK (state IN ('active','releasing','released')),"
	"  error TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL) STRICT;"
	"CREATE UNIQUE INDEX identities_live ON identities(channel, address)"
	"  WHERE state != 'released';"
	"CREATE INDEX identities_agent ON identities(agent_id);"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  agent_id INTEGER NOT NULL REFERENCES agents(id),"
	"  identity_id INTEGER REFERENCES identities(id),"
	"  channel TEXT NOT NULL,"
	"  provider TEXT NOT NULL,"
	"  provider_id TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  subject TEXT,"
	"  received_at INTEGER NOT NULL,"
	"  body BLOB,"
	"  retain_until INTEGER NOT NULL,"
	"  UNIQUE (channel, provider_id)) STRICT;"
	"CREATE INDEX messages_agent ON messages(agent_id);"
	"CREATE TABLE secrets ("
	"  id INTEGER PRIMARY KEY,"
	"  message_id INTEGER NOT NULL REFERENCES messages(id),"
	"  agent_id INTEGER NOT NULL REFERENCES agents(id),"
	"  kind TEXT NOT NULL CHECK (kind IN ('code','link')),"
	"  value BLOB,"
	"  origin TEXT,"
	"  link_domain TEXT,"
	"  channel TEXT NOT NULL,"
	"  sender TEXT NOT NULL,"
	"  subject TEXT,"
	"  confidence REAL NOT NULL,"
	"  state TEXT NOT NULL CHECK (state IN ('pending','held','delivered',"
	"    'expired','denied','filtered')),"
	"  received_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL,"
	"  delivered_at INTEGER) STRICT;"
	"CREATE INDEX secrets_agent ON secrets(agent_id, state, received_at);"
	"CREATE TABLE imap_cursors ("
	"  identity_id INTEGER PRIMARY KEY REFERENCES identities(id),"
	"  uidvalidity INTEGER NOT NULL,"
	"  last_uid INTEGER NOT NULL) STRICT;"
	"CREATE TABLE approvals ("
	"  secret_id INTEGER PRIMARY KEY REFERENCES secrets(id),"
	"  state TEXT NOT NULL CHECK (state IN ('waiting','approved','denied')),"
	"  notified INTEGER NOT NULL DEFAULT 0,"
	"  created_at INTEGER NOT NULL,"
	"  decided_at INTEGER) STRICT;"
	"CREATE TABLE audit ("
	"  seq INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  agent TEXT,"
	"  detail TEXT NOT NULL,"
	"  prev_hash TEXT NOT NULL,"
	"  hash TEXT NOT NULL) STRICT;",
	/* 2: every `wait` lookup (secrets_take) reads its candidates from
	 * this index, newest first, instead of sorting in a temp B-tree:
	 * -36% instructions there (docs/performance.md).  The query must
	 * keep the same state test for SQLite to use it. */
	"CREATE INDEX secrets_live ON secrets(agent_id, received_at) "
	"WHERE state IN ('pending', 'filtered');",
};

long long
store_now(void)
{
	return (long long)time(NULL);
}

static void
tls_destroy(void *p)
{
	struct store *s = p;
	struct stmt *st, *next;

	if (s == NULL)
		return;
	for (st = s->stmts; st; st = next) {
		next = st->next;
		sqlite3_finalize(st->st);
		free(st);
	}
	sqlite3_close_v2(s->db);
	free(s);
}

static void
tls_init(void)
{
	if (pthread_key_create(&tls_key, tls_destroy) != 0)
		fatalx("pthread_key_create");
}

static int
exec(sqlite3 *db, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_warnx("store: %s", err ? err : "exec failed");
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

/* Open one connection with the settings every connection needs. */
static sqlite3 *
open_conn(const char *path)
{
	sqlite3 *db = NULL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
	    NULL) != SQLITE_OK) {
		log_warnx("store: open %s: %s", path,
		    db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close_v2(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FKEY, 1, NULL);
	if (exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
	    "PRAGMA secure_delete=ON;") == -1) {
		sqlite3_close_v2(db);
		return NULL;
	}
	return db;
}

static int
migrate(sqlite3 *db)
{
	sqlite3_stmt *st;
	int version = 0, n = (int)(sizeof(migrations) / sizeof(*migrations));
	char pragma[64];

	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (version > n) {
		log_warnx("store: database is version %d, newer than this "
		    "agentidd (%d)", version, n);
		return -1;
	}
	for (; version < n; version++) {
		if (exec(db, "BEGIN IMMEDIATE") == -1)
			return -1;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version=%d",
		    version + 1);
		if (exec(db, migrations[version]) == -1 ||
		    exec(db, pragma) == -1 || exec(db, "COMMIT") == -1) {
			exec(db, "ROLLBACK");
			return -1;
		}
		log_info("store: migrated to schema %d", version + 1);
	}
	return 0;
}

int
store_setup(const char *path, const uint8_t key[CRYPTO_KEY_LEN],
    const char **errstr)
{
	sqlite3 *db;
	int fd;

	pthread_once(&tls_once, tls_init);
	/* Create the file 0600 first: SQLite gives -wal and -shm the same
	 * mode as the database. */
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		*errstr = "cannot create the database file";
		return -1;
	}
	fchmod(fd, 0600);
	close(fd);
	if ((db = open_conn(path)) == NULL) {
		*errstr = "cannot open the database";
		return -1;
	}
	if (migrate(db) == -1) {
		sqlite3_close_v2(db);
		*errstr = "cannot migrate the database";
		return -1;
	}
	sqlite3_close_v2(db);
	free(store_path);
	store_path = xstrdup(path);
	crypto_hmac_sha256(key, CRYPTO_KEY_LEN, "agentid data key", 16,
	    data_key);
	crypto_hmac_sha256(key, CRYPTO_KEY_LEN, "agentid audit key", 17,
	    audit_key);
	return 0;
}

struct store *
store_get(void)
{
	struct store *s;

	pthread_once(&tls_once, tls_init);
	if ((s = pthread_getspecific(tls_key)) != NULL)
		return s;
	if (store_path == NULL)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	if ((s->db = open_conn(store_path)) == NULL) {
		free(s);
		return NULL;
	}
	pthread_setspecific(tls_key, s);
	return s;
}

void
store_release(void)
{
	struct store *s;

	pthread_once(&tls_once, tls_init);
	if ((s = pthread_getspecific(tls_key)) != NULL) {
		pthread_setspecific(tls_key, NULL);
		tls_destroy(s);
	}
}

void
store_shutdown(void)
{
	store_release();
	explicit_bzero(data_key, sizeof(data_key));
	explicit_bzero(audit_key, sizeof(audit_key));
	free(store_path);
	store_path = NULL;
}

sqlite3 *
store_db(struct store *s)
{
	return s->db;
}

const uint8_t *
store_key(void)
{
	return data_key;
}

const uint8_t *
store_audit_key(void)
{
	return audit_key;
}

int
store_begin(struct store *s)
{
	int tries;

	for (tries = 0; tries < 50; tries++) {
		int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL,
		    NULL);

		if (rc == SQLITE_OK) {
			s->intx = 1;
			return 0;
		}
		if ((rc & 0xff) != SQLITE_BUSY)
			break;
		usleep(20000);
	}
	log_warnx("store: BEGIN failed: %s", sqlite3_errmsg(s->db));
	return -1;
}

int
store_commit(struct store *s)
{
	if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		log_warnx("store: COMMIT failed: %s", sqlite3_errmsg(s->db));
		store_rollback(s);
		return -1;
	}
	s->intx = 0;
	return 0;
}

void
store_rollback(struct store *s)
{
	if (sqlite3_get_autocommit(s->db) == 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	s->intx = 0;
}

sqlite3_stmt *
store_stmt(struct store *s, const char *sql)
{
	struct stmt *st;

	for (st = s->stmts; st; st = st->next)
		if (st->sql == sql || strcmp(st->sql, sql) == 0) {
			sqlite3_reset(st->st);
			sqlite3_clear_bindings(st->st);
			return st->st;
		}
	st = xcalloc(1, sizeof(*st));
	if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT,
	    &st->st, NULL) != SQLITE_OK) {
		log_warnx("store: prepare: %s", sqlite3_errmsg(s->db));
		free(st);
		return NULL;
	}
	st->sql = sql;
	st->next = s->stmts;
	s->stmts = st;
	return st->st;
}

int
store_keyfile(const char *dir, uint8_t key[CRYPTO_KEY_LEN],
    const char **errstr)
{
	char path[4096];
	struct stat sb;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/key", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1 && errno == ENOENT) {
		crypto_random(key, CRYPTO_KEY_LEN);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1 || write(fd, key, CRYPTO_KEY_LEN) !=
		    CRYPTO_KEY_LEN || fsync(fd) == -1) {
			*errstr = "cannot create the key file";
			if (fd != -1)
				close(fd);
			return -1;
		}
		close(fd);
		return 0;
	}
	if (fd == -1) {
		*errstr = "cannot open the key file";
		return -1;
	}
	if (fstat(fd, &sb) == -1 || (sb.st_mode & (S_IRWXG | S_IRWXO))) {
		close(fd);
		*errstr = "the key file is readable by group or others";
		return -1;
	}
	n = read(fd, key, CRYPTO_KEY_LEN);
	close(fd);
	if (n != CRYPTO_KEY_LEN) {
		*errstr = "the key file is damaged (wrong size)";
		return -1;
	}
	return 0;
}

void
store_token_hash(const char *token, char out[STORE_TOKEN_HASH_LEN])
{
	uint8_t h[CRYPTO_SHA256_LEN];
	char *hex;

	crypto_sha256(token, strlen(token), h);
	hex = crypto_hex(h, sizeof(h));
	xstrlcpy(out, hex, STORE_TOKEN_HASH_LEN);
	free(hex);
}

static void
col_text(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	xstrlcpy(dst, t ? (const char *)t : "", len);
}

/* Step a statement that changes rows; 0 or -1. */
static int
step_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE) {
		log_warnx("store: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int
store_agent_add(struct store *s, const char *name, long long uid,
    const char *token_hash, long long *id)
{
	sqlite3_stmt *st = store_stmt(s, "INSERT INTO agents (name, uid, "
	    "token_hash, state, created_at) VALUES (?, ?, ?, 'active', ?)");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (uid >= 0)
		sqlite3_bind_int64(st, 2, uid);
	sqlite3_bind_text(st, 3, token_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, store_now());
	rc = sqlite3_step(st);
	if (rc == SQLITE_CONSTRAINT_UNIQUE)
		return 1;
	if (rc != SQLITE_DONE) {
		log_warnx("store: agent add: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	*id = sqlite3_last_insert_rowid(s->db);
	return 0;
}

#define AGENT_COLS "id, name, uid, state, created_at, revoked_at"

static int
agent_row(struct store *s, sqlite3_stmt *st, struct agent_row *a)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_DONE)
		return 1;
	if (rc != SQLITE_ROW) {
		log_warnx("store: agent: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	memset(a, 0, sizeof(*a));
	a->id = sqlite3_column_int64(st, 0);
	col_text(st, 1, a->name, sizeof(a->name));
	a->uid = sqlite3_column_type(st, 2) == SQLITE_NULL ? -1 :
	    sqlite3_column_int64(st, 2);
	a->revoked = strcmp((const char *)sqlite3_column_text(st, 3),
	    "revoked") == 0;
	a->created_at = sqlite3_column_int64(st, 4);
	a->revoked_at = sqlite3_column_int64(st, 5);
	sqlite3_reset(st);
	return 0;
}

int
store_agent_by_name(struct store *s, const char *name, struct agent_row *a)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT " AGENT_COLS
	    " FROM agents WHERE name = ?");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	return agent_row(s, st, a);
}

int
store_agent_by_id(struct store *s, long long id, struct agent_row *a)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT " AGENT_COLS
	    " FROM agents WHERE id = ?");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	return agent_row(s, st, a);
}

int
store_agent_by_token(struct store *s, const char *token_hash,
    struct agent_row *a)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT " AGENT_COLS
	    " FROM agents WHERE token_hash = ?");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_TRANSIENT);
	return agent_row(s, st, a);
}

int
store_agent_set_token(struct store *s, long long id, const char *token_hash)
{
	sqlite3_stmt *st = store_stmt(s,
	    "UPDATE agents SET token_hash = ? WHERE id = ?");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, token_hash, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, id);
	return step_done(s, st);
}

int
store_agent_revoke(struct store *s, long long id)
{
	sqlite3_stmt *st = store_stmt(s, "UPDATE agents SET state = "
	    "'revoked', revoked_at = ? WHERE id = ? AND state = 'active'");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, store_now());
	sqlite3_bind_int64(st, 2, id);
	return step_done(s, st);
}

int
store_identity_add(struct store *s, long long agent_id, const char *channel,
    const char *address, const char *provider, const char *ref,
    const char *credential, long long *id)
{
	sqlite3_stmt *st = store_stmt(s, "INSERT INTO identities (agent_id, "
	    "channel, address, provider, provider_ref, state, created_at) "
	    "VALUES (?, ?, ?, ?, ?, 'active', ?)");
	uint8_t *ct = NULL;
	size_t ctlen;
	char ad[64];
	int rc = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_text(st, 2, channel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, address, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, provider, -1, SQLITE_TRANSIENT);
	if (ref)
		sqlite3_bind_text(st, 5, ref, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 6, store_now());
	if (step_done(s, st) == -1)
		return -1;
	*id = sqlite3_last_insert_rowid(s->db);
	if (credential == NULL)
		return 0;
	/* The row id is the associated data: a credential copied to
	 * another row does not decrypt. */
	snprintf(ad, sizeof(ad), "identity/%lld", *id);
	if (crypto_seal(data_key, ad, strlen(ad), credential,
	    strlen(credential), &ct, &ctlen) == -1)
		return -1;
	st = store_stmt(s, "UPDATE identities SET credential = ? WHERE id = ?");
	if (st) {
		sqlite3_bind_blob(st, 1, ct, (int)ctlen, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, *id);
		rc = step_done(s, st);
	}
	free(ct);
	return rc;
}

char *
store_identity_credential(struct store *s, long long id)
{
	sqlite3_stmt *st = store_stmt(s,
	    "SELECT credential FROM identities WHERE id = ?");
	char ad[64], *out = NULL;
	size_t outlen;

	if (st == NULL)
		return NULL;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) == SQLITE_BLOB) {
		snprintf(ad, sizeof(ad), "identity/%lld", id);
		if (crypto_open(data_key, ad, strlen(ad),
		    sqlite3_column_blob(st, 0),
		    (size_t)sqlite3_column_bytes(st, 0), &out, &outlen) == -1)
			out = NULL;
	}
	sqlite3_reset(st);
	return out;
}

#define IDENT_COLS "i.id, i.agent_id, i.channel, i.address, i.provider, " \
	"i.provider_ref, i.state, i.error, i.attempts, i.next_attempt, " \
	"c.uidvalidity, c.last_uid FROM identities i " \
	"LEFT JOIN imap_cursors c ON c.identity_id = i.id "

static void
identity_fill(sqlite3_stmt *st, struct identity_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	r->agent_id = sqlite3_column_int64(st, 1);
	col_text(st, 2, r->channel, sizeof(r->channel));
	col_text(st, 3, r->address, sizeof(r->address));
	col_text(st, 4, r->provider, sizeof(r->provider));
	col_text(st, 5, r->ref, sizeof(r->ref));
	col_text(st, 6, r->state, sizeof(r->state));
	col_text(st, 7, r->error, sizeof(r->error));
	r->attempts = sqlite3_column_int64(st, 8);
	r->next_attempt = sqlite3_column_int64(st, 9);
	r->uidvalidity = (unsigned long long)sqlite3_column_int64(st, 10);
	r->last_uid = (unsigned long long)sqlite3_column_int64(st, 11);
}

int
store_identity_find(struct store *s, const char *channel,
    const char *address, struct identity_row *r)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT " IDENT_COLS
	    "WHERE i.channel = ? AND i.address = ? COLLATE NOCASE "
	    "AND i.state = 'active'");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		identity_fill(st, r);
		sqlite3_reset(st);
		return 0;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 1 : -1;
}

int
store_identity_each(struct store *s, long long agent_id, const char *state,
    int (*cb)(const struct identity_row *, void *), void *arg)
{
	struct identity_row *rows = NULL;
	size_t n = 0, i;
	sqlite3_stmt *st;
	int rc;

	if (agent_id > 0) {
		st = store_stmt(s, "SELECT " IDENT_COLS
		    "WHERE i.agent_id = ? ORDER BY i.id");
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, agent_id);
	} else {
		st = store_stmt(s, "SELECT " IDENT_COLS
		    "WHERE i.state = ? AND i.next_attempt <= ? ORDER BY i.id");
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, store_now());
	}
	/* Collect first: callbacks may run other statements. */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows = xreallocarray(rows, n + 1, sizeof(*rows));
		identity_fill(st, &rows[n++]);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		free(rows);
		return -1;
	}
	rc = 0;
	for (i = 0; i < n && rc == 0; i++)
		rc = cb(&rows[i], arg);
	free(rows);
	return rc;
}

int
store_identity_set_state(struct store *s, long long id, const char *state,
    const char *error, long long next_attempt)
{
	sqlite3_stmt *st = store_stmt(s, "UPDATE identities SET state = ?, "
	    "error = ?, next_attempt = ?, attempts = CASE WHEN ? IS NULL "
	    "THEN attempts ELSE attempts + 1 END WHERE id = ?");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
	if (error) {
		sqlite3_bind_text(st, 2, error, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 4, error, -1, SQLITE_TRANSIENT);
	}
	sqlite3_bind_int64(st, 3, next_attempt);
	sqlite3_bind_int64(st, 5, id);
	return step_done(s, st);
}

int
store_address_taken(struct store *s, const char *channel,
    const char *address)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT 1 FROM identities WHERE "
	    "channel = ? AND address = ? COLLATE NOCASE "
	    "AND state != 'released'");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, channel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, address, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : -1;
}
