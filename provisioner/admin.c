/*
 * Admin socket verbs (docs/protocol.md).  Every change is audited in the
 * transaction that makes it.
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/crypto.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "provisioner/admin.h"
#include "provisioner/audit.h"
#include "provisioner/ingest.h"
#include "provisioner/mailbox.h"
#include "provisioner/phone.h"
#include "provisioner/secrets.h"
#include "provisioner/store.h"

#define ADMIN_MAX_THREADS	16
#define ADMIN_IDLE_MS		(5 * 60 * 1000)
#define INJECT_MAX		(1024 * 1024)

struct session {
	struct daemon	*d;
	int		 fd;
	uid_t		 uid;
	int		 refused;	/* not an admin: answer, then close */
	char		 actor[32];
};

static atomic_int	 nthreads;

int
admin_valid_name(const char *s)
{
	size_t i;

	if (s == NULL || *s < 'a' || *s > 'z')
		return 0;
	for (i = 1; s[i]; i++)
		if (i >= 32 || !((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

static json_t *
err(const char *code, const char *msg)
{
	return json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "message",
	    msg);
}

static const char *
str_arg(json_t *req, const char *key)
{
	json_t *v = json_object_get(req, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A new token: "aid_" + 256 random bits in base64url. */
static char *
new_token(void)
{
	uint8_t raw[32];
	char *b, *t;

	crypto_random(raw, sizeof(raw));
	b = crypto_b64url(raw, sizeof(raw));
	t = xasprintf("aid_%s", b);
	crypto_wipe_free(b, strlen(b));
	explicit_bzero(raw, sizeof(raw));
	return t;
}

static void
release_quiet(struct daemon *d, const char *channel, const char *address,
    const char *ref)
{
	char e[256];

	if (strcmp(channel, "email") == 0) {
		if (mailbox_release(d->mailbox, address, ref, e, sizeof(e)))
			log_warnx("admin: could not release mailbox %s: %s",
			    address, e);
	} else if (phone_release(d->phone, address, ref, e, sizeof(e)))
		log_warnx("admin: could not release number %s: %s", address,
		    e);
}

static json_t *
op_provision(struct session *ss, json_t *req)
{
	struct daemon *d = ss->d;
	const char *name = str_arg(req, "name");
	json_t *jemail = json_object_get(req, "email");
	json_t *jphone = json_object_get(req, "phone");
	json_t *juid = json_object_get(req, "uid");
	char *addr = NULL, *aref = NULL, *pw = NULL, *num = NULL, *nref = NULL;
	char *token = NULL, hash[STORE_TOKEN_HASH_LEN], e[256], detail[600];
	char uidbuf[24];
	long long uid = -1, agent_id, iid;
	struct store *s = store_get();
	struct agent_row a;
	json_t *out = NULL;

	if (!admin_valid_name(name))
		return err("bad_request", "name must match [a-z][a-z0-9-]{0,31}");
	if ((jemail && !json_is_boolean(jemail)) ||
	    (jphone && !json_is_boolean(jphone)))
		return err("bad_request", "email and phone are booleans");
	if (juid && !json_is_null(juid)) {
		if (!json_is_integer(juid) || json_integer_value(juid) < 0 ||
		    json_integer_value(juid) > 0x7fffffff)
			return err("bad_request", "uid must be a number");
		uid = json_integer_value(juid);
	}
	if (s == NULL)
		return err("internal", "store unavailable");
	if (store_agent_by_name(s, name, &a) == 0)
		return err("exists", "an agent with that name exists "
		    "(names are never reused)");
	if (json_is_true(jemail) && !mailbox_enabled(d->mailbox))
		return err("bad_request", "no mail provider is configured "
		    "([mail] provider)");
	if (json_is_true(jphone) && !phone_enabled(d->phone))
		return err("bad_request", "no phone provider is configured "
		    "([phone] provider)");
	if (json_is_true(jemail) && mailbox_acquire(d->mailbox, name, &addr,
	    &aref, &pw, e, sizeof(e)) == -1) {
		out = err("provider_error", e);
		goto done;
	}
	if (json_is_true(jphone) && phone_acquire(d->phone, name, &num, &nref,
	    e, sizeof(e)) == -1) {
		out = err("provider_error", e);
		goto done;
	}
	token = new_token();
	store_token_hash(token, hash);
	if (uid >= 0)
		snprintf(uidbuf, sizeof(uidbuf), "%lld", uid);
	else
		xstrlcpy(uidbuf, "-", sizeof(uidbuf));
	snprintf(detail, sizeof(detail), "email=%s phone=%s uid=%s",
	    addr ? addr : "-", num ? num : "-", uidbuf);
	if (store_begin(s) == -1)
		goto fail;
	if (store_agent_add(s, name, uid, hash, &agent_id) != 0 ||
	    (addr && store_identity_add(s, agent_id, "email", addr,
	    d->conf->mail_provider, aref, pw, &iid) == -1) ||
	    (num && store_identity_add(s, agent_id, "sms", num,
	    d->conf->phone_provider, nref, NULL, &iid) == -1) ||
	    audit_append(s, ss->actor, "provision", name, detail) == -1) {
		store_rollback(s);
		goto fail;
	}
	if (store_commit(s) == -1)
		goto fail;
	log_info("admin: provisioned agent %s (%s)", name, detail);
	if (addr)
		mailbox_watch(d->mailbox, addr, pw, 0, 0, 1);
	out = json_pack("{s:b, s:s, s:s, s:s?, s:s?, s:o}", "ok", 1, "name",
	    name, "token", token, "email", addr, "phone", num, "uid",
	    uid >= 0 ? json_integer(uid) : json_null());
	goto done;
fail:
	/* Nothing half-made: give back what the providers gave us. */
	if (addr)
		release_quiet(d, "email", addr, aref);
	if (num)
		release_quiet(d, "sms", num, nref);
	out = err("internal", "could not store the agent; nothing was kept");
done:
	free(addr);
	free(aref);
	secret_free(pw);
	free(num);
	free(nref);
	secret_free(token);
	return out;
}

static int
list_one(const struct identity_row *r, void *arg)
{
	json_t *o = arg;

	if (strcmp(r->state, "released") == 0)
		return 0;
	json_object_set_new(o, strcmp(r->channel, "sms") == 0 ? "phone" :
	    "email", json_string(r->address));
	return 0;
}

static json_t *
op_list(struct session *ss, json_t *req)
{
	struct store *s = store_get();
	sqlite3_stmt *st;
	json_t *arr = json_array();
	long long *ids = NULL;
	size_t n = 0, i;

	(void)ss;
	(void)req;
	st = store_stmt(s, "SELECT id FROM agents ORDER BY name");
	while (st && sqlite3_step(st) == SQLITE_ROW) {
		ids = xreallocarray(ids, n + 1, sizeof(*ids));
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	if (st)
		sqlite3_reset(st);
	for (i = 0; i < n; i++) {
		struct agent_row a;
		json_t *o, *cnt;

		if (store_agent_by_id(s, ids[i], &a) != 0)
			continue;
		cnt = secrets_counts(s, a.id);
		o = json_pack("{s:s, s:s, s:o, s:n, s:n, s:I, s:O}", "name",
		    a.name, "state", a.revoked ? "revoked" : "active", "uid",
		    a.uid >= 0 ? json_integer(a.uid) : json_null(), "email",
		    "phone", "created_at", (json_int_t)a.created_at,
		    "pending", json_object_get(cnt, "pending"));
		json_decref(cnt);
		store_identity_each(s, a.id, NULL, list_one, o);
		json_array_append_new(arr, o);
	}
	free(ids);
	return json_pack("{s:b, s:o}", "ok", 1, "agents", arr);
}

struct showctx {
	struct daemon	*d;
	json_t		*arr;
};

static int
show_one(const struct identity_row *r, void *arg)
{
	struct showctx *sc = arg;
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:I}", "channel",
	    r->channel, "address", r->address, "provider", r->provider,
	    "state", r->state, "error", *r->error ? r->error : NULL,
	    "attempts", (json_int_t)r->attempts);
	/* The watcher's own view: last poll, TLS or login errors. */
	if (strcmp(r->channel, "email") == 0 &&
	    strcmp(r->state, "active") == 0)
		json_object_set_new(o, "watch",
		    mailbox_status_one(sc->d->mailbox, r->address));
	json_array_append_new(sc->arr, o);
	return 0;
}

static json_t *
op_show(struct session *ss, json_t *req)
{
	struct store *s = store_get();
	const char *name = str_arg(req, "name");
	struct agent_row a;
	struct showctx sc;
	json_t *ids;

	if (name == NULL)
		return err("bad_request", "show needs a name");
	if (store_agent_by_name(s, name, &a) != 0)
		return err("not_found", "no such agent");
	ids = json_array();
	sc.d = ss->d;
	sc.arr = ids;
	store_identity_each(s, a.id, NULL, show_one, &sc);
	return json_pack("{s:b, s:{s:s, s:s, s:o, s:I, s:o, s:o, s:o}}",
	    "ok", 1, "agent", "name", a.name, "state", a.revoked ? "revoked" :
	    "active", "uid", a.uid >= 0 ? json_integer(a.uid) : json_null(),
	    "created_at", (json_int_t)a.created_at, "revoked_at",
	    a.revoked ? json_integer(a.revoked_at) : json_null(),
	    "identities", ids, "secrets", secrets_counts(s, a.id));
}

struct relctx {
	struct daemon	*d;
	json_t		*released;
};

/* Try to give one identity back to its provider; record the outcome. */
static int
release_one(const struct identity_row *r, void *arg)
{
	struct relctx *rc = arg;
	struct store *s = store_get();
	char e[256];
	int failed;
	long long backoff;

	if (strcmp(r->state, "releasing") != 0)
		return 0;
	if (strcmp(r->channel, "email") == 0) {
		mailbox_unwatch(rc->d->mailbox, r->address);
		failed = mailbox_release(rc->d->mailbox, r->address, r->ref, e,
		    sizeof(e));
	} else
		failed = phone_release(rc->d->phone, r->address, r->ref, e,
		    sizeof(e));
	if (failed) {
		backoff = 10LL << (r->attempts < 8 ? r->attempts : 8);
		log_warnx("admin: release of %s %s failed, retry in %llds: %s",
		    r->channel, r->address, backoff, e);
		store_identity_set_state(s, r->id, "releasing", e,
		    store_now() + backoff);
	} else {
		struct agent_row a;
		char detail[300];

		store_begin(s);
		store_identity_set_state(s, r->id, "released", NULL, 0);
		snprintf(detail, sizeof(detail), "%s %s", r->channel,
		    r->address);
		if (store_agent_by_id(s, r->agent_id, &a) == 0)
			audit_append(s, "daemon", "release", a.name, detail);
		store_commit(s);
	}
	if (rc->released)
		json_array_append_new(rc->released, json_pack("{s:s, s:s, "
		    "s:s, s:s?}", "channel", r->channel, "address", r->address,
		    "state", failed ? "releasing" : "released", "error",
		    failed ? e : NULL));
	return 0;
}

static json_t *
op_revoke(struct session *ss, json_t *req)
{
	struct store *s = store_get();
	const char *name = str_arg(req, "name");
	struct relctx rc;
	struct agent_row a;
	sqlite3_stmt *st;

	if (name == NULL)
		return err("bad_request", "revoke needs a name");
	if (store_agent_by_name(s, name, &a) != 0)
		return err("not_found", "no such agent");
	if (!a.revoked) {
		if (store_begin(s) == -1)
			return err("internal", "store busy");
		st = store_stmt(s, "UPDATE identities SET state = 'releasing', "
		    "next_attempt = 0 WHERE agent_id = ? AND state = 'active'");
		if (st)
			sqlite3_bind_int64(st, 1, a.id);
		if (st == NULL || sqlite3_step(st) != SQLITE_DONE ||
		    store_agent_revoke(s, a.id) == -1 ||
		    secrets_purge(s, a.id) == -1 ||
		    audit_append(s, ss->actor, "revoke", name, "token "
		    "disabled, secrets purged, identities released") == -1) {
			store_rollback(s);
			return err("internal", "could not revoke");
		}
		if (store_commit(s) == -1)
			return err("internal", "could not revoke");
		log_info("admin: revoked agent %s", name);
	}
	/* Connections and waiters go at once, before any provider call. */
	daemon_notify(ss->d, NOTIFY_REVOKED, a.id);
	rc.d = ss->d;
	rc.released = json_array();
	store_identity_each(s, a.id, NULL, release_one, &rc);
	return json_pack("{s:b, s:s, s:o}", "ok", 1, "name", name, "released",
	    rc.released);
}

static json_t *
op_token(struct session *ss, json_t *req)
{
	struct store *s = store_get();
	const char *name = str_arg(req, "name");
	char *token, hash[STORE_TOKEN_HASH_LEN];
	struct agent_row a;
	json_t *out;

	if (name == NULL)
		return err("bad_request", "token_rotate needs a name");
	if (store_agent_by_name(s, name, &a) != 0)
		return err("not_found", "no such agent");
	if (a.revoked)
		return err("bad_request", "the agent is revoked");
	token = new_token();
	store_token_hash(token, hash);
	if (store_begin(s) == -1 || store_agent_set_token(s, a.id, hash) ||
	    audit_append(s, ss->actor, "token_rotate", name, "new token") ||
	    store_commit(s) == -1) {
		store_rollback(s);
		secret_free(token);
		return err("internal", "could not rotate the token");
	}
	daemon_notify(ss->d, NOTIFY_TOKEN, a.id);
	out = json_pack("{s:b, s:s, s:s}", "ok", 1, "name", name, "token",
	    token);
	secret_free(token);
	return out;
}

static json_t *
op_inject(struct session *ss, json_t *req)
{
	struct store *s = store_get();
	const char *name = str_arg(req, "name"), *chan = str_arg(req,
	    "channel"), *text = str_arg(req, "text");
	struct ingest_result res;
	struct inbound in;
	struct agent_row a;
	enum inbound_status st;
	uint8_t rnd[12];
	char *pid, *hex, detail[300];

	if (name == NULL || text == NULL)
		return err("bad_request", "inject needs name and text");
	if (strlen(text) > INJECT_MAX)
		return err("bad_request", "text over 1 MiB");
	if (chan && strcmp(chan, "sms") && strcmp(chan, "email"))
		return err("bad_request", "channel is sms or email");
	if (store_agent_by_name(s, name, &a) != 0)
		return err("not_found", "no such agent");
	if (a.revoked)
		return err("bad_request", "the agent is revoked");
	memset(&in, 0, sizeof(in));
	in.channel = chan && strcmp(chan, "email") == 0 ? INBOUND_EMAIL :
	    INBOUND_SMS;
	in.from = str_arg(req, "from") ? str_arg(req, "from") : "inject";
	in.subject = str_arg(req, "subject");
	in.text = text;
	in.textlen = strlen(text);
	in.provider = "inject";
	crypto_random(rnd, sizeof(rnd));
	hex = crypto_hex(rnd, sizeof(rnd));
	pid = xasprintf("inject-%s", hex);
	free(hex);
	in.provider_id = pid;
	/* The audit row goes first: if it cannot be written, nothing is
	 * injected. */
	snprintf(detail, sizeof(detail), "%s message from %.120s",
	    in.channel == INBOUND_SMS ? "sms" : "email", in.from);
	if (store_begin(s) == -1 ||
	    audit_append(s, ss->actor, "inject", name, detail) == -1 ||
	    store_commit(s) == -1) {
		store_rollback(s);
		free(pid);
		return err("internal", "could not audit the injection");
	}
	st = ingest_for_agent(ss->d, &in, a.id, &res);
	free(pid);
	if (st != INBOUND_STORED)
		return err("internal", "could not store the message");
	return json_pack("{s:b, s:I, s:i, s:i, s:i}", "ok", 1, "message_id",
	    (json_int_t)res.message_id, "codes", res.codes, "links",
	    res.links, "held", res.held);
}

static long long
count(struct store *s, const char *sql)
{
	sqlite3_stmt *st = store_stmt(s, sql);
	long long n = 0;

	if (st && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	if (st)
		sqlite3_reset(st);
	return n;
}

static json_t *
op_status(struct session *ss, json_t *req)
{
	struct daemon *d = ss->d;
	struct store *s = store_get();

	(void)req;
	return json_pack("{s:b, s:i, s:I, s:I, s:I, s:{s:I, s:I}, s:I, s:I, "
	    "s:{s:I, s:I, s:I, s:I, s:I, s:I}, s:{s:o, s:o}}", "ok", 1, "version", 1,
	    "uptime", (json_int_t)(store_now() - d->started),
	    "agents", (json_int_t)count(s, "SELECT count(*) FROM agents "
	    "WHERE state = 'active'"),
	    "identities", (json_int_t)count(s, "SELECT count(*) FROM "
	    "identities WHERE state != 'released'"),
	    "secrets", "pending", (json_int_t)count(s, "SELECT count(*) FROM "
	    "secrets WHERE state = 'pending'"), "held", (json_int_t)count(s,
	    "SELECT count(*) FROM secrets WHERE state = 'held'"),
	    "waiters", (json_int_t)atomic_load(&d->waiters),
	    "connections", (json_int_t)atomic_load(&d->agent_conns),
	    "counters", "ingested", (json_int_t)atomic_load(&d->ingested),
	    "duplicates", (json_int_t)atomic_load(&d->duplicates),
	    "dropped", (json_int_t)atomic_load(&d->dropped),
	    "skipped", (json_int_t)atomic_load(&d->skipped),
	    "delivered", (json_int_t)atomic_load(&d->delivered),
	    "auth_failures", (json_int_t)atomic_load(&d->auth_failures),
	    "channels", "sms", phone_status(d->phone),
	    "email", mailbox_status(d->mailbox));
}

static json_t *
op_audit(struct session *ss, json_t *req)
{
	struct store *s = store_get();
	long long bad, n;
	char msg[96];
	int rc;

	(void)ss;
	if (json_is_true(json_object_get(req, "verify"))) {
		rc = audit_verify(s, &bad, &n);
		if (rc == 0)
			return json_pack("{s:b, s:I}", "ok", 1, "verified",
			    (json_int_t)n);
		if (rc == -1)
			return err("internal", "could not read the audit log");
		snprintf(msg, sizeof(msg), "the audit chain is broken at "
		    "row %lld", bad);
		return json_pack("{s:b, s:s, s:s, s:I}", "ok", 0, "error",
		    "audit_broken", "message", msg, "seq", (json_int_t)bad);
	}
	return json_pack("{s:b, s:o}", "ok", 1, "records", audit_list(s,
	    str_arg(req, "agent")));
}

static json_t *
op_decide(struct session *ss, json_t *req, int approve)
{
	json_t *jid = json_object_get(req, "id");
	long long agent_id;
	int rc;

	if (!json_is_integer(jid))
		return err("bad_request", "needs a numeric id");
	rc = secrets_decide(store_get(), json_integer_value(jid), approve,
	    ss->actor, &agent_id);
	if (rc == 1)
		return err("not_found", "no held secret with that id");
	if (rc == -1)
		return err("internal", "could not record the decision");
	if (approve)
		daemon_notify(ss->d, NOTIFY_SECRET, agent_id);
	return json_pack("{s:b, s:O}", "ok", 1, "id", jid);
}

static json_t *
dispatch(struct session *ss, json_t *req)
{
	const char *op = str_arg(req, "op");

	if (op == NULL)
		return err("bad_request", "missing \"op\"");
	if (store_get() == NULL)
		return err("internal", "store unavailable");
	if (strcmp(op, "provision") == 0)
		return op_provision(ss, req);
	if (strcmp(op, "list") == 0)
		return op_list(ss, req);
	if (strcmp(op, "show") == 0)
		return op_show(ss, req);
	if (strcmp(op, "revoke") == 0)
		return op_revoke(ss, req);
	if (strcmp(op, "token_rotate") == 0)
		return op_token(ss, req);
	if (strcmp(op, "inject") == 0)
		return op_inject(ss, req);
	if (strcmp(op, "status") == 0)
		return op_status(ss, req);
	if (strcmp(op, "audit") == 0)
		return op_audit(ss, req);
	if (strcmp(op, "approve") == 0)
		return op_decide(ss, req, 1);
	if (strcmp(op, "deny") == 0)
		return op_decide(ss, req, 0);
	return err("bad_request", "unknown op");
}

static void
reply(int fd, json_t *o)
{
	size_t len;
	char *s = jsonl_dump(o, &len);

	json_decref(o);
	if (s) {
		jsonl_write_all(fd, s, len);
		crypto_wipe_free(s, len);
	}
}

static void *
session_main(void *arg)
{
	struct session *ss = arg;
	struct buf b;
	const char *e;
	json_t *req;

	buf_init(&b, JSONL_MAX_LINE + 8192);
	for (;;) {
		if (jsonl_read(ss->fd, &b, ss->refused ? 2000 : ADMIN_IDLE_MS,
		    &req, &e) !=
		    JSONL_OK) {
			if (strcmp(e, "closed") && strcmp(e, "timeout"))
				reply(ss->fd, err("bad_request", e));
			if (strcmp(e, "too long") == 0 ||
			    strcmp(e, "closed") == 0 ||
			    strcmp(e, "timeout") == 0 ||
			    strcmp(e, "poll failed") == 0)
				break;
			continue;
		}
		reply(ss->fd, ss->refused ? err("unauthorized",
		    "not an admin uid") : dispatch(ss, req));
		json_decref(req);
		if (ss->refused)
			break;
	}
	buf_clear(&b);
	close(ss->fd);
	free(ss);
	store_release();
	atomic_fetch_sub(&nthreads, 1);
	return NULL;
}

static int
admin_allowed(struct daemon *d, uid_t uid)
{
	size_t i;

	if (uid == 0 || uid == d->euid)
		return 1;
	for (i = 0; i < d->conf->nadmin_uids; i++)
		if (d->conf->admin_uids[i] == uid)
			return 1;
	return 0;
}

void
admin_accept(struct daemon *d, int listen_fd)
{
	struct session *ss;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	pthread_attr_t attr;
	pthread_t t;
	int fd;

	fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		close(fd);
		return;
	}
	if (atomic_fetch_add(&nthreads, 1) >= ADMIN_MAX_THREADS) {
		atomic_fetch_sub(&nthreads, 1);
		reply(fd, err("busy", "too many admin connections"));
		close(fd);
		return;
	}
	ss = xcalloc(1, sizeof(*ss));
	ss->d = d;
	ss->fd = fd;
	ss->uid = cred.uid;
	/* A refused peer still gets its answer after its request is read,
	 * so the reply is not lost to a reset of unread data. */
	if (!admin_allowed(d, cred.uid)) {
		log_info("admin socket: refused uid %u", (unsigned)cred.uid);
		ss->refused = 1;
	}
	snprintf(ss->actor, sizeof(ss->actor), "uid:%u", (unsigned)cred.uid);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, session_main, ss) != 0) {
		atomic_fetch_sub(&nthreads, 1);
		close(fd);
		free(ss);
	}
	pthread_attr_destroy(&attr);
}

static void *
releaser_main(void *arg)
{
	struct relctx rc = { arg, NULL };

	for (;;) {
		struct store *s = store_get();

		if (s)
			store_identity_each(s, 0, "releasing", release_one, &rc);
		sleep(5);
	}
	return NULL;
}

void
admin_start_releaser(struct daemon *d)
{
	pthread_t t;

	if (pthread_create(&t, NULL, releaser_main, d) != 0)
		fatalx("cannot start the release thread");
	pthread_detach(t);
}

static int
watch_one(const struct identity_row *r, void *arg)
{
	struct daemon *d = arg;
	char *pw;

	if (strcmp(r->channel, "email") != 0)
		return 0;
	if ((pw = store_identity_credential(store_get(), r->id)) == NULL) {
		log_warnx("mail: no credential for %s; not watched",
		    r->address);
		return 0;
	}
	/* Not fresh: the account is older than this start. */
	mailbox_watch(d->mailbox, r->address, pw, r->uidvalidity,
	    r->last_uid, 0);
	secret_free(pw);
	return 0;
}

void
admin_watch_all(struct daemon *d)
{
	struct store *s = store_get();

	if (s && mailbox_enabled(d->mailbox))
		store_identity_each(s, 0, "active", watch_one, d);
}
