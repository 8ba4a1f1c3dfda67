/*
 * fuzz_extract: libFuzzer target for extract_run().  The first byte picks
 * SMS or email; the rest is split at NUL bytes into subject, text and
 * HTML, so one input exercises the code scanner and the link scanner.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "extract/extract.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct extract_input in;
	struct extract_result res;
	const char *p, *part[3] = { NULL, NULL, NULL };
	size_t len[3] = { 0, 0, 0 }, n, i, k;
	char dom[EXTRACT_ORIGIN_MAX];

	if (size < 1)
		return 0;
	memset(&in, 0, sizeof(in));
	in.kind = (data[0] & 1) ? EXTRACT_EMAIL : EXTRACT_SMS;
	p = (const char *)data + 1;
	n = size - 1;
	for (k = 0; k < 3; k++) {
		const char *z;

		part[k] = p;
		z = k < 2 ? memchr(p, '\0', n) : NULL;
		len[k] = z ? (size_t)(z - p) : n;
		if (z == NULL)
			break;
		n -= len[k] + 1;
		p = z + 1;
	}
	if (k == 0 || part[1] == NULL) {
		/* One part: the whole text, as an SMS body or mail text. */
		in.text = part[0];
		in.textlen = len[0];
		if (in.kind == EXTRACT_EMAIL) {
			in.html = part[0];
			in.htmllen = len[0];
		}
	} else {
		in.subject = part[0];
		in.subjectlen = len[0];
		in.text = part[1];
		in.textlen = len[1];
		in.html = part[2];
		in.htmllen = part[2] ? len[2] : 0;
	}
	extract_run(&in, &res);
	if (res.ncodes > EXTRACT_MAX_CODES || res.nlinks > EXTRACT_MAX_LINKS)
		__builtin_trap();
	for (i = 0; i < res.ncodes; i++)
		if (strlen(res.codes[i].value) == 0 ||
		    res.codes[i].confidence < 0 || res.codes[i].confidence > 1 ||
		    res.codes[i].rule == NULL)
			__builtin_trap();
	for (i = 0; i < res.nlinks; i++) {
		if (res.links[i].confidence < 0 || res.links[i].confidence > 1 ||
		    res.links[i].rule == NULL)
			__builtin_trap();
		extract_domain(res.links[i].url, dom, sizeof(dom));
	}
	/* extract_domain takes a C string: feed it the text part. */
	if (in.textlen < 4096) {
		char host[4096];

		memcpy(host, in.text ? in.text : "", in.textlen);
		host[in.textlen] = '\0';
		extract_domain(host, dom, sizeof(dom));
	}
	return 0;
}
