/*
 * Twilio REST client (see twilio.h).  Each request: its own easy handle,
 * Basic auth with separate user/password options (the token never goes
 * through a URL or a log line), https only, no redirects, no proxy from
 * the environment, connect and total timeouts, a capped response, and
 * 429 answered by waiting Retry-After (bounded) and trying again.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "sms/twilio.h"

#define API_VERSION	"2010-04-01"
#define RESP_MAX	(1024 * 1024)
#define CONNECT_MS	5000L
#define TOTAL_MS	20000L
#define TRIES_429	3
#define RETRY_AFTER_MAX	5	/* seconds waited per 429 at most */
#define POLL_PAGES_MAX	20
#define POLL_PAGE_SIZE	50

struct twilio {
	char	*api_base;	/* no trailing slash */
	char	*sid;
	char	*token;
	int	 plain_http;	/* loopback test server */
};

struct response {
	long		 status;
	struct buf	 body;
	long		 retry_after;	/* seconds, -1 none */
};

static int	once_done;

static void
global_init(void)
{
	/* Thread-safe in this libcurl (CURL_VERSION_THREADSAFE), but the
	 * daemon normally calls it first anyway. */
	if (!__atomic_exchange_n(&once_done, 1, __ATOMIC_SEQ_CST))
		curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Percent-encode everything but unreserved characters. */
static char *
enc(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;
	char *out;

	buf_init(&b, 3 * strlen(s) + 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
			buf_add(&b, s, 1);
		else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			buf_add(&b, e, 3);
		}
	}
	out = xstrdup(b.data ? b.data : "");
	buf_clear(&b);
	return out;
}

struct twilio *
twilio_new(const char *api_base, const char *account_sid, const char *token,
    char *err, size_t errlen)
{
	struct twilio *t;
	size_t n;

	if (api_base == NULL || account_sid == NULL || token == NULL ||
	    *account_sid == '\0' || *token == '\0') {
		snprintf(err, errlen, "twilio: api_base, account_sid and the "
		    "auth token are required");
		return NULL;
	}
	if (strncmp(api_base, "https://", 8) != 0 &&
	    !(strncmp(api_base, "http://", 7) == 0 &&
	    config_is_loopback(api_base))) {
		snprintf(err, errlen, "twilio: api_base must be https:// "
		    "(http:// only for loopback)");
		return NULL;
	}
	if (strspn(account_sid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789") != strlen(account_sid)) {
		snprintf(err, errlen, "twilio: account_sid has bad characters");
		return NULL;
	}
	global_init();
	t = xcalloc(1, sizeof(*t));
	t->api_base = xstrdup(api_base);
	n = strlen(t->api_base);
	while (n > 0 && t->api_base[n - 1] == '/')
		t->api_base[--n] = '\0';
	t->sid = xstrdup(account_sid);
	t->token = xstrdup(token);
	t->plain_http = strncmp(api_base, "http://", 7) == 0;
	return t;
}

void
twilio_free(struct twilio *t)
{
	if (t == NULL)
		return;
	free(t->api_base);
	free(t->sid);
	explicit_bzero(t->token, strlen(t->token));
	free(t->token);
	free(t);
}

static size_t
on_body(char *d, size_t s, size_t n, void *u)
{
	struct response *r = u;

	/* A short count makes curl stop with CURLE_WRITE_ERROR. */
	if (buf_add(&r->body, d, s * n) == -1)
		return 0;
	return s * n;
}

static size_t
on_header(char *d, size_t s, size_t n, void *u)
{
	struct response *r = u;
	size_t len = s * n;
	char v[32];
	const char *e = NULL;
	long long secs;
	size_t k;

	if (len > 12 && strncasecmp(d, "Retry-After:", 12) == 0) {
		k = 12;
		while (k < len && (d[k] == ' ' || d[k] == '\t'))
			k++;
		if (len - k < sizeof(v)) {
			memcpy(v, d + k, len - k);
			v[len - k] = '\0';
			v[strcspn(v, "\r\n ")] = '\0';
			secs = xstrtonum(v, 0, 86400, &e);
			r->retry_after = e ? 1 : (long)secs;
		}
	}
	return len;
}

/* Twilio's {"code":..., "message":...} into a sentence for people. */
static void
api_error(const struct response *r, const char *what, long long *code,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j = NULL, *c;
	const char *msg = NULL;
	char clean[200];
	size_t i, o = 0;

	*code = 0;
	if (r->body.len)
		j = json_loadb(r->body.data, r->body.len, 0, &jerr);
	if (json_is_object(j)) {
		c = json_object_get(j, "code");
		if (json_is_integer(c))
			*code = json_integer_value(c);
		msg = json_string_value(json_object_get(j, "message"));
	}
	/* The message goes to a terminal: printable ASCII only. */
	for (i = 0; msg && msg[i] && o + 1 < sizeof(clean); i++)
		clean[o++] = (msg[i] >= 0x20 && msg[i] < 0x7f) ? msg[i] : '?';
	clean[o] = '\0';
	if (*code)
		snprintf(err, errlen, "twilio: %s failed: HTTP %ld, error %lld: %s",
		    what, r->status, *code, o ? clean : "(no message)");
	else
		snprintf(err, errlen, "twilio: %s failed: HTTP %ld", what,
		    r->status);
	json_decref(j);
}

/*
 * One API call.  url is absolute; form (may be NULL) is a ready
 * x-www-form-urlencoded body.  0 with r filled in (any HTTP status), -1
 * on a transport error (err says which).
 */
static int
http(struct twilio *t, const char *method, const char *url, const char *form,
    struct response *r, char *err, size_t errlen)
{
	char ebuf[CURL_ERROR_SIZE];
	CURL *h = NULL;
	CURLcode cc;
	int tries, rc = -1;

	for (tries = 0; tries < TRIES_429; tries++) {
		buf_clear(&r->body);
		buf_init(&r->body, RESP_MAX);
		r->status = 0;
		r->retry_after = -1;
		ebuf[0] = '\0';
		if ((h = curl_easy_init()) == NULL) {
			snprintf(err, errlen, "twilio: curl init failed");
			goto done;
		}
		curl_easy_setopt(h, CURLOPT_URL, url);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
		    t->plain_http ? "http" : "https");
		curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(h, CURLOPT_PROXY, "");
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_MS);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOTAL_MS);
		curl_easy_setopt(h, CURLOPT_SSLVERSION, CURL_SSLVERSION_TLSv1_2);
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, t->sid);
		curl_easy_setopt(h, CURLOPT_PASSWORD, t->token);
		curl_easy_setopt(h, CURLOPT_USERAGENT, "agentid");
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
		if (form)
			curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, form);
		if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
			curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
		cc = curl_easy_perform(h);
		if (cc != CURLE_OK) {
			snprintf(err, errlen, "twilio: %s request failed: %s%s%s",
			    method, curl_easy_strerror(cc), ebuf[0] ? ": " : "",
			    ebuf);
			goto done;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		curl_easy_cleanup(h);
		h = NULL;
		if (r->status != 429 || tries + 1 == TRIES_429)
			break;
		{
			long wait = r->retry_after < 0 ? 1 : r->retry_after;

			if (wait > RETRY_AFTER_MAX)
				wait = RETRY_AFTER_MAX;
			log_info("twilio: rate limited, retrying in %lds", wait);
			sleep((unsigned)wait);
		}
	}
	rc = 0;
done:
	if (h)
		curl_easy_cleanup(h);
	return rc;
}

static json_t *
parse_json(const struct response *r)
{
	json_error_t jerr;

	if (r->body.len == 0)
		return NULL;
	return json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES,
	    &jerr);
}

int
twilio_search(struct twilio *t, const char *country, const char *area_code,
    char **numbers, int max, char *err, size_t errlen)
{
	struct response r;
	char *url = NULL, *c = NULL, *a = NULL;
	json_t *j = NULL, *arr, *it;
	long long code;
	size_t i;
	int n = -1;

	memset(&r, 0, sizeof(r));
	c = enc(country && *country ? country : "US");
	a = area_code && *area_code ? enc(area_code) : NULL;
	url = xasprintf("%s/" API_VERSION "/Accounts/%s/AvailablePhoneNumbers/"
	    "%s/Local.json?SmsEnabled=true&PageSize=%d%s%s", t->api_base,
	    t->sid, c, max < 1 ? 1 : max, a ? "&AreaCode=" : "", a ? a : "");
	if (http(t, "GET", url, NULL, &r, err, errlen) == -1)
		goto done;
	if (r.status != 200) {
		api_error(&r, "number search", &code, err, errlen);
		goto done;
	}
	j = parse_json(&r);
	arr = json_object_get(j, "available_phone_numbers");
	if (!json_is_array(arr)) {
		snprintf(err, errlen, "twilio: number search: unexpected answer");
		goto done;
	}
	n = 0;
	json_array_foreach(arr, i, it) {
		const char *pn = json_string_value(json_object_get(it,
		    "phone_number"));

		if (n >= max)
			break;
		if (pn && pn[0] == '+' && strlen(pn) < 20 &&
		    strspn(pn + 1, "0123456789") == strlen(pn + 1))
			numbers[n++] = xstrdup(pn);
	}
done:
	json_decref(j);
	buf_clear(&r.body);
	free(url);
	free(c);
	free(a);
	return n;
}

int
twilio_release(struct twilio *t, const char *sid, char *err, size_t errlen)
{
	struct response r;
	char *url = NULL, *s = NULL;
	long long code;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	if (sid == NULL || strncmp(sid, "PN", 2) != 0) {
		snprintf(err, errlen, "twilio: release: not a number sid");
		goto done;
	}
	s = enc(sid);
	url = xasprintf("%s/" API_VERSION "/Accounts/%s/IncomingPhoneNumbers/"
	    "%s.json", t->api_base, t->sid, s);
	if (http(t, "DELETE", url, NULL, &r, err, errlen) == -1)
		goto done;
	if (r.status == 204 || r.status == 200)
		rc = 0;
	else if (r.status == 404) {
		log_info("twilio: %s was already released", sid);
		rc = 0;
	} else
		api_error(&r, "release", &code, err, errlen);
done:
	buf_clear(&r.body);
	free(url);
	free(s);
	return rc;
}

/* After an unknown outcome: find number among ours and release it. */
static void
release_by_number(struct twilio *t, const char *number)
{
	struct response r;
	char *url, *n = enc(number), err[256];
	json_t *j = NULL, *arr, *it;
	size_t i;

	memset(&r, 0, sizeof(r));
	url = xasprintf("%s/" API_VERSION "/Accounts/%s/IncomingPhoneNumbers"
	    ".json?PhoneNumber=%s", t->api_base, t->sid, n);
	if (http(t, "GET", url, NULL, &r, err, sizeof(err)) == -1 ||
	    r.status != 200) {
		log_warnx("twilio: could not check whether %s was bought; "
		    "check the console", number);
		goto done;
	}
	j = parse_json(&r);
	arr = json_object_get(j, "incoming_phone_numbers");
	json_array_foreach(arr, i, it) {
		const char *sid = json_string_value(json_object_get(it, "sid"));
		const char *pn = json_string_value(json_object_get(it,
		    "phone_number"));

		if (sid && pn && strcmp(pn, number) == 0) {
			if (twilio_release(t, sid, err, sizeof(err)) == -1)
				log_warnx("%s", err);
			else
				log_info("twilio: released %s after a failed buy",
				    sid);
		}
	}
done:
	json_decref(j);
	buf_clear(&r.body);
	free(url);
	free(n);
}

int
twilio_buy(struct twilio *t, const char *number, const char *sms_url,
    const char *friendly_name, char **sid_out, char **bought, char *err,
    size_t errlen)
{
	struct response r;
	char *url = NULL, *form = NULL, *n = NULL, *u = NULL, *f = NULL;
	json_t *j = NULL;
	const char *sid, *pn;
	long long code;
	int rc = -1;

	memset(&r, 0, sizeof(r));
	*sid_out = *bought = NULL;
	n = enc(number);
	u = enc(sms_url);
	f = enc(friendly_name ? friendly_name : "agentid");
	url = xasprintf("%s/" API_VERSION "/Accounts/%s/IncomingPhoneNumbers"
	    ".json", t->api_base, t->sid);
	form = xasprintf("PhoneNumber=%s&SmsUrl=%s&SmsMethod=POST&"
	    "FriendlyName=%s", n, u, f);
	if (http(t, "POST", url, form, &r, err, errlen) == -1) {
		/* The request may have reached Twilio. */
		release_by_number(t, number);
		goto done;
	}
	if (r.status != 200 && r.status != 201) {
		api_error(&r, "buying a number", &code, err, errlen);
		if (code == 21422 || code == 21421 || code == 21452)
			rc = TWILIO_UNAVAILABLE;
		goto done;
	}
	j = parse_json(&r);
	sid = json_string_value(json_object_get(j, "sid"));
	pn = json_string_value(json_object_get(j, "phone_number"));
	if (sid == NULL || strncmp(sid, "PN", 2) != 0 || strlen(sid) > 64) {
		snprintf(err, errlen, "twilio: buying a number: unexpected "
		    "answer (no sid)");
		release_by_number(t, number);
		goto done;
	}
	if (pn == NULL || pn[0] != '+') {
		char e2[256];

		snprintf(err, errlen, "twilio: buying a number: unexpected "
		    "answer (no phone_number)");
		if (twilio_release(t, sid, e2, sizeof(e2)) == -1)
			log_warnx("%s", e2);
		goto done;
	}
	*sid_out = xstrdup(sid);
	*bought = xstrdup(pn);
	rc = 0;
done:
	json_decref(j);
	buf_clear(&r.body);
	free(url);
	free(form);
	free(n);
	free(u);
	free(f);
	return rc;
}

long long
twilio_parse_date(const char *s)
{
	static const char *mons[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
	    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	char mon[4], zone[8];
	int d, y, h, mi, se, m, off = 0;

	/* "Wed, 18 Aug 2010 20:01:40 +0000" (locale-free on purpose). */
	if (s == NULL || strlen(s) > 40)
		return -1;
	if (strchr(s, ','))
		s = strchr(s, ',') + 1;
	if (sscanf(s, " %d %3s %d %d:%d:%d %7s", &d, mon, &y, &h, &mi, &se,
	    zone) != 7)
		return -1;
	for (m = 0; m < 12; m++)
		if (strcmp(mon, mons[m]) == 0)
			break;
	if (m == 12 || d < 1 || d > 31 || y < 1970 || h > 23 || mi > 59 ||
	    se > 60 || h < 0 || mi < 0 || se < 0)
		return -1;
	if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 5 &&
	    strspn(zone + 1, "0123456789") == 4)
		off = (zone[0] == '-' ? -1 : 1) * (((zone[1] - '0') * 10 +
		    (zone[2] - '0')) * 3600 + ((zone[3] - '0') * 10 +
		    (zone[4] - '0')) * 60);
	else if (strcmp(zone, "GMT") != 0 && strcmp(zone, "UTC") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	return (long long)timegm(&tm) - off;
}

/* error_code is an integer, a numeric string or null. */
static int
json_code(json_t *v)
{
	const char *e = NULL;
	long long c;

	if (json_is_integer(v))
		return (int)json_integer_value(v);
	if (json_is_string(v)) {
		c = xstrtonum(json_string_value(v), 0, 99999, &e);
		return e ? 0 : (int)c;
	}
	return 0;
}

/* One message from a page; 1 when it is older than since. */
static int
poll_one(json_t *m, const char *number, long long since, inbound_cb cb,
    void *arg, int *retries)
{
	const char *sid, *dir, *status, *from, *to, *body, *date;
	struct inbound in;
	long long when;
	int code;

	sid = json_string_value(json_object_get(m, "sid"));
	dir = json_string_value(json_object_get(m, "direction"));
	status = json_string_value(json_object_get(m, "status"));
	from = json_string_value(json_object_get(m, "from"));
	to = json_string_value(json_object_get(m, "to"));
	body = json_string_value(json_object_get(m, "body"));
	date = json_string_value(json_object_get(m, "date_sent"));
	if (date == NULL)
		date = json_string_value(json_object_get(m, "date_created"));
	when = twilio_parse_date(date);
	if (when >= 0 && when < since)
		return 1;
	if (sid == NULL || dir == NULL || status == NULL || from == NULL ||
	    to == NULL || strcmp(dir, "inbound") != 0 || strcmp(to, number) != 0)
		return 0;
	code = json_code(json_object_get(m, "error_code"));
	memset(&in, 0, sizeof(in));
	in.channel = INBOUND_SMS;
	in.to = to;
	in.from = from;
	in.provider = "twilio";
	in.provider_id = sid;
	in.received_at = when > 0 ? when : 0;
	if (strcmp(status, "received") == 0 && code == 0) {
		in.text = body ? body : "";
		in.textlen = strlen(in.text);
	} else if (strcmp(status, "failed") == 0 && code == 30038) {
		/* Twilio redacted the body: tell the waiting agent. */
		in.text = "";
		in.error_code = 30038;
	} else
		return 0;
	if (cb(&in, arg) == INBOUND_RETRY)
		(*retries)++;
	return 0;
}

int
twilio_poll(struct twilio *t, const char *number, long long since,
    inbound_cb cb, void *arg, char *err, size_t errlen)
{
	struct response r;
	char *url = NULL, *n = NULL, day[16];
	json_t *j = NULL, *arr, *m;
	struct tm tm;
	time_t s = (time_t)(since > 0 ? since : 0);
	long long code;
	int pages, retries = 0, rc = -1, older;
	size_t i;

	memset(&r, 0, sizeof(r));
	/* DateSent filters by day only; the time is checked here. */
	gmtime_r(&s, &tm);
	strftime(day, sizeof(day), "%Y-%m-%d", &tm);
	n = enc(number);
	url = xasprintf("%s/" API_VERSION "/Accounts/%s/Messages.json?To=%s&"
	    "DateSent%%3E=%s&PageSize=%d", t->api_base, t->sid, n, day,
	    POLL_PAGE_SIZE);
	for (pages = 0; pages < POLL_PAGES_MAX; pages++) {
		const char *next;

		if (http(t, "GET", url, NULL, &r, err, errlen) == -1)
			goto done;
		if (r.status != 200) {
			api_error(&r, "polling messages", &code, err, errlen);
			goto done;
		}
		json_decref(j);
		j = parse_json(&r);
		arr = json_object_get(j, "messages");
		if (!json_is_array(arr)) {
			snprintf(err, errlen, "twilio: polling messages: "
			    "unexpected answer");
			goto done;
		}
		older = 0;
		json_array_foreach(arr, i, m)
			older |= poll_one(m, number, since, cb, arg, &retries);
		next = json_string_value(json_object_get(j, "next_page_uri"));
		/* Newest first: a message older than since ends the walk. */
		if (older || next == NULL || *next != '/' || strstr(next, "://"))
			break;
		free(url);
		url = xasprintf("%s%s", t->api_base, next);
	}
	rc = retries;
done:
	json_decref(j);
	buf_clear(&r.body);
	free(url);
	free(n);
	return rc;
}
