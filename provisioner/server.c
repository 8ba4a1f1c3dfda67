/*
 * The main loop and the agent socket protocol (DESIGN §6).
 */
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/crypto.h"
#include "common/jsonl.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "provisioner/admin.h"
#include "provisioner/secrets.h"
#include "provisioner/server.h"

#define MAX_CONNS	4096
#define OUT_MAX		(1024 * 1024)
#define PROTO_VERSION	1
#define AUTH_WINDOW	10	/* seconds */
#define AUTH_MAX_FAIL	20	/* failures per uid per window */

struct conn {
	int		 fd;
	uid_t		 uid;
	struct buf	 in, out;
	long long	 agent_id;	/* 0: not bound */
	char		 agent[64];
	int		 waiting;
	struct secret_filter f;
	char		 from[256], origin[256];
	long long	 deadline_ms;
	int		 closing;	/* close once out is flushed */
	struct conn	*next;
};

struct authfail {
	uid_t		 uid;
	long long	 window;
	int		 count;
};

struct server {
	struct daemon	*d;
	int		 agent_fd, admin_fd, sig_fd;
	struct conn	*conns;
	size_t		 nconns;
	struct authfail	 fails[64];
	long long	 next_expire;
};

int
server_listen(const char *path, mode_t mode, const char **errstr)
{
	struct sockaddr_un sun;
	mode_t old;
	int fd, probe;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (xstrlcpy(sun.sun_path, path, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		*errstr = "socket path too long";
		return -1;
	}
	/* A live daemon answers connect(): never steal its socket. */
	if ((probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(probe, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(probe);
			*errstr = "another agentidd is listening there";
			return -1;
		}
		close(probe);
	}
	unlink(path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) == -1) {
		*errstr = "socket failed";
		return -1;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		umask(old);
		close(fd);
		*errstr = "cannot bind the socket (does its directory exist?)";
		return -1;
	}
	umask(old);
	if (chmod(path, mode) == -1 || listen(fd, 128) == -1) {
		close(fd);
		*errstr = "cannot listen on the socket";
		return -1;
	}
	return fd;
}

struct server *
server_new(struct daemon *d, const char **errstr)
{
	struct server *sv = xcalloc(1, sizeof(*sv));
	sigset_t mask;

	sv->d = d;
	sv->agent_fd = sv->admin_fd = sv->sig_fd = -1;
	/* Anyone may connect to the agent socket: the token and the peer
	 * uid decide.  The admin socket checks the peer uid likewise. */
	if ((sv->agent_fd = server_listen(d->conf->agent_socket, 0666,
	    errstr)) == -1)
		goto fail;
	if ((sv->admin_fd = server_listen(d->conf->admin_socket, 0666,
	    errstr)) == -1)
		goto fail;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	if ((sv->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1) {
		*errstr = "signalfd failed";
		goto fail;
	}
	return sv;
fail:
	server_free(sv);
	return NULL;
}

static void
conn_free(struct server *sv, struct conn *c)
{
	struct conn **pp;

	for (pp = &sv->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->waiting)
		atomic_fetch_sub(&sv->d->waiters, 1);
	if (c->agent_id)
		atomic_fetch_sub(&sv->d->agent_conns, 1);
	close(c->fd);
	buf_clear(&c->in);
	buf_clear(&c->out);
	free(c);
	sv->nconns--;
}

void
server_free(struct server *sv)
{
	if (sv == NULL)
		return;
	while (sv->conns)
		conn_free(sv, sv->conns);
	if (sv->agent_fd != -1) {
		close(sv->agent_fd);
		unlink(sv->d->conf->agent_socket);
	}
	if (sv->admin_fd != -1) {
		close(sv->admin_fd);
		unlink(sv->d->conf->admin_socket);
	}
	if (sv->sig_fd != -1)
		close(sv->sig_fd);
	free(sv);
}

/* Queue o (consumed) on c and try to write it now. */
static void
conn_send(struct conn *c, json_t *o)
{
	size_t len;
	char *s = jsonl_dump(o, &len);

	json_decref(o);
	if (s == NULL || buf_add(&c->out, s, len) == -1)
		c->closing = 1;
	if (s)
		crypto_wipe_free(s, len);
}

static void
conn_error(struct conn *c, const char *code, const char *msg)
{
	conn_send(c, json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code,
	    "message", msg));
}

/* Flush what we can; 0, or -1 when the peer is gone. */
static int
conn_flush(struct conn *c)
{
	while (c->out.len > 0) {
		ssize_t n = send(c->fd, c->out.data, c->out.len,
		    MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0)
			return -1;
		buf_consume(&c->out, (size_t)n);
	}
	return 0;
}

/* Fill email/phone of the hello/whoami answer. */
static int
fill_identity(const struct identity_row *r, void *arg)
{
	json_t *o = arg;

	if (strcmp(r->state, "active") != 0)
		return 0;
	json_object_set_new(o, strcmp(r->channel, "sms") == 0 ? "phone" :
	    "email", json_string(r->address));
	return 0;
}

static struct authfail *
authfail_slot(struct server *sv, uid_t uid)
{
	long long w = time(NULL) / AUTH_WINDOW;
	size_t i, victim = 0;

	for (i = 0; i < sizeof(sv->fails) / sizeof(*sv->fails); i++) {
		if (sv->fails[i].count && sv->fails[i].uid == uid) {
			if (sv->fails[i].window != w) {
				sv->fails[i].window = w;
				sv->fails[i].count = 0;
			}
			return &sv->fails[i];
		}
		if (sv->fails[i].window < sv->fails[victim].window ||
		    sv->fails[i].count == 0)
			victim = i;
	}
	sv->fails[victim].uid = uid;
	sv->fails[victim].window = w;
	sv->fails[victim].count = 0;
	return &sv->fails[victim];
}

/*
 * Decide which agent this request is for: the token (if given) or the
 * connection's binding.  Never a field naming an agent.  0 ok, else an
 * error was sent.
 */
static int
authenticate(struct server *sv, struct conn *c, json_t *req)
{
	json_t *tok = json_object_get(req, "token");
	struct store *s = store_get();
	struct agent_row a;
	struct authfail *af = authfail_slot(sv, c->uid);
	char hash[STORE_TOKEN_HASH_LEN];
	int rc;

	if (s == NULL) {
		conn_error(c, "internal", "store unavailable");
		return -1;
	}
	if (tok != NULL) {
		if (!json_is_string(tok)) {
			conn_error(c, "bad_request", "token must be a string");
			return -1;
		}
		store_token_hash(json_string_value(tok), hash);
		rc = store_agent_by_token(s, hash, &a);
		explicit_bzero(hash, sizeof(hash));
		if (rc != 0 || (c->agent_id && c->agent_id != a.id))
			goto unauthorized;
	} else if (c->agent_id) {
		if (store_agent_by_id(s, c->agent_id, &a) != 0)
			goto unauthorized;
	} else {
		conn_error(c, "unauthorized", "send hello with a token first");
		return -1;
	}
	if (a.uid >= 0 && (uid_t)a.uid != c->uid)
		goto unauthorized;
	if (a.revoked) {
		conn_error(c, "revoked", "this agent has been revoked");
		c->closing = 1;
		return -1;
	}
	if (c->agent_id == 0) {
		c->agent_id = a.id;
		xstrlcpy(c->agent, a.name, sizeof(c->agent));
		atomic_fetch_add(&sv->d->agent_conns, 1);
	}
	return 0;
unauthorized:
	/* Past the limit a uid's bad attempts get "busy" and lose their
	 * connection; a valid token from that uid still works, so agents
	 * sharing a uid cannot lock each other out. */
	atomic_fetch_add(&sv->d->auth_failures, 1);
	if (++af->count > AUTH_MAX_FAIL) {
		conn_error(c, "busy", "too many failed attempts; wait");
		c->closing = 1;
		return -1;
	}
	log_info("agent socket: failed authentication from uid %u",
	    (unsigned)c->uid);
	conn_error(c, "unauthorized", "unknown token, or not allowed for "
	    "this uid");
	return -1;
}

static const char *
opt_str(json_t *req, const char *key, int *bad)
{
	json_t *v = json_object_get(req, key);

	if (v == NULL || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || json_string_length(v) > 255) {
		*bad = 1;
		return NULL;
	}
	return json_string_value(v);
}

static long long
opt_int(json_t *req, const char *key, long long def, long long min,
    long long max, int *bad)
{
	json_t *v = json_object_get(req, key);
	long long n;

	if (v == NULL || json_is_null(v))
		return def;
	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_real(v))
		n = (long long)json_real_value(v);
	else {
		*bad = 1;
		return def;
	}
	if (n < min || n > max) {
		*bad = 1;
		return def;
	}
	return n;
}

/* Read the §6 filters of req into c->f; -1 (error sent) when bad. */
static int
parse_filter(struct conn *c, json_t *req)
{
	static const char *kinds[] = { "any", "code", "link" };
	static const char *chans[] = { "any", "sms", "email" };
	const char *kind, *chan, *s;
	int bad = 0, i;

	memset(&c->f, 0, sizeof(c->f));
	kind = opt_str(req, "kind", &bad);
	chan = opt_str(req, "channel", &bad);
	if (kind) {
		for (i = 0; i < 3 && strcmp(kind, kinds[i]); i++)
			;
		if (i == 3)
			bad = 1;
		c->f.kind = i % 3;
	}
	if (chan) {
		for (i = 0; i < 3 && strcmp(chan, chans[i]); i++)
			;
		if (i == 3)
			bad = 1;
		c->f.channel = i % 3;
	}
	c->from[0] = c->origin[0] = '\0';
	if ((s = opt_str(req, "from", &bad)) != NULL)
		xstrlcpy(c->from, s, sizeof(c->from));
	if ((s = opt_str(req, "origin", &bad)) != NULL)
		xstrlcpy(c->origin, s, sizeof(c->origin));
	c->f.from = c->from[0] ? c->from : NULL;
	c->f.origin = c->origin[0] ? c->origin : NULL;
	c->f.since = opt_int(req, "since", time(NULL) - 300, 0,
	    (long long)1 << 40, &bad);
	if (bad) {
		conn_error(c, "bad_request", "bad filter: kind code|link|any, "
		    "channel sms|email|any, from and origin strings, since "
		    "unix seconds");
		return -1;
	}
	return 0;
}

/* Try to deliver to a waiting or asking connection; 1 when answered. */
static int
try_deliver(struct server *sv, struct conn *c)
{
	struct secret_row r;
	struct store *s = store_get();
	json_t *o;
	int rc;

	if (s == NULL)
		return 0;
	rc = secrets_take(s, c->agent_id, c->agent, &c->f, &r);
	if (rc == 2) {
		conn_error(c, "provider_filtered", "the SMS provider withheld "
		    "this message's text (Twilio error 30038); use a "
		    "SIM-backed number for this sender");
		return 1;
	}
	if (rc != 0)
		return 0;
	o = json_pack("{s:b, s:{s:I, s:s, s:s, s:s, s:s, s:s?, s:s?, s:I, "
	    "s:s?}}", "ok", 1, "secret", "id", (json_int_t)r.id, "kind",
	    r.kind, "value", r.value, "channel", r.channel, "from", r.from,
	    "subject", *r.subject ? r.subject : NULL,
	    "origin", *r.origin ? r.origin : NULL,
	    "received_at", (json_int_t)r.received_at, "link_domain",
	    *r.link_domain ? r.link_domain : NULL);
	log_info("agent %s: delivered secret %lld (%s, %s)", c->agent, r.id,
	    r.kind, r.channel);
	secret_row_clear(&r);
	atomic_fetch_add(&sv->d->delivered, 1);
	conn_send(c, o);
	return 1;
}

static void
wait_end(struct server *sv, struct conn *c)
{
	if (c->waiting) {
		c->waiting = 0;
		atomic_fetch_sub(&sv->d->waiters, 1);
	}
}

static void
op_wait(struct server *sv, struct conn *c, json_t *req)
{
	int bad = 0;
	long long timeout;

	if (parse_filter(c, req) == -1)
		return;
	/* Longer than wait_max is capped, not refused (DESIGN §6). */
	timeout = opt_int(req, "timeout", 60, 0, (long long)1 << 40, &bad);
	if (bad) {
		conn_error(c, "bad_request", "timeout must be a number of "
		    "seconds, 0 or more");
		return;
	}
	if (timeout > sv->d->conf->wait_max)
		timeout = sv->d->conf->wait_max;
	if (try_deliver(sv, c))
		return;
	if (timeout == 0) {
		if (secrets_held(store_get(), c->agent_id, &c->f))
			conn_error(c, "pending_approval", "a matching secret "
			    "waits for `agentid approve`");
		else
			conn_error(c, "timeout", "nothing arrived");
		return;
	}
	c->waiting = 1;
	c->deadline_ms = clock_ms() + timeout * 1000;
	atomic_fetch_add(&sv->d->waiters, 1);
}

static void
handle(struct server *sv, struct conn *c, json_t *req)
{
	json_t *op = json_object_get(req, "op"), *o;
	const char *name;

	if (!json_is_string(op)) {
		conn_error(c, "bad_request", "missing \"op\"");
		return;
	}
	name = json_string_value(op);
	if (strcmp(name, "hello") != 0 && strcmp(name, "whoami") != 0 &&
	    strcmp(name, "wait") != 0 && strcmp(name, "list") != 0) {
		conn_error(c, "bad_request", "unknown op");
		return;
	}
	if (strcmp(name, "hello") == 0) {
		json_t *v = json_object_get(req, "v");

		if (v && (!json_is_integer(v) || json_integer_value(v) < 1)) {
			conn_error(c, "bad_request", "v must be 1");
			return;
		}
		if (json_object_get(req, "token") == NULL) {
			conn_error(c, "unauthorized", "hello needs a token");
			return;
		}
	}
	if (authenticate(sv, c, req) == -1)
		return;
	if (strcmp(name, "wait") == 0) {
		op_wait(sv, c, req);
	} else if (strcmp(name, "list") == 0) {
		if (parse_filter(c, req) == -1)
			return;
		o = json_pack("{s:b, s:o}", "ok", 1, "secrets",
		    secrets_list(store_get(), c->agent_id, &c->f));
		conn_send(c, o);
	} else {
		o = json_pack("{s:b, s:s, s:n, s:n, s:i}", "ok", 1, "agent",
		    c->agent, "email", "phone", "v", PROTO_VERSION);
		store_identity_each(store_get(), c->agent_id, NULL,
		    fill_identity, o);
		conn_send(c, o);
	}
}

/* Process complete lines while not waiting. */
static void
conn_process(struct server *sv, struct conn *c)
{
	const char *err;
	json_t *req;

	while (!c->waiting && !c->closing) {
		switch (jsonl_next(&c->in, &req, &err)) {
		case JSONL_MORE:
			return;
		case JSONL_TOOBIG:
			conn_error(c, "bad_request", "line longer than 64 KiB");
			c->closing = 1;
			return;
		case JSONL_BAD:
			conn_error(c, "bad_request", err);
			break;
		case JSONL_OK:
			handle(sv, c, req);
			json_decref(req);
			break;
		}
	}
}

static void
conn_read(struct server *sv, struct conn *c)
{
	char chunk[8192];
	ssize_t n = recv(c->fd, chunk, sizeof(chunk), MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->closing = 2;		/* peer gone: drop now */
		return;
	}
	if (buf_add(&c->in, chunk, (size_t)n) == -1) {
		conn_error(c, "bad_request", "line longer than 64 KiB");
		c->closing = 1;
		return;
	}
	explicit_bzero(chunk, sizeof(chunk));
	conn_process(sv, c);
}

static void
accept_agent(struct server *sv)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c;
	int fd;

	fd = accept4(sv->agent_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd == -1)
		return;
	if (sv->nconns >= MAX_CONNS ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1) {
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->uid = cred.uid;
	buf_init(&c->in, JSONL_MAX_LINE + sizeof(((struct conn *)0)->from) +
	    8192);
	buf_init(&c->out, OUT_MAX);
	c->next = sv->conns;
	sv->conns = c;
	sv->nconns++;
}

/* A waiter whose peer hung up must not be handed a secret it would
 * never read. */
static int
peer_alive(struct conn *c)
{
	char ch;
	ssize_t n = recv(c->fd, &ch, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		c->closing = 2;
		return 0;
	}
	return 1;
}

/* Waiters of agent get another chance at a newly committed secret. */
static void
on_secret(struct server *sv, long long agent_id)
{
	struct conn *c, *order[MAX_CONNS];
	size_t n = 0, i;

	/* Oldest waiter first: the list is newest first. */
	for (c = sv->conns; c; c = c->next)
		if (c->waiting && c->agent_id == agent_id && !c->closing &&
		    n < MAX_CONNS && peer_alive(c))
			order[n++] = c;
	for (i = n; i-- > 0;) {
		if (try_deliver(sv, order[i])) {
			wait_end(sv, order[i]);
			conn_process(sv, order[i]);
		}
	}
}

static void
on_revoked(struct server *sv, long long agent_id, int revoked)
{
	struct conn *c;

	for (c = sv->conns; c; c = c->next) {
		if (c->agent_id != agent_id)
			continue;
		if (c->waiting && revoked)
			conn_error(c, "revoked", "this agent has been revoked");
		else if (c->waiting)
			conn_error(c, "unauthorized", "the token was rotated");
		wait_end(sv, c);
		c->closing = 1;
	}
}

static void
tick(struct server *sv)
{
	long long now = clock_ms();
	struct conn *c;

	for (c = sv->conns; c; c = c->next) {
		if (!c->waiting || c->deadline_ms > now)
			continue;
		if (secrets_held(store_get(), c->agent_id, &c->f))
			conn_error(c, "pending_approval", "a matching secret "
			    "waits for `agentid approve`");
		else
			conn_error(c, "timeout", "nothing arrived in time");
		wait_end(sv, c);
		conn_process(sv, c);
	}
	if (now >= sv->next_expire) {
		sv->next_expire = now + 10000;
		if (store_get())
			secrets_expire(store_get());
	}
}

static void
drain_events(struct server *sv)
{
	enum notify_kind kinds[256];
	long long ids[256];
	uint64_t v;
	size_t n, i;

	if (read(sv->d->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_warn("eventfd read");
	do {
		n = daemon_events(sv->d, kinds, ids, 256);
		for (i = 0; i < n; i++) {
			if (kinds[i] == NOTIFY_SECRET)
				on_secret(sv, ids[i]);
			else
				on_revoked(sv, ids[i],
				    kinds[i] == NOTIFY_REVOKED);
		}
	} while (n == 256);
}

void
server_run(struct server *sv)
{
	struct pollfd *pfd = NULL;
	struct conn **pc = NULL, *c, *next;
	size_t cap = 0, n, i;

	log_info("serving %s (agents) and %s (admin)",
	    sv->d->conf->agent_socket, sv->d->conf->admin_socket);
	for (;;) {
		long long now = clock_ms(), wait = 1000;

		if (cap < sv->nconns + 4) {
			cap = sv->nconns + 64;
			pfd = xreallocarray(pfd, cap, sizeof(*pfd));
			pc = xreallocarray(pc, cap, sizeof(*pc));
		}
		pfd[0] = (struct pollfd){ sv->sig_fd, POLLIN, 0 };
		pfd[1] = (struct pollfd){ sv->d->notify_fd, POLLIN, 0 };
		pfd[2] = (struct pollfd){ sv->agent_fd, POLLIN, 0 };
		pfd[3] = (struct pollfd){ sv->admin_fd, POLLIN, 0 };
		n = 4;
		for (c = sv->conns; c; c = c->next) {
			pfd[n].fd = c->fd;
			pfd[n].events = c->closing ? 0 : POLLIN;
			if (c->out.len)
				pfd[n].events |= POLLOUT;
			pfd[n].revents = 0;
			if (c->waiting && c->deadline_ms - now < wait)
				wait = c->deadline_ms - now;
			pc[n++] = c;
		}
		if (wait < 0)
			wait = 0;
		if (poll(pfd, n, (int)wait) < 0 && errno != EINTR)
			fatal("poll");
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sv->sig_fd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo != SIGHUP) {
				log_info("signal %u: shutting down",
				    si.ssi_signo);
				break;
			}
		}
		if (pfd[1].revents & POLLIN)
			drain_events(sv);
		if (pfd[2].revents & POLLIN)
			accept_agent(sv);
		if (pfd[3].revents & POLLIN)
			admin_accept(sv->d, sv->admin_fd);
		for (i = 4; i < n; i++) {
			c = pc[i];
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(sv, c);
		}
		tick(sv);
		for (c = sv->conns; c; c = next) {
			next = c->next;
			if (c->closing != 2 && conn_flush(c) == -1)
				c->closing = 2;
			if (c->closing == 2 || (c->closing && c->out.len == 0))
				conn_free(sv, c);
		}
	}
	free(pfd);
	free(pc);
}
