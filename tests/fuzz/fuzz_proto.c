/*
 * libFuzzer target for the socket protocol framing: bytes arrive in
 * arbitrary chunks into a capped buffer, as in the daemon's connection
 * reader, and go through jsonl_next(); every parsed request is checked
 * against the agent and admin request shapes (the server's own checks are
 * static in provisioner/server.c and admin.c, so their field types and
 * bounds are restated here), then dumped and parsed back, which must give
 * an equal object.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/jsonl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Optional string of at most max bytes: 1 ok (or absent), 0 bad. */
static int
opt_str(json_t *req, const char *key, size_t max)
{
	json_t *v = json_object_get(req, key);

	if (v == NULL || json_is_null(v))
		return 1;
	if (!json_is_string(v) || json_string_length(v) > max)
		return 0;
	/* jansson keeps a NUL-terminated copy; the length must agree. */
	if (strlen(json_string_value(v)) > json_string_length(v))
		abort();
	return 1;
}

static int
opt_int(json_t *req, const char *key, long long min, long long max)
{
	json_t *v = json_object_get(req, key);
	long long n;

	if (v == NULL || json_is_null(v))
		return 1;
	if (json_is_integer(v))
		n = json_integer_value(v);
	else if (json_is_real(v)) {
		double r = json_real_value(v);

		/* The server casts; out of range must be refused first. */
		if (!(r >= -9.2e18 && r <= 9.2e18))
			return 0;
		n = (long long)r;
	} else
		return 0;
	return n >= min && n <= max;
}

static int
one_of(json_t *req, const char *key, const char *const *set)
{
	json_t *v = json_object_get(req, key);
	size_t i;

	if (v == NULL || json_is_null(v))
		return 1;
	if (!json_is_string(v))
		return 0;
	for (i = 0; set[i]; i++)
		if (strcmp(json_string_value(v), set[i]) == 0)
			return 1;
	return 0;
}

/* The agent socket's request shape (DESIGN §6). */
static int
agent_ok(json_t *req)
{
	static const char *const kinds[] = { "any", "code", "link", NULL };
	static const char *const chans[] = { "any", "sms", "email", NULL };
	static const char *const ops[] = { "hello", "whoami", "wait", "list",
	    NULL };
	json_t *op = json_object_get(req, "op");

	if (!json_is_string(op) || !one_of(req, "op", ops))
		return 0;
	return opt_str(req, "token", 4096) && one_of(req, "kind", kinds) &&
	    one_of(req, "channel", chans) && opt_str(req, "from", 255) &&
	    opt_str(req, "origin", 255) &&
	    opt_int(req, "since", 0, (long long)1 << 40) &&
	    opt_int(req, "timeout", 0, 300) && opt_int(req, "v", 1, 1);
}

/* The admin socket's request shape (docs/protocol.md). */
static int
admin_ok(json_t *req)
{
	json_t *v;
	const char *key;
	int ok = 1;

	json_object_foreach(req, key, v) {
		if (strcmp(key, "verify") == 0 || strcmp(key, "email") == 0 ||
		    strcmp(key, "phone") == 0)
			ok &= json_is_boolean(v);
		else if (strcmp(key, "id") == 0 || strcmp(key, "uid") == 0)
			ok &= json_is_integer(v);
		else if (strcmp(key, "text") == 0)
			ok &= json_is_string(v) &&
			    json_string_length(v) <= 1024 * 1024;
	}
	return ok && opt_str(req, "name", 32) && opt_str(req, "op", 32);
}

/* Dump o and parse it back: the daemon's answers go through the same
 * two functions on the client side. */
static void
round_trip(json_t *o)
{
	struct buf b;
	const char *err = NULL;
	json_t *back = NULL;
	size_t len;
	char *s = jsonl_dump(o, &len);

	if (s == NULL)
		return;
	if (len == 0 || s[len - 1] != '\n' || memchr(s, '\n', len - 1))
		abort();	/* one line, always */
	buf_init(&b, len + 1);
	if (buf_add(&b, s, len) == -1)
		abort();
	if (len - 1 <= JSONL_MAX_LINE) {
		if (jsonl_next(&b, &back, &err) != JSONL_OK ||
		    !json_equal(o, back))
			abort();
		if (b.len != 0)
			abort();
	}
	json_decref(back);
	buf_clear(&b);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b;
	const char *err;
	json_t *req;
	size_t off = 1, chunk;
	enum jsonl_status st;

	if (size < 1)
		return 0;
	/* First byte: the read size, as a peer controls how bytes
	 * arrive. */
	chunk = 1 + (size_t)data[0] * 37;
	buf_init(&b, JSONL_MAX_LINE + 256 + 8192);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (buf_add(&b, data + off, n) == -1)
			break;		/* the server closes here */
		off += n;
		for (;;) {
			size_t before = b.len;

			err = NULL;
			st = jsonl_next(&b, &req, &err);
			if (st == JSONL_MORE)
				break;
			if (st == JSONL_TOOBIG)
				goto done;	/* the server closes too */
			if (b.len >= before)
				abort();	/* a line was not consumed */
			if (st == JSONL_BAD) {
				if (err == NULL || req != NULL)
					abort();
				continue;
			}
			if (!json_is_object(req))
				abort();
			(void)agent_ok(req);
			(void)admin_ok(req);
			round_trip(req);
			json_decref(req);
		}
	}
done:
	buf_clear(&b);
	return 0;
}
