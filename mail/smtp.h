/*
 * smtp: send one plain-text notice to the owner ([smtp] owner_email) with
 * libESMTP.  STARTTLS is required unless the host is loopback with
 * tls = none; each session gets its own OpenSSL context, capped at TLS 1.2
 * and verifying the peer against [smtp] ca_file or the system store and
 * the configured host name (notes on libESMTP 1.1.0 traps in smtp.c).
 */
#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>

#include "common/config.h"

/* Longest subject and body accepted, in bytes. */
#define SMTP_SUBJECT_MAX	200
#define SMTP_BODY_MAX		(16 * 1024)

/*
 * Send subject and body (UTF-8 text, LF or CRLF line ends) from [smtp]
 * from to [smtp] owner_email via [smtp] host:port.  Blocking; bounded by
 * timeouts except for name resolution and connect.  0 only when the
 * server accepted the message and every recipient with 2xx; otherwise -1
 * and a reason for people in err (never a password).
 */
int	smtp_send_notice(const struct config *, const char *subject,
	    const char *body, char *err, size_t errlen);

#endif
