/*
 * webhook: the HTTP server (libmicrohttpd, small thread pool, loopback by
 * default) that receives inbound SMS: POST /sms/twilio (form, Twilio
 * signature), POST /sms/gateway (JSON, gateway signature), GET /healthz.
 * Every request is signature-checked before anything is looked up, and a
 * 200 is sent only when the inbound_cb says the message is committed.
 */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include <stddef.h>
#include <jansson.h>

#include "common/inbound.h"

#define WEBHOOK_BODY_MAX	(64 * 1024)

struct webhook_params {
	const char	*listen;	/* "127.0.0.1:8787", "[::1]:0", ... */
	/* Twilio route; off when twilio_url is NULL.  twilio_url is the full
	 * signed URL (public_url + "/sms/twilio"), from config only. */
	const char	*twilio_url;
	const char	*twilio_token;
	const char	*twilio_account_sid;
	/* Gateway route; off when gateway_secret is NULL. */
	const char	*gateway_secret;
	const char *const *gateway_numbers;
	size_t		 ngateway_numbers;
	inbound_cb	 cb;
	void		*arg;
	/* Limits; 0 picks the default shown. */
	unsigned	 threads;		/* 4 */
	unsigned	 conn_limit;		/* 256 */
	unsigned	 per_ip_limit;		/* 64 (a proxy is one IP) */
	unsigned	 conn_timeout;		/* 10 s idle */
	unsigned	 deadline_ms;		/* 15000 per request in total */
};

enum webhook_counter {
	WH_REQUESTS,
	WH_STORED,		/* 200 after a commit (or a replay) */
	WH_IGNORED,		/* signed gateway events we do not act on */
	WH_REJ_NOT_FOUND,
	WH_REJ_METHOD,
	WH_REJ_MEDIA_TYPE,
	WH_REJ_TOO_LARGE,
	WH_REJ_DEADLINE,
	WH_REJ_BAD_REQUEST,
	WH_REJ_UNSIGNED,
	WH_REJ_SIGNATURE,
	WH_REJ_ACCOUNT,
	WH_REJ_UNKNOWN_TO,
	WH_REJ_RETRY,		/* the store asked for a retry: 503 */
	WH_NCOUNTERS
};

struct webhook;

/* Parameters are copied.  NULL with *errstr when the address is bad or
 * cannot be bound. */
struct webhook	*webhook_start(const struct webhook_params *,
		    const char **errstr);
void		 webhook_stop(struct webhook *);

/* The bound port (the kernel's choice when listen asked for port 0). */
int		 webhook_port(const struct webhook *);

unsigned long long webhook_counter(const struct webhook *,
		    enum webhook_counter);
/* All counters by name (new reference). */
json_t		*webhook_stats(const struct webhook *);

#endif
