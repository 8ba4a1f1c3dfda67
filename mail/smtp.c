/*
 * Owner notices over SMTP with libESMTP 1.1.0 (see smtp.h).
 *
 * Traps of that release designed around here:
 * - Without an application SSL_CTX it caches one in a static and frees it
 *   with the first session: the second STARTTLS session crashes.  Every
 *   session therefore gets a fresh context of ours.
 * - Against TLS 1.3 servers some sessions drop right after the second
 *   EHLO; the context is capped at TLS 1.2.
 * - smtp_start_session() succeeds when the dialogue ran, even if the
 *   server refused the message; success is the message status and every
 *   recipient status in 2xx.
 * - A failed AUTH silently continues unauthenticated; a monitor callback
 *   watches for the 235 reply so the log can say so.
 * - Timeouts are milliseconds despite the documentation.
 */
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <auth-client.h>
#include <libesmtp.h>

#include <arpa/inet.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mail/smtp.h"

#define SMTP_TIMEOUT_MS	30000
#define LINE_WRAP	900	/* RFC 5321 allows 998 octets a line */

struct session_state {
	const char	*user;
	char		*password;	/* wiped by the caller */
	int		 auth_ok;	/* a 235 reply was seen */
	int		 tls_event;	/* last certificate / STARTTLS event */
	int		 tls_ok;	/* STARTTLS completed */
	int		 bad_rcpt;	/* a recipient without 2xx */
	int		 host_is_ip;
	const char	*host;
	char		 rcpt_text[128];
};

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;

static void
auth_init(void)
{
	auth_client_init();
}

/* An address fit for an SMTP envelope and a header: no controls, no
 * brackets, no spaces, one '@'. */
static int
valid_address(const char *a)
{
	const unsigned char *p;

	if (a == NULL || *a == '\0' || strlen(a) > 254 ||
	    strchr(a, '@') == NULL || strchr(a, '@') != strrchr(a, '@'))
		return 0;
	for (p = (const unsigned char *)a; *p; p++)
		if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>' ||
		    *p == ',' || *p == ';' || *p == '"' || *p == '\\')
			return 0;
	return 1;
}

/* Append s to b with control characters (CR and LF included) replaced:
 * a subject must stay one header line. */
static void
add_header_text(struct buf *b, const char *s)
{
	size_t i, n = strlen(s);

	for (i = 0; i < n && i < SMTP_SUBJECT_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		buf_add(b, ch < ' ' || ch == 0x7f ? "?" : &s[i], 1);
	}
}

/* The body with CRLF line ends, other controls dropped, long lines
 * wrapped. */
static void
add_body(struct buf *b, const char *s)
{
	size_t col = 0, i, n = strlen(s);

	for (i = 0; i < n && i < SMTP_BODY_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\n') {
			buf_add(b, "\r\n", 2);
			col = 0;
			continue;
		}
		if ((ch < ' ' && ch != '\t') || ch == 0x7f)
			continue;
		if (col >= LINE_WRAP) {
			buf_add(b, "\r\n", 2);
			col = 0;
		}
		buf_add(b, &s[i], 1);
		col++;
	}
	if (col)
		buf_add(b, "\r\n", 2);
}

static int
interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct session_state *ss = arg;
	int i;

	for (i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = (char *)ss->user;
		else if (req[i].flags & AUTH_PASS)
			result[i] = ss->password;
		else
			return 0;
		if (result[i] == NULL)
			return 0;
	}
	return 1;
}

/* Sees the dialogue, including the AUTH line (base64 credentials): it
 * only looks for a 235 reply and never copies or logs anything. */
static void
monitor(const char *buf, int len, int writing, void *arg)
{
	struct session_state *ss = arg;
	int i;

	if (writing != 0 || len < 4)
		return;
	for (i = 0; i + 3 < len; i++) {
		if ((i == 0 || buf[i - 1] == '\n') && buf[i] == '2' &&
		    buf[i + 1] == '3' && buf[i + 2] == '5' &&
		    (buf[i + 3] == ' ' || buf[i + 3] == '-'))
			ss->auth_ok = 1;
	}
}

/*
 * libESMTP compares the certificate with the host name itself and knows
 * no IP SANs.  For a configured IP address, our context has already
 * checked the address during the handshake; accept the "wrong name"
 * event only when that verification passed and the certificate does
 * carry the address.
 */
static int
ip_peer_ok(const struct session_state *ss, SSL *ssl)
{
	X509 *cert;
	int ok;

	if (!ss->host_is_ip || ssl == NULL ||
	    SSL_get_verify_result(ssl) != X509_V_OK ||
	    (cert = SSL_get1_peer_certificate(ssl)) == NULL)
		return 0;
	ok = X509_check_ip_asc(cert, ss->host, 0) == 1;
	X509_free(cert);
	return ok;
}

/* Certificate and STARTTLS events: remember them for the error text.
 * The *ok argument some of them carry defaults to "refuse"; only
 * ip_peer_ok() may change it. */
static void
on_event(smtp_session_t s, int event, void *arg, ...)
{
	struct session_state *ss = arg;
	va_list ap;
	int *ok;
	SSL *ssl;

	(void)s;
	if (event == SMTP_EV_WRONG_PEER_CERTIFICATE) {
		/* 1.1.0 passes (int *ok, const char *name, SSL *ssl). */
		va_start(ap, arg);
		ok = va_arg(ap, int *);
		(void)va_arg(ap, const char *);
		ssl = va_arg(ap, SSL *);
		va_end(ap);
		if (ok != NULL && ip_peer_ok(ss, ssl)) {
			*ok = 1;
			return;
		}
	}
	switch (event) {
	case SMTP_EV_STARTTLS_OK:
		ss->tls_ok = 1;
		break;
	case SMTP_EV_EXTNA_STARTTLS:
	case SMTP_EV_INVALID_PEER_CERTIFICATE:
	case SMTP_EV_NO_PEER_CERTIFICATE:
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
	case SMTP_EV_UNUSABLE_CA_LIST:
		ss->tls_event = event;
		break;
	default:
		break;
	}
}

static void
check_rcpt(smtp_recipient_t r, const char *mailbox, void *arg)
{
	struct session_state *ss = arg;
	const smtp_status_t *st = smtp_recipient_status(r);

	(void)mailbox;
	if (st == NULL || st->code < 200 || st->code > 299) {
		ss->bad_rcpt = 1;
		snprintf(ss->rcpt_text, sizeof(ss->rcpt_text), "%d %.100s",
		    st ? st->code : 0, st && st->text ? st->text : "");
	}
}

/* A fresh client context: TLS 1.2 only, peer verified against ca_file
 * (or the system store) and the configured host name or address. */
static SSL_CTX *
tls_context(const struct config *c, char *err, size_t errlen)
{
	X509_VERIFY_PARAM *param;
	unsigned char addr[16];
	SSL_CTX *ctx;
	int ip;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		snprintf(err, errlen, "cannot create a TLS context");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != 1) {
		snprintf(err, errlen, "cannot restrict TLS to version 1.2");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (c->smtp_ca_file) {
		if (SSL_CTX_load_verify_locations(ctx, c->smtp_ca_file,
		    NULL) != 1) {
			snprintf(err, errlen, "cannot load [smtp] ca_file %s",
			    c->smtp_ca_file);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		snprintf(err, errlen, "cannot load the system CA store");
		goto fail;
	}
	param = SSL_CTX_get0_param(ctx);
	ip = inet_pton(AF_INET, c->smtp_host, addr) == 1 ||
	    inet_pton(AF_INET6, c->smtp_host, addr) == 1;
	X509_VERIFY_PARAM_set_hostflags(param,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if ((ip ? X509_VERIFY_PARAM_set1_ip_asc(param, c->smtp_host) :
	    X509_VERIFY_PARAM_set1_host(param, c->smtp_host, 0)) != 1) {
		snprintf(err, errlen, "cannot set the TLS peer name");
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static const char *
tls_event_text(int ev)
{
	switch (ev) {
	case SMTP_EV_EXTNA_STARTTLS:
		return "the server does not offer STARTTLS";
	case SMTP_EV_INVALID_PEER_CERTIFICATE:
		return "the server certificate does not verify";
	case SMTP_EV_NO_PEER_CERTIFICATE:
		return "the server sent no certificate";
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
		return "the server certificate names another host";
	case SMTP_EV_UNUSABLE_CA_LIST:
		return "the CA list is unusable";
	}
	return NULL;
}

int
smtp_send_notice(const struct config *c, const char *subject,
    const char *body, char *err, size_t errlen)
{
	struct session_state ss;
	smtp_session_t s = NULL;
	smtp_message_t m;
	auth_context_t actx = NULL;
	const smtp_status_t *st;
	SSL_CTX *ctx = NULL;
	struct buf msg;
	const char *errstr = NULL;
	char hostport[320], ebuf[128];
	int tls, rc = -1, which;

	memset(&ss, 0, sizeof(ss));
	buf_init(&msg, SMTP_BODY_MAX * 2 + 4096);
	snprintf(err, errlen, "not sent");
	if (c->smtp_host == NULL || *c->smtp_host == '\0') {
		snprintf(err, errlen, "[smtp] host is not set");
		goto done;
	}
	if (!valid_address(c->smtp_owner_email) ||
	    !valid_address(c->smtp_from)) {
		snprintf(err, errlen, "[smtp] from and owner_email must be "
		    "plain addresses");
		goto done;
	}
	if (strchr(c->smtp_host, ':') != NULL) {
		/* libESMTP parses "host:port" and cannot take an IPv6
		 * literal. */
		snprintf(err, errlen, "[smtp] host must be a name or an IPv4 "
		    "address");
		goto done;
	}
	tls = c->smtp_tls == NULL || strcmp(c->smtp_tls, "none") != 0;
	if (!tls && !config_is_loopback(c->smtp_host)) {
		snprintf(err, errlen, "[smtp] tls = none is only allowed for "
		    "loopback");
		goto done;
	}
	pthread_once(&auth_once, auth_init);
	ss.host = c->smtp_host;
	ss.host_is_ip = inet_pton(AF_INET, c->smtp_host, hostport) == 1;

	buf_printf(&msg, "From: <%s>\r\nTo: <%s>\r\nSubject: ", c->smtp_from,
	    c->smtp_owner_email);
	add_header_text(&msg, subject ? subject : "agentid");
	buf_printf(&msg, "\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Transfer-Encoding: 8bit\r\n"
	    "Auto-Submitted: auto-generated\r\n\r\n");
	add_body(&msg, body ? body : "");
	if (buf_add(&msg, "", 1) == -1) {	/* NUL: set_message_str */
		snprintf(err, errlen, "notice too long");
		goto done;
	}

	if ((s = smtp_create_session()) == NULL ||
	    (m = smtp_add_message(s)) == NULL) {
		snprintf(err, errlen, "cannot create an SMTP session");
		goto done;
	}
	snprintf(hostport, sizeof(hostport), "%s:%d", c->smtp_host,
	    c->smtp_port > 0 ? c->smtp_port : 587);
	smtp_set_server(s, hostport);
	for (which = Timeout_GREETING; which <= Timeout_DATA2; which++)
		smtp_set_timeout(s, which | Timeout_OVERRIDE_RFC2822_MINIMUM,
		    SMTP_TIMEOUT_MS);
	smtp_set_eventcb(s, on_event, &ss);
	smtp_set_monitorcb(s, monitor, &ss, 0);
	smtp_option_require_all_recipients(s, 1);
	if (tls) {
		if ((ctx = tls_context(c, err, errlen)) == NULL)
			goto done;
		/* libESMTP takes its own reference. */
		smtp_starttls_enable(s, Starttls_REQUIRED);
		smtp_starttls_set_ctx(s, ctx);
	} else
		smtp_starttls_enable(s, Starttls_DISABLED);

	if (c->smtp_user && c->smtp_password_file) {
		if ((ss.password = config_secret(c->smtp_password_file,
		    &errstr)) == NULL) {
			snprintf(err, errlen, "[smtp] password_file: %s",
			    errstr ? errstr : "unreadable");
			goto done;
		}
		ss.user = c->smtp_user;
		actx = auth_create_context();
		auth_set_mechanism_flags(actx, AUTH_PLUGIN_PLAIN, 0);
		auth_set_interact_cb(actx, interact, &ss);
		smtp_auth_set_context(s, actx);
	}
	smtp_set_reverse_path(m, c->smtp_from);
	if (smtp_add_recipient(m, c->smtp_owner_email) == NULL ||
	    smtp_set_message_str(m, msg.data) == 0) {
		snprintf(err, errlen, "cannot build the SMTP message");
		goto done;
	}

	if (!smtp_start_session(s)) {
		const char *why = tls_event_text(ss.tls_event);

		snprintf(err, errlen, "SMTP session with %s failed: %s",
		    hostport, why ? why : smtp_strerror(smtp_errno(), ebuf,
		    sizeof(ebuf)));
		goto done;
	}
	st = smtp_message_transfer_status(m);
	smtp_enumerate_recipients(m, check_rcpt, &ss);
	if (st != NULL && st->code >= 200 && st->code <= 299 && !ss.bad_rcpt)
		goto sent;
	if (tls_event_text(ss.tls_event))
		snprintf(err, errlen, "not sent: %s",
		    tls_event_text(ss.tls_event));
	else if (ss.bad_rcpt && strncmp(ss.rcpt_text, "0 ", 2) != 0)
		snprintf(err, errlen, "recipient refused: %s", ss.rcpt_text);
	else if (tls && !ss.tls_ok)
		snprintf(err, errlen, "not sent: STARTTLS with %s failed "
		    "(certificate not trusted for this host?): %s", hostport,
		    smtp_strerror(smtp_errno(), ebuf, sizeof(ebuf)));
	else if (actx && !ss.auth_ok && (st == NULL || st->code == 0))
		snprintf(err, errlen, "not sent: AUTH failed (check [smtp] "
		    "user and password_file)");
	else
		snprintf(err, errlen, "message refused: %d %.100s",
		    st ? st->code : 0, st && st->text ? st->text :
		    smtp_strerror(smtp_errno(), ebuf, sizeof(ebuf)));
	goto done;
sent:
	if (actx && !ss.auth_ok)
		log_warnx("smtp: the server accepted the notice without a "
		    "successful AUTH; check [smtp] user and password_file");
	snprintf(err, errlen, "sent");
	rc = 0;
done:
	if (s)
		smtp_destroy_session(s);
	if (actx)
		auth_destroy_context(actx);
	if (ctx)
		SSL_CTX_free(ctx);
	secret_free(ss.password);
	buf_clear(&msg);
	return rc;
}
