/*
 * Twilio form decoding and request signatures (see twilio_sig.h).  The
 * algorithm follows the official helper libraries: sort every received
 * parameter by name (values of a repeated name sorted too), append
 * name+value to the URL with no separators, HMAC-SHA1 with the auth
 * token, base64.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/crypto.h"
#include "common/xmalloc.h"
#include "sms/twilio_sig.h"

/* The signed string is bounded by the webhook's body cap plus the URL. */
#define SIG_INPUT_MAX	(256 * 1024)

int
twilio_utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k, need;
	uint32_t cp, min;

	while (i < len) {
		unsigned char c = s[i];

		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else
			return 0;
		if (len - i <= need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode one form component into a new string; NULL on a bad escape,
 * a NUL byte or invalid UTF-8. */
static char *
form_decode(const char *s, size_t len, const char **errstr)
{
	char *out = xmalloc(len + 1);
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		if (s[i] == '+')
			out[o++] = ' ';
		else if (s[i] == '%') {
			int hi, lo;

			if (len - i < 3 || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
			    (lo = hexval((unsigned char)s[i + 2])) < 0) {
				*errstr = "bad percent escape";
				goto fail;
			}
			out[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else
			out[o++] = s[i];
	}
	out[o] = '\0';
	if (!twilio_utf8_valid(out, o)) {
		*errstr = "NUL byte or invalid UTF-8";
		goto fail;
	}
	return out;
fail:
	free(out);
	return NULL;
}

void
twilio_form_free(struct twilio_form *f)
{
	size_t i;

	if (f == NULL)
		return;
	for (i = 0; i < f->n; i++) {
		free(f->p[i].name);
		if (f->p[i].value) {
			/* Bodies carry codes: wipe them. */
			explicit_bzero(f->p[i].value, strlen(f->p[i].value));
			free(f->p[i].value);
		}
	}
	free(f->p);
	free(f);
}

int
twilio_form_parse(const char *body, size_t len, struct twilio_form **out,
    const char **errstr)
{
	struct twilio_form *f = xcalloc(1, sizeof(*f));
	size_t pos = 0, cap = 0;
	const char *dummy;

	if (errstr == NULL)
		errstr = &dummy;
	*out = NULL;
	while (pos < len) {
		const char *seg = body + pos, *amp, *eq;
		size_t seglen;

		amp = memchr(seg, '&', len - pos);
		seglen = amp ? (size_t)(amp - seg) : len - pos;
		pos += seglen + (amp ? 1 : 0);
		if (seglen == 0)
			continue;	/* "a=1&&b=2" and a trailing '&' */
		if (f->n >= TWILIO_FORM_MAX_PARAMS) {
			*errstr = "too many parameters";
			goto fail;
		}
		if (f->n == cap) {
			cap = cap ? cap * 2 : 16;
			f->p = xreallocarray(f->p, cap, sizeof(*f->p));
		}
		eq = memchr(seg, '=', seglen);
		f->p[f->n].name = form_decode(seg, eq ? (size_t)(eq - seg) :
		    seglen, errstr);
		if (f->p[f->n].name == NULL)
			goto fail;
		if (f->p[f->n].name[0] == '\0') {
			free(f->p[f->n].name);
			*errstr = "empty parameter name";
			goto fail;
		}
		f->p[f->n].value = eq ? form_decode(eq + 1,
		    seglen - (size_t)(eq - seg) - 1, errstr) : xstrdup("");
		if (f->p[f->n].value == NULL) {
			free(f->p[f->n].name);
			goto fail;
		}
		f->n++;
	}
	*out = f;
	return 0;
fail:
	twilio_form_free(f);
	return -1;
}

const char *
twilio_form_get(const struct twilio_form *f, const char *name, size_t *count)
{
	const char *first = NULL;
	size_t i, n = 0;

	for (i = 0; f && i < f->n; i++)
		if (strcmp(f->p[i].name, name) == 0) {
			if (first == NULL)
				first = f->p[i].value;
			n++;
		}
	if (count)
		*count = n;
	return first;
}

/* Byte order equals code point order for UTF-8, as the libraries sort. */
static int
param_cmp(const void *a, const void *b)
{
	const struct twilio_param *x = *(const struct twilio_param *const *)a;
	const struct twilio_param *y = *(const struct twilio_param *const *)b;
	int r = strcmp(x->name, y->name);

	return r ? r : strcmp(x->value, y->value);
}

/* HMAC-SHA1 over url + sorted pairs into mac; -1 when the input is over
 * the cap. */
static int
sig_mac(const char *token, const char *url, const struct twilio_form *form,
    uint8_t mac[CRYPTO_SHA1_LEN])
{
	const struct twilio_param **v = NULL;
	struct buf b;
	size_t i, n = form ? form->n : 0;
	int rc = -1;

	buf_init(&b, SIG_INPUT_MAX);
	if (buf_addstr(&b, url) == -1)
		goto done;
	if (n) {
		v = xreallocarray(NULL, n, sizeof(*v));
		for (i = 0; i < n; i++)
			v[i] = &form->p[i];
		qsort(v, n, sizeof(*v), param_cmp);
		for (i = 0; i < n; i++)
			if (buf_addstr(&b, v[i]->name) == -1 ||
			    buf_addstr(&b, v[i]->value) == -1)
				goto done;
	}
	crypto_hmac_sha1(token, strlen(token), b.data ? b.data : "", b.len,
	    mac);
	rc = 0;
done:
	free(v);
	buf_clear(&b);
	return rc;
}

char *
twilio_sig_compute(const char *token, const char *url,
    const struct twilio_form *form)
{
	uint8_t mac[CRYPTO_SHA1_LEN];

	if (sig_mac(token, url, form, mac) == -1)
		return NULL;
	return crypto_b64(mac, sizeof(mac));
}

/*
 * Split url into [0, host_start) "scheme://userinfo@", the host,
 * and where an explicit ":port" starts and ends (port_start == port_end
 * when absent).  -1 when there is no "://".
 */
static int
url_split(const char *url, size_t *host_start, size_t *port_start,
    size_t *port_end)
{
	const char *p = strstr(url, "://"), *auth, *end, *at, *colon, *q;

	if (p == NULL)
		return -1;
	auth = p + 3;
	end = auth + strcspn(auth, "/?#");
	/* userinfo ends at the last '@' of the authority */
	at = NULL;
	for (q = auth; q < end; q++)
		if (*q == '@')
			at = q;
	if (at)
		auth = at + 1;
	*host_start = (size_t)(auth - url);
	colon = NULL;
	if (*auth == '[') {
		const char *rb = memchr(auth, ']', (size_t)(end - auth));

		if (rb && rb + 1 < end && rb[1] == ':')
			colon = rb + 1;
	} else {
		for (q = auth; q < end; q++)
			if (*q == ':')
				colon = q;
	}
	if (colon) {
		*port_start = (size_t)(colon - url);
		*port_end = (size_t)(end - url);
	} else
		*port_start = *port_end = (size_t)(end - url);
	return 0;
}

char *
twilio_url_without_port(const char *url)
{
	size_t hs, ps, pe;
	char *out;

	if (url_split(url, &hs, &ps, &pe) == -1 || ps == pe)
		return NULL;
	out = xmalloc(strlen(url) - (pe - ps) + 1);
	memcpy(out, url, ps);
	memcpy(out + ps, url + pe, strlen(url + pe) + 1);
	return out;
}

char *
twilio_url_with_port(const char *url)
{
	size_t hs, ps, pe;
	const char *port;
	char *out;

	if (url_split(url, &hs, &ps, &pe) == -1 || ps != pe)
		return NULL;
	if (strncasecmp(url, "https://", 8) == 0)
		port = ":443";
	else if (strncasecmp(url, "http://", 7) == 0)
		port = ":80";
	else
		return NULL;
	out = xmalloc(strlen(url) + strlen(port) + 1);
	memcpy(out, url, ps);
	memcpy(out + ps, port, strlen(port));
	memcpy(out + ps + strlen(port), url + ps, strlen(url + ps) + 1);
	return out;
}

/* Decode a base64 signature header into raw bytes; -1 unless it is
 * exactly one SHA-1 MAC long. */
static int
sig_decode(const char *sig, uint8_t raw[CRYPTO_SHA1_LEN])
{
	uint8_t *d = NULL;
	size_t dlen = 0;
	int rc = -1;

	if (sig == NULL || strlen(sig) != 28)
		return -1;
	if (crypto_b64_decode(sig, &d, &dlen) == -1)
		return -1;
	if (dlen == CRYPTO_SHA1_LEN) {
		/* Only the canonical encoding: the padding bits must be zero,
		 * so one MAC has exactly one accepted header. */
		char *canon = crypto_b64(d, dlen);

		if (strcmp(canon, sig) == 0) {
			memcpy(raw, d, CRYPTO_SHA1_LEN);
			rc = 0;
		}
		free(canon);
	}
	free(d);
	return rc;
}

int
twilio_sig_check(const char *token, const char *url,
    const struct twilio_form *form, const char *sig)
{
	uint8_t want[CRYPTO_SHA1_LEN], mac[CRYPTO_SHA1_LEN];
	char *variants[3];
	int ok = 0, i;

	if (token == NULL || *token == '\0' || url == NULL ||
	    sig_decode(sig, want) == -1)
		return 0;
	variants[0] = xstrdup(url);
	variants[1] = twilio_url_without_port(url);
	variants[2] = twilio_url_with_port(url);
	/* Every variant is computed and compared, so timing does not tell
	 * which one matched. */
	for (i = 0; i < 3; i++) {
		if (variants[i] == NULL)
			continue;
		if (sig_mac(token, variants[i], form, mac) == 0 &&
		    crypto_equal(mac, want, sizeof(mac)))
			ok = 1;
		free(variants[i]);
	}
	return ok;
}

/* Find the value of query parameter name in url (raw, not decoded). */
static char *
query_param(const char *url, const char *name)
{
	const char *q = strchr(url, '?'), *p, *end;
	size_t nlen = strlen(name);

	if (q == NULL)
		return NULL;
	for (p = q + 1; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, "&#");
		if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 &&
		    p[nlen] == '=')
			return xstrndup(p + nlen + 1, (size_t)(end - p) - nlen - 1);
		if (*end == '#')
			break;
	}
	return NULL;
}

int
twilio_sig_check_body(const char *token, const char *url, const void *body,
    size_t len, const char *sig)
{
	uint8_t h[CRYPTO_SHA256_LEN];
	char *want = NULL, *got = NULL;
	int ok = 0;

	/* Without bodySHA256 the body would go unchecked: refuse. */
	if ((want = query_param(url, "bodySHA256")) == NULL ||
	    strlen(want) != 2 * CRYPTO_SHA256_LEN)
		goto done;
	crypto_sha256(body, len, h);
	got = crypto_hex(h, sizeof(h));
	if (strcasecmp(got, want) != 0)
		goto done;
	ok = twilio_sig_check(token, url, NULL, sig);
done:
	free(want);
	free(got);
	return ok;
}
