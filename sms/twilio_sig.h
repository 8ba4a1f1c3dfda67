/*
 * twilio_sig: the application/x-www-form-urlencoded parser for Twilio's
 * webhooks and the X-Twilio-Signature check (base64 HMAC-SHA1 keyed with
 * the auth token over URL + sorted name/value pairs).  Pure: no I/O.
 */
#ifndef TWILIO_SIG_H
#define TWILIO_SIG_H

#include <stddef.h>

/* Twilio sends about 20 fields (40 with ten media items); more is abuse. */
#define TWILIO_FORM_MAX_PARAMS	128

struct twilio_param {
	char	*name;		/* decoded, NUL-terminated, valid UTF-8 */
	char	*value;
};

struct twilio_form {
	struct twilio_param	*p;
	size_t			 n;
};

/*
 * Decode a form body ('+' is a space, %XX escapes).  Rejects NUL bytes,
 * invalid UTF-8, bad escapes, empty names and more than
 * TWILIO_FORM_MAX_PARAMS pairs.  A pair without '=' has an empty value.
 * 0 and *out (free with twilio_form_free), or -1 with *errstr.
 */
int		 twilio_form_parse(const char *body, size_t len,
		    struct twilio_form **out, const char **errstr);
void		 twilio_form_free(struct twilio_form *);

/* First value of name, or NULL; *count (if not NULL) gets how many. */
const char	*twilio_form_get(const struct twilio_form *, const char *name,
		    size_t *count);

/* base64 HMAC-SHA1(token, url + pairs sorted by name then value): a heap
 * string.  form may be NULL (no parameters). */
char		*twilio_sig_compute(const char *token, const char *url,
		    const struct twilio_form *form);

/*
 * 1 when sig matches url as given, url with its port removed, or url
 * with the scheme's default port added (the variants every official
 * helper library accepts), else 0.  Constant-time compare.  url must be
 * the operator-configured public URL, never one rebuilt from a request.
 */
int		 twilio_sig_check(const char *token, const char *url,
		    const struct twilio_form *form, const char *sig);

/*
 * JSON-body variant: the URL carries bodySHA256 (hex SHA-256 of the raw
 * body); the signature covers the URL only.  1 when both the signature
 * and the body hash match, else 0 (also when bodySHA256 is missing).
 */
int		 twilio_sig_check_body(const char *token, const char *url,
		    const void *body, size_t len, const char *sig);

/* URL variants used by twilio_sig_check (heap strings; NULL when the
 * variant does not apply).  Exposed for tests. */
char		*twilio_url_without_port(const char *url);
char		*twilio_url_with_port(const char *url);

/* 1 when s[0..len) is valid UTF-8 without NUL bytes. */
int		 twilio_utf8_valid(const char *s, size_t len);

#endif
