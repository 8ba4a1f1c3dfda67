/*
 * tlscheck: safe connections for the IMAP watcher.  A libetpan stream
 * driver of our own: GnuTLS with the server certificate verified (chain
 * and configured host name) during the handshake, before a byte of IMAP
 * is read or LOGIN sent; poll() instead of libetpan's select() (which
 * aborts on fds >= 1024); one fd per session; cancellable from another
 * thread.  Plus DNS and TCP connect with deadlines.
 */
#ifndef TLSCHECK_H
#define TLSCHECK_H

#include <stddef.h>

struct _mailstream;			/* libetpan's mailstream */
struct tlscheck;

/* Trust anchors from ca_file (PEM), or the system store when ca_file is
 * NULL or "".  Shared read-only by every stream made with it.  NULL with
 * a message in err when none could be loaded. */
struct tlscheck	*tlscheck_new(const char *ca_file, char *err, size_t errlen);
/* Only after every stream made with it is closed. */
void		 tlscheck_free(struct tlscheck *);

/*
 * Resolve host (at most min(timeout, 10) seconds; numeric hosts skip
 * DNS) and connect to port (as long, per address).  A close-on-exec,
 * keep-alive TCP socket, or -1 with err.
 */
int		 tlscheck_connect(const char *host, int port, long timeout,
		    char *err, size_t errlen);

/*
 * A libetpan stream on the connected socket fd (which it takes over,
 * also on failure).  tls: TLS 1.2+ with SNI for a host name, handshake
 * finished and the certificate verified for host before returning;
 * otherwise plain (loopback only; the caller checks).  Every wait is
 * bounded by timeout seconds; mailstream_cancel() from any thread fails
 * the blocked call at once.  NULL with err ("certificate for HOST: The
 * certificate is NOT trusted. ...") on failure.
 */
struct _mailstream *tlscheck_open(struct tlscheck *, int fd,
		    const char *host, int tls, long timeout, char *err,
		    size_t errlen);

/* After a successful STARTTLS command on a plain stream from
 * tlscheck_open(): TLS on the same socket, verified as above.  Refuses
 * when the server pipelined data after its OK.  0 or -1 with err. */
int		 tlscheck_starttls(struct tlscheck *, struct _mailstream *,
		    const char *host, long timeout, char *err, size_t errlen);

/* 1 when the stream already holds unread data (libetpan's buffer, or a
 * decrypted record inside GnuTLS) that poll() on the fd would miss. */
int		 tlscheck_pending(struct _mailstream *);

/*
 * Without blocking, move what has arrived into libetpan's buffer until
 * it holds a whole line.  1: a line (or a full buffer) is there, so
 * mailimap_read_line() will not wait; 0: not yet (poll() the fd again);
 * -1: the peer closed or the stream failed.  For a reader that must not
 * stall on a wake-up that carried no line (a TLS record of another
 * kind, half a line).
 */
int		 tlscheck_fill(struct _mailstream *);

#endif
