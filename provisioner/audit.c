/*
 * The audit hash chain (see audit.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "provisioner/audit.h"

#define ZERO_HASH \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* Length-prefixed fields, so no two rows serialize alike. */
static void
row_mac(long long seq, long long t, const char *actor, const char *action,
    const char *agent, const char *detail, const char *prev, char out[65])
{
	struct buf b;
	const char *f[5] = { actor, action, agent ? agent : "", detail, prev };
	uint8_t mac[CRYPTO_SHA256_LEN];
	char *hex;
	int i;

	buf_init(&b, 1 << 20);
	buf_printf(&b, "%lld:%lld:", seq, t);
	for (i = 0; i < 5; i++)
		buf_printf(&b, "%zu:%s:", strlen(f[i]), f[i]);
	crypto_hmac_sha256(store_audit_key(), CRYPTO_KEY_LEN, b.data, b.len,
	    mac);
	hex = crypto_hex(mac, sizeof(mac));
	xstrlcpy(out, hex, 65);
	free(hex);
	buf_clear(&b);
}

void
audit_value_mac(const char *value, char out[65])
{
	uint8_t k[CRYPTO_SHA256_LEN], mac[CRYPTO_SHA256_LEN];
	char *hex;

	crypto_hmac_sha256(store_audit_key(), CRYPTO_KEY_LEN, "value", 5, k);
	crypto_hmac_sha256(k, sizeof(k), value, strlen(value), mac);
	hex = crypto_hex(mac, sizeof(mac));
	xstrlcpy(out, hex, 65);
	free(hex);
	explicit_bzero(k, sizeof(k));
}

int
audit_append(struct store *s, const char *actor, const char *action,
    const char *agent, const char *detail)
{
	sqlite3_stmt *st;
	char prev[65], hash[65];
	long long seq = 1, t = store_now();

	if ((st = store_stmt(s, "SELECT seq, hash FROM audit "
	    "ORDER BY seq DESC LIMIT 1")) == NULL)
		return -1;
	xstrlcpy(prev, ZERO_HASH, sizeof(prev));
	if (sqlite3_step(st) == SQLITE_ROW) {
		seq = sqlite3_column_int64(st, 0) + 1;
		xstrlcpy(prev, (const char *)sqlite3_column_text(st, 1),
		    sizeof(prev));
	}
	sqlite3_reset(st);
	row_mac(seq, t, actor, action, agent, detail, prev, hash);
	if ((st = store_stmt(s, "INSERT INTO audit (seq, time, actor, action, "
	    "agent, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)")) == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, seq);
	sqlite3_bind_int64(st, 2, t);
	sqlite3_bind_text(st, 3, actor, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, action, -1, SQLITE_TRANSIENT);
	if (agent)
		sqlite3_bind_text(st, 5, agent, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, detail, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 7, prev, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, hash, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) != SQLITE_DONE) {
		log_warnx("audit: append failed: %s",
		    sqlite3_errmsg(store_db(s)));
		return -1;
	}
	return 0;
}

static const char *
col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

int
audit_verify(struct store *s, long long *bad_seq, long long *count)
{
	sqlite3_stmt *st;
	char prev[65], mac[65];
	long long expect = 1;
	int rc;

	*count = 0;
	*bad_seq = 0;
	if ((st = store_stmt(s, "SELECT seq, time, actor, action, agent, "
	    "detail, prev_hash, hash FROM audit ORDER BY seq")) == NULL)
		return -1;
	xstrlcpy(prev, ZERO_HASH, sizeof(prev));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long seq = sqlite3_column_int64(st, 0);

		row_mac(seq, sqlite3_column_int64(st, 1), col(st, 2),
		    col(st, 3), sqlite3_column_type(st, 4) == SQLITE_NULL ?
		    NULL : col(st, 4), col(st, 5), prev, mac);
		/* A gap, a prev_hash that is not the last row's hash, or a
		 * hash that does not cover this row: the row is bad. */
		if (seq != expect || strcmp(col(st, 6), prev) != 0 ||
		    !crypto_equal(mac, col(st, 7), 64) ||
		    strlen(col(st, 7)) != 64) {
			*bad_seq = seq != expect && seq > expect ? expect : seq;
			sqlite3_reset(st);
			return 1;
		}
		xstrlcpy(prev, col(st, 7), sizeof(prev));
		expect = seq + 1;
		(*count)++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

json_t *
audit_list(struct store *s, const char *agent)
{
	sqlite3_stmt *st;
	json_t *arr = json_array();

	st = store_stmt(s, "SELECT seq, time, actor, action, agent, detail "
	    "FROM audit WHERE ?1 IS NULL OR agent = ?1 ORDER BY seq");
	if (st == NULL)
		return arr;
	if (agent)
		sqlite3_bind_text(st, 1, agent, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(st) == SQLITE_ROW) {
		json_t *o = json_object();

		json_object_set_new(o, "seq",
		    json_integer(sqlite3_column_int64(st, 0)));
		json_object_set_new(o, "time",
		    json_integer(sqlite3_column_int64(st, 1)));
		json_object_set_new(o, "actor", json_string(col(st, 2)));
		json_object_set_new(o, "action", json_string(col(st, 3)));
		json_object_set_new(o, "agent",
		    sqlite3_column_type(st, 4) == SQLITE_NULL ? json_null() :
		    json_string(col(st, 4)));
		json_object_set_new(o, "detail", json_string(col(st, 5)));
		json_array_append_new(arr, o);
	}
	sqlite3_reset(st);
	return arr;
}
