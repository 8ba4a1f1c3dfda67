/*
 * The SMS-gateway webhook (see gateway.h and docs/gateway.md).  The app
 * signs hex(HMAC-SHA256(key, body + timestamp)) and sends it as
 * X-Signature with X-Timestamp; the event looks like
 *   {"deviceId":..., "event":"sms:received", "id":..., "webhookId":...,
 *    "payload":{"messageId":..., "message":..., "phoneNumber":...,
 *               "sender":..., "recipient":..., "simNumber":1,
 *               "receivedAt":"2024-06-22T15:46:11.000+07:00"}}
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/crypto.h"
#include "common/xmalloc.h"
#include "sms/gateway.h"

/* X-Timestamp is decimal seconds: 10 digits today, 19 is long long. */
#define TS_MAX_DIGITS	18

static void
mac_of(const char *secret, size_t secretlen, const void *body, size_t len,
    const char *ts, uint8_t mac[CRYPTO_SHA256_LEN])
{
	size_t tslen = strlen(ts);
	char *msg = xmalloc(len + tslen + 1);

	if (len)
		memcpy(msg, body, len);
	memcpy(msg + len, ts, tslen);
	crypto_hmac_sha256(secret, secretlen, msg, len + tslen, mac);
	explicit_bzero(msg, len + tslen);
	free(msg);
}

char *
gateway_sign(const char *secret, size_t secretlen, const void *body,
    size_t len, const char *ts)
{
	uint8_t mac[CRYPTO_SHA256_LEN];

	mac_of(secret, secretlen, body, len, ts, mac);
	return crypto_hex(mac, sizeof(mac));
}

static int
unhex(const char *s, uint8_t *out, size_t outlen)
{
	size_t i;

	if (strlen(s) != 2 * outlen)
		return -1;
	for (i = 0; i < 2 * outlen; i++) {
		int c = (unsigned char)s[i], v;

		if (c >= '0' && c <= '9')
			v = c - '0';
		else if (c >= 'a' && c <= 'f')
			v = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v = c - 'A' + 10;
		else
			return -1;
		if (i % 2 == 0)
			out[i / 2] = (uint8_t)(v << 4);
		else
			out[i / 2] |= (uint8_t)v;
	}
	return 0;
}

int
gateway_verify(const char *secret, size_t secretlen, const void *body,
    size_t len, const char *ts, const char *sig_hex, long long now,
    const char **errstr)
{
	uint8_t want[CRYPTO_SHA256_LEN], mac[CRYPTO_SHA256_LEN];
	long long t;
	const char *e = NULL;
	size_t i;

	if (secret == NULL || secretlen == 0) {
		*errstr = "no gateway secret configured";
		return -1;
	}
	if (ts == NULL || sig_hex == NULL) {
		*errstr = "unsigned";
		return -1;
	}
	for (i = 0; ts[i]; i++)
		if (!isdigit((unsigned char)ts[i]))
			break;
	if (i == 0 || ts[i] != '\0' || i > TS_MAX_DIGITS) {
		*errstr = "bad timestamp";
		return -1;
	}
	t = xstrtonum(ts, 0, 999999999999999999LL, &e);
	if (e != NULL) {
		*errstr = "bad timestamp";
		return -1;
	}
	if (t > now + GATEWAY_WINDOW || t < now - GATEWAY_WINDOW) {
		*errstr = "timestamp outside the window";
		return -1;
	}
	if (unhex(sig_hex, want, sizeof(want)) == -1) {
		*errstr = "bad signature";
		return -1;
	}
	mac_of(secret, secretlen, body, len, ts, mac);
	if (!crypto_equal(mac, want, sizeof(mac))) {
		*errstr = "bad signature";
		return -1;
	}
	return 0;
}

/* Digits at s[*i..*i+n), advancing *i; -1 unless all n are digits. */
static int
digits(const char *s, size_t *i, int n)
{
	int v = 0, k;

	for (k = 0; k < n; k++) {
		if (!isdigit((unsigned char)s[*i]))
			return -1;
		v = v * 10 + (s[(*i)++] - '0');
	}
	return v;
}

long long
gateway_parse_time(const char *s)
{
	struct tm tm;
	size_t i = 0;
	int y, mo, d, h, mi, se, off = 0;
	long long t;

	memset(&tm, 0, sizeof(tm));
	if ((y = digits(s, &i, 4)) < 0 || s[i++] != '-' ||
	    (mo = digits(s, &i, 2)) < 0 || s[i++] != '-' ||
	    (d = digits(s, &i, 2)) < 0 || (s[i] != 'T' && s[i] != 't' &&
	    s[i] != ' '))
		return -1;
	i++;
	if ((h = digits(s, &i, 2)) < 0 || s[i++] != ':' ||
	    (mi = digits(s, &i, 2)) < 0 || s[i++] != ':' ||
	    (se = digits(s, &i, 2)) < 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60 || y < 1970)
		return -1;
	if (s[i] == '.') {
		i++;
		if (!isdigit((unsigned char)s[i]))
			return -1;
		while (isdigit((unsigned char)s[i]))
			i++;
	}
	if (s[i] == 'Z' || s[i] == 'z')
		i++;
	else if (s[i] == '+' || s[i] == '-') {
		int sign = s[i++] == '-' ? -1 : 1, oh, om;

		if ((oh = digits(s, &i, 2)) < 0)
			return -1;
		if (s[i] == ':')
			i++;
		if ((om = digits(s, &i, 2)) < 0 || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
	} else
		return -1;
	if (s[i] != '\0')
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = (long long)timegm(&tm);
	return t - off;
}

/* The digits of a phone number into out; -1 on any character other
 * than digits and the usual formatting. */
static int
number_digits(const char *s, char *out, size_t outlen)
{
	size_t n = 0;

	for (; *s; s++) {
		if (isdigit((unsigned char)*s)) {
			if (n + 1 >= outlen)
				return -1;
			out[n++] = *s;
		} else if (!strchr("+ -().", *s))
			return -1;
	}
	out[n] = '\0';
	return n ? 0 : -1;
}

int
gateway_number_eq(const char *a, const char *b)
{
	char da[32], db[32];
	size_t la, lb;

	if (a == NULL || b == NULL || number_digits(a, da, sizeof(da)) == -1 ||
	    number_digits(b, db, sizeof(db)) == -1)
		return 0;
	la = strlen(da);
	lb = strlen(db);
	if (la == lb)
		return strcmp(da, db) == 0;
	/* A SIM may report its number without the country code
	 * ("6505551212" for "+16505551212"): a national number of at least
	 * 7 digits that ends the other, longer by at most 3. */
	if (la < lb && la >= 7 && lb - la <= 3)
		return strcmp(db + (lb - la), da) == 0;
	if (lb < la && lb >= 7 && la - lb <= 3)
		return strcmp(da + (la - lb), db) == 0;
	return 0;
}

void
gateway_msg_free(struct gateway_msg *m)
{
	if (m == NULL)
		return;
	json_decref(m->root);
	memset(m, 0, sizeof(*m));
}

/* Optional string member: NULL when absent or JSON null; -1 when some
 * other type. */
static int
opt_str(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return 0;
}

enum gateway_kind
gateway_parse(const void *body, size_t len, const char *const *numbers,
    size_t nnumbers, struct gateway_msg *m, const char **errstr)
{
	json_error_t jerr;
	json_t *payload, *sim;
	const char *event = NULL, *recipient = NULL, *received = NULL,
	    *phone = NULL;
	size_t i;

	memset(m, 0, sizeof(*m));
	m->root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (m->root == NULL || !json_is_object(m->root)) {
		*errstr = "body is not a JSON object";
		goto bad;
	}
	if (opt_str(m->root, "event", &event) == -1 || event == NULL) {
		*errstr = "no event";
		goto bad;
	}
	if (strcmp(event, "sms:received") != 0) {
		gateway_msg_free(m);
		return GATEWAY_OTHER;
	}
	payload = json_object_get(m->root, "payload");
	if (!json_is_object(payload)) {
		*errstr = "no payload";
		goto bad;
	}
	if (opt_str(m->root, "id", &m->event_id) == -1 ||
	    opt_str(payload, "messageId", &m->message_id) == -1 ||
	    opt_str(payload, "message", &m->text) == -1 ||
	    opt_str(payload, "sender", &m->from) == -1 ||
	    opt_str(payload, "phoneNumber", &phone) == -1 ||
	    opt_str(payload, "recipient", &recipient) == -1 ||
	    opt_str(payload, "receivedAt", &received) == -1) {
		*errstr = "a payload field has the wrong type";
		goto bad;
	}
	/* Older app versions have only phoneNumber (the sender). */
	if (m->from == NULL)
		m->from = phone;
	if (m->from == NULL || *m->from == '\0' || m->text == NULL) {
		*errstr = "payload lacks sender or message";
		goto bad;
	}
	m->textlen = strlen(m->text);
	/* messageId is a hash of the content (the app's docs say it is not
	 * unique); the event id is per event and stays the same over the
	 * app's retries, so it is the dedupe key when present. */
	if (m->event_id && *m->event_id && strlen(m->event_id) < 100)
		snprintf(m->provider_id, sizeof(m->provider_id), "gw:%s",
		    m->event_id);
	else if (m->message_id && *m->message_id && strlen(m->message_id) < 100)
		snprintf(m->provider_id, sizeof(m->provider_id), "gw:%s:%s",
		    m->message_id, received ? received : "");
	else {
		*errstr = "no id or messageId";
		goto bad;
	}
	if (received) {
		m->received_at = gateway_parse_time(received);
		if (m->received_at < 0) {
			*errstr = "bad receivedAt";
			goto bad;
		}
	}
	/* Recipient: the number the device reports, if it is one of ours. */
	if (recipient && *recipient) {
		for (i = 0; i < nnumbers; i++)
			if (gateway_number_eq(recipient, numbers[i])) {
				m->to = numbers[i];
				break;
			}
	} else if (nnumbers == 1)
		m->to = numbers[0];
	else {
		sim = json_object_get(payload, "simNumber");
		if (json_is_integer(sim) && json_integer_value(sim) >= 1 &&
		    (size_t)json_integer_value(sim) <= nnumbers)
			m->to = numbers[json_integer_value(sim) - 1];
	}
	if (m->to == NULL) {
		*errstr = "unknown recipient";
		gateway_msg_free(m);
		return GATEWAY_UNKNOWN;
	}
	return GATEWAY_SMS;
bad:
	gateway_msg_free(m);
	return GATEWAY_BAD;
}
