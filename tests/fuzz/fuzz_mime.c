/*
 * libFuzzer target for mime_parse(): any bytes must give either a clean
 * rejection or fields that are valid, NUL-terminated UTF-8.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Abort (so the fuzzer reports it) unless s[0..n) is valid UTF-8. */
static void
check_utf8(const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, k, len;

	if (s == NULL || s[n] != '\0')
		abort();
	while (i < n) {
		if (u[i] == 0)
			abort();
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if (u[i] >= 0xc2 && u[i] <= 0xdf)
			len = 2;
		else if (u[i] >= 0xe0 && u[i] <= 0xef)
			len = 3;
		else if (u[i] >= 0xf0 && u[i] <= 0xf4)
			len = 4;
		else
			abort();
		if (i + len > n)
			abort();
		for (k = 1; k < len; k++)
			if ((u[i + k] & 0xc0) != 0x80)
				abort();
		if ((u[i] == 0xe0 && u[i + 1] < 0xa0) ||
		    (u[i] == 0xed && u[i + 1] > 0x9f) ||
		    (u[i] == 0xf0 && u[i + 1] < 0x90) ||
		    (u[i] == 0xf4 && u[i + 1] > 0x8f))
			abort();
		i += len;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mime_msg	 m;
	const char	*err = NULL;

	if (mime_parse((const char *)data, size, &m, &err) != 0) {
		if (err == NULL)
			abort();
		return 0;
	}
	check_utf8(m.from, strlen(m.from));
	check_utf8(m.from_display, strlen(m.from_display));
	check_utf8(m.subject, strlen(m.subject));
	check_utf8(m.message_id, strlen(m.message_id));
	check_utf8(m.text, m.textlen);
	check_utf8(m.html, m.htmllen);
	mime_clear(&m);
	return 0;
}
