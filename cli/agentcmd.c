/*
 * Agent verbs: whoami and wait.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/agentcmd.h"
#include "cli/client.h"
#include "cli/cliutil.h"
#include "cli/outfmt.h"
#include "common/clock.h"
#include "common/xmalloc.h"

#define CONNECT_TIMEOUT_MS	(5 * 1000)
/* A wait answer comes at the daemon's deadline; give it room. */
#define WAIT_MARGIN_MS		(15 * 1000)
#define FILTER_MAX		256

char *
agentcmd_token(const char *token_file, const char **errstr)
{
	char *data, *tok;
	size_t len, n;

	if (token_file == NULL) {
		const char *env = getenv("AGENTID_TOKEN");

		if (env == NULL || *env == '\0') {
			*errstr = "no token: set AGENTID_TOKEN or give "
			    "--token-file FILE";
			return NULL;
		}
		if (strlen(env) >= AGENTCMD_TOKEN_MAX) {
			*errstr = "AGENTID_TOKEN is too long";
			return NULL;
		}
		return xstrdup(env);
	}
	data = cliutil_readall(token_file, 64 * 1024, &len, errstr);
	if (data == NULL)
		return NULL;
	n = strcspn(data, "\r\n");
	if (n == 0 || n >= AGENTCMD_TOKEN_MAX) {
		*errstr = n == 0 ? "token file is empty" :
		    "token file's first line is too long";
		cliutil_free(data, len);
		return NULL;
	}
	tok = xstrndup(data, n);
	cliutil_free(data, len);
	return tok;
}

void
agentcmd_token_free(char *tok)
{
	if (tok != NULL)
		cliutil_free(tok, strlen(tok));
}

static int
one_of(const char *s, const char *a, const char *b, const char *c)
{
	return strcmp(s, a) == 0 || strcmp(s, b) == 0 || strcmp(s, c) == 0;
}

int
agentcmd_filters(json_t *req, const char *kind, const char *channel,
    const char *from, const char *origin, long long since,
    long long timeout, const char **errstr)
{
	if (kind != NULL && !one_of(kind, "code", "link", "any")) {
		*errstr = "kind must be code, link or any";
		return -1;
	}
	if (channel != NULL && !one_of(channel, "sms", "email", "any")) {
		*errstr = "channel must be sms, email or any";
		return -1;
	}
	if ((from && strlen(from) > FILTER_MAX) ||
	    (origin && strlen(origin) > FILTER_MAX)) {
		*errstr = "from and origin are at most 256 bytes";
		return -1;
	}
	if (timeout > 86400) {
		*errstr = "timeout must be 0 to 86400 seconds";
		return -1;
	}
	if (kind != NULL)
		json_object_set_new(req, "kind", json_string(kind));
	if (channel != NULL)
		json_object_set_new(req, "channel", json_string(channel));
	if (from != NULL && json_object_set_new(req, "from",
	    json_string(from)) == -1) {
		*errstr = "from is not valid UTF-8";
		return -1;
	}
	if (origin != NULL && json_object_set_new(req, "origin",
	    json_string(origin)) == -1) {
		*errstr = "origin is not valid UTF-8";
		return -1;
	}
	if (since >= 0)
		json_object_set_new(req, "since", json_integer(since));
	if (timeout >= 0)
		json_object_set_new(req, "timeout", json_integer(timeout));
	return 0;
}

/* A request carrying the token (docs/protocol.md allows it on any op). */
static json_t *
agent_req(const char *op, const char *tok)
{
	json_t *o = json_object();

	json_object_set_new(o, "op", json_string(op));
	json_object_set_new(o, "token", json_string(tok));
	json_object_set_new(o, "v", json_integer(1));
	return o;
}

/* Print a failed answer and return its exit code. */
static int
agent_fail(struct cliargs *a, json_t *resp)
{
	int rc = cliutil_exit_for(client_error(resp));

	cliutil_warnx(a->verb, "%s: %s", client_error(resp),
	    client_message(resp));
	json_decref(resp);
	return rc;
}

int
agentcmd_whoami(struct cliargs *a)
{
	enum client_status st;
	const char *errstr = NULL;
	json_t *req, *resp = NULL;
	char *tok, v[512];

	if ((tok = agentcmd_token(a->token_file, &errstr)) == NULL) {
		cliutil_warnx(a->verb, "%s", errstr);
		return EXIT_USAGE;
	}
	req = agent_req("whoami", tok);
	agentcmd_token_free(tok);
	st = client_call(a->socket, req, CONNECT_TIMEOUT_MS * 2, &resp,
	    &errstr);
	json_decref(req);
	if (st != CLIENT_OK) {
		client_warn(a->verb, a->socket, st, errstr);
		return client_exit(st);
	}
	if (!json_is_true(json_object_get(resp, "ok")))
		return agent_fail(a, resp);
	if (a->json) {
		outfmt_json(resp);
	} else {
		outfmt_kv(stdout, 6, "agent", outfmt_value(json_object_get(
		    resp, "agent"), v, sizeof(v)));
		outfmt_kv(stdout, 6, "email", outfmt_value(json_object_get(
		    resp, "email"), v, sizeof(v)));
		outfmt_kv(stdout, 6, "phone", outfmt_value(json_object_get(
		    resp, "phone"), v, sizeof(v)));
	}
	json_decref(resp);
	return EXIT_OK;
}

/* What the countdown says we wait for, e.g. "a code by sms from "Acme"". */
static void
describe(struct cliargs *a, char *buf, size_t len)
{
	const char *kind = a->kind ? a->kind : "any";
	char from[96], origin[96];

	snprintf(buf, len, "%s%s%s%s%s%s%s%s%s",
	    strcmp(kind, "code") == 0 ? "a code" :
	    strcmp(kind, "link") == 0 ? "a link" : "a code or link",
	    a->channel && strcmp(a->channel, "any") ? " by " : "",
	    a->channel && strcmp(a->channel, "any") ? a->channel : "",
	    a->from ? " from \"" : "",
	    a->from ? outfmt_clean(a->from, from, sizeof(from)) : "",
	    a->from ? "\"" : "",
	    a->origin ? " for " : "",
	    a->origin ? outfmt_clean(a->origin, origin, sizeof(origin)) : "",
	    "");
}

/* ^C during the countdown: clear its line, then die of the signal. */
static void
on_interrupt(int sig)
{
	static const char clear[] = "\r\033[K";
	ssize_t w;

	w = write(STDERR_FILENO, clear, sizeof(clear) - 1);
	(void)w;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Wipe the secret's value in place before the object is freed. */
static void
wipe_value(json_t *secret)
{
	const char *v = json_string_value(json_object_get(secret, "value"));

	if (v != NULL)
		explicit_bzero((char *)(uintptr_t)v, strlen(v));
}

int
agentcmd_wait(struct cliargs *a)
{
	enum client_status st;
	const char *errstr = NULL;
	json_t *req = NULL, *resp = NULL, *secret;
	long long since = -1, timeout = -1, deadline, shown = -1;
	char *tok = NULL, what[256];
	struct buf b;
	int fd = -1, rc = EXIT_USAGE, tty;

	buf_init(&b, client_bufmax());
	if (a->since != NULL && (since = cliutil_since(a->since)) < 0) {
		cliutil_warnx(a->verb, "bad --since \"%.40s\" (unix seconds, "
		    "\"now\", or an age like 10m)", a->since);
		goto done;
	}
	if (a->timeout != NULL &&
	    (timeout = cliutil_duration(a->timeout, 0, 86400)) < 0) {
		cliutil_warnx(a->verb, "bad --timeout \"%.40s\" (0 to 86400 "
		    "seconds, or 5m, 1h)", a->timeout);
		goto done;
	}
	if ((tok = agentcmd_token(a->token_file, &errstr)) == NULL) {
		cliutil_warnx(a->verb, "%s", errstr);
		goto done;
	}
	req = agent_req("wait", tok);
	if (agentcmd_filters(req, a->kind, a->channel, a->from, a->origin,
	    since, timeout, &errstr) == -1) {
		cliutil_warnx(a->verb, "%s", errstr);
		goto done;
	}
	fd = client_connect(a->socket, CONNECT_TIMEOUT_MS, &st, &errstr);
	if (fd == -1 || client_send(fd, req, &errstr) == -1) {
		if (fd != -1)
			st = CLIENT_UNREACHABLE;
		client_warn(a->verb, a->socket, st, errstr);
		rc = client_exit(st);
		goto done;
	}
	if (timeout < 0)
		timeout = AGENTCMD_DEFAULT_WAIT;
	deadline = clock_ms() + timeout * 1000 + WAIT_MARGIN_MS;
	tty = !a->json && isatty(STDERR_FILENO);
	describe(a, what, sizeof(what));
	if (tty) {
		signal(SIGINT, on_interrupt);
		signal(SIGTERM, on_interrupt);
	}
	for (;;) {
		long long now = clock_ms(), left = deadline - now;
		long long secs = (left - WAIT_MARGIN_MS + 999) / 1000;

		if (tty && secs != shown) {
			fprintf(stderr, "\r\033[Kwaiting for %s: %llds left",
			    what, secs > 0 ? secs : 0);
			fflush(stderr);
			shown = secs;
		}
		st = client_recv(fd, &b, left <= 0 ? 0 : tty ?
		    (int)(left < 250 ? left : 250) : (int)left, &resp,
		    &errstr);
		if (st != CLIENT_TIMEOUT || clock_ms() >= deadline)
			break;
	}
	if (tty) {
		fprintf(stderr, "\r\033[K");
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
	}
	if (st != CLIENT_OK) {
		client_warn(a->verb, a->socket, st, st == CLIENT_TIMEOUT ?
		    "the daemon did not answer in time" : errstr);
		rc = client_exit(st);
		goto done;
	}
	if (!json_is_true(json_object_get(resp, "ok"))) {
		rc = agent_fail(a, resp);
		resp = NULL;
		goto done;
	}
	secret = json_object_get(resp, "secret");
	if (!json_is_string(json_object_get(secret, "value"))) {
		cliutil_warnx(a->verb, "answer without a secret value");
		rc = EXIT_PROTOCOL;
		goto done;
	}
	if (a->json)
		outfmt_json(secret);
	else
		printf("%s\n", json_string_value(json_object_get(secret,
		    "value")));
	fflush(stdout);
	wipe_value(secret);
	rc = EXIT_OK;
done:
	if (fd != -1)
		close(fd);
	agentcmd_token_free(tok);
	if (req != NULL) {
		/* The request holds the token. */
		const char *t = json_string_value(json_object_get(req,
		    "token"));

		if (t != NULL)
			explicit_bzero((char *)(uintptr_t)t, strlen(t));
		json_decref(req);
	}
	json_decref(resp);
	buf_clear(&b);
	return rc;
}
