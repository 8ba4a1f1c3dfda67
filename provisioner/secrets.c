/*
 * Messages and secrets in the store (see secrets.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "provisioner/audit.h"
#include "provisioner/secrets.h"

static const char *channel_name[] = { "sms", "email" };

/* Encrypt value into the secret row id (AD binds it to that row). */
static int
seal_into(struct store *s, const char *table, const char *col, long long id,
    const char *value, size_t len)
{
	sqlite3_stmt *st;
	uint8_t *ct = NULL;
	size_t ctlen;
	char ad[64];
	int rc = -1;

	snprintf(ad, sizeof(ad), "%s/%lld", table, id);
	if (crypto_seal(store_key(), ad, strlen(ad), value, len, &ct,
	    &ctlen) == -1)
		return -1;
	if (strcmp(table, "secrets") == 0 && strcmp(col, "value") == 0)
		st = store_stmt(s, "UPDATE secrets SET value = ? WHERE id = ?");
	else
		st = store_stmt(s, "UPDATE messages SET body = ? WHERE id = ?");
	if (st) {
		sqlite3_bind_blob(st, 1, ct, (int)ctlen, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, id);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	}
	crypto_wipe_free(ct, ctlen);
	return rc;
}

static int
add_secret(struct store *s, long long msg, long long agent_id,
    const struct inbound *in, const char *kind, const char *value,
    const char *origin, const char *domain, double conf, const char *state,
    long long now, long long ttl, long long *id)
{
	sqlite3_stmt *st = store_stmt(s, "INSERT INTO secrets (message_id, "
	    "agent_id, kind, origin, link_domain, channel, sender, subject, "
	    "confidence, state, received_at, expires_at) "
	    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, msg);
	sqlite3_bind_int64(st, 2, agent_id);
	sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
	if (origin && *origin)
		sqlite3_bind_text(st, 4, origin, -1, SQLITE_TRANSIENT);
	if (domain && *domain)
		sqlite3_bind_text(st, 5, domain, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, channel_name[in->channel], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 7, in->from ? in->from : "", -1,
	    SQLITE_TRANSIENT);
	if (in->subject)
		sqlite3_bind_text(st, 8, in->subject, -1, SQLITE_TRANSIENT);
	sqlite3_bind_double(st, 9, conf);
	sqlite3_bind_text(st, 10, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 11, now);
	sqlite3_bind_int64(st, 12, now + ttl);
	if (sqlite3_step(st) != SQLITE_DONE)
		return -1;
	*id = sqlite3_last_insert_rowid(store_db(s));
	if (value == NULL)
		return 0;
	return seal_into(s, "secrets", "value", *id, value, strlen(value));
}

/* The inserts of one message; the caller holds a transaction. */
static enum inbound_status
ingest_rows(struct store *s, const struct inbound *in, long long agent_id,
    const struct extract_result *res, int held, long long code_ttl,
    long long retention, struct ingest_result *out)
{
	struct identity_row ident;
	sqlite3_stmt *st;
	long long now = store_now(), recv, msg, sid, identity_id = 0;
	const char *state = held ? "held" : "pending";
	char detail[256];
	int rc;

	memset(out, 0, sizeof(*out));
	recv = in->received_at > 0 && in->received_at <= now + 60 ?
	    in->received_at : now;
	if (agent_id == 0) {
		rc = store_identity_find(s, channel_name[in->channel],
		    in->to ? in->to : "", &ident);
		if (rc != 0)
			return rc == 1 ? INBOUND_UNKNOWN : INBOUND_RETRY;
		agent_id = ident.agent_id;
		identity_id = ident.id;
	}
	out->agent_id = agent_id;
	st = store_stmt(s, "INSERT INTO messages (agent_id, identity_id, "
	    "channel, provider, provider_id, sender, subject, received_at, "
	    "retain_until) VALUES (?,?,?,?,?,?,?,?,?) "
	    "ON CONFLICT (channel, provider_id) DO NOTHING");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, agent_id);
	if (identity_id)
		sqlite3_bind_int64(st, 2, identity_id);
	sqlite3_bind_text(st, 3, channel_name[in->channel], -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, in->provider ? in->provider : "", -1,
	    SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, in->provider_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, in->from ? in->from : "", -1,
	    SQLITE_TRANSIENT);
	if (in->subject)
		sqlite3_bind_text(st, 7, in->subject, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 8, recv);
	sqlite3_bind_int64(st, 9, now + retention);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	if (sqlite3_changes(store_db(s)) == 0) {
		/* A replay: already stored, acknowledge again. */
		out->duplicate = 1;
		goto cursor;
	}
	out->message_id = msg = sqlite3_last_insert_rowid(store_db(s));
	if (retention > 0 && in->textlen > 0 && seal_into(s, "messages",
	    "body", msg, in->text, in->textlen) == -1)
		goto fail;
	if (in->error_code == 30038) {
		/* The provider filtered the body: remember that, so a waiting
		 * agent hears provider_filtered instead of a timeout. */
		if (add_secret(s, msg, agent_id, in, "code", NULL, NULL, NULL,
		    0, "filtered", recv, code_ttl, &sid) == -1)
			goto fail;
	}
	if (res && res->ncodes > 0 &&
	    res->codes[0].confidence >= SECRETS_MIN_CONFIDENCE) {
		if (add_secret(s, msg, agent_id, in, "code",
		    res->codes[0].value, res->codes[0].origin, NULL,
		    res->codes[0].confidence, state, recv, code_ttl,
		    &sid) == -1)
			goto fail;
		out->codes++;
		if (held && out->held < 4)
			out->held_ids[out->held++] = sid;
	}
	if (res && res->nlinks > 0 &&
	    res->links[0].confidence >= SECRETS_MIN_CONFIDENCE) {
		if (add_secret(s, msg, agent_id, in, "link", res->links[0].url,
		    NULL, res->links[0].domain, res->links[0].confidence,
		    state, recv, code_ttl, &sid) == -1)
			goto fail;
		out->links++;
		if (held && out->held < 4)
			out->held_ids[out->held++] = sid;
	}
	for (rc = 0; rc < out->held; rc++) {
		st = store_stmt(s, "INSERT INTO approvals (secret_id, state, "
		    "created_at) VALUES (?, 'waiting', ?)");
		if (st == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, out->held_ids[rc]);
		sqlite3_bind_int64(st, 2, now);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
	}
	if (out->held) {
		struct agent_row a;

		snprintf(detail, sizeof(detail), "message %lld held for "
		    "approval (%d secrets)", msg, out->held);
		if (store_agent_by_id(s, agent_id, &a) != 0 ||
		    audit_append(s, "daemon", "hold", a.name, detail) == -1)
			goto fail;
	}
cursor:
	if (in->uid > 0 && identity_id) {
		st = store_stmt(s, "INSERT INTO imap_cursors (identity_id, "
		    "uidvalidity, last_uid) VALUES (?,?,?) ON CONFLICT "
		    "(identity_id) DO UPDATE SET uidvalidity = excluded."
		    "uidvalidity, last_uid = max(CASE WHEN uidvalidity = "
		    "excluded.uidvalidity THEN last_uid ELSE 0 END, "
		    "excluded.last_uid)");
		if (st == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, identity_id);
		sqlite3_bind_int64(st, 2, (long long)in->uidvalidity);
		sqlite3_bind_int64(st, 3, (long long)in->uid);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
	}
	return INBOUND_STORED;
fail:
	log_warnx("store: ingest failed: %s", sqlite3_errmsg(store_db(s)));
	return INBOUND_RETRY;
}

enum inbound_status
secrets_ingest_batch(struct store *s, const struct ingest_job *jobs,
    size_t n)
{
	enum inbound_status st;
	size_t i;

	if (store_begin(s) == -1)
		goto retry;
	for (i = 0; i < n; i++) {
		const struct ingest_job *j = &jobs[i];

		/* A savepoint per message: one bad message does not take the
		 * others of its batch down with it. */
		if (sqlite3_exec(store_db(s), "SAVEPOINT msg", NULL, NULL,
		    NULL) != SQLITE_OK) {
			store_rollback(s);
			goto retry;
		}
		st = ingest_rows(s, j->in, j->agent_id, j->res, j->held,
		    j->code_ttl, j->retention, j->out);
		if (st != INBOUND_STORED)
			sqlite3_exec(store_db(s), "ROLLBACK TO msg", NULL, NULL,
			    NULL);
		sqlite3_exec(store_db(s), "RELEASE msg", NULL, NULL, NULL);
		*j->status = st;
	}
	if (store_commit(s) == -1)
		goto retry;
	return INBOUND_STORED;
retry:
	/* Nothing of the batch is on disk: every sender must retry. */
	for (i = 0; i < n; i++)
		*jobs[i].status = INBOUND_RETRY;
	return INBOUND_RETRY;
}

enum inbound_status
secrets_ingest(struct store *s, const struct inbound *in, long long agent_id,
    const struct extract_result *res, int held, long long code_ttl,
    long long retention, struct ingest_result *out)
{
	struct ingest_job j = { in, agent_id, res, held, code_ttl, retention,
	    out, NULL };
	enum inbound_status st = INBOUND_RETRY;

	j.status = &st;
	secrets_ingest_batch(s, &j, 1);
	return st;
}

/* The WHERE clause every secret query shares; binds ?1..?7. */
#define FILTER_SQL \
	" agent_id = ?1 AND received_at >= ?2 AND expires_at > ?3" \
	" AND (?4 IS NULL OR kind = ?4) AND (?5 IS NULL OR channel = ?5)" \
	" AND (?6 IS NULL OR instr(lower(sender), lower(?6)) > 0)" \
	" AND (?7 IS NULL OR origin = ?7 OR link_domain = ?7" \
	"   OR lower(sender) LIKE '%@' || lower(?7)" \
	"   OR lower(sender) LIKE '%.' || lower(?7))"

static void
bind_filter(sqlite3_stmt *st, long long agent_id,
    const struct secret_filter *f)
{
	static const char *kinds[] = { NULL, "code", "link" };
	static const char *chans[] = { NULL, "sms", "email" };

	sqlite3_bind_int64(st, 1, agent_id);
	sqlite3_bind_int64(st, 2, f->since);
	sqlite3_bind_int64(st, 3, store_now());
	if (kinds[f->kind])
		sqlite3_bind_text(st, 4, kinds[f->kind], -1, SQLITE_STATIC);
	if (chans[f->channel])
		sqlite3_bind_text(st, 5, chans[f->channel], -1, SQLITE_STATIC);
	if (f->from && *f->from)
		sqlite3_bind_text(st, 6, f->from, -1, SQLITE_TRANSIENT);
	if (f->origin && *f->origin)
		sqlite3_bind_text(st, 7, f->origin, -1, SQLITE_TRANSIENT);
}

static void
col_copy(sqlite3_stmt *st, int i, char *dst, size_t len)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	xstrlcpy(dst, t ? (const char *)t : "", len);
}

#define ROW_COLS "id, kind, channel, sender, subject, origin, link_domain, " \
	"received_at, state, value"

static void
row_fill(sqlite3_stmt *st, struct secret_row *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(st, 0);
	col_copy(st, 1, r->kind, sizeof(r->kind));
	col_copy(st, 2, r->channel, sizeof(r->channel));
	col_copy(st, 3, r->from, sizeof(r->from));
	col_copy(st, 4, r->subject, sizeof(r->subject));
	col_copy(st, 5, r->origin, sizeof(r->origin));
	col_copy(st, 6, r->link_domain, sizeof(r->link_domain));
	r->received_at = sqlite3_column_int64(st, 7);
	col_copy(st, 8, r->state, sizeof(r->state));
}

int
secrets_take(struct store *s, long long agent_id, const char *agent,
    const struct secret_filter *f, struct secret_row *row)
{
	sqlite3_stmt *st;
	char ad[64], mac[65], detail[160];
	size_t vlen;
	int rc;

	memset(row, 0, sizeof(*row));
	if (store_begin(s) == -1)
		return -1;
	/* "state IN ('pending', 'filtered')" as in the secrets_live
	 * index's WHERE (store.c), or SQLite cannot use it. */
	st = store_stmt(s, "SELECT " ROW_COLS " FROM secrets WHERE"
	    FILTER_SQL " AND state IN ('pending', 'filtered') "
	    "ORDER BY received_at DESC, id DESC LIMIT 1");
	if (st == NULL)
		goto fail;
	bind_filter(st, agent_id, f);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		store_rollback(s);
		return 1;
	}
	if (rc != SQLITE_ROW)
		goto fail;
	row_fill(st, row);
	if (strcmp(row->state, "filtered") == 0) {
		sqlite3_reset(st);
		/* Answer provider_filtered once, then let it lapse. */
		st = store_stmt(s, "UPDATE secrets SET state = 'expired' "
		    "WHERE id = ?");
		if (st == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, row->id);
		if (sqlite3_step(st) != SQLITE_DONE)
			goto fail;
		if (store_commit(s) == -1)
			return -1;
		return 2;
	}
	snprintf(ad, sizeof(ad), "secrets/%lld", row->id);
	if (sqlite3_column_type(st, 9) != SQLITE_BLOB ||
	    crypto_open(store_key(), ad, strlen(ad),
	    sqlite3_column_blob(st, 9), (size_t)sqlite3_column_bytes(st, 9),
	    &row->value, &vlen) == -1) {
		log_warnx("store: secret %lld does not decrypt", row->id);
		sqlite3_reset(st);
		goto fail;
	}
	sqlite3_reset(st);
	/* Delivered once: overwrite the value in the same transaction as
	 * the audit row; if either fails, nothing is delivered. */
	st = store_stmt(s, "UPDATE secrets SET state = 'delivered', "
	    "value = NULL, delivered_at = ? WHERE id = ? AND state = 'pending'");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, store_now());
	sqlite3_bind_int64(st, 2, row->id);
	if (sqlite3_step(st) != SQLITE_DONE ||
	    sqlite3_changes(store_db(s)) != 1)
		goto fail;
	audit_value_mac(row->value, mac);
	snprintf(detail, sizeof(detail), "secret %lld %s via %s value_hmac=%s",
	    row->id, row->kind, row->channel, mac);
	if (audit_append(s, "daemon", "deliver", agent, detail) == -1)
		goto fail;
	if (store_commit(s) == -1)
		goto fail_nocommit;
	return 0;
fail:
	store_rollback(s);
fail_nocommit:
	secret_row_clear(row);
	return -1;
}

int
secrets_held(struct store *s, long long agent_id,
    const struct secret_filter *f)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT 1 FROM secrets WHERE"
	    FILTER_SQL " AND state = 'held' LIMIT 1");
	int rc;

	if (st == NULL)
		return 0;
	bind_filter(st, agent_id, f);
	rc = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return rc;
}

json_t *
secrets_list(struct store *s, long long agent_id,
    const struct secret_filter *f)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT " ROW_COLS " FROM secrets "
	    "WHERE" FILTER_SQL " AND state IN ('pending', 'held') "
	    "ORDER BY received_at DESC, id DESC LIMIT 100");
	json_t *arr = json_array();
	struct secret_row r;

	if (st == NULL)
		return arr;
	bind_filter(st, agent_id, f);
	while (sqlite3_step(st) == SQLITE_ROW) {
		row_fill(st, &r);
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s, s:s, "
		    "s:s, s:s?, s:s?, s:I, s:s}", "id", (json_int_t)r.id,
		    "kind", r.kind, "channel", r.channel, "from", r.from,
		    "subject", r.subject, "origin", *r.origin ? r.origin : NULL,
		    "link_domain", *r.link_domain ? r.link_domain : NULL,
		    "received_at", (json_int_t)r.received_at,
		    "state", r.state));
	}
	sqlite3_reset(st);
	return arr;
}

json_t *
secrets_counts(struct store *s, long long agent_id)
{
	sqlite3_stmt *st = store_stmt(s, "SELECT state, count(*) FROM secrets "
	    "WHERE agent_id = ? GROUP BY state");
	json_t *o = json_pack("{s:i, s:i, s:i, s:i}", "pending", 0, "held", 0,
	    "delivered", 0, "expired", 0);

	if (st == NULL)
		return o;
	sqlite3_bind_int64(st, 1, agent_id);
	while (sqlite3_step(st) == SQLITE_ROW)
		json_object_set_new(o, (const char *)sqlite3_column_text(st, 0),
		    json_integer(sqlite3_column_int64(st, 1)));
	sqlite3_reset(st);
	return o;
}

int
secrets_expire(struct store *s)
{
	sqlite3_stmt *st;
	int n = 0;

	if (store_begin(s) == -1)
		return -1;
	st = store_stmt(s, "UPDATE secrets SET state = 'expired', value = NULL "
	    "WHERE state IN ('pending', 'held') AND expires_at <= ?");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, store_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	n = sqlite3_changes(store_db(s));
	st = store_stmt(s, "UPDATE messages SET body = NULL "
	    "WHERE body IS NOT NULL AND retain_until <= ?");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, store_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	if (store_commit(s) == -1)
		return -1;
	return n;
fail:
	store_rollback(s);
	return -1;
}

int
secrets_purge(struct store *s, long long agent_id)
{
	static const char *sql[] = {
		"DELETE FROM approvals WHERE secret_id IN "
		"(SELECT id FROM secrets WHERE agent_id = ?)",
		"DELETE FROM secrets WHERE agent_id = ?",
		/* Keep the message rows (bodies gone) so a late provider
		 * retry is still recognized as a duplicate. */
		"UPDATE messages SET body = NULL, subject = NULL "
		"WHERE agent_id = ?",
	};
	size_t i;

	for (i = 0; i < sizeof(sql) / sizeof(*sql); i++) {
		sqlite3_stmt *st = store_stmt(s, sql[i]);

		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, agent_id);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -1;
	}
	return 0;
}

int
secrets_decide(struct store *s, long long id, int approve, const char *actor,
    long long *agent_id)
{
	sqlite3_stmt *st;
	struct agent_row a;
	char detail[96];

	if (store_begin(s) == -1)
		return -1;
	st = store_stmt(s, "SELECT agent_id FROM secrets WHERE id = ? "
	    "AND state = 'held' AND expires_at > ?");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, store_now());
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		store_rollback(s);
		return 1;
	}
	*agent_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	st = store_stmt(s, approve ?
	    "UPDATE secrets SET state = 'pending' WHERE id = ?" :
	    "UPDATE secrets SET state = 'denied', value = NULL WHERE id = ?");
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	st = store_stmt(s, "UPDATE approvals SET state = ?, decided_at = ? "
	    "WHERE secret_id = ?");
	if (st == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, approve ? "approved" : "denied", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, store_now());
	sqlite3_bind_int64(st, 3, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	snprintf(detail, sizeof(detail), "secret %lld", id);
	if (store_agent_by_id(s, *agent_id, &a) != 0 ||
	    audit_append(s, actor, approve ? "approve" : "deny", a.name,
	    detail) == -1)
		goto fail;
	return store_commit(s) == 0 ? 0 : -1;
fail:
	store_rollback(s);
	return -1;
}

void
secret_row_clear(struct secret_row *r)
{
	secret_free(r->value);
	r->value = NULL;
}
