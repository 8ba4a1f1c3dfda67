/*
 * gateway: the signed JSON webhook of the open-source "SMS Gateway for
 * Android" app (capcom6/android-sms-gateway), which any SIM-backed device
 * can imitate (docs/gateway.md).  X-Signature is hex HMAC-SHA256 over the
 * raw body followed by the X-Timestamp value; the timestamp must be
 * within GATEWAY_WINDOW seconds of now.  Pure: no I/O.
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <stddef.h>
#include <jansson.h>

#define GATEWAY_WINDOW	300	/* seconds either side of now */

/* 0 when sig_hex is the HMAC-SHA256(secret, body || ts) in hex and ts
 * (decimal unix seconds) is within the window of now; else -1 with
 * *errstr.  Constant-time compare. */
int	gateway_verify(const char *secret, size_t secretlen, const void *body,
	    size_t len, const char *ts, const char *sig_hex, long long now,
	    const char **errstr);

/* Hex signature for body and ts (tests and the docs' example). */
char	*gateway_sign(const char *secret, size_t secretlen, const void *body,
	    size_t len, const char *ts);

enum gateway_kind {
	GATEWAY_BAD = -1,	/* not a valid event: *errstr says why */
	GATEWAY_SMS = 0,	/* an sms:received event, msg filled in */
	GATEWAY_OTHER = 1,	/* a valid event we do not act on (sms:sent, ...) */
	GATEWAY_UNKNOWN = 2	/* sms:received for no configured number */
};

/* One received SMS.  Strings are borrowed from root (freed by
 * gateway_msg_free; only GATEWAY_SMS leaves anything to free, but the
 * call is harmless after any result). */
struct gateway_msg {
	json_t		*root;
	const char	*event_id;	/* top-level "id" (stable over retries) */
	const char	*message_id;	/* payload.messageId (not unique) */
	const char	*from;		/* payload.sender, else phoneNumber */
	const char	*to;		/* one of numbers[] */
	const char	*text;		/* payload.message */
	size_t		 textlen;
	long long	 received_at;	/* payload.receivedAt, 0 when absent */
	char		 provider_id[128];
};

/*
 * Parse a webhook body.  The recipient ("to") is the configured number
 * that equals payload.recipient; else, with one configured number, that
 * one; else numbers[simNumber - 1] (list numbers in SIM slot order);
 * else GATEWAY_UNKNOWN.
 */
enum gateway_kind gateway_parse(const void *body, size_t len,
	    const char *const *numbers, size_t nnumbers,
	    struct gateway_msg *msg, const char **errstr);
void	gateway_msg_free(struct gateway_msg *);

/* ISO 8601 / RFC 3339 date-time ("2024-06-22T15:46:11.000+07:00") to
 * unix seconds; -1 when malformed. */
long long gateway_parse_time(const char *s);

/* Same phone number, ignoring formatting (+, spaces, dashes, parens). */
int	gateway_number_eq(const char *a, const char *b);

#endif
