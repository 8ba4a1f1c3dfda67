/*
 * Capped byte buffers (see buf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Grow so that n more bytes plus a NUL fit. */
static void
buf_reserve(struct buf *b, size_t n)
{
	size_t want = b->len + n + 1, cap;

	if (want <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < want)
		cap *= 2;
	b->data = xreallocarray(b->data, cap, 1);
	b->cap = cap;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > b->max || b->len > b->max - n)
		return -1;
	buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_addstr(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int r, n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	r = buf_add(b, s, (size_t)n);
	free(s);
	return r;
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		if (b->data)
			explicit_bzero(b->data, b->len);
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		/* What moved down may be a secret: wipe the old tail. */
		explicit_bzero(b->data + b->len - n, n);
		b->len -= n;
	}
	if (b->data)
		b->data[b->len] = '\0';
}

void
buf_reset(struct buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	b->len = 0;
}

void
buf_clear(struct buf *b)
{
	size_t max = b->max;

	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	buf_init(b, max);
}
