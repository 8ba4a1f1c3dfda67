/*
 * Admin verbs: provision, list, show, revoke, token, audit, approve,
 * deny, status, inject.
 */
#include <sys/types.h>

#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/admincmd.h"
#include "cli/client.h"
#include "cli/cliutil.h"
#include "cli/outfmt.h"
#include "common/jsonl.h"
#include "common/xmalloc.h"

/* Provisioning calls provider APIs (buying a number can take a while);
 * everything else is local to the daemon. */
#define ADMIN_TIMEOUT_MS	(30 * 1000)
#define ADMIN_SLOW_TIMEOUT_MS	(150 * 1000)

/*
 * Send req (stolen) on the admin socket.  On success *resp is the ok
 * answer and 0 is returned; otherwise the error is printed and the exit
 * code returned.
 */
static int
admin_call(struct cliargs *a, json_t *req, int timeout_ms, json_t **resp)
{
	enum client_status st;
	const char *errstr = NULL;
	json_t *r = NULL;
	int rc;

	*resp = NULL;
	st = client_call(a->socket, req, timeout_ms, &r, &errstr);
	json_decref(req);
	if (st != CLIENT_OK) {
		client_warn(a->verb, a->socket, st, errstr);
		return client_exit(st);
	}
	if (json_is_true(json_object_get(r, "ok"))) {
		*resp = r;
		return EXIT_OK;
	}
	if (strcmp(client_error(r), "audit_broken") == 0 &&
	    json_is_integer(json_object_get(r, "seq")))
		cliutil_warnx(a->verb, "audit_broken: the audit log does not "
		    "verify from record %lld on: %s",
		    (long long)json_integer_value(json_object_get(r, "seq")),
		    client_message(r));
	else
		cliutil_warnx(a->verb, "%s: %s", client_error(r),
		    client_message(r));
	rc = cliutil_exit_for(client_error(r));
	json_decref(r);
	return rc;
}

static json_t *
admin_req(const char *op)
{
	json_t *o = json_object();

	json_object_set_new(o, "op", json_string(op));
	return o;
}

static const char *
getstr(const json_t *o, const char *key, char *buf, size_t len)
{
	return outfmt_value(json_object_get(o, key), buf, len);
}

static int
need_name(struct cliargs *a)
{
	if (!cliutil_valid_name(a->pos[0])) {
		cliutil_warnx(a->verb, "invalid agent name \"%.40s\" "
		    "(want [a-z][a-z0-9-]{0,31})", a->pos[0]);
		return -1;
	}
	return 0;
}

/* A uid given as a number or a user name. */
static long long
parse_uid(const char *s)
{
	const char *errstr;
	struct passwd *pw;
	long long v;

	v = xstrtonum(s, 0, 0x7fffffffLL, &errstr);
	if (errstr == NULL)
		return v;
	if ((pw = getpwnam(s)) != NULL)
		return (long long)pw->pw_uid;
	return -1;
}

int
admincmd_provision(struct cliargs *a)
{
	json_t *req, *resp;
	char v[512];
	long long uid = -1;
	int rc;

	if (need_name(a) == -1)
		return EXIT_USAGE;
	if (a->uid != NULL && (uid = parse_uid(a->uid)) < 0) {
		cliutil_warnx(a->verb, "unknown uid or user \"%.40s\"",
		    a->uid);
		return EXIT_USAGE;
	}
	req = admin_req("provision");
	json_object_set_new(req, "name", json_string(a->pos[0]));
	json_object_set_new(req, "email", json_boolean(a->email));
	json_object_set_new(req, "phone", json_boolean(a->phone));
	if (uid >= 0)
		json_object_set_new(req, "uid", json_integer(uid));
	if ((rc = admin_call(a, req, ADMIN_SLOW_TIMEOUT_MS, &resp)) != 0)
		return rc;
	if (!json_is_string(json_object_get(resp, "token"))) {
		cliutil_warnx(a->verb, "answer without a token");
		json_decref(resp);
		return EXIT_PROTOCOL;
	}
	/* The contract: name, token, email, phone always present. */
	if (json_object_get(resp, "name") == NULL)
		json_object_set_new(resp, "name", json_string(a->pos[0]));
	if (json_object_get(resp, "email") == NULL)
		json_object_set_new(resp, "email", json_null());
	if (json_object_get(resp, "phone") == NULL)
		json_object_set_new(resp, "phone", json_null());
	if (a->json) {
		outfmt_json(resp);
	} else {
		outfmt_kv(stdout, 6, "name", getstr(resp, "name", v,
		    sizeof(v)));
		outfmt_kv(stdout, 6, "email", getstr(resp, "email", v,
		    sizeof(v)));
		outfmt_kv(stdout, 6, "phone", getstr(resp, "phone", v,
		    sizeof(v)));
		outfmt_kv(stdout, 6, "uid", getstr(resp, "uid", v,
		    sizeof(v)));
		printf("%-6s %s\n", "token",
		    json_string_value(json_object_get(resp, "token")));
		fflush(stdout);
		fprintf(stderr, "agentid: provision: this token is shown "
		    "only once; give it to the agent as AGENTID_TOKEN\n");
	}
	json_decref(resp);
	return EXIT_OK;
}

/* Print rows (an array of objects) as a table of the given keys; the
 * column timecol holds unix seconds. */
static void
print_rows(json_t *rows, size_t ncols, const char **hdr, const char **keys,
    size_t timecol)
{
	struct outfmt_table *t = outfmt_table_new(ncols, hdr);
	json_t *r;
	size_t i, c;

	json_array_foreach(rows, i, r) {
		char cells[8][512];
		const char *row[8];

		for (c = 0; c < ncols && c < 8; c++) {
			json_t *v = json_object_get(r, keys[c]);

			row[c] = c == timecol ?
			    outfmt_time(v, cells[c], sizeof(cells[c])) :
			    outfmt_value(v, cells[c], sizeof(cells[c]));
		}
		outfmt_table_add(t, row);
	}
	outfmt_table_print(t, stdout);
	outfmt_table_free(t);
}

int
admincmd_list(struct cliargs *a)
{
	static const char *hdr[] = { "NAME", "STATE", "UID", "EMAIL",
	    "PHONE", "PENDING", "CREATED" };
	static const char *keys[] = { "name", "state", "uid", "email",
	    "phone", "pending", "created_at" };
	json_t *resp, *agents;
	int rc;

	if ((rc = admin_call(a, admin_req("list"), ADMIN_TIMEOUT_MS,
	    &resp)) != 0)
		return rc;
	if (a->json) {
		outfmt_json(resp);
		json_decref(resp);
		return EXIT_OK;
	}
	agents = json_object_get(resp, "agents");
	if (json_array_size(agents) == 0) {
		printf("no agents\n");
		json_decref(resp);
		return EXIT_OK;
	}
	print_rows(agents, 7, hdr, keys, 6);
	json_decref(resp);
	return EXIT_OK;
}

int
admincmd_show(struct cliargs *a)
{
	static const char *hdr[] = { "CHANNEL", "ADDRESS", "PROVIDER",
	    "STATE", "ERROR" };
	static const char *keys[] = { "channel", "address", "provider",
	    "state", "error" };
	static const char *counts[] = { "pending", "held", "delivered",
	    "expired" };
	json_t *req, *resp, *ag, *ids, *id, *sec;
	char v[512];
	size_t i, c;
	int rc;

	if (need_name(a) == -1)
		return EXIT_USAGE;
	req = admin_req("show");
	json_object_set_new(req, "name", json_string(a->pos[0]));
	if ((rc = admin_call(a, req, ADMIN_TIMEOUT_MS, &resp)) != 0)
		return rc;
	if (a->json) {
		outfmt_json(resp);
		json_decref(resp);
		return EXIT_OK;
	}
	ag = json_object_get(resp, "agent");
	outfmt_kv(stdout, 10, "name", getstr(ag, "name", v, sizeof(v)));
	outfmt_kv(stdout, 10, "state", getstr(ag, "state", v, sizeof(v)));
	outfmt_kv(stdout, 10, "uid", getstr(ag, "uid", v, sizeof(v)));
	outfmt_kv(stdout, 10, "created", outfmt_time(json_object_get(ag,
	    "created_at"), v, sizeof(v)));
	if (json_integer_value(json_object_get(ag, "revoked_at")) > 0)
		outfmt_kv(stdout, 10, "revoked", outfmt_time(
		    json_object_get(ag, "revoked_at"), v, sizeof(v)));
	if (json_object_get(ag, "waiters") != NULL)
		outfmt_kv(stdout, 10, "waiters", getstr(ag, "waiters", v,
		    sizeof(v)));
	sec = json_object_get(ag, "secrets");
	if (json_is_object(sec)) {
		char line[256];
		size_t off = 0;

		line[0] = '\0';
		for (c = 0; c < 4; c++) {
			int n = snprintf(line + off, sizeof(line) - off,
			    "%s%s %s", c ? ", " : "", getstr(sec, counts[c],
			    v, sizeof(v)), counts[c]);

			if (n > 0 && (size_t)n < sizeof(line) - off)
				off += (size_t)n;
		}
		outfmt_kv(stdout, 10, "secrets", line);
	}
	ids = json_object_get(ag, "identities");
	if (json_array_size(ids) > 0) {
		struct outfmt_table *t = outfmt_table_new(5, hdr);

		printf("\n");
		json_array_foreach(ids, i, id) {
			char cells[5][256];
			const char *row[5];

			json_t *werr = json_object_get(json_object_get(id,
			    "watch"), "last_error");

			for (c = 0; c < 5; c++)
				row[c] = outfmt_value(json_object_get(id,
				    keys[c]), cells[c], sizeof(cells[c]));
			/* A mailbox's IMAP trouble (TLS, login) shows here
			 * too, not only with --json. */
			if (json_is_null(json_object_get(id, "error")) &&
			    json_is_string(werr))
				row[4] = outfmt_value(werr, cells[4],
				    sizeof(cells[4]));
			outfmt_table_add(t, row);
		}
		outfmt_table_print(t, stdout);
		outfmt_table_free(t);
	}
	json_decref(resp);
	return EXIT_OK;
}

int
admincmd_revoke(struct cliargs *a)
{
	json_t *req, *resp, *rel, *r;
	char v1[256], v2[256], v3[64];
	size_t i;
	int rc;

	if (need_name(a) == -1)
		return EXIT_USAGE;
	req = admin_req("revoke");
	json_object_set_new(req, "name", json_string(a->pos[0]));
	if ((rc = admin_call(a, req, ADMIN_SLOW_TIMEOUT_MS, &resp)) != 0)
		return rc;
	if (a->json) {
		outfmt_json(resp);
		json_decref(resp);
		return EXIT_OK;
	}
	printf("revoked %s\n", outfmt_clean(a->pos[0], v1, sizeof(v1)));
	rel = json_object_get(resp, "released");
	json_array_foreach(rel, i, r)
		printf("  %-6s %s  %s\n",
		    getstr(r, "channel", v3, sizeof(v3)),
		    getstr(r, "address", v1, sizeof(v1)),
		    getstr(r, "state", v2, sizeof(v2)));
	json_decref(resp);
	return EXIT_OK;
}

int
admincmd_token(struct cliargs *a)
{
	json_t *req, *resp;
	const char *tok;
	int rc;

	if (!a->rotate) {
		cliutil_warnx(a->verb, "only \"token NAME --rotate\" exists: "
		    "tokens are stored hashed and cannot be shown again");
		return EXIT_USAGE;
	}
	if (need_name(a) == -1)
		return EXIT_USAGE;
	req = admin_req("token_rotate");
	json_object_set_new(req, "name", json_string(a->pos[0]));
	if ((rc = admin_call(a, req, ADMIN_TIMEOUT_MS, &resp)) != 0)
		return rc;
	tok = json_string_value(json_object_get(resp, "token"));
	if (tok == NULL) {
		cliutil_warnx(a->verb, "answer without a token");
		json_decref(resp);
		return EXIT_PROTOCOL;
	}
	if (a->json) {
		outfmt_json(resp);
	} else {
		printf("%s\n", tok);
		fflush(stdout);
		fprintf(stderr, "agentid: token: the old token no longer "
		    "works; this one is shown only once\n");
	}
	json_decref(resp);
	return EXIT_OK;
}

int
admincmd_audit(struct cliargs *a)
{
	static const char *hdr[] = { "SEQ", "TIME", "ACTOR", "ACTION",
	    "AGENT", "DETAIL" };
	static const char *keys[] = { "seq", "time", "actor", "action",
	    "agent", "detail" };
	json_t *req, *resp, *recs;
	int rc;

	if (a->agent != NULL && !cliutil_valid_name(a->agent)) {
		cliutil_warnx(a->verb, "invalid agent name \"%.40s\"",
		    a->agent);
		return EXIT_USAGE;
	}
	req = admin_req("audit");
	if (a->agent != NULL)
		json_object_set_new(req, "agent", json_string(a->agent));
	json_object_set_new(req, "verify", json_boolean(a->verify));
	if ((rc = admin_call(a, req, ADMIN_TIMEOUT_MS, &resp)) != 0)
		return rc;
	if (a->json) {
		outfmt_json(resp);
		json_decref(resp);
		return EXIT_OK;
	}
	if (a->verify) {
		printf("audit log verified: %lld records\n", (long long)
		    json_integer_value(json_object_get(resp, "verified")));
		json_decref(resp);
		return EXIT_OK;
	}
	recs = json_object_get(resp, "records");
	if (json_array_size(recs) == 0) {
		printf("no audit records\n");
		json_decref(resp);
		return EXIT_OK;
	}
	print_rows(recs, 6, hdr, keys, 1);
	json_decref(resp);
	return EXIT_OK;
}

/* approve and deny: the id is a number when it looks like one. */
static int
decide(struct cliargs *a, const char *op, const char *done)
{
	json_t *req, *resp;
	const char *errstr;
	long long id;
	char v[128];
	int rc;

	req = admin_req(op);
	id = xstrtonum(a->pos[0], 0, 1LL << 62, &errstr);
	if (errstr == NULL)
		json_object_set_new(req, "id", json_integer(id));
	else
		json_object_set_new(req, "id", json_string(a->pos[0]));
	if (json_object_get(req, "id") == NULL) {
		json_decref(req);
		cliutil_warnx(a->verb, "invalid id");
		return EXIT_USAGE;
	}
	if ((rc = admin_call(a, req, ADMIN_TIMEOUT_MS, &resp)) != 0)
		return rc;
	if (a->json)
		outfmt_json(resp);
	else
		printf("%s %s\n", done, outfmt_clean(a->pos[0], v, sizeof(v)));
	json_decref(resp);
	return EXIT_OK;
}

int
admincmd_approve(struct cliargs *a)
{
	return decide(a, "approve", "approved");
}

int
admincmd_deny(struct cliargs *a)
{
	return decide(a, "deny", "denied");
}

/* Seconds as "3d 4h 5m 6s", leaving out leading zero units. */
static const char *
duration(long long secs, char *buf, size_t len)
{
	long long d = secs / 86400, h = secs / 3600 % 24, m = secs / 60 % 60;

	if (d > 0)
		snprintf(buf, len, "%lldd %lldh %lldm", d, h, m);
	else if (h > 0)
		snprintf(buf, len, "%lldh %lldm %llds", h, m, secs % 60);
	else if (m > 0)
		snprintf(buf, len, "%lldm %llds", m, secs % 60);
	else
		snprintf(buf, len, "%llds", secs < 0 ? 0 : secs);
	return buf;
}

/* Print a nested status object as indented "key value" lines. */
static void
print_tree(json_t *o, int depth)
{
	const char *key;
	json_t *v;
	char buf[512], clean[128];

	json_object_foreach(o, key, v) {
		if (strcmp(key, "ok") == 0 && depth == 0)
			continue;
		outfmt_clean(key, clean, sizeof(clean));
		if (json_is_object(v) && json_object_size(v) == 0) {
			printf("%*s%s%*s -\n", depth * 2, "", clean,
			    22 - depth * 2 - (int)strlen(clean) > 0 ?
			    22 - depth * 2 - (int)strlen(clean) : 0, "");
		} else if (json_is_object(v)) {
			printf("%*s%s\n", depth * 2, "", clean);
			print_tree(v, depth + 1);
		} else if (json_is_array(v)) {
			size_t i;
			json_t *e;

			printf("%*s%s\n", depth * 2, "", clean);
			json_array_foreach(v, i, e) {
				if (json_is_object(e)) {
					printf("%*s-\n", depth * 2 + 2, "");
					print_tree(e, depth + 2);
				} else
					printf("%*s- %s\n", depth * 2 + 2, "",
					    outfmt_value(e, buf, sizeof(buf)));
			}
		} else {
			int pad = 22 - depth * 2 - (int)strlen(clean);

			const char *text;

			if (strcmp(key, "uptime") == 0 && json_is_integer(v))
				text = duration(json_integer_value(v), buf,
				    sizeof(buf));
			else if (strstr(key, "_at") != NULL ||
			    strstr(key, "last_") != NULL)
				text = outfmt_time(v, buf, sizeof(buf));
			else
				text = outfmt_value(v, buf, sizeof(buf));
			printf("%*s%s%*s %s\n", depth * 2, "", clean,
			    pad > 0 ? pad : 0, "", text);
		}
	}
}

int
admincmd_status(struct cliargs *a)
{
	json_t *resp;
	int rc;

	if ((rc = admin_call(a, admin_req("status"), ADMIN_TIMEOUT_MS,
	    &resp)) != 0)
		return rc;
	if (a->json)
		outfmt_json(resp);
	else
		print_tree(resp, 0);
	json_decref(resp);
	return EXIT_OK;
}

int
admincmd_inject(struct cliargs *a)
{
	const char *channel = a->channel, *errstr = NULL;
	json_t *req, *resp, *text;
	char *data = NULL, *line;
	size_t len = 0, linelen;
	int rc = EXIT_USAGE;

	if (need_name(a) == -1)
		return EXIT_USAGE;
	if (channel == NULL)
		channel = a->subject != NULL ? "email" : "sms";
	if (strcmp(channel, "sms") != 0 && strcmp(channel, "email") != 0) {
		cliutil_warnx(a->verb, "--channel must be sms or email");
		return EXIT_USAGE;
	}
	if (a->text != NULL && a->npos > 1) {
		cliutil_warnx(a->verb, "give --text or FILE, not both");
		return EXIT_USAGE;
	}
	if (a->text != NULL) {
		len = strlen(a->text);
		if (len > ADMINCMD_INJECT_MAX) {
			cliutil_warnx(a->verb, "message over 1 MiB");
			return EXIT_USAGE;
		}
		text = json_stringn(a->text, len);
	} else {
		data = cliutil_readall(a->npos > 1 ? a->pos[1] : NULL,
		    ADMINCMD_INJECT_MAX, &len, &errstr);
		if (data == NULL) {
			cliutil_warnx(a->verb, "%s: %s", a->npos > 1 ?
			    a->pos[1] : "stdin", errstr);
			return EXIT_USAGE;
		}
		text = json_stringn(data, len);
	}
	if (text == NULL) {
		cliutil_warnx(a->verb, "the message is not valid UTF-8");
		goto done;
	}
	req = admin_req("inject");
	json_object_set_new(req, "name", json_string(a->pos[0]));
	json_object_set_new(req, "channel", json_string(channel));
	if (a->from != NULL)
		json_object_set_new(req, "from", json_string(a->from));
	if (a->subject != NULL)
		json_object_set_new(req, "subject", json_string(a->subject));
	json_object_set_new(req, "text", text);
	/* The admin socket takes lines of at most 64 KiB; say so plainly
	 * rather than have the daemon close on us. */
	linelen = 0;
	if ((line = jsonl_dump(req, &linelen)) != NULL) {
		explicit_bzero(line, linelen);
		free(line);
	} else
		linelen = SIZE_MAX;
	if (linelen > JSONL_MAX_LINE) {
		cliutil_warnx(a->verb, "message too large for one request "
		    "(more than %d bytes encoded)", JSONL_MAX_LINE);
		json_decref(req);
		goto done;
	}
	if ((rc = admin_call(a, req, ADMIN_TIMEOUT_MS, &resp)) != 0)
		goto done;
	if (a->json)
		outfmt_json(resp);
	else {
		char id[64];

		printf("injected message %s: %lld codes, %lld links, "
		    "%lld held for approval\n",
		    getstr(resp, "message_id", id, sizeof(id)),
		    (long long)json_integer_value(json_object_get(resp,
		    "codes")),
		    (long long)json_integer_value(json_object_get(resp,
		    "links")),
		    (long long)json_integer_value(json_object_get(resp,
		    "held")));
	}
	json_decref(resp);
done:
	cliutil_free(data, len);
	return rc;
}
