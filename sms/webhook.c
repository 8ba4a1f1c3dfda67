/*
 * The SMS webhook server (see webhook.h).  libmicrohttpd calls the access
 * handler several times per request: once with the headers (route,
 * method, media type and Content-Length are decided there, before any
 * body byte is read), once per body chunk (capped, with a total-time
 * deadline), and once at the end, where the signature is checked first,
 * then the message is handed to the inbound_cb, and the answer follows
 * what it returns.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <microhttpd.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "sms/gateway.h"
#include "sms/twilio_sig.h"
#include "sms/webhook.h"

#define TWIML_EMPTY	"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>"
#define SID_MAX		64

enum route {
	ROUTE_HEALTH,
	ROUTE_TWILIO,
	ROUTE_GATEWAY
};

struct webhook {
	struct MHD_Daemon	*mhd;
	int			 port;
	char			*twilio_url;
	char			*twilio_token;
	char			*twilio_account_sid;
	char			*gateway_secret;
	char			**gateway_numbers;
	size_t			 ngateway_numbers;
	inbound_cb		 cb;
	void			*arg;
	unsigned		 deadline_ms;
	unsigned long long	 counters[WH_NCOUNTERS];
};

struct request {
	enum route		 route;
	struct buf		 body;
	struct timespec		 start;
};

static const char *const counter_names[WH_NCOUNTERS] = {
	"requests", "stored", "ignored", "not_found", "bad_method",
	"unsupported_media_type", "too_large", "deadline", "bad_request",
	"unsigned", "bad_signature", "bad_account", "unknown_to", "retry",
};

static void
count(struct webhook *w, enum webhook_counter c)
{
	__atomic_fetch_add(&w->counters[c], 1, __ATOMIC_RELAXED);
}

unsigned long long
webhook_counter(const struct webhook *w, enum webhook_counter c)
{
	if (c < 0 || c >= WH_NCOUNTERS)
		return 0;
	return __atomic_load_n(&w->counters[c], __ATOMIC_RELAXED);
}

json_t *
webhook_stats(const struct webhook *w)
{
	json_t *o = json_object(), *rej = json_object();
	int i;

	json_object_set_new(o, "port", json_integer(w->port));
	for (i = 0; i < WH_NCOUNTERS; i++) {
		json_t *v = json_integer((json_int_t)webhook_counter(w, i));

		if (i >= WH_REJ_NOT_FOUND)
			json_object_set_new(rej, counter_names[i], v);
		else
			json_object_set_new(o, counter_names[i], v);
	}
	json_object_set_new(o, "rejected", rej);
	return o;
}

int
webhook_port(const struct webhook *w)
{
	return w->port;
}

static enum MHD_Result
respond(struct MHD_Connection *c, unsigned status, const char *ctype,
    const char *text)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text,
	    MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reject(struct webhook *w, struct MHD_Connection *c, enum webhook_counter why,
    unsigned status, const char *text)
{
	count(w, why);
	return respond(c, status, "text/plain; charset=utf-8", text);
}

static long
elapsed_ms(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)(now.tv_sec - start->tv_sec) * 1000 +
	    (now.tv_nsec - start->tv_nsec) / 1000000;
}

/* "type/subtype" matches the Content-Type header, parameters ignored. */
static int
media_is(const char *ctype, const char *want)
{
	size_t n = strlen(want);

	if (ctype == NULL || strncasecmp(ctype, want, n) != 0)
		return 0;
	return ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ';
}

static enum inbound_status
deliver(struct webhook *w, const struct inbound *in)
{
	return w->cb ? w->cb(in, w->arg) : INBOUND_RETRY;
}

static enum MHD_Result
answer_status(struct webhook *w, struct MHD_Connection *c,
    enum inbound_status st, const char *ok_type, const char *ok_body)
{
	switch (st) {
	case INBOUND_STORED:
		count(w, WH_STORED);
		return respond(c, MHD_HTTP_OK, ok_type, ok_body);
	case INBOUND_UNKNOWN:
		return reject(w, c, WH_REJ_UNKNOWN_TO, MHD_HTTP_NOT_FOUND,
		    "unknown number\n");
	default:
		return reject(w, c, WH_REJ_RETRY, MHD_HTTP_SERVICE_UNAVAILABLE,
		    "try again\n");
	}
}

/* A provider id we are willing to use as a key: short, printable. */
static int
sid_ok(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= SID_MAX || !((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	return i > 0;
}

/* One value for name, or NULL when absent or repeated (ambiguous). */
static const char *
single(const struct twilio_form *f, const char *name)
{
	size_t n;
	const char *v = twilio_form_get(f, name, &n);

	return n == 1 ? v : NULL;
}

static enum MHD_Result
handle_twilio(struct webhook *w, struct MHD_Connection *c, struct request *r)
{
	struct twilio_form *f = NULL;
	struct inbound in;
	const char *sig, *err = NULL, *sid, *acct, *to, *from, *body, *ec;
	enum MHD_Result rc;
	size_t n;

	sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
	    "X-Twilio-Signature");
	if (sig == NULL || *sig == '\0') {
		rc = reject(w, c, WH_REJ_UNSIGNED, MHD_HTTP_FORBIDDEN,
		    "unsigned\n");
		goto done;
	}
	if (twilio_form_parse(r->body.data ? r->body.data : "", r->body.len,
	    &f, &err) == -1) {
		log_debug("webhook: twilio form rejected: %s", err);
		rc = reject(w, c, WH_REJ_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
		    "bad form body\n");
		goto done;
	}
	if (!twilio_sig_check(w->twilio_token, w->twilio_url, f, sig)) {
		rc = reject(w, c, WH_REJ_SIGNATURE, MHD_HTTP_FORBIDDEN,
		    "bad signature\n");
		goto done;
	}
	/* Signed by someone with the token; still only our account. */
	acct = single(f, "AccountSid");
	if (acct == NULL || strlen(acct) != strlen(w->twilio_account_sid) ||
	    !crypto_equal(acct, w->twilio_account_sid, strlen(acct))) {
		rc = reject(w, c, WH_REJ_ACCOUNT, MHD_HTTP_FORBIDDEN,
		    "unknown account\n");
		goto done;
	}
	if ((sid = single(f, "MessageSid")) == NULL &&
	    twilio_form_get(f, "MessageSid", &n) == NULL)
		sid = single(f, "SmsMessageSid");
	to = single(f, "To");
	from = single(f, "From");
	body = twilio_form_get(f, "Body", &n);
	if (sid == NULL || !sid_ok(sid) || to == NULL || *to == '\0' ||
	    from == NULL || n > 1) {
		rc = reject(w, c, WH_REJ_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
		    "missing or repeated MessageSid, To, From or Body\n");
		goto done;
	}
	memset(&in, 0, sizeof(in));
	in.channel = INBOUND_SMS;
	in.to = to;
	in.from = from;
	in.text = body ? body : "";
	in.textlen = strlen(in.text);
	in.provider = "twilio";
	in.provider_id = sid;
	if ((ec = single(f, "ErrorCode")) != NULL) {
		in.error_code = (int)xstrtonum(ec, 0, 99999, &err);
		if (err)
			in.error_code = 0;
	}
	log_debug("webhook: twilio %s to %s, %zu bytes", sid, to, in.textlen);
	rc = answer_status(w, c, deliver(w, &in), "text/xml", TWIML_EMPTY);
done:
	twilio_form_free(f);
	return rc;
}

static enum MHD_Result
handle_gateway(struct webhook *w, struct MHD_Connection *c,
    struct request *r)
{
	struct gateway_msg m;
	struct inbound in;
	const char *ts, *sig, *err = NULL;
	enum gateway_kind k;

	ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Timestamp");
	sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Signature");
	if (ts == NULL || sig == NULL || *sig == '\0')
		return reject(w, c, WH_REJ_UNSIGNED, MHD_HTTP_FORBIDDEN,
		    "unsigned\n");
	if (gateway_verify(w->gateway_secret, strlen(w->gateway_secret),
	    r->body.data ? r->body.data : "", r->body.len, ts, sig,
	    (long long)time(NULL), &err) == -1) {
		log_debug("webhook: gateway rejected: %s", err);
		return reject(w, c, WH_REJ_SIGNATURE, MHD_HTTP_FORBIDDEN,
		    "bad signature\n");
	}
	k = gateway_parse(r->body.data ? r->body.data : "", r->body.len,
	    (const char *const *)w->gateway_numbers, w->ngateway_numbers, &m,
	    &err);
	if (k == GATEWAY_BAD) {
		log_debug("webhook: gateway body rejected: %s", err);
		return reject(w, c, WH_REJ_BAD_REQUEST, MHD_HTTP_BAD_REQUEST,
		    "bad event\n");
	}
	if (k == GATEWAY_UNKNOWN)
		return reject(w, c, WH_REJ_UNKNOWN_TO, MHD_HTTP_NOT_FOUND,
		    "unknown number\n");
	if (k == GATEWAY_OTHER) {
		/* Signed and well-formed: acknowledge so the app does not
		 * retry an event we have no use for. */
		gateway_msg_free(&m);
		count(w, WH_IGNORED);
		return respond(c, MHD_HTTP_OK, "application/json",
		    "{\"ok\":true,\"ignored\":true}");
	}
	memset(&in, 0, sizeof(in));
	in.channel = INBOUND_SMS;
	in.to = m.to;
	in.from = m.from;
	in.text = m.text;
	in.textlen = m.textlen;
	in.provider = "gateway";
	in.provider_id = m.provider_id;
	/* A device clock ahead of ours would date the message in the
	 * future, where no waiter's window reaches: use arrival time. */
	in.received_at = m.received_at > (long long)time(NULL) ? 0 :
	    m.received_at;
	log_debug("webhook: gateway %s, %zu bytes", m.provider_id, in.textlen);
	{
		enum MHD_Result rc = answer_status(w, c, deliver(w, &in),
		    "application/json", "{\"ok\":true}");

		gateway_msg_free(&m);
		return rc;
	}
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct webhook *w = cls;
	struct request *r = *req_cls;

	if (r == NULL) {
		enum route route;
		const char *ctype, *clen, *err = NULL;

		count(w, WH_REQUESTS);
		if (strcmp(url, "/healthz") == 0) {
			if (strcmp(method, "GET") != 0 &&
			    strcmp(method, "HEAD") != 0)
				return reject(w, c, WH_REJ_METHOD,
				    MHD_HTTP_METHOD_NOT_ALLOWED, "GET only\n");
			return respond(c, MHD_HTTP_OK, "text/plain", "ok\n");
		}
		if (strcmp(url, "/sms/twilio") == 0 && w->twilio_url)
			route = ROUTE_TWILIO;
		else if (strcmp(url, "/sms/gateway") == 0 && w->gateway_secret)
			route = ROUTE_GATEWAY;
		else
			return reject(w, c, WH_REJ_NOT_FOUND, MHD_HTTP_NOT_FOUND,
			    "not found\n");
		if (strcmp(method, "POST") != 0)
			return reject(w, c, WH_REJ_METHOD,
			    MHD_HTTP_METHOD_NOT_ALLOWED, "POST only\n");
		ctype = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_TYPE);
		if (!media_is(ctype, route == ROUTE_TWILIO ?
		    "application/x-www-form-urlencoded" : "application/json"))
			return reject(w, c, WH_REJ_MEDIA_TYPE,
			    MHD_HTTP_UNSUPPORTED_MEDIA_TYPE,
			    "unsupported media type\n");
		clen = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (clen != NULL) {
			/* Refuse before reading a byte of an oversize body. */
			xstrtonum(clen, 0, WEBHOOK_BODY_MAX, &err);
			if (err != NULL && strcmp(err, "too large") == 0)
				return reject(w, c, WH_REJ_TOO_LARGE,
				    MHD_HTTP_CONTENT_TOO_LARGE, "too large\n");
			if (err != NULL)
				return reject(w, c, WH_REJ_BAD_REQUEST,
				    MHD_HTTP_BAD_REQUEST, "bad length\n");
		}
		r = xcalloc(1, sizeof(*r));
		r->route = route;
		buf_init(&r->body, WEBHOOK_BODY_MAX);
		clock_gettime(CLOCK_MONOTONIC, &r->start);
		*req_cls = r;
		return MHD_YES;
	}
	if (elapsed_ms(&r->start) > (long)w->deadline_ms) {
		count(w, WH_REJ_DEADLINE);
		/* No response can be queued mid-body: drop the connection. */
		if (*upload_data_size)
			return MHD_NO;
		return respond(c, MHD_HTTP_REQUEST_TIMEOUT,
		    "text/plain; charset=utf-8", "too slow\n");
	}
	if (*upload_data_size) {
		if (buf_add(&r->body, upload_data, *upload_data_size) == -1) {
			/* Chunked bodies have no Content-Length to refuse. */
			count(w, WH_REJ_TOO_LARGE);
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->route == ROUTE_TWILIO)
		return handle_twilio(w, c, r);
	return handle_gateway(w, c, r);
}

static void
completed(void *cls, struct MHD_Connection *c, void **req_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct request *r = *req_cls;

	if (r == NULL)
		return;
	buf_clear(&r->body);	/* wipes: bodies carry codes */
	free(r);
	*req_cls = NULL;
}

static void	mhd_log(void *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\r\n")] = '\0';
	log_debug("webhook: mhd: %s", line);
}

/* "host:port" or "[v6]:port" into a socket address. */
static int
parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
    const char **errstr)
{
	struct addrinfo hints, *res = NULL;
	char host[256];
	const char *colon, *port, *e = NULL;
	size_t hlen;
	int rc;

	if (listen[0] == '[') {
		const char *rb = strchr(listen, ']');

		if (rb == NULL || rb[1] != ':') {
			*errstr = "listen: bad [address]:port";
			return -1;
		}
		hlen = (size_t)(rb - listen - 1);
		if (hlen >= sizeof(host)) {
			*errstr = "listen: address too long";
			return -1;
		}
		memcpy(host, listen + 1, hlen);
		port = rb + 2;
	} else {
		if ((colon = strrchr(listen, ':')) == NULL) {
			*errstr = "listen: want host:port";
			return -1;
		}
		hlen = (size_t)(colon - listen);
		if (hlen >= sizeof(host)) {
			*errstr = "listen: address too long";
			return -1;
		}
		memcpy(host, listen, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';
	xstrtonum(port, 0, 65535, &e);
	if (e != NULL) {
		*errstr = "listen: port must be 0-65535";
		return -1;
	}
	/* No silent "every interface": that must be asked for (0.0.0.0). */
	if (hlen == 0) {
		*errstr = "listen: give a host (127.0.0.1, or 0.0.0.0 for all)";
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		*errstr = "listen: cannot resolve the address";
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*sslen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static void
webhook_free(struct webhook *w)
{
	size_t i;

	if (w == NULL)
		return;
	free(w->twilio_url);
	if (w->twilio_token)
		crypto_wipe_free(w->twilio_token, strlen(w->twilio_token));
	free(w->twilio_account_sid);
	if (w->gateway_secret)
		crypto_wipe_free(w->gateway_secret, strlen(w->gateway_secret));
	for (i = 0; i < w->ngateway_numbers; i++)
		free(w->gateway_numbers[i]);
	free(w->gateway_numbers);
	free(w);
}

struct webhook *
webhook_start(const struct webhook_params *p, const char **errstr)
{
	struct webhook *w = xcalloc(1, sizeof(*w));
	struct sockaddr_storage ss;
	socklen_t sslen;
	const union MHD_DaemonInfo *info;
	unsigned flags;
	size_t i;

	if (p->listen == NULL || *p->listen == '\0') {
		*errstr = "webhook: no listen address";
		goto fail;
	}
	if (p->twilio_url && (p->twilio_token == NULL ||
	    p->twilio_account_sid == NULL)) {
		*errstr = "webhook: twilio route needs token and account sid";
		goto fail;
	}
	w->twilio_url = dup_or_null(p->twilio_url);
	w->twilio_token = dup_or_null(p->twilio_token);
	w->twilio_account_sid = dup_or_null(p->twilio_account_sid);
	w->gateway_secret = dup_or_null(p->gateway_secret);
	if (p->ngateway_numbers) {
		w->gateway_numbers = xcalloc(p->ngateway_numbers, sizeof(char *));
		for (i = 0; i < p->ngateway_numbers; i++)
			w->gateway_numbers[i] = xstrdup(p->gateway_numbers[i]);
		w->ngateway_numbers = p->ngateway_numbers;
	}
	w->cb = p->cb;
	w->arg = p->arg;
	w->deadline_ms = p->deadline_ms ? p->deadline_ms : 15000;
	if (parse_listen(p->listen, &ss, &sslen, errstr) == -1)
		goto fail;
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	w->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handler, w,
	    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, (void *)w,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)(p->threads ?
	    p->threads : 4),
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)(p->conn_limit ?
	    p->conn_limit : 256),
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)(p->per_ip_limit ?
	    p->per_ip_limit : 64),
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)(p->conn_timeout ?
	    p->conn_timeout : 10),
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
	    MHD_OPTION_NOTIFY_COMPLETED, completed, (void *)w,
	    MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
	    MHD_OPTION_END);
	(void)sslen;
	if (w->mhd == NULL) {
		*errstr = "webhook: cannot listen on that address";
		goto fail;
	}
	info = MHD_get_daemon_info(w->mhd, MHD_DAEMON_INFO_BIND_PORT);
	w->port = info ? info->port : 0;
	log_info("webhook: listening on port %d (twilio %s, gateway %s)",
	    w->port, w->twilio_url ? "on" : "off",
	    w->gateway_secret ? "on" : "off");
	return w;
fail:
	webhook_free(w);
	return NULL;
}

void
webhook_stop(struct webhook *w)
{
	if (w == NULL)
		return;
	if (w->mhd) {
		MHD_quiesce_daemon(w->mhd);
		MHD_stop_daemon(w->mhd);
	}
	webhook_free(w);
}
