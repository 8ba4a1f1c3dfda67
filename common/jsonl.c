/*
 * Newline-delimited JSON framing shared by the daemon and the CLI.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/jsonl.h"

enum jsonl_status
jsonl_next(struct buf *b, json_t **out, const char **errstr)
{
	static char msg[160];
	json_error_t jerr;
	char *nl;
	size_t n;
	json_t *o;

	*out = NULL;
	if (b->len == 0)
		return JSONL_MORE;
	nl = memchr(b->data, '\n', b->len);
	if (nl == NULL)
		return b->len > JSONL_MAX_LINE ? JSONL_TOOBIG : JSONL_MORE;
	n = (size_t)(nl - b->data);
	if (n > JSONL_MAX_LINE) {
		buf_consume(b, n + 1);
		return JSONL_TOOBIG;
	}
	o = json_loadb(b->data, n, JSON_REJECT_DUPLICATES, &jerr);
	buf_consume(b, n + 1);
	if (o == NULL) {
		/* jansson's text may quote a little of the input (e.g. a
		 * token): it goes back to the same client only, never to a
		 * log. */
		snprintf(msg, sizeof(msg), "invalid JSON: %.120s", jerr.text);
		*errstr = msg;
		return JSONL_BAD;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		*errstr = "request is not a JSON object";
		return JSONL_BAD;
	}
	*out = o;
	return JSONL_OK;
}

char *
jsonl_dump(const json_t *o, size_t *len)
{
	char *s, *r;
	size_t n;

	s = json_dumps(o, JSON_COMPACT);
	if (s == NULL)
		return NULL;
	n = strlen(s);
	r = realloc(s, n + 2);
	if (r == NULL) {
		free(s);
		return NULL;
	}
	r[n] = '\n';
	r[n + 1] = '\0';
	if (len)
		*len = n + 1;
	return r;
}

int
jsonl_write_all(int fd, const char *s, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, s, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		s += w;
		len -= (size_t)w;
	}
	return 0;
}

enum jsonl_status
jsonl_read(int fd, struct buf *b, int timeout_ms, json_t **out,
    const char **errstr)
{
	long long deadline = timeout_ms < 0 ? -1 : clock_ms() + timeout_ms;
	char chunk[4096];

	for (;;) {
		enum jsonl_status st = jsonl_next(b, out, errstr);
		struct pollfd pfd = { fd, POLLIN, 0 };
		int wait, r;
		ssize_t n;

		if (st == JSONL_OK || st == JSONL_BAD)
			return st;
		if (st == JSONL_TOOBIG) {
			*errstr = "too long";
			return JSONL_BAD;
		}
		wait = -1;
		if (deadline >= 0) {
			long long left = deadline - clock_ms();

			if (left <= 0) {
				*errstr = "timeout";
				return JSONL_BAD;
			}
			wait = (int)left;
		}
		r = poll(&pfd, 1, wait);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*errstr = "poll failed";
			return JSONL_BAD;
		}
		if (r == 0)
			continue;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			*errstr = "closed";
			return JSONL_BAD;
		}
		if (buf_add(b, chunk, (size_t)n) == -1) {
			*errstr = "too long";
			return JSONL_BAD;
		}
	}
}
