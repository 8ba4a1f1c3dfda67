/*
 * libFuzzer target for everything the webhook parses from the network:
 * the form decoder and Twilio signature check, the JSON-body variant,
 * and the gateway signature and event parser.  The first byte picks the
 * path; the rest is the body (for the gateway: "ts\nsig\nbody").
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms/gateway.h"
#include "sms/twilio_sig.h"

#define TOKEN	"fuzz-token"
#define URL	"https://sms.example.com:443/sms/twilio"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
twilio_path(const char *body, size_t len)
{
	struct twilio_form *f = NULL;
	const char *err = NULL;
	char *sig;

	if (twilio_form_parse(body, len, &f, &err) == -1)
		return;
	(void)twilio_form_get(f, "MessageSid", NULL);
	sig = twilio_sig_compute(TOKEN, URL, f);
	/* What we computed must verify; a tampered one must not. */
	if (sig && !twilio_sig_check(TOKEN, URL, f, sig))
		abort();
	if (sig) {
		sig[0] = sig[0] == 'A' ? 'B' : 'A';
		if (twilio_sig_check(TOKEN, URL, f, sig))
			abort();
	}
	free(sig);
	twilio_form_free(f);
}

static void
gateway_path(const char *in, size_t len)
{
	static const char *numbers[] = { "+15550100001", "+15550100002" };
	const char *nl1, *nl2, *err = NULL;
	char ts[32], sig[80];
	struct gateway_msg m;
	size_t n;

	nl1 = memchr(in, '\n', len);
	if (nl1 == NULL || (size_t)(nl1 - in) >= sizeof(ts))
		goto parse;
	memcpy(ts, in, (size_t)(nl1 - in));
	ts[nl1 - in] = '\0';
	nl2 = memchr(nl1 + 1, '\n', len - (size_t)(nl1 + 1 - in));
	if (nl2 == NULL || (size_t)(nl2 - nl1 - 1) >= sizeof(sig))
		goto parse;
	memcpy(sig, nl1 + 1, (size_t)(nl2 - nl1 - 1));
	sig[nl2 - nl1 - 1] = '\0';
	n = len - (size_t)(nl2 + 1 - in);
	(void)gateway_verify("fuzz-secret", 11, nl2 + 1, n, ts, sig,
	    1700000000LL, &err);
	in = nl2 + 1;
	len = n;
parse:
	(void)gateway_parse(in, len, numbers, 2, &m, &err);
	gateway_msg_free(&m);
	(void)gateway_parse(in, len, numbers, 1, &m, &err);
	gateway_msg_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;

	if (size < 1 || size > 256 * 1024)
		return 0;
	/* NUL-terminated copy, so the string helpers are fuzzed too. */
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		twilio_path(buf, size - 1);
		break;
	case 1:
		gateway_path(buf, size - 1);
		break;
	case 2:
		(void)twilio_sig_check_body(TOKEN, buf, buf, size - 1,
		    "a9nBmqA0ju/hNViExpshrM61xv4=");
		free(twilio_url_with_port(buf));
		free(twilio_url_without_port(buf));
		(void)gateway_parse_time(buf);
		break;
	default:
		(void)twilio_utf8_valid(buf, size - 1);
		(void)gateway_number_eq(buf, "+15550100001");
		break;
	}
	free(buf);
	return 0;
}
