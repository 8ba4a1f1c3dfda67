/*
 * The SMS-gateway webhook: HMAC-SHA256(body || X-Timestamp) in hex, the
 * +-300 s window, and the event parser with its recipient rules.  The
 * vector was computed independently with Python's hmac module.
 */
#include <stdlib.h>
#include <string.h>

#include "sms/gateway.h"
#include "t.h"

#define SECRET	"k3y-for-tests"
#define TS	"1719046000"
#define NOW	1719046000LL
#define SIG	"541cce729e712f0b4aee3cab18160a0393857fd5ee2abd283951fa8067960392"

static const char BODY[] =
    "{\"deviceId\":\"ffffffffceb0b1db0000018e937c815b\",\"event\":\"sms:received\","
    "\"id\":\"Ey6ECgOkVVFjz3CL48B8C\",\"payload\":{\"messageId\":\"abc123\","
    "\"message\":\"Android is always a sweet treat!\",\"phoneNumber\":\"6505551212\","
    "\"simNumber\":1,\"receivedAt\":\"2024-06-22T15:46:11.000+07:00\"},"
    "\"webhookId\":\"LreFUt-Z3sSq0JufY9uWB\"}";

static int
verify(const char *secret, const char *body, const char *ts, const char *sig,
    long long now)
{
	const char *err = NULL;

	return gateway_verify(secret, secret ? strlen(secret) : 0, body,
	    strlen(body), ts, sig, now, &err);
}

static void
test_verify(void)
{
	char *s, up[65], flip[65];
	size_t i;

	s = gateway_sign(SECRET, strlen(SECRET), BODY, strlen(BODY), TS);
	T_STREQ(s, SIG, "gateway sign matches the independent vector");
	free(s);
	T_CHECK(verify(SECRET, BODY, TS, SIG, NOW) == 0, "gateway verify ok");
	for (i = 0; i < 64; i++)
		up[i] = (char)(SIG[i] >= 'a' ? SIG[i] - 32 : SIG[i]);
	up[64] = '\0';
	T_CHECK(verify(SECRET, BODY, TS, up, NOW) == 0, "gateway verify upper-case hex");
	T_CHECK(verify(SECRET, BODY, TS, SIG, NOW + 300) == 0, "gateway window +300 ok");
	T_CHECK(verify(SECRET, BODY, TS, SIG, NOW - 300) == 0, "gateway window -300 ok");
	T_CHECK(verify(SECRET, BODY, TS, SIG, NOW + 301) == -1, "gateway window +301 rejected");
	T_CHECK(verify(SECRET, BODY, TS, SIG, NOW - 301) == -1, "gateway window -301 rejected");
	T_CHECK(verify("other", BODY, TS, SIG, NOW) == -1, "gateway wrong secret");
	T_CHECK(verify(NULL, BODY, TS, SIG, NOW) == -1, "gateway no secret");
	T_CHECK(verify(SECRET, BODY, "1719046001", SIG, NOW) == -1,
	    "gateway timestamp not the signed one");
	T_CHECK(verify(SECRET, BODY, NULL, SIG, NOW) == -1, "gateway no timestamp");
	T_CHECK(verify(SECRET, BODY, TS, NULL, NOW) == -1, "gateway no signature");
	T_CHECK(verify(SECRET, BODY, "", SIG, NOW) == -1, "gateway empty timestamp");
	T_CHECK(verify(SECRET, BODY, "+1719046000", SIG, NOW) == -1,
	    "gateway signed timestamp");
	T_CHECK(verify(SECRET, BODY, "1719046000.0", SIG, NOW) == -1,
	    "gateway fractional timestamp");
	T_CHECK(verify(SECRET, BODY, "99999999999999999999999", SIG, NOW) == -1,
	    "gateway huge timestamp");
	T_CHECK(verify(SECRET, BODY, TS, "", NOW) == -1, "gateway empty signature");
	T_CHECK(verify(SECRET, BODY, TS, "zz", NOW) == -1, "gateway short signature");
	memcpy(flip, SIG, 65);
	flip[63] = flip[63] == '2' ? '3' : '2';
	T_CHECK(verify(SECRET, BODY, TS, flip, NOW) == -1, "gateway flipped signature");
	memcpy(flip, SIG, 65);
	flip[10] = 'g';
	T_CHECK(verify(SECRET, BODY, TS, flip, NOW) == -1, "gateway non-hex signature");
	{
		char body2[sizeof(BODY)];

		memcpy(body2, BODY, sizeof(BODY));
		body2[120] ^= 1;
		T_CHECK(verify(SECRET, body2, TS, SIG, NOW) == -1,
		    "gateway body bit flip");
	}
}

static void
test_parse(void)
{
	static const char *one[] = { "+16505550000" };
	static const char *two[] = { "+16505550000", "+16505550001" };
	struct gateway_msg m;
	const char *err = NULL;
	enum gateway_kind k;

	k = gateway_parse(BODY, strlen(BODY), one, 1, &m, &err);
	T_CHECK(k == GATEWAY_SMS, "gateway parse sms:received");
	if (k == GATEWAY_SMS) {
		T_STREQ(m.from, "6505551212", "gateway from = phoneNumber");
		T_STREQ(m.to, "+16505550000", "gateway single number is the recipient");
		T_STREQ(m.text, "Android is always a sweet treat!", "gateway text");
		T_STREQ(m.provider_id, "gw:Ey6ECgOkVVFjz3CL48B8C", "gateway provider id = event id");
		T_CHECK(m.received_at == 1719045971, "gateway receivedAt with offset");
		gateway_msg_free(&m);
	}
	k = gateway_parse(BODY, strlen(BODY), two, 2, &m, &err);
	T_CHECK(k == GATEWAY_SMS && strcmp(m.to, "+16505550000") == 0,
	    "gateway simNumber picks the slot");
	if (k == GATEWAY_SMS)
		gateway_msg_free(&m);
	{
		static const char b[] = "{\"event\":\"sms:received\",\"id\":\"e1\","
		    "\"payload\":{\"messageId\":\"m\",\"message\":\"code 123456\","
		    "\"sender\":\"+15550001111\",\"phoneNumber\":\"+15550001111\","
		    "\"recipient\":\"(650) 555-0001\",\"simNumber\":1}}";

		k = gateway_parse(b, strlen(b), two, 2, &m, &err);
		T_CHECK(k == GATEWAY_SMS && strcmp(m.to, "+16505550001") == 0 &&
		    strcmp(m.from, "+15550001111") == 0 && m.received_at == 0,
		    "gateway recipient wins over simNumber");
		if (k == GATEWAY_SMS)
			gateway_msg_free(&m);
	}
	{
		static const char b[] = "{\"event\":\"sms:received\",\"id\":\"e1\","
		    "\"payload\":{\"messageId\":\"m\",\"message\":\"x\","
		    "\"sender\":\"+1555\",\"recipient\":\"+447700900123\"}}";

		T_CHECK(gateway_parse(b, strlen(b), one, 1, &m, &err) ==
		    GATEWAY_UNKNOWN, "gateway foreign recipient unknown");
	}
	{
		static const char b[] = "{\"event\":\"sms:received\",\"id\":\"e1\","
		    "\"payload\":{\"messageId\":\"m\",\"message\":\"x\",\"sender\":\"+1555\"}}";

		T_CHECK(gateway_parse(b, strlen(b), two, 2, &m, &err) ==
		    GATEWAY_UNKNOWN, "gateway two numbers no hint unknown");
	}
	{
		static const char b[] = "{\"event\":\"sms:sent\",\"id\":\"e1\",\"payload\":{}}";

		T_CHECK(gateway_parse(b, strlen(b), one, 1, &m, &err) ==
		    GATEWAY_OTHER, "gateway other event ignored");
		gateway_msg_free(&m);
	}
	{
		static const char *bad[] = {
			"", "[]", "{", "null", "{\"event\":1}",
			"{\"event\":\"sms:received\"}",
			"{\"event\":\"sms:received\",\"payload\":[]}",
			"{\"event\":\"sms:received\",\"id\":\"e\",\"payload\":{\"message\":\"x\"}}",
			"{\"event\":\"sms:received\",\"id\":\"e\",\"payload\":{\"sender\":\"+1\"}}",
			"{\"event\":\"sms:received\",\"payload\":{\"sender\":\"+1\",\"message\":\"x\"}}",
			"{\"event\":\"sms:received\",\"id\":\"e\",\"payload\":{\"sender\":5,\"message\":\"x\"}}",
			"{\"event\":\"sms:received\",\"id\":\"e\",\"payload\":{\"sender\":\"+1\",\"message\":\"x\",\"receivedAt\":\"yesterday\"}}",
			"{\"event\":\"sms:received\",\"event\":\"sms:received\",\"id\":\"e\",\"payload\":{\"sender\":\"+1\",\"message\":\"x\"}}",
			"{\"event\":\"sms:received\",\"id\":\"e\",\"payload\":{\"sender\":\"+1\",\"message\":\"a\\u0000b\"}}",
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			T_CHECK(gateway_parse(bad[i], strlen(bad[i]), one, 1, &m,
			    &err) == GATEWAY_BAD, "gateway rejects bad body %zu", i);
	}
}

static void
test_misc(void)
{
	T_CHECK(gateway_parse_time("1970-01-01T00:00:00Z") == 0, "time epoch");
	T_CHECK(gateway_parse_time("2024-06-22T08:46:11Z") == 1719045971, "time Z");
	T_CHECK(gateway_parse_time("2024-06-22T03:46:11.5-05:00") == 1719045971,
	    "time negative offset");
	T_CHECK(gateway_parse_time("2024-06-22T15:46:11+0700") == 1719045971,
	    "time offset without colon");
	T_CHECK(gateway_parse_time("2024-06-22T15:46:11") == -1, "time needs a zone");
	T_CHECK(gateway_parse_time("2024-13-22T15:46:11Z") == -1, "time bad month");
	T_CHECK(gateway_parse_time("2024-06-22T15:46:11Zx") == -1, "time trailing junk");
	T_CHECK(gateway_number_eq("+16505551212", "6505551212"), "number national form");
	T_CHECK(gateway_number_eq("+1 (650) 555-1212", "+16505551212"), "number formatting");
	T_CHECK(!gateway_number_eq("+16505551212", "+16505551213"), "number differs");
	T_CHECK(!gateway_number_eq("+16505551212", "1212"), "number short suffix");
	T_CHECK(!gateway_number_eq("+1650555121x", "+1650555121"), "number junk");
	T_CHECK(!gateway_number_eq("", ""), "number empty");
}

int
main(void)
{
	test_verify();
	test_parse();
	test_misc();
	return t_done();
}
