/*
 * Our own libetpan stream driver.  libetpan's TLS driver (GnuTLS build)
 * verifies no certificate, waits with select() (an fd >= 1024 aborts
 * the process, so a daemon could not hold more than ~300 sessions, each
 * costing a socket and a cancel pipe), and its plain driver spins
 * forever on EOF inside a literal (notes: libs.md §1.2-1.3).  This
 * driver does the handshake itself with GnuTLS, verifying the chain and
 * the configured host name before it returns, waits with poll() under a
 * per-wait timeout, costs one fd, reports EOF as an error, never raises
 * SIGPIPE, and is cancelled from another thread by a flag plus
 * shutdown().  Also the DNS and TCP connect, with deadlines.
 */
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <libetpan/libetpan.h>

#include "common/xmalloc.h"
#include "mail/tlscheck.h"

#define STREAM_BUFFER	8192
/* TLS 1.2 or newer; the rest of GnuTLS's defaults. */
#define PRIORITY	"NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-DTLS-ALL"

struct tlscheck {
	gnutls_certificate_credentials_t cred;	/* trust anchors only */
};

struct tls_low {
	int			 fd;
	gnutls_session_t	 session;	/* NULL: plain */
	long			 timeout;	/* seconds per wait */
	atomic_int		 cancelled;
};

static ssize_t	low_read(mailstream_low *, void *, size_t);
static ssize_t	low_write(mailstream_low *, const void *, size_t);
static int	low_close(mailstream_low *);
static int	low_get_fd(mailstream_low *);
static void	low_free(mailstream_low *);
static void	low_cancel(mailstream_low *);
static struct mailstream_cancel *low_get_cancel(mailstream_low *);
static carray	*low_chain(mailstream_low *);
static int	low_idle(mailstream_low *);

static mailstream_low_driver tls_driver = {
	low_read, low_write, low_close, low_get_fd, low_free, low_cancel,
	low_get_cancel, low_chain, low_idle, low_idle, low_idle
};

static int
is_ip(const char *h)
{
	struct in6_addr a6;
	struct in_addr a4;

	return inet_pton(AF_INET, h, &a4) == 1 ||
	    inet_pton(AF_INET6, h, &a6) == 1;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct tlscheck *
tlscheck_new(const char *ca_file, char *err, size_t errlen)
{
	struct tlscheck *t;
	int n;

	t = xcalloc(1, sizeof(*t));
	if (gnutls_certificate_allocate_credentials(&t->cred) < 0) {
		snprintf(err, errlen, "tls: cannot allocate credentials");
		free(t);
		return NULL;
	}
	if (ca_file != NULL && ca_file[0] != '\0')
		n = gnutls_certificate_set_x509_trust_file(t->cred, ca_file,
		    GNUTLS_X509_FMT_PEM);
	else
		n = gnutls_certificate_set_x509_system_trust(t->cred);
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
	gnutls_certificate_free_credentials(t->cred);
	free(t);
}

/* Wait until fd is ready for events, at most until deadline (ms). */
static int
wait_fd(struct tls_low *t, short events, long long deadline)
{
	struct pollfd pfd;
	long long left;
	int r;

	for (;;) {
		if (atomic_load(&t->cancelled))
			return -1;
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		pfd.fd = t->fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return atomic_load(&t->cancelled) ? -1 : 0;
		if (r == -1 && errno != EINTR)
			return -1;
	}
}

static ssize_t
low_read(mailstream_low *s, void *buf, size_t n)
{
	struct tls_low *t = s->data;
	long long deadline = now_ms() + t->timeout * 1000;
	ssize_t r;

	for (;;) {
		if (atomic_load(&t->cancelled) || t->fd == -1)
			return -1;
		if (t->session != NULL) {
			r = gnutls_record_recv(t->session, buf, n);
			if (r > 0)
				return r;
			/* EOF is an error here: libetpan's literal reader
			 * would otherwise loop on 0 forever. */
			if (r == 0)
				return -1;
			if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED &&
			    gnutls_error_is_fatal((int)r))
				return -1;
			if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
				continue;	/* a warning alert */
		} else {
			r = recv(t->fd, buf, n, MSG_DONTWAIT);
			if (r > 0)
				return r;
			if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR))
				return -1;
		}
		if (wait_fd(t, POLLIN, deadline) == -1)
			return -1;
	}
}

static ssize_t
low_write(mailstream_low *s, const void *buf, size_t n)
{
	struct tls_low *t = s->data;
	long long deadline = now_ms() + t->timeout * 1000;
	const char *p = buf;
	size_t off = 0;
	ssize_t r;

	while (off < n) {
		if (atomic_load(&t->cancelled) || t->fd == -1)
			return -1;
		if (t->session != NULL) {
			r = gnutls_record_send(t->session, p + off, n - off);
			if (r < 0 && r != GNUTLS_E_AGAIN &&
			    r != GNUTLS_E_INTERRUPTED)
				return -1;
		} else {
			r = send(t->fd, p + off, n - off, MSG_DONTWAIT |
			    MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR)
				return -1;
		}
		if (r > 0) {
			off += (size_t)r;
			deadline = now_ms() + t->timeout * 1000;
			continue;
		}
		if (wait_fd(t, POLLOUT, deadline) == -1)
			return -1;
	}
	return (ssize_t)n;
}

/* No TLS close_notify: the peer may be gone, and it could block. */
static int
low_close(mailstream_low *s)
{
	struct tls_low *t = s->data;

	if (t->fd != -1)
		close(t->fd);
	t->fd = -1;
	return 0;
}

static int
low_get_fd(mailstream_low *s)
{
	return ((struct tls_low *)s->data)->fd;
}

static void
low_free(mailstream_low *s)
{
	struct tls_low *t = s->data;

	if (t != NULL) {
		if (t->fd != -1)
			close(t->fd);
		if (t->session != NULL)
			gnutls_deinit(t->session);
		free(t);
	}
	free(s);
}

/* Any thread: the blocked (or next) read or write fails at once. */
static void
low_cancel(mailstream_low *s)
{
	struct tls_low *t = s->data;

	atomic_store(&t->cancelled, 1);
	if (t->fd != -1)
		(void)shutdown(t->fd, SHUT_RDWR);
}

static struct mailstream_cancel *
low_get_cancel(mailstream_low *s)
{
	(void)s;
	return NULL;
}

static carray *
low_chain(mailstream_low *s)
{
	(void)s;
	return NULL;	/* verified during the handshake already */
}

/* libetpan's own IDLE waiting is not used: poll() the fd instead. */
static int
low_idle(mailstream_low *s)
{
	(void)s;
	return -1;
}

/* Handshake with a deadline; the certificate is checked inside it. */
static int
handshake(struct tls_low *t, const char *host, char *err, size_t errlen)
{
	long long deadline = now_ms() + t->timeout * 1000;
	gnutls_datum_t out = { NULL, 0 };
	unsigned int status;
	int r;

	for (;;) {
		r = gnutls_handshake(t->session);
		if (r == GNUTLS_E_SUCCESS)
			return 0;
		if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) {
			if (wait_fd(t, gnutls_record_get_direction(t->session) ?
			    POLLOUT : POLLIN, deadline) == -1) {
				snprintf(err, errlen, "TLS handshake with %s "
				    "timed out or was cancelled", host);
				return -1;
			}
			continue;
		}
		if (!gnutls_error_is_fatal(r))
			continue;
		break;
	}
	if (r == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		status = gnutls_session_get_verify_cert_status(t->session);
		if (gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &out, 0) == 0 && out.data != NULL)
			snprintf(err, errlen, "certificate for %s: %s", host,
			    (char *)out.data);
		else
			snprintf(err, errlen, "certificate for %s not trusted "
			    "(status 0x%x)", host, status);
		gnutls_free(out.data);
	} else
		snprintf(err, errlen, "TLS handshake with %s failed: %s", host,
		    gnutls_strerror(r));
	return -1;
}

/* A low layer on fd: TLS (handshake and verification done) or plain. */
static mailstream_low *
low_new(struct tlscheck *tc, int fd, const char *host, int tls,
    long timeout, char *err, size_t errlen)
{
	struct tls_low *t;
	mailstream_low *low;
	int r;

	t = xcalloc(1, sizeof(*t));
	t->fd = fd;
	t->timeout = timeout > 0 ? timeout : 30;
	atomic_init(&t->cancelled, 0);
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (tls) {
		if ((r = gnutls_init(&t->session, GNUTLS_CLIENT |
		    GNUTLS_NONBLOCK | GNUTLS_NO_SIGNAL)) < 0 ||
		    (r = gnutls_priority_set_direct(t->session, PRIORITY,
		    NULL)) < 0 ||
		    (r = gnutls_credentials_set(t->session,
		    GNUTLS_CRD_CERTIFICATE, tc->cred)) < 0 ||
		    (!is_ip(host) && (r = gnutls_server_name_set(t->session,
		    GNUTLS_NAME_DNS, host, strlen(host))) < 0)) {
			snprintf(err, errlen, "TLS setup failed: %s",
			    gnutls_strerror(r));
			goto fail;
		}
		/* Chain against our anchors, leaf against the configured
		 * name (an IP literal is matched to IP SANs). */
		gnutls_session_set_verify_cert(t->session, host, 0);
		gnutls_transport_set_int(t->session, fd);
		if (handshake(t, host, err, errlen) == -1)
			goto fail;
	}
	if ((low = mailstream_low_new(t, &tls_driver)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return low;
fail:
	if (t->session != NULL)
		gnutls_deinit(t->session);
	free(t);
	return NULL;
}

struct _mailstream *
tlscheck_open(struct tlscheck *tc, int fd, const char *host, int tls,
    long timeout, char *err, size_t errlen)
{
	mailstream_low *low;
	mailstream *s;

	if ((low = low_new(tc, fd, host, tls, timeout, err, errlen)) == NULL) {
		close(fd);
		return NULL;
	}
	if ((s = mailstream_new(low, STREAM_BUFFER)) == NULL) {
		mailstream_low_free(low);	/* closes fd */
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	return s;
}

int
tlscheck_starttls(struct tlscheck *tc, struct _mailstream *s,
    const char *host, long timeout, char *err, size_t errlen)
{
	mailstream_low *old = mailstream_get_low(s), *low;
	struct tls_low *t;
	int fd;

	if (old == NULL || old->driver != &tls_driver) {
		snprintf(err, errlen, "STARTTLS on a foreign stream");
		return -1;
	}
	/* Anything the server sent after its OK would be read as if it came
	 * through TLS (CVE-2020-15953 style injection): refuse. */
	if (s->read_buffer_len > 0) {
		snprintf(err, errlen, "data pipelined after STARTTLS; refused");
		return -1;
	}
	t = old->data;
	if (t->session != NULL) {
		snprintf(err, errlen, "STARTTLS on a TLS stream");
		return -1;
	}
	fd = t->fd;
	if ((low = low_new(tc, fd, host, 1, timeout, err, errlen)) == NULL)
		return -1;	/* the old layer still owns fd */
	t->fd = -1;		/* now the new layer does */
	mailstream_low_free(old);
	mailstream_set_low(s, low);
	return 0;
}

int
tlscheck_pending(struct _mailstream *s)
{
	mailstream_low *low;
	struct tls_low *t;

	if (s == NULL)
		return 0;
	if (s->read_buffer_len > 0)
		return 1;
	low = mailstream_get_low(s);
	if (low == NULL || low->driver != &tls_driver)
		return 0;
	t = low->data;
	return t->session != NULL &&
	    gnutls_record_check_pending(t->session) > 0;
}

int
tlscheck_fill(struct _mailstream *s)
{
	mailstream_low *low;
	struct tls_low *t;
	ssize_t r;

	if (s == NULL || (low = mailstream_get_low(s)) == NULL ||
	    low->driver != &tls_driver)
		return -1;
	t = low->data;
	while (memchr(s->read_buffer, '\n', s->read_buffer_len) == NULL &&
	    s->read_buffer_len < s->buffer_max_size) {
		if (atomic_load(&t->cancelled) || t->fd == -1)
			return -1;
		if (t->session != NULL) {
			r = gnutls_record_recv(t->session, s->read_buffer +
			    s->read_buffer_len, s->buffer_max_size -
			    s->read_buffer_len);
			if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED)
				return 0;
			if (r < 0 && !gnutls_error_is_fatal((int)r))
				continue;	/* a warning alert */
		} else {
			r = recv(t->fd, s->read_buffer + s->read_buffer_len,
			    s->buffer_max_size - s->read_buffer_len,
			    MSG_DONTWAIT);
			if (r == -1 && (errno == EAGAIN ||
			    errno == EWOULDBLOCK || errno == EINTR))
				return 0;
		}
		if (r <= 0)
			return -1;	/* EOF or a fatal error */
		s->read_buffer_len += (size_t)r;
	}
	/* A full buffer without a line end: let the reader have it. */
	return 1;
}

/*
 * DNS with a deadline (getaddrinfo() has none; the async form does),
 * then a non-blocking connect per address under poll().
 */
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
