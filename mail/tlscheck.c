/*
 * Certificate verification with a GnuTLS trust list: the whole chain is
 * checked against the anchors, the leaf against the configured host
 * name (never a name from DNS or the server) and the TLS server purpose.
 * Also the connection setup around it that libetpan does unsafely: DNS
 * and TCP connect with deadlines (libetpan's getaddrinfo() has none),
 * SNI, and a look at data GnuTLS holds that poll() cannot see.
 */
#include <sys/select.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libetpan/libetpan.h>
#include <libetpan/mailstream_ssl.h>

#include "common/xmalloc.h"
#include "mail/tlscheck.h"

#define FD_MARGIN	16

/*
 * 0 when fd and the next few fds a libetpan stream will take (its cancel
 * pipe gets the lowest free ones) are safely below FD_SETSIZE: Debian's
 * libetpan waits with select(), and an fd >= FD_SETSIZE there aborts.
 */
static int
fd_headroom(int fd)
{
	int probe[3], i, n = 0, rc = 0;

	if (fd >= FD_SETSIZE - FD_MARGIN)
		return -1;
	for (i = 0; i < 3; i++) {
		if ((probe[i] = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1)
			break;
		n++;
		if (probe[i] >= FD_SETSIZE - FD_MARGIN)
			rc = -1;
	}
	for (i = 0; i < n; i++)
		close(probe[i]);
	return rc;
}

static int
is_ip(const char *h)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, h, &a4) == 1 ||
	    inet_pton(AF_INET6, h, &a6) == 1;
}

#define MAX_CHAIN	16

struct tlscheck {
	gnutls_x509_trust_list_t tl;
};

struct tlscheck *
tlscheck_new(const char *ca_file, char *err, size_t errlen)
{
	struct tlscheck *t;
	int n;

	t = xcalloc(1, sizeof(*t));
	if (gnutls_x509_trust_list_init(&t->tl, 0) < 0) {
		snprintf(err, errlen, "tls: cannot create a trust list");
		free(t);
		return NULL;
	}
	if (ca_file != NULL && ca_file[0] != '\0')
		n = gnutls_x509_trust_list_add_trust_file(t->tl, ca_file,
		    NULL, GNUTLS_X509_FMT_PEM, 0, 0);
	else
		n = gnutls_x509_trust_list_add_system_trust(t->tl, 0, 0);
	if (n <= 0) {
		snprintf(err, errlen, "tls: no trust anchors loaded from %s%s%s",
		    ca_file && *ca_file ? ca_file : "the system store",
		    n < 0 ? ": " : "", n < 0 ? gnutls_strerror(n) : "");
		tlscheck_free(t);
		return NULL;
	}
	return t;
}

void
tlscheck_free(struct tlscheck *t)
{
	if (t == NULL)
		return;
	gnutls_x509_trust_list_deinit(t->tl, 1);
	free(t);
}

int
tlscheck_verify(struct tlscheck *t, const unsigned char **der,
    const size_t *derlen, size_t n, const char *host, char *err,
    size_t errlen)
{
	gnutls_x509_crt_t crt[MAX_CHAIN];
	gnutls_typed_vdata_st vd[2];
	gnutls_datum_t d, out = { NULL, 0 };
	unsigned int status = 0;
	size_t i, ncrt = 0;
	int r, rc = -1;

	if (n == 0) {
		snprintf(err, errlen, "certificate: the server sent none");
		return -1;
	}
	if (n > MAX_CHAIN)
		n = MAX_CHAIN;
	for (i = 0; i < n; i++) {
		if (gnutls_x509_crt_init(&crt[i]) < 0) {
			snprintf(err, errlen, "certificate: out of memory");
			goto done;
		}
		ncrt++;
		d.data = (unsigned char *)(uintptr_t)der[i];
		d.size = (unsigned int)derlen[i];
		if ((r = gnutls_x509_crt_import(crt[i], &d,
		    GNUTLS_X509_FMT_DER)) < 0) {
			snprintf(err, errlen, "certificate %zu unreadable: %s",
			    i, gnutls_strerror(r));
			goto done;
		}
	}
	memset(vd, 0, sizeof(vd));
	vd[0].type = GNUTLS_DT_DNS_HOSTNAME;
	vd[0].data = (unsigned char *)(uintptr_t)host;
	vd[0].size = 0;		/* NUL-terminated */
	vd[1].type = GNUTLS_DT_KEY_PURPOSE_OID;
	vd[1].data = (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_SERVER;
	vd[1].size = 0;
	r = gnutls_x509_trust_list_verify_crt2(t->tl, crt, (unsigned)ncrt,
	    vd, 2, 0, &status, NULL);
	if (r < 0) {
		snprintf(err, errlen, "certificate: verification failed: %s",
		    gnutls_strerror(r));
		goto done;
	}
	if (status != 0) {
		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &out, 0) == 0 && out.data != NULL)
			snprintf(err, errlen, "certificate for %s: %s", host,
			    (char *)out.data);
		else
			snprintf(err, errlen, "certificate for %s not trusted "
			    "(status 0x%x)", host, status);
		goto done;
	}
	rc = 0;
done:
	gnutls_free(out.data);
	for (i = 0; i < ncrt; i++)
		gnutls_x509_crt_deinit(crt[i]);
	return rc;
}

int
tlscheck_connect(const char *host, int port, long timeout, char *err,
    size_t errlen)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct gaicb *req = NULL;
	struct timespec ts;
	char serv[16];
	int fd = -1, r, soerr, on = 1;
	socklen_t sl;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", port);
	if (is_ip(host)) {
		hints.ai_flags |= AI_NUMERICHOST;
		if ((r = getaddrinfo(host, serv, &hints, &res)) != 0) {
			snprintf(err, errlen, "%s: %s", host,
			    gai_strerror(r));
			return -1;
		}
	} else {
		/* getaddrinfo() has no timeout; the async form does. */
		req = xcalloc(1, sizeof(*req) + sizeof(hints));
		req->ar_name = xstrdup(host);
		req->ar_service = xstrdup(serv);
		memcpy(req + 1, &hints, sizeof(hints));
		req->ar_request = (struct addrinfo *)(req + 1);
		if ((r = getaddrinfo_a(GAI_NOWAIT, &req, 1, NULL)) != 0) {
			snprintf(err, errlen, "%s: %s", host,
			    gai_strerror(r));
			goto fail;
		}
		ts.tv_sec = timeout < 10 ? timeout : 10;
		ts.tv_nsec = 0;
		{
			const struct gaicb *list[1] = { req };

			r = gai_suspend(list, 1, &ts);
		}
		if (gai_error(req) == EAI_INPROGRESS) {
			if (gai_cancel(req) == EAI_NOTCANCELED) {
				/* The resolver thread still owns req. */
				req = NULL;
			}
			snprintf(err, errlen, "%s: DNS lookup timed out",
			    host);
			goto fail;
		}
		if ((r = gai_error(req)) != 0) {
			snprintf(err, errlen, "%s: %s", host,
			    gai_strerror(r));
			goto fail;
		}
		res = req->ar_result;
		req->ar_result = NULL;
	}
	snprintf(err, errlen, "%s:%d: no address", host, port);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		struct pollfd pfd;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
		    errno != EINPROGRESS) {
			snprintf(err, errlen, "connect %s:%d: %s", host, port,
			    strerror(errno));
			close(fd);
			fd = -1;
			continue;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			r = poll(&pfd, 1, (int)(timeout < 10 ? timeout : 10) *
			    1000);
		while (r == -1 && errno == EINTR);
		soerr = 0;
		sl = sizeof(soerr);
		if (r <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
		    &sl) == -1 || soerr != 0) {
			snprintf(err, errlen, "connect %s:%d: %s", host, port,
			    r == 0 ? "timed out" : strerror(soerr ? soerr :
			    errno));
			close(fd);
			fd = -1;
			continue;
		}
		if (fd_headroom(fd) == -1) {
			snprintf(err, errlen, "too many open files: libetpan "
			    "needs fds below %d", FD_SETSIZE);
			close(fd);
			fd = -1;
			break;
		}
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on,
		    sizeof(on));
		break;
	}
fail:
	if (res != NULL)
		freeaddrinfo(res);
	if (req != NULL) {
		free((char *)(uintptr_t)req->ar_name);
		free((char *)(uintptr_t)req->ar_service);
		free(req);
	}
	return fd;
}

void
tlscheck_sni(struct mailstream_ssl_context *ctx, void *data)
{
	char *host = data;

	if (!is_ip(host))
		mailstream_ssl_set_server_name(ctx, host);
}

int
tlscheck_stream(struct tlscheck *t, mailstream *s, const char *host,
    char *err, size_t errlen)
{
	const unsigned char *der[16];
	size_t len[16];
	carray *chain;
	unsigned int i, n;
	int rc;

	if ((chain = mailstream_get_certificate_chain(s)) == NULL) {
		snprintf(err, errlen, "certificate: none received");
		return -1;
	}
	n = carray_count(chain);
	if (n > 16)
		n = 16;
	for (i = 0; i < n; i++) {
		MMAPString *d = carray_get(chain, i);

		der[i] = (const unsigned char *)d->str;
		len[i] = d->len;
	}
	rc = tlscheck_verify(t, der, len, n, host, err, errlen);
	mailstream_certificate_chain_free(chain);
	return rc;
}

/*
 * libetpan 1.9's private TLS stream data starts with the fd and the
 * GnuTLS session.  Used only to see whether GnuTLS already holds a
 * decrypted record that poll() on the fd cannot report.
 */
#if LIBETPAN_VERSION_MAJOR == 1 && LIBETPAN_VERSION_MINOR == 9
#ifndef USE_SSL
extern mailstream_low_driver *mailstream_ssl_driver;	/* exported */
#endif
struct etpan19_ssl_data {
	int			fd;
	gnutls_session_t	session;
};
#endif

int
tlscheck_pending(mailstream *s)
{
	mailstream_low *low;

	if (s == NULL)
		return 0;
	if (s->read_buffer_len > 0)
		return 1;
#if LIBETPAN_VERSION_MAJOR == 1 && LIBETPAN_VERSION_MINOR == 9
	low = mailstream_get_low(s);
	if (low != NULL && low->driver == mailstream_ssl_driver &&
	    low->data != NULL) {
		struct etpan19_ssl_data *d = low->data;

		if (gnutls_record_check_pending(d->session) > 0)
			return 1;
	}
#else
	(void)low;
#endif
	return 0;
}

