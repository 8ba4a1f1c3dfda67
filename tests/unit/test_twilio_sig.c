/*
 * Twilio request signatures: every published vector (token 12345, the
 * myapp.php URL family), positive and negative, and the form parser.
 */
#include <stdlib.h>
#include <string.h>

#include "sms/twilio.h"
#include "sms/twilio_sig.h"
#include "t.h"

#define TOKEN	"12345"
#define BASE	"mycompany.com/myapp.php?foo=1&bar=2"
#define PARAMS	"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&" \
		"From=%2B14158675309&To=%2B18005551212"
#define BODYHASH "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"

struct vec {
	const char *name;
	const char *url;	/* URL given to the validator */
	const char *sig;
	int ok;
};

static const struct vec vectors[] = {
	{ "v1 plain https", "https://" BASE, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 1 },
	{ "v2 custom port stripped", "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
	  "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 1 },
	{ "v3 adds :443", "https://" BASE, "kvajT1Ptam85bY51eRf/AJRuM3w=", 1 },
	{ "v4 adds :80", "http://" BASE, "0ZXoZLH/DfblKGATFgpif+LLRf4=", 1 },
	{ "v5 http custom port", "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
	  "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=", 1 },
	{ "v6 https custom port kept", "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
	  "CYn1h0gLBdNxDGkKJg6hYohgeD8=", 1 },
	{ "v7 mixed case host", "https://MyCompany.com/myapp.php?foo=1&bar=2",
	  "g9IN/x4Cft2g517EjYvEvM/W7LU=", 1 },
	{ "v8 mixed case host port", "https://MyCompany.com:1234/myapp.php?foo=1&bar=2",
	  "PCqOZm8cnu/L6+u5i5fuEd+Iac4=", 1 },
	{ "v9 mixed case http", "http://MyCompany.com/myapp.php?foo=1&bar=2",
	  "XY7AlKOKL6im4yWyX84gldUrtis=", 1 },
	{ "v10 user:pass", "https://user:pass@" BASE, "CukzLTc1tT5dXEDIHm/tKBanW10=", 1 },
	{ "v11 user only", "https://user@" BASE, "2YRLlVAflCqxaNicjMpJcSTgzSs=", 1 },
	{ "v12 user:pass adds :443", "https://user:pass@" BASE,
	  "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=", 1 },
	{ "v13 credentials preserved",
	  "http://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
	  "PJ08CxXr7KLPjEQCTc8LkUSMwSM=", 1 },
	{ "v14 uppercase scheme",
	  "HTTP://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
	  "hy/l8pca+LFms4cvRdv8uiP6NGc=", 1 },
	{ "v15 mixed case credentials",
	  "http://Username:Password@MyCompany.com/myapp.php?foo=1&bar=2",
	  "SkTSKyDJH9kUlhItI0slbgZ1UsI=", 1 },
	/* negatives */
	{ "neg NOT prefix", "https://" BASE, "NOTRSOYDt4T1cUTdK1PDd93/VVr8B8=", 0 },
	{ "neg WRONG SIGNATURE", "https://" BASE, "WRONG SIGNATURE", 0 },
	{ "neg fake_signature", "https://" BASE, "fake_signature", 0 },
	{ "neg empty", "https://" BASE, "", 0 },
	{ "neg v1 for mixed case v7", "https://MyCompany.com/myapp.php?foo=1&bar=2",
	  "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 0 },
	{ "neg v1 for mixed case v8", "https://MyCompany.com:1234/myapp.php?foo=1&bar=2",
	  "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 0 },
	{ "neg v1 for mixed case v9", "http://MyCompany.com/myapp.php?foo=1&bar=2",
	  "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 0 },
	{ "neg v1 on other path", "https://mycompany.com/other.php?foo=1&bar=2",
	  "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 0 },
	{ "neg v1 on http", "http://" BASE, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", 0 },
	{ "neg v1 bit flip", "https://" BASE, "RSOYDt4T1cUTdK1PDd93/VVr8B9=", 0 },
	{ "neg v1 lowercase", "https://" BASE, "rsoydt4t1cutdk1pdd93/vvr8b8=", 0 },
	{ "neg v10 without creds", "https://" BASE, "CukzLTc1tT5dXEDIHm/tKBanW10=", 0 },
	{ "neg v14 on lowercase scheme",
	  "http://username:password@MyCompany.com/myapp.php?foo=1&bar=2",
	  "hy/l8pca+LFms4cvRdv8uiP6NGc=", 0 },
};

struct formcase {
	const char *in;
	int ok;
	size_t n;
	const char *name, *value;	/* expected first pair */
};

static const struct formcase forms[] = {
	{ "", 1, 0, NULL, NULL },
	{ "a=1", 1, 1, "a", "1" },
	{ "a=1&b=2", 1, 2, "a", "1" },
	{ "Body=Hello+world", 1, 1, "Body", "Hello world" },
	{ "Body=a%2Bb%20c", 1, 1, "Body", "a+b c" },
	{ "From=%2B15551230001", 1, 1, "From", "+15551230001" },
	{ "Body=%E2%9C%93", 1, 1, "Body", "\xe2\x9c\x93" },
	{ "Body=caf%C3%A9", 1, 1, "Body", "caf\xc3\xa9" },
	{ "a", 1, 1, "a", "" },
	{ "a=", 1, 1, "a", "" },
	{ "a=1&&b=2&", 1, 2, "a", "1" },
	{ "a=x=y", 1, 1, "a", "x=y" },
	{ "%41=b", 1, 1, "A", "b" },
	{ "=1", 0, 0, NULL, NULL },
	{ "a=%00", 0, 0, NULL, NULL },
	{ "a=%", 0, 0, NULL, NULL },
	{ "a=%4", 0, 0, NULL, NULL },
	{ "a=%G0", 0, 0, NULL, NULL },
	{ "a=%C3", 0, 0, NULL, NULL },
	{ "a=%C0%80", 0, 0, NULL, NULL },
	{ "a=%ED%A0%80", 0, 0, NULL, NULL },
	{ "a=%F4%90%80%80", 0, 0, NULL, NULL },
	{ "a=%FF", 0, 0, NULL, NULL },
	{ "a=\xff", 0, 0, NULL, NULL },
	{ "%ZZ=1", 0, 0, NULL, NULL },
};

static void
test_vectors(void)
{
	struct twilio_form *f = NULL;
	const char *err = NULL;
	size_t i;

	T_CHECK(twilio_form_parse(PARAMS, strlen(PARAMS), &f, &err) == 0,
	    "vector params parse");
	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const struct vec *v = &vectors[i];
		int got = twilio_sig_check(TOKEN, v->url, f, v->sig);

		T_CHECK(got == v->ok, "twilio sig %s", v->name);
	}
	/* The exact signed string of row 1. */
	{
		char *s = twilio_sig_compute(TOKEN, "https://" BASE, f);

		T_STREQ(s, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", "twilio sig compute v1");
		free(s);
	}
	T_CHECK(!twilio_sig_check("54321", "https://" BASE, f,
	    "RSOYDt4T1cUTdK1PDd93/VVr8B8="), "twilio sig wrong token");
	T_CHECK(!twilio_sig_check("", "https://" BASE, f,
	    "RSOYDt4T1cUTdK1PDd93/VVr8B8="), "twilio sig empty token");
	T_CHECK(!twilio_sig_check(TOKEN, "https://" BASE, f, NULL),
	    "twilio sig missing header");
	T_CHECK(!twilio_sig_check(TOKEN, "https://" BASE, NULL,
	    "RSOYDt4T1cUTdK1PDd93/VVr8B8="), "twilio sig params dropped");
	twilio_form_free(f);

	/* A parameter changed, added or dropped breaks the signature. */
	{
		static const char *mut[] = {
			"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1235&"
			"From=%2B14158675309&To=%2B18005551212",
			"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
			"From=%2B14158675309",
			"CallSid=CA1234567890ABCDE&Caller=%2B14158675309&Digits=1234&"
			"From=%2B14158675309&To=%2B18005551212&X=",
			"CallSid=CA1234567890ABCDE&Caller=+14158675309&Digits=1234&"
			"From=%2B14158675309&To=%2B18005551212",
		};
		for (i = 0; i < sizeof(mut) / sizeof(mut[0]); i++) {
			f = NULL;
			T_CHECK(twilio_form_parse(mut[i], strlen(mut[i]), &f,
			    &err) == 0 && !twilio_sig_check(TOKEN, "https://" BASE,
			    f, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
			    "twilio sig mutated params %zu", i);
			twilio_form_free(f);
		}
	}
}

static void
test_duplicates(void)
{
	static const char *dup = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234";
	static const char *triple =
	    "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
	struct twilio_form *f = NULL;
	const char *err;
	size_t n = 0;

	T_CHECK(twilio_form_parse(dup, strlen(dup), &f, &err) == 0,
	    "dup params parse");
	T_CHECK(twilio_sig_check(TOKEN, "https://" BASE, f,
	    "IK+Dwps556ElfBT0I3Rgjkr1wJU="), "twilio sig v16 repeated name");
	T_CHECK(twilio_form_get(f, "Digits", &n) != NULL && n == 2,
	    "form get counts repeats");
	twilio_form_free(f);
	f = NULL;
	/* No de-duplication: the derived triple vector. */
	T_CHECK(twilio_form_parse(triple, strlen(triple), &f, &err) == 0 &&
	    twilio_sig_check(TOKEN, "https://" BASE, f,
	    "tM//N+MVWOh7+ol2z8YCNxSY0Eg=") &&
	    !twilio_sig_check(TOKEN, "https://" BASE, f,
	    "IK+Dwps556ElfBT0I3Rgjkr1wJU="), "twilio sig triple no dedupe");
	twilio_form_free(f);
}

static void
test_body(void)
{
	static const char body[] = "{\"property\": \"value\", \"boolean\": true}";
	static const char bad[] = "{\"property\": \"value\", \"boolean\": false}";
	const char *u19 = "https://" BASE "&bodySHA256=" BODYHASH;
	const char *u20 = "https://mycompany.com/myapp.php?bodySHA256=" BODYHASH;

	T_CHECK(twilio_sig_check_body(TOKEN, u19, body, strlen(body),
	    "a9nBmqA0ju/hNViExpshrM61xv4="), "twilio sig v19 bodySHA256");
	T_CHECK(twilio_sig_check_body(TOKEN, u20, body, strlen(body),
	    "y77kIzt2vzLz71DgmJGsen2scGs="), "twilio sig v20 bodySHA256 only");
	T_CHECK(!twilio_sig_check_body(TOKEN, u19, bad, strlen(bad),
	    "a9nBmqA0ju/hNViExpshrM61xv4="), "twilio sig v19 body changed");
	T_CHECK(!twilio_sig_check_body(TOKEN, "https://" BASE, body,
	    strlen(body), "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
	    "twilio sig v1 with JSON body and no bodySHA256");
	T_CHECK(!twilio_sig_check_body(TOKEN, u19, body, strlen(body),
	    "y77kIzt2vzLz71DgmJGsen2scGs="), "twilio sig v20 sig on v19 url");
}

static void
test_urls(void)
{
	char *s;

	s = twilio_url_without_port("https://user:pass@h.example:8443/p?x=1");
	T_STREQ(s, "https://user:pass@h.example/p?x=1", "url without port keeps userinfo");
	free(s);
	s = twilio_url_with_port("https://user:pass@h.example/p?x=1");
	T_STREQ(s, "https://user:pass@h.example:443/p?x=1", "url with port keeps userinfo");
	free(s);
	s = twilio_url_with_port("http://[::1]/sms/twilio");
	T_STREQ(s, "http://[::1]:80/sms/twilio", "url with port ipv6");
	free(s);
	s = twilio_url_without_port("http://[::1]:8787/sms/twilio");
	T_STREQ(s, "http://[::1]/sms/twilio", "url without port ipv6");
	free(s);
	T_CHECK(twilio_url_without_port("https://h.example/p:1") == NULL,
	    "url without port: colon in path is no port");
	T_CHECK(twilio_url_with_port("https://h.example:1/p") == NULL,
	    "url with port: already has one");
	T_CHECK(twilio_url_with_port("nourl") == NULL, "url with port: not a URL");
}

static void
test_forms(void)
{
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		const struct formcase *c = &forms[i];
		struct twilio_form *f = NULL;
		const char *err = NULL;
		int rc = twilio_form_parse(c->in, strlen(c->in), &f, &err);

		if (!c->ok) {
			T_CHECK(rc == -1 && f == NULL && err != NULL,
			    "form rejects case %zu", i);
			continue;
		}
		T_CHECK(rc == 0 && f && f->n == c->n &&
		    (c->n == 0 || (strcmp(f->p[0].name, c->name) == 0 &&
		    strcmp(f->p[0].value, c->value) == 0)),
		    "form parses case %zu", i);
		twilio_form_free(f);
	}
	/* NUL inside the raw body (not only %00). */
	{
		static const char raw[] = "a=1\0b";
		struct twilio_form *f = NULL;
		const char *err;

		T_CHECK(twilio_form_parse(raw, sizeof(raw) - 1, &f, &err) == -1,
		    "form rejects raw NUL");
	}
	/* The count bound. */
	{
		char big[TWILIO_FORM_MAX_PARAMS * 8 + 16];
		size_t o = 0;
		struct twilio_form *f = NULL;
		const char *err;

		for (i = 0; i < TWILIO_FORM_MAX_PARAMS; i++)
			o += (size_t)snprintf(big + o, sizeof(big) - o, "p%zu=1&", i);
		T_CHECK(twilio_form_parse(big, o, &f, &err) == 0 &&
		    f->n == TWILIO_FORM_MAX_PARAMS, "form at max params");
		twilio_form_free(f);
		f = NULL;
		o += (size_t)snprintf(big + o, sizeof(big) - o, "z=1");
		T_CHECK(twilio_form_parse(big, o, &f, &err) == -1,
		    "form over max params");
	}
}

/* The REST client's pure parts: dates from Messages.json, api_base. */
static void
test_client(void)
{
	char err[256];
	struct twilio *tw;

	T_CHECK(twilio_parse_date("Wed, 18 Aug 2010 20:01:40 +0000") ==
	    1282161700LL, "twilio date +0000");
	T_CHECK(twilio_parse_date("Wed, 18 Aug 2010 22:01:40 +0200") ==
	    1282161700LL, "twilio date +0200");
	T_CHECK(twilio_parse_date("Wed, 18 Aug 2010 20:01:40 GMT") ==
	    1282161700LL, "twilio date GMT");
	T_CHECK(twilio_parse_date("18 Aug 2010 20:01:40 +0000") ==
	    1282161700LL, "twilio date without weekday");
	T_CHECK(twilio_parse_date("Wed, 18 Foo 2010 20:01:40 +0000") == -1,
	    "twilio date bad month");
	T_CHECK(twilio_parse_date("2010-08-18T20:01:40Z") == -1,
	    "twilio date wrong format");
	T_CHECK(twilio_parse_date(NULL) == -1, "twilio date null");
	tw = twilio_new("http://api.twilio.com", "AC1", "t", err, sizeof(err));
	T_CHECK(tw == NULL, "twilio client refuses plain http off loopback");
	tw = twilio_new("ftp://127.0.0.1", "AC1", "t", err, sizeof(err));
	T_CHECK(tw == NULL, "twilio client refuses other schemes");
	tw = twilio_new("https://api.twilio.com", "AC1/../x", "t", err,
	    sizeof(err));
	T_CHECK(tw == NULL, "twilio client refuses a sid that edits the path");
	tw = twilio_new("https://api.twilio.com", "AC1", "", err, sizeof(err));
	T_CHECK(tw == NULL, "twilio client refuses an empty token");
	tw = twilio_new("http://127.0.0.1:9/", "AC1", "t", err, sizeof(err));
	T_CHECK(tw != NULL, "twilio client takes http on loopback (tests)");
	twilio_free(tw);
	tw = twilio_new("https://api.twilio.com", "AC1", "t", err, sizeof(err));
	T_CHECK(tw != NULL, "twilio client takes https");
	twilio_free(tw);
}

int
main(void)
{
	test_vectors();
	test_duplicates();
	test_body();
	test_urls();
	test_forms();
	test_client();
	return t_done();
}
