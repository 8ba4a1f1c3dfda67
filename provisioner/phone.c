/*
 * The daemon's side of the SMS channel (see phone.h).  A vendor is a
 * const table of functions found by the [phone] provider name; the
 * webhook server and the Twilio polling thread feed the daemon's
 * inbound_cb directly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/config.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "provisioner/phone.h"
#include "provisioner/store.h"
#include "sms/twilio.h"
#include "sms/webhook.h"

#define SEARCH_MAX	5	/* numbers tried when some are taken meanwhile */
#define POLL_OVERLAP	120	/* seconds re-read each poll: clocks, delays */

struct phone;

struct phone_vendor {
	const char	*name;
	int		(*init)(struct phone *, const struct config *,
			    const char **errstr);
	int		(*acquire)(struct phone *, const char *agent,
			    char **number, char **ref, char *err, size_t errlen);
	int		(*release)(struct phone *, const char *number,
			    const char *ref, char *err, size_t errlen);
};

struct phone {
	const struct phone_vendor *v;
	inbound_cb		 cb;
	void			*arg;
	struct webhook		*wh;
	pthread_mutex_t		 mu;		/* held, rr, last_error, counters */
	char			**held;
	size_t			 nheld;
	char			 last_error[256];
	unsigned long long	 acquired, released, polls, poll_errors;

	/* twilio */
	struct twilio		*tw;
	char			*token;
	char			*sms_url;
	char			*country;
	char			*area_code;
	long			 poll_interval;
	pthread_t		 poller;
	int			 polling;
	int			 stopping;
	pthread_cond_t		 cv;

	/* gateway */
	char			*gw_secret;
	char			**gw_numbers;
	size_t			 ngw;
	size_t			 rr;
};

static void
set_error(struct phone *p, const char *err)
{
	pthread_mutex_lock(&p->mu);
	xstrlcpy(p->last_error, err, sizeof(p->last_error));
	pthread_mutex_unlock(&p->mu);
}

/* Caller holds mu. */
static int
held_index(struct phone *p, const char *number)
{
	size_t i;

	for (i = 0; i < p->nheld; i++)
		if (strcmp(p->held[i], number) == 0)
			return (int)i;
	return -1;
}

void
phone_hold(struct phone *p, const char *number)
{
	if (p == NULL || number == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	if (held_index(p, number) < 0) {
		p->held = xreallocarray(p->held, p->nheld + 1, sizeof(char *));
		p->held[p->nheld++] = xstrdup(number);
	}
	pthread_mutex_unlock(&p->mu);
}

static void
phone_unhold(struct phone *p, const char *number)
{
	int i;

	pthread_mutex_lock(&p->mu);
	if ((i = held_index(p, number)) >= 0) {
		free(p->held[i]);
		p->held[i] = p->held[--p->nheld];
	}
	pthread_mutex_unlock(&p->mu);
}

/* ---- none ---- */

static int
none_init(struct phone *p, const struct config *c, const char **errstr)
{
	return 0;
}

static int
none_acquire(struct phone *p, const char *agent, char **number, char **ref,
    char *err, size_t errlen)
{
	snprintf(err, errlen, "no phone provider configured ([phone] provider "
	    "= none)");
	return -1;
}

static int
none_release(struct phone *p, const char *number, const char *ref, char *err,
    size_t errlen)
{
	return 0;
}

/* ---- twilio ---- */

static char *
join_url(const char *base, const char *path)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	return xasprintf("%.*s%s", (int)n, base, path);
}

static int
twilio_init(struct phone *p, const struct config *c, const char **errstr)
{
	char err[256];
	const char *e = NULL;

	if (c->twilio_account_sid == NULL || c->twilio_auth_token_file == NULL) {
		*errstr = "twilio: account_sid and auth_token_file are required";
		return -1;
	}
	if (c->public_url == NULL || *c->public_url == '\0') {
		*errstr = "twilio: [webhook] public_url is required (it is the "
		    "SmsUrl and the signed URL)";
		return -1;
	}
	if ((p->token = config_secret(c->twilio_auth_token_file, &e)) == NULL) {
		*errstr = e ? e : "twilio: cannot read auth_token_file";
		return -1;
	}
	p->tw = twilio_new(c->twilio_api_base ? c->twilio_api_base :
	    "https://api.twilio.com", c->twilio_account_sid, p->token, err,
	    sizeof(err));
	if (p->tw == NULL) {
		log_warnx("%s", err);
		*errstr = "twilio: bad api_base or account_sid";
		return -1;
	}
	p->sms_url = join_url(c->public_url, "/sms/twilio");
	p->country = xstrdup(c->twilio_country ? c->twilio_country : "US");
	p->area_code = c->twilio_area_code ? xstrdup(c->twilio_area_code) :
	    NULL;
	p->poll_interval = c->twilio_poll_interval;
	return 0;
}

static int
twilio_acquire(struct phone *p, const char *agent, char **number, char **ref,
    char *err, size_t errlen)
{
	char *cands[SEARCH_MAX], *friendly;
	int n, i, rc = -1;

	memset(cands, 0, sizeof(cands));
	n = twilio_search(p->tw, p->country, p->area_code, cands, SEARCH_MAX,
	    err, errlen);
	if (n < 0)
		return -1;
	if (n == 0) {
		snprintf(err, errlen, "twilio: no SMS-capable local numbers "
		    "available in %s%s%s", p->country, p->area_code ?
		    " with area code " : "", p->area_code ? p->area_code : "");
		return -1;
	}
	friendly = xasprintf("agentid %s", agent);
	for (i = 0; i < n; i++) {
		rc = twilio_buy(p->tw, cands[i], p->sms_url, friendly, ref,
		    number, err, errlen);
		if (rc != TWILIO_UNAVAILABLE)
			break;
		log_info("twilio: %s was taken meanwhile, trying another",
		    cands[i]);
	}
	if (rc == TWILIO_UNAVAILABLE)
		rc = -1;
	for (i = 0; i < n; i++)
		free(cands[i]);
	free(friendly);
	return rc;
}

static int
twilio_release_number(struct phone *p, const char *number, const char *ref,
    char *err, size_t errlen)
{
	return twilio_release(p->tw, ref, err, errlen);
}

struct numlist {
	char	**v;
	size_t	  n;
};

static void
numlist_add(struct numlist *l, const char *number)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i], number) == 0)
			return;
	l->v = xreallocarray(l->v, l->n + 1, sizeof(char *));
	l->v[l->n++] = xstrdup(number);
}

static int
collect_active(const struct identity_row *r, void *arg)
{
	if (strcmp(r->channel, "sms") == 0 && strcmp(r->provider, "twilio") == 0)
		numlist_add(arg, r->address);
	return 0;
}

static void *
poller_main(void *arg)
{
	struct phone *p = arg;
	/* Catch up on what arrived while the daemon was down; the store's
	 * unique MessageSid makes the overlap free of duplicates. */
	long long since = (long long)time(NULL) - 3600;
	char err[256];

	pthread_mutex_lock(&p->mu);
	while (!p->stopping) {
		struct timespec ts;
		struct numlist nl = { NULL, 0 };
		struct store *s;
		size_t i;
		long long round;
		int trouble = 0, rc;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += p->poll_interval;
		while (!p->stopping && pthread_cond_timedwait(&p->cv, &p->mu,
		    &ts) != ETIMEDOUT)
			;
		if (p->stopping)
			break;
		round = (long long)time(NULL);
		/* Poll a snapshot, without the lock (HTTP is slow): the
		 * numbers held since start plus every active one the store
		 * knows (so a restart needs no help from the daemon). */
		for (i = 0; i < p->nheld; i++)
			numlist_add(&nl, p->held[i]);
		pthread_mutex_unlock(&p->mu);
		if ((s = store_get()) != NULL &&
		    store_identity_each(s, 0, "active", collect_active, &nl) == -1)
			trouble = 1;
		for (i = 0; i < nl.n; i++) {
			rc = twilio_poll(p->tw, nl.v[i], since, p->cb, p->arg,
			    err, sizeof(err));
			if (rc != 0)
				trouble = 1;
			if (rc < 0) {
				log_warnx("%s", err);
				set_error(p, err);
			}
			free(nl.v[i]);
		}
		free(nl.v);
		pthread_mutex_lock(&p->mu);
		p->polls++;
		if (trouble)
			p->poll_errors++;
		else	/* everything up to round is stored: move on */
			since = round - POLL_OVERLAP;
	}
	pthread_mutex_unlock(&p->mu);
	store_release();
	return NULL;
}

/* ---- gateway ---- */

static int
gateway_init(struct phone *p, const struct config *c, const char **errstr)
{
	const char *e = NULL;
	size_t i;

	if (c->gateway_secret_file == NULL) {
		*errstr = "gateway: secret_file is required";
		return -1;
	}
	if (c->ngateway_numbers == 0) {
		*errstr = "gateway: numbers lists no number";
		return -1;
	}
	if ((p->gw_secret = config_secret(c->gateway_secret_file, &e)) == NULL) {
		*errstr = e ? e : "gateway: cannot read secret_file";
		return -1;
	}
	p->gw_numbers = xcalloc(c->ngateway_numbers, sizeof(char *));
	for (i = 0; i < c->ngateway_numbers; i++)
		p->gw_numbers[i] = xstrdup(c->gateway_numbers[i]);
	p->ngw = c->ngateway_numbers;
	return 0;
}

static int
gateway_acquire(struct phone *p, const char *agent, char **number, char **ref,
    char *err, size_t errlen)
{
	struct store *s = store_get();
	size_t k, idx;
	int rc = -1;

	pthread_mutex_lock(&p->mu);
	/* Round-robin, so a number just given back is the last reused. */
	for (k = 0; k < p->ngw; k++) {
		idx = (p->rr + k) % p->ngw;
		if (held_index(p, p->gw_numbers[idx]) >= 0)
			continue;
		/* The store knows every identity, also across restarts and
		 * while one is still being released; an error counts as
		 * taken. */
		if (s && store_address_taken(s, "sms", p->gw_numbers[idx]) != 0)
			continue;
		*number = xstrdup(p->gw_numbers[idx]);
		*ref = xasprintf("gateway:%zu", idx + 1);
		p->rr = idx + 1;
		/* Held under the same lock, so two provisions at once never
		 * get the same number (phone_acquire's hold is then a no-op). */
		p->held = xreallocarray(p->held, p->nheld + 1, sizeof(char *));
		p->held[p->nheld++] = xstrdup(*number);
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&p->mu);
	if (rc == -1)
		snprintf(err, errlen, "gateway: all %zu configured numbers are "
		    "in use (add one to [gateway] numbers)", p->ngw);
	return rc;
}

static int
gateway_release(struct phone *p, const char *number, const char *ref,
    char *err, size_t errlen)
{
	return 0;	/* the SIM stays ours; the number is free again */
}

static const struct phone_vendor vendors[] = {
	{ "none", none_init, none_acquire, none_release },
	{ "twilio", twilio_init, twilio_acquire, twilio_release_number },
	{ "gateway", gateway_init, gateway_acquire, gateway_release },
};

static const struct phone_vendor *
vendor_find(const char *name)
{
	size_t i;

	if (name == NULL || *name == '\0')
		name = "none";
	for (i = 0; i < sizeof(vendors) / sizeof(vendors[0]); i++)
		if (strcmp(vendors[i].name, name) == 0)
			return &vendors[i];
	return NULL;
}

/* ---- common ---- */

struct phone *
phone_start(const struct config *c, inbound_cb cb, void *arg,
    const char **errstr)
{
	struct phone *p = xcalloc(1, sizeof(*p));
	struct webhook_params wp;

	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->cb = cb;
	p->arg = arg;
	if ((p->v = vendor_find(c->phone_provider)) == NULL) {
		*errstr = "[phone] provider must be twilio, gateway or none";
		goto fail;
	}
	if (p->v->init(p, c, errstr) == -1)
		goto fail;
	if (strcmp(p->v->name, "none") == 0)
		return p;
	if (c->webhook_listen && *c->webhook_listen) {
		memset(&wp, 0, sizeof(wp));
		wp.listen = c->webhook_listen;
		if (p->tw) {
			wp.twilio_url = p->sms_url;
			wp.twilio_token = p->token;
			wp.twilio_account_sid = c->twilio_account_sid;
		}
		if (p->gw_secret) {
			wp.gateway_secret = p->gw_secret;
			wp.gateway_numbers = (const char *const *)p->gw_numbers;
			wp.ngateway_numbers = p->ngw;
		}
		wp.cb = cb;
		wp.arg = arg;
		if ((p->wh = webhook_start(&wp, errstr)) == NULL)
			goto fail;
	} else
		log_warnx("phone: [webhook] listen is empty: no webhook server%s",
		    p->tw && p->poll_interval > 0 ? " (polling only)" : "");
	if (p->tw && p->poll_interval > 0) {
		if (pthread_create(&p->poller, NULL, poller_main, p) != 0) {
			*errstr = "phone: cannot start the polling thread";
			goto fail;
		}
		p->polling = 1;
	}
	log_info("phone: provider %s", p->v->name);
	return p;
fail:
	phone_stop(p);
	return NULL;
}

void
phone_stop(struct phone *p)
{
	size_t i;

	if (p == NULL)
		return;
	if (p->polling) {
		pthread_mutex_lock(&p->mu);
		p->stopping = 1;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->poller, NULL);
	}
	webhook_stop(p->wh);
	twilio_free(p->tw);
	if (p->token)
		secret_free(p->token);
	if (p->gw_secret)
		secret_free(p->gw_secret);
	free(p->sms_url);
	free(p->country);
	free(p->area_code);
	for (i = 0; i < p->ngw; i++)
		free(p->gw_numbers[i]);
	free(p->gw_numbers);
	for (i = 0; i < p->nheld; i++)
		free(p->held[i]);
	free(p->held);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p);
}

int
phone_enabled(const struct phone *p)
{
	return p != NULL && p->v != NULL && strcmp(p->v->name, "none") != 0;
}

int
phone_webhook_port(const struct phone *p)
{
	return p && p->wh ? webhook_port(p->wh) : 0;
}

int
phone_acquire(struct phone *p, const char *agent, char **number, char **ref,
    char *err, size_t errlen)
{
	*number = *ref = NULL;
	if (p->v->acquire(p, agent, number, ref, err, errlen) == -1) {
		set_error(p, err);
		return -1;
	}
	phone_hold(p, *number);
	pthread_mutex_lock(&p->mu);
	p->acquired++;
	pthread_mutex_unlock(&p->mu);
	log_info("phone: %s got a number (%s)", agent, p->v->name);
	return 0;
}

int
phone_release(struct phone *p, const char *number, const char *ref,
    char *err, size_t errlen)
{
	if (p->v->release(p, number, ref, err, errlen) == -1) {
		set_error(p, err);
		return -1;
	}
	if (number)
		phone_unhold(p, number);
	pthread_mutex_lock(&p->mu);
	p->released++;
	pthread_mutex_unlock(&p->mu);
	return 0;
}

json_t *
phone_status(struct phone *p)
{
	json_t *o = json_object();

	json_object_set_new(o, "provider", json_string(p->v ? p->v->name :
	    "none"));
	pthread_mutex_lock(&p->mu);
	json_object_set_new(o, "numbers_held", json_integer((json_int_t)p->nheld));
	json_object_set_new(o, "acquired", json_integer((json_int_t)p->acquired));
	json_object_set_new(o, "released", json_integer((json_int_t)p->released));
	if (p->polling) {
		json_object_set_new(o, "polls", json_integer((json_int_t)p->polls));
		json_object_set_new(o, "poll_errors",
		    json_integer((json_int_t)p->poll_errors));
	}
	json_object_set_new(o, "last_error", p->last_error[0] ?
	    json_string(p->last_error) : json_null());
	pthread_mutex_unlock(&p->mu);
	if (p->wh)
		json_object_set_new(o, "webhook", webhook_stats(p->wh));
	return o;
}
