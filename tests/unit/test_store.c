/*
 * Store, secrets and audit against a real SQLite file: schema, agents,
 * identities, ingest (dedupe, cursor), one-time take, expiry, approval,
 * purge, and the audit chain under tampering.
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/xmalloc.h"
#include "provisioner/audit.h"
#include "provisioner/secrets.h"
#include "provisioner/store.h"
#include "t.h"

static struct extract_result *
code_result(const char *value, double conf)
{
	static struct extract_result r;

	memset(&r, 0, sizeof(r));
	xstrlcpy(r.codes[0].value, value, sizeof(r.codes[0].value));
	r.codes[0].confidence = conf;
	r.codes[0].rule = "test";
	r.ncodes = 1;
	return &r;
}

static struct inbound
sms(const char *to, const char *id, const char *from)
{
	struct inbound in;

	memset(&in, 0, sizeof(in));
	in.channel = INBOUND_SMS;
	in.to = to;
	in.from = from;
	in.text = "body";
	in.textlen = 4;
	in.provider = "test";
	in.provider_id = id;
	return in;
}

static long long
exec_count(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	long long n = -1;

	if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

int
main(void)
{
	char dir[] = "/tmp/agentid-store-XXXXXX", path[256], hash[65];
	uint8_t key[CRYPTO_KEY_LEN], key2[CRYPTO_KEY_LEN];
	struct secret_filter f = { 0 };
	struct ingest_result res;
	struct identity_row ir;
	struct secret_row row;
	struct agent_row a;
	struct inbound in;
	struct store *s;
	struct stat sb;
	const char *es;
	long long id1, id2, iid, bad, n, ag;
	char *cred;

	if (mkdtemp(dir) == NULL)
		return 1;
	T_CHECK(store_keyfile(dir, key, &es) == 0, "key file created");
	T_CHECK(store_keyfile(dir, key2, &es) == 0 &&
	    memcmp(key, key2, sizeof(key)) == 0, "key file reloads the same key");
	snprintf(path, sizeof(path), "%s/key", dir);
	T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "key file is 0600");
	snprintf(path, sizeof(path), "%s/agentid.db", dir);
	T_CHECK(store_setup(path, key, &es) == 0, "store created");
	T_CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "database is 0600");
	s = store_get();
	T_CHECK(s != NULL, "per-thread connection");
	T_CHECK(exec_count(s, "PRAGMA user_version") == 2, "schema version 2");
	T_CHECK(exec_count(s, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'index' AND name = 'secrets_live' AND sql LIKE "
	    "'%WHERE state IN (''pending'', ''filtered'')'") == 1,
	    "the partial index for wait lookups");
	T_CHECK(exec_count(s, "PRAGMA synchronous") == 2, "synchronous=FULL");
	T_CHECK(exec_count(s, "SELECT count(*) FROM sqlite_schema WHERE "
	    "type = 'table' AND sql LIKE '%STRICT'") == 7, "every table STRICT");

	/* Agents and tokens. */
	store_token_hash("aid_alice", hash);
	store_begin(s);
	T_CHECK(store_agent_add(s, "alice", -1, hash, &id1) == 0, "add alice");
	store_token_hash("aid_bob", hash);
	T_CHECK(store_agent_add(s, "bob", 1000, hash, &id2) == 0, "add bob");
	T_CHECK(store_agent_add(s, "alice", -1, "x", &n) == 1,
	    "duplicate name refused");
	T_CHECK(store_identity_add(s, id1, "sms", "+15550001", "twilio", "PN1",
	    NULL, &iid) == 0, "alice phone");
	T_CHECK(store_identity_add(s, id1, "email", "alice@x.example",
	    "dovecot", NULL, "imap-pass-word", &iid) == 0, "alice mailbox");
	T_CHECK(store_identity_add(s, id2, "sms", "+15550001", "twilio", "PN2",
	    NULL, &n) == -1, "one live identity per address");
	store_commit(s);
	store_token_hash("aid_bob", hash);
	T_CHECK(store_agent_by_token(s, hash, &a) == 0 && a.id == id2 &&
	    a.uid == 1000, "token lookup");
	store_token_hash("aid_nobody", hash);
	T_CHECK(store_agent_by_token(s, hash, &a) == 1, "unknown token");
	cred = store_identity_credential(s, iid);
	T_STREQ(cred, "imap-pass-word", "credential decrypts");
	secret_free(cred);
	T_CHECK(exec_count(s, "SELECT count(*) FROM identities WHERE "
	    "instr(credential, 'imap-pass-word') > 0") == 0,
	    "credential stored encrypted");
	T_CHECK(store_identity_find(s, "sms", "+15550001", &ir) == 0 &&
	    ir.agent_id == id1, "identity find");

	/* Ingest: stored once, replay acknowledged, unknown address. */
	in = sms("+15550001", "SM1", "+15559999");
	T_CHECK(secrets_ingest(s, &in, 0, code_result("123456", 0.9), 0, 600,
	    86400, &res) == INBOUND_STORED && !res.duplicate && res.codes == 1,
	    "ingest stores");
	T_CHECK(secrets_ingest(s, &in, 0, code_result("123456", 0.9), 0, 600,
	    86400, &res) == INBOUND_STORED && res.duplicate,
	    "replay is acknowledged and marked duplicate");
	T_CHECK(exec_count(s, "SELECT count(*) FROM secrets") == 1,
	    "replay stores nothing new");
	in = sms("+15550002", "SM2", "x");
	T_CHECK(secrets_ingest(s, &in, 0, code_result("1", 0.9), 0, 600, 86400,
	    &res) == INBOUND_UNKNOWN, "unknown number");
	in = sms("+15550001", "SM3", "x");
	T_CHECK(secrets_ingest(s, &in, 0, code_result("777", 0.2), 0, 600,
	    86400, &res) == INBOUND_STORED && res.codes == 0,
	    "low-confidence code not stored as a secret");

	/* Take: owner only, once, value wiped. */
	f.since = 0;
	T_CHECK(secrets_take(s, id2, "bob", &f, &row) == 1,
	    "another agent takes nothing");
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 0 &&
	    strcmp(row.value, "123456") == 0, "owner takes the code");
	secret_row_clear(&row);
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 1,
	    "second take finds nothing");
	T_CHECK(exec_count(s, "SELECT count(*) FROM secrets WHERE "
	    "state = 'delivered' AND value IS NULL") == 1,
	    "delivered value overwritten");

	/* Newest first. */
	in = sms("+15550001", "SM4", "a");
	in.received_at = store_now() - 100;
	secrets_ingest(s, &in, 0, code_result("111111", 0.9), 0, 600, 86400,
	    &res);
	in = sms("+15550001", "SM5", "b");
	secrets_ingest(s, &in, 0, code_result("222222", 0.9), 0, 600, 86400,
	    &res);
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 0 &&
	    strcmp(row.value, "222222") == 0, "newest first");
	secret_row_clear(&row);
	f.since = store_now() - 50;
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 1,
	    "since excludes the older one");
	f.since = 0;
	f.kind = SF_LINK;
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 1,
	    "kind filter");
	f.kind = SF_ANY;

	/* Provider-filtered (Twilio 30038). */
	in = sms("+15550001", "SM6", "c");
	in.error_code = 30038;
	secrets_ingest(s, &in, 0, NULL, 0, 600, 86400, &res);
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 2,
	    "30038 answers provider_filtered");

	/* Expiry. */
	in = sms("+15550001", "SM7", "d");
	secrets_ingest(s, &in, 0, code_result("333333", 0.9), 0, 1, 86400,
	    &res);
	sqlite3_exec(store_db(s), "UPDATE secrets SET expires_at = 0 "
	    "WHERE state = 'pending'", NULL, NULL, NULL);
	T_CHECK(secrets_expire(s) >= 1, "expiry marks secrets");
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 1,
	    "expired secrets are not delivered");

	/* Approval. */
	in = sms("+15550001", "SM8", "bank");
	secrets_ingest(s, &in, 0, code_result("444444", 0.9), 1, 600, 86400,
	    &res);
	T_CHECK(res.held == 1, "held on policy");
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 1 &&
	    secrets_held(s, id1, &f), "held is not delivered, but visible");
	T_CHECK(secrets_decide(s, res.held_ids[0], 1, "uid:0", &ag) == 0 &&
	    ag == id1, "approve");
	T_CHECK(secrets_take(s, id1, "alice", &f, &row) == 0 &&
	    strcmp(row.value, "444444") == 0, "approved is delivered");
	secret_row_clear(&row);
	T_CHECK(secrets_decide(s, res.held_ids[0], 1, "uid:0", &ag) == 1,
	    "approve twice: not found");

	/* Purge. */
	in = sms("+15550001", "SM9", "e");
	secrets_ingest(s, &in, 0, code_result("555555", 0.9), 0, 600, 86400,
	    &res);
	store_begin(s);
	T_CHECK(secrets_purge(s, id1) == 0, "purge");
	store_commit(s);
	T_CHECK(exec_count(s, "SELECT count(*) FROM secrets WHERE "
	    "agent_id = 1") == 0, "purge removes secrets");

	/* Audit chain: intact, then edited, deleted, reordered. */
	store_begin(s);
	audit_append(s, "uid:0", "provision", "alice", "a");
	audit_append(s, "uid:0", "provision", "bob", "b");
	audit_append(s, "uid:0", "revoke", "bob", "c");
	store_commit(s);
	T_CHECK(audit_verify(s, &bad, &n) == 0 && n >= 5, "chain verifies");
	sqlite3_exec(store_db(s), "UPDATE audit SET detail = 'x' WHERE seq = 3",
	    NULL, NULL, NULL);
	T_CHECK(audit_verify(s, &bad, &n) == 1 && bad == 3, "edit found at row");
	sqlite3_exec(store_db(s), "UPDATE audit SET detail = 'a' WHERE seq = 3",
	    NULL, NULL, NULL);
	/* Whatever row 3 held before, restore it by re-appending is not
	 * possible: check deletion on a later row instead. */
	sqlite3_exec(store_db(s), "DELETE FROM audit WHERE seq < 3", NULL,
	    NULL, NULL);
	T_CHECK(audit_verify(s, &bad, &n) == 1 && bad == 1,
	    "deleted rows found");
	return t_done();
}
