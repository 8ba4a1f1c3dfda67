/*
 * tlscheck: safe connection setup for the IMAP watcher.  Verifies a TLS
 * server's certificate chain and host name with GnuTLS (Debian's
 * libetpan, a GnuTLS build, verifies nothing; the watcher calls this
 * after the handshake, before anything else is read or sent), and does
 * the DNS and TCP connect with deadlines, which libetpan cannot.
 */
#ifndef TLSCHECK_H
#define TLSCHECK_H

#include <stddef.h>

struct _mailstream;			/* libetpan's mailstream */
struct mailstream_ssl_context;

struct tlscheck;

/* Trust anchors from ca_file (PEM), or the system store when ca_file is
 * NULL or "".  NULL with a message in err when none could be loaded. */
struct tlscheck	*tlscheck_new(const char *ca_file, char *err, size_t errlen);
void		 tlscheck_free(struct tlscheck *);

/*
 * Verify the chain (der[0] is the server's certificate, the rest the
 * intermediates it sent) for TLS server use and for host (a DNS name, or
 * an IP literal checked against IP SANs).  0 when trusted; -1 with a
 * human-readable reason in err ("certificate: The certificate is NOT
 * trusted. The certificate issuer is unknown.", ...).  Thread-safe for
 * one tlscheck per thread.
 */
int		 tlscheck_verify(struct tlscheck *, const unsigned char **der,
		    const size_t *derlen, size_t n, const char *host,
		    char *err, size_t errlen);

/*
 * Resolve host (at most min(timeout, 10) seconds; numeric hosts skip
 * DNS) and connect to port (as long, per address).  A blocking,
 * close-on-exec, keep-alive TCP socket, or -1 with err (also when the
 * socket and the fds after it are too close to FD_SETSIZE for
 * libetpan, which waits with select()).
 */
int		 tlscheck_connect(const char *host, int port, long timeout,
		    char *err, size_t errlen);

/* libetpan TLS callback: SNI for a host name (data is the host), none
 * for an IP literal (RFC 6066). */
void		 tlscheck_sni(struct mailstream_ssl_context *, void *data);

/* tlscheck_verify() on the chain a libetpan TLS stream received. */
int		 tlscheck_stream(struct tlscheck *, struct _mailstream *,
		    const char *host, char *err, size_t errlen);

/* 1 when the stream already holds unread data (libetpan's buffer, or a
 * decrypted record inside GnuTLS) that poll() on the fd would miss. */
int		 tlscheck_pending(struct _mailstream *);

#endif
