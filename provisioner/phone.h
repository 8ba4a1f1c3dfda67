/*
 * phone: the daemon's side of the SMS channel.  Chooses the phone
 * provider named in [phone] (twilio | gateway | none), runs the webhook
 * server and the polling fallback, and buys and releases numbers.  Every
 * inbound SMS goes up through the inbound_cb given to phone_start().
 */
#ifndef PHONE_H
#define PHONE_H

#include <stddef.h>
#include <jansson.h>

#include "common/config.h"
#include "common/inbound.h"

struct phone;

/* Start the channel (webhook server bound now: call before dropping
 * privileges).  With provider none, returns a phone that has no numbers
 * and no server.  NULL with *errstr on error. */
struct phone	*phone_start(const struct config *, inbound_cb cb, void *arg,
		    const char **errstr);
void		 phone_stop(struct phone *);

/* Nonzero when a provider other than none is configured. */
int		 phone_enabled(const struct phone *);

/* Get a number for agent: 0 and *number (E.164) and *ref (provider's
 * reference, e.g. Twilio PN sid) as heap strings, or -1 with a message
 * for people in err.  Blocking; called off the main loop. */
int		 phone_acquire(struct phone *, const char *agent, char **number,
		    char **ref, char *err, size_t errlen);

/* Give a number back: 0 done, -1 failed (err says why; retry later). */
int		 phone_release(struct phone *, const char *number,
		    const char *ref, char *err, size_t errlen);

/*
 * Optional: tell the channel that an identity holds number.  Not needed
 * by the daemon: the Twilio poller reads the active numbers from the
 * store and the gateway provider asks store_address_taken(); held
 * numbers are polled and never handed out too.  phone_acquire holds what
 * it returns; phone_release lets go.
 */
void		 phone_hold(struct phone *, const char *number);

/* The bound webhook port, 0 when no server runs (tests use port 0). */
int		 phone_webhook_port(const struct phone *);

/* Counters and last errors for `agentid status` (new reference). */
json_t		*phone_status(struct phone *);

#endif
