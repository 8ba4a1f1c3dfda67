/*
 * twilio: the Twilio REST client (libcurl + jansson) for buying,
 * releasing and polling phone numbers.  HTTPS only (plain http:// only
 * for a loopback api_base, in tests), bounded time and response size,
 * Twilio's JSON errors turned into sentences.  Thread-safe: each call
 * uses its own curl handle.
 */
#ifndef TWILIO_H
#define TWILIO_H

#include <stddef.h>

#include "common/inbound.h"

#define TWILIO_UNAVAILABLE	(-2)	/* 21422 & co: try another number */

struct twilio;

/* Copies its arguments; the token is wiped on twilio_free.  NULL with a
 * reason in err when api_base is not acceptable. */
struct twilio	*twilio_new(const char *api_base, const char *account_sid,
		    const char *token, char *err, size_t errlen);
void		 twilio_free(struct twilio *);

/* Up to max SMS-capable local numbers (E.164, heap strings) into
 * numbers[]; returns how many (0: none available), -1 on error. */
int		 twilio_search(struct twilio *, const char *country,
		    const char *area_code, char **numbers, int max,
		    char *err, size_t errlen);

/*
 * Buy number with SmsUrl = sms_url (POST).  0 with *sid (PN...) and
 * *bought (E.164) as heap strings; TWILIO_UNAVAILABLE when Twilio says
 * the number cannot be bought; -1 on other errors.  When the outcome is
 * unknown (timeout, unreadable answer) the number is looked up and
 * released, so a failure never leaves a number bought.
 */
int		 twilio_buy(struct twilio *, const char *number,
		    const char *sms_url, const char *friendly_name,
		    char **sid, char **bought, char *err, size_t errlen);

/* DELETE IncomingPhoneNumbers/{sid}.json; 0 also when Twilio no longer
 * knows it (already released). */
int		 twilio_release(struct twilio *, const char *sid, char *err,
		    size_t errlen);

/*
 * Inbound messages to number sent at or after since (unix s), newest
 * first, paged and bounded.  Each received message, and each failed one
 * with error 30038 (OTP body filtered by Twilio; text empty, error_code
 * set), is passed to cb.  Returns how many cb calls answered
 * INBOUND_RETRY (0: everything stored), or -1 on error.
 */
int		 twilio_poll(struct twilio *, const char *number,
		    long long since, inbound_cb cb, void *arg, char *err,
		    size_t errlen);

/* "Wed, 18 Aug 2010 20:01:40 +0000" to unix seconds; -1 if malformed. */
long long	 twilio_parse_date(const char *);

#endif
