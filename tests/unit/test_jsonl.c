/*
 * JSON-lines framing: complete lines, partial lines, the 64 KiB cap,
 * bad lines that leave the stream usable.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonl.h"
#include "common/xmalloc.h"
#include "t.h"

int
main(void)
{
	static const struct {
		const char		*in;
		enum jsonl_status	 want;
		const char		*name;
	} cases[] = {
		{ "{\"op\":\"hello\"}\n", JSONL_OK, "object" },
		{ "{\"op\":\"hello\"}", JSONL_MORE, "no newline yet" },
		{ "", JSONL_MORE, "empty buffer" },
		{ "[1,2]\n", JSONL_BAD, "array is not a request" },
		{ "\"s\"\n", JSONL_BAD, "string is not a request" },
		{ "{bad\n", JSONL_BAD, "malformed" },
		{ "{\"a\":1,\"a\":2}\n", JSONL_BAD, "duplicate keys" },
		{ "{\"a\":\"\\u0000\"}\n", JSONL_BAD, "NUL in a string" },
		{ "{\"a\":\"\xff\"}\n", JSONL_BAD, "invalid UTF-8" },
		{ "{} trailing\n", JSONL_BAD, "trailing garbage" },
		{ "\n", JSONL_BAD, "empty line" },
	};
	struct buf b;
	const char *err;
	json_t *o;
	size_t i, len;
	char *big, *s;
	int fds[2];

	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		buf_init(&b, JSONL_MAX_LINE + 4096);
		buf_addstr(&b, cases[i].in);
		T_CHECK(jsonl_next(&b, &o, &err) == cases[i].want, "jsonl: %s",
		    cases[i].name);
		json_decref(o);
		buf_clear(&b);
	}

	/* Two lines in one read, then a bad one, then a good one. */
	buf_init(&b, JSONL_MAX_LINE + 4096);
	buf_addstr(&b, "{\"n\":1}\n{\"n\":2}\n{x\n{\"n\":3}\n");
	T_CHECK(jsonl_next(&b, &o, &err) == JSONL_OK &&
	    json_integer_value(json_object_get(o, "n")) == 1, "first of many");
	json_decref(o);
	T_CHECK(jsonl_next(&b, &o, &err) == JSONL_OK &&
	    json_integer_value(json_object_get(o, "n")) == 2, "second");
	json_decref(o);
	T_CHECK(jsonl_next(&b, &o, &err) == JSONL_BAD, "bad line in between");
	T_CHECK(jsonl_next(&b, &o, &err) == JSONL_OK &&
	    json_integer_value(json_object_get(o, "n")) == 3,
	    "stream usable after a bad line");
	json_decref(o);
	T_CHECK(jsonl_next(&b, &o, &err) == JSONL_MORE, "then empty");
	buf_clear(&b);

	/* The cap: a line of exactly 64 KiB parses; one byte more does not. */
	big = xmalloc(JSONL_MAX_LINE + 2);
	memset(big, ' ', JSONL_MAX_LINE);
	memcpy(big, "{\"a\":1}", 7);
	big[JSONL_MAX_LINE] = '\n';
	buf_init(&b, JSONL_MAX_LINE + 4096);
	buf_add(&b, big, JSONL_MAX_LINE + 1);
	T_CHECK(jsonl_next(&b, &o, &err) == JSONL_OK, "64 KiB line accepted");
	json_decref(o);
	buf_clear(&b);
	buf_init(&b, JSONL_MAX_LINE + 4096);
	memset(big, 'x', JSONL_MAX_LINE + 1);
	buf_add(&b, big, JSONL_MAX_LINE + 1);
	T_CHECK(jsonl_next(&b, &o, &err) == JSONL_TOOBIG,
	    "over 64 KiB without newline is too big");
	buf_clear(&b);
	free(big);

	/* The buffer cap itself refuses to grow. */
	buf_init(&b, 8);
	T_CHECK(buf_add(&b, "12345678", 8) == 0 && buf_add(&b, "9", 1) == -1
	    && b.len == 8, "buf cap holds");
	buf_clear(&b);

	/* dump + read over a socketpair. */
	if (pipe(fds) == 0) {
		o = json_pack("{s:s, s:i}", "op", "wait", "timeout", 5);
		s = jsonl_dump(o, &len);
		T_CHECK(s && s[len - 1] == '\n' && strchr(s, '\n') == s + len - 1,
		    "dump is one line");
		jsonl_write_all(fds[1], s, len);
		free(s);
		json_decref(o);
		buf_init(&b, JSONL_MAX_LINE + 4096);
		T_CHECK(jsonl_read(fds[0], &b, 1000, &o, &err) == JSONL_OK &&
		    strcmp(json_string_value(json_object_get(o, "op")),
		    "wait") == 0, "read what was written");
		json_decref(o);
		T_CHECK(jsonl_read(fds[0], &b, 50, &o, &err) == JSONL_BAD &&
		    strcmp(err, "timeout") == 0, "read times out");
		close(fds[1]);
		T_CHECK(jsonl_read(fds[0], &b, 1000, &o, &err) == JSONL_BAD &&
		    strcmp(err, "closed") == 0, "read sees close");
		close(fds[0]);
		buf_clear(&b);
	}
	return t_done();
}
