/*
 * mime: data-driven cases from data/mime/NNN-what.eml + .want, plus
 * generated ones (size caps, random junk).  A .want line is "key: value":
 * from, display, subject, message_id, text, html (exact), date (number),
 * KEY~ (substring), KEYnot~ (must not appear), reject (errstr substring),
 * ok (must parse).  Every parse result must be valid UTF-8.
 */
#include <dirent.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail/mime.h"
#include "t.h"

/* Valid UTF-8 with no NUL inside n bytes and a NUL at n. */
static int
valid_utf8(const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, k, len;
	uint32_t		 cp;

	if (s == NULL || s[n] != '\0')
		return 0;
	while (i < n) {
		if (u[i] == 0)
			return 0;
		if (u[i] < 0x80) {
			i++;
			continue;
		}
		if (u[i] >= 0xc2 && u[i] <= 0xdf)
			len = 2, cp = u[i] & 0x1f;
		else if (u[i] >= 0xe0 && u[i] <= 0xef)
			len = 3, cp = u[i] & 0x0f;
		else if (u[i] >= 0xf0 && u[i] <= 0xf4)
			len = 4, cp = u[i] & 0x07;
		else
			return 0;
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((u[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (u[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static int
msg_valid(const struct mime_msg *m)
{
	return valid_utf8(m->from, strlen(m->from)) &&
	    valid_utf8(m->from_display, strlen(m->from_display)) &&
	    valid_utf8(m->subject, strlen(m->subject)) &&
	    valid_utf8(m->message_id, strlen(m->message_id)) &&
	    valid_utf8(m->text, m->textlen) && valid_utf8(m->html, m->htmllen);
}

static char *
slurp(const char *path, size_t *lenp)
{
	FILE	*f;
	char	*p = NULL;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (p = malloc(n + 1)) != NULL) {
		if (fread(p, 1, n, f) != (size_t)n) {
			free(p);
			p = NULL;
		} else {
			p[n] = '\0';
			*lenp = n;
		}
	}
	fclose(f);
	return p;
}

static const char *
field(const struct mime_msg *m, const char *key)
{
	if (strcmp(key, "from") == 0)
		return m->from;
	if (strcmp(key, "display") == 0)
		return m->from_display;
	if (strcmp(key, "subject") == 0)
		return m->subject;
	if (strcmp(key, "message_id") == 0)
		return m->message_id;
	if (strcmp(key, "text") == 0)
		return m->text;
	if (strcmp(key, "html") == 0)
		return m->html;
	return NULL;
}

/* Check one .eml against its .want; one PASS/FAIL line per want line. */
static void
run_case(const char *dir, const char *name)
{
	struct mime_msg	 m;
	const char	*err = NULL;
	char		 path[1024], *raw, *want, *line, *next, *val, key[32];
	size_t		 len, wlen, klen;
	int		 rc;

	snprintf(path, sizeof(path), "%s/%s.eml", dir, name);
	if ((raw = slurp(path, &len)) == NULL) {
		T_CHECK(0, "%s: read eml", name);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s.want", dir, name);
	if ((want = slurp(path, &wlen)) == NULL) {
		T_CHECK(0, "%s: read want", name);
		free(raw);
		return;
	}
	rc = mime_parse(raw, len, &m, &err);
	if (rc == 0)
		T_CHECK(msg_valid(&m), "%s: valid utf-8", name);
	for (line = want; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((val = strstr(line, ": ")) == NULL) {
			if ((val = strchr(line, ':')) == NULL)
				continue;
			val = val + 1;
		} else
			val += 2;
		klen = strcspn(line, ":");
		if (klen >= sizeof(key))
			continue;
		memcpy(key, line, klen);
		key[klen] = '\0';
		if (strcmp(key, "reject") == 0) {
			T_CHECK(rc == -1 && err != NULL && strstr(err, val),
			    "%s: rejected \"%s\" (got %s)", name, val,
			    rc == -1 ? err : "accepted");
			continue;
		}
		if (rc != 0) {
			T_CHECK(0, "%s: %s: parse failed: %s", name, key, err);
			continue;
		}
		if (strcmp(key, "ok") == 0) {
			T_CHECK(1, "%s: parsed", name);
		} else if (strcmp(key, "date") == 0) {
			T_CHECK(m.date == strtoll(val, NULL, 10),
			    "%s: date %lld want %s", name, m.date, val);
		} else if (klen > 4 && strcmp(key + klen - 4, "not~") == 0) {
			key[klen - 4] = '\0';
			T_CHECK(field(&m, key) && !strstr(field(&m, key), val),
			    "%s: %s lacks \"%s\"", name, key, val);
		} else if (key[klen - 1] == '~') {
			key[klen - 1] = '\0';
			T_CHECK(field(&m, key) && strstr(field(&m, key), val),
			    "%s: %s has \"%s\"", name, key, val);
		} else if (field(&m, key) != NULL) {
			T_STREQ(field(&m, key), val, "%s: %s", name, key);
		} else
			T_CHECK(0, "%s: unknown key %s", name, key);
	}
	if (rc == 0)
		mime_clear(&m);
	free(raw);
	free(want);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
run_dir(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	char		*names[512];
	size_t		 n = 0, i, l;

	if ((d = opendir(dir)) == NULL) {
		T_CHECK(0, "open %s", dir);
		return;
	}
	while ((e = readdir(d)) != NULL && n < 512) {
		l = strlen(e->d_name);
		if (l > 4 && strcmp(e->d_name + l - 4, ".eml") == 0)
			names[n++] = strndup(e->d_name, l - 4);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	T_CHECK(n >= 60, "found %zu mime cases", n);
	for (i = 0; i < n; i++) {
		run_case(dir, names[i]);
		free(names[i]);
	}
}

/* The extraction suite's emails must all parse and give some text. */
static void
run_extract_emails(const char *dir)
{
	DIR		*d;
	struct dirent	*e;
	struct mime_msg	 m;
	const char	*err;
	char		 path[1024], *raw;
	size_t		 l, len, n = 0, bad = 0;

	if ((d = opendir(dir)) == NULL) {
		printf("# %s absent, extraction emails not checked\n", dir);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((raw = slurp(path, &len)) == NULL)
			continue;
		n++;
		err = NULL;
		if (mime_parse(raw, len, &m, &err) != 0 || !msg_valid(&m) ||
		    m.textlen == 0) {
			bad++;
			printf("# extract email %s: %s\n", e->d_name,
			    err ? err : "no text or invalid utf-8");
		}
		if (err == NULL)
			mime_clear(&m);
		free(raw);
	}
	closedir(d);
	T_CHECK(bad == 0, "extract emails: %zu of %zu parse with text", n - bad,
	    n);
}

/* A 21 MB message parses (text capped or not); 26 MB is refused. */
static void
run_big(void)
{
	struct mime_msg	 m;
	const char	*err = NULL, *hdr = "Subject: big\r\nContent-Type: "
	    "text/plain\r\n\r\ncode 246810\r\n";
	size_t		 n = 21 * 1024 * 1024, hl = strlen(hdr), i;
	char		*raw;
	int		 rc;

	if ((raw = malloc(26 * 1024 * 1024 + 1)) == NULL) {
		T_CHECK(0, "big: malloc");
		return;
	}
	memcpy(raw, hdr, hl);
	for (i = hl; i < 26 * 1024 * 1024; i++)
		raw[i] = (i % 64 == 63) ? '\n' : 'a' + i % 26;
	rc = mime_parse(raw, n, &m, &err);
	T_CHECK(rc == 0 && strncmp(m.text, "code 246810", 11) == 0 &&
	    msg_valid(&m), "big: 21 MB message parses");
	if (rc == 0)
		mime_clear(&m);
	rc = mime_parse(raw, 26 * 1024 * 1024, &m, &err);
	T_CHECK(rc == -1 && err && strcmp(err, "too large") == 0,
	    "big: 26 MB message refused");
	free(raw);
}

/* Random and mutated junk: never a crash, always valid UTF-8 out. */
static void
run_junk(const char *dir)
{
	struct mime_msg	 m;
	const char	*err;
	char		 path[1024], *seed, *buf;
	size_t		 slen = 0, i, j, n, ok = 0, total = 2000;
	uint32_t	 x = 12345;

	snprintf(path, sizeof(path), "%s/005-mixed-related-forward.eml", dir);
	seed = slurp(path, &slen);
	if (seed == NULL || (buf = malloc(slen + 64)) == NULL) {
		T_CHECK(0, "junk: seed");
		free(seed);
		return;
	}
	for (i = 0; i < total; i++) {
		n = slen;
		memcpy(buf, seed, n);
		for (j = 0; j < 1 + i % 16; j++) {
			x = x * 1103515245 + 12345;
			buf[(x >> 8) % n] = (char)(x >> 16);
		}
		if (i % 3 == 0) {
			x = x * 1103515245 + 12345;
			n = (x >> 8) % slen;
		}
		err = NULL;
		if (mime_parse(buf, n, &m, &err) == 0) {
			if (msg_valid(&m))
				ok++;
			else if (getenv("MIME_DUMP") != NULL) {
				FILE *f = fopen(getenv("MIME_DUMP"), "wb");

				if (f != NULL) {
					fwrite(buf, 1, n, f);
					fclose(f);
				}
			}
			mime_clear(&m);
		} else if (err != NULL)
			ok++;
	}
	T_CHECK(ok == total, "junk: %zu of %zu mutated messages handled", ok,
	    total);
	free(seed);
	free(buf);
}

/* Repeat pat to fill n bytes after prefix and run it against the clock. */
static void
run_slow(const char *name, const char *prefix, const char *pat, size_t n)
{
	struct mime_msg	 m;
	struct timespec	 a, b;
	const char	*err = NULL;
	size_t		 pl = strlen(prefix), l = strlen(pat), i;
	double		 s;
	char		*raw;
	int		 rc;

	if ((raw = malloc(pl + n + 1)) == NULL) {
		T_CHECK(0, "slow %s: malloc", name);
		return;
	}
	memcpy(raw, prefix, pl);
	for (i = 0; i < n; i++)
		raw[pl + i] = pat[i % l];
	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = mime_parse(raw, pl + n, &m, &err);
	clock_gettime(CLOCK_MONOTONIC, &b);
	s = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
	T_CHECK(s < 5.0 && (rc == -1 || msg_valid(&m)),
	    "slow %s: %.2fs (%s)", name, s, rc == 0 ? "parsed" : err);
	if (rc == 0)
		mime_clear(&m);
	free(raw);
}

/* Inputs built to hit every loop's worst case. */
static void
run_pathological(void)
{
	const size_t big = 8 * 1024 * 1024;

	run_slow("unterminated encoded words", "From: a@b\nSubject: ",
	    "=?a?q?", 250 * 1024);
	run_slow("encoded words", "Subject: ", "=?utf-8?q?=C3=A9?= ",
	    250 * 1024);
	run_slow("alternating charsets", "Subject: ",
	    "=?koi8-r?q?=C1?= =?big5?q?a?= =?iso-2022-jp?q?b?= ", 250 * 1024);
	run_slow("from comments", "From: ", "((\\\"<@:", 250 * 1024);
	run_slow("html script", "Content-Type: text/html\n\n", "<script>",
	    big);
	run_slow("html comments", "Content-Type: text/html\n\n", "<!--<",
	    big);
	run_slow("html quotes", "Content-Type: text/html\n\n", "<a href=\"",
	    big);
	run_slow("html entities", "Content-Type: text/html\n\n",
	    "&#x1F600;&amp&bogus;<br>", big);
	run_slow("qp equals", "Content-Transfer-Encoding: quoted-printable"
	    "\n\n", "=", big);
	run_slow("base64 junk", "Content-Transfer-Encoding: base64\n\n",
	    "!@#a", big);
	run_slow("near boundaries", "Content-Type: multipart/mixed; "
	    "boundary=abc\n\n", "--ab\n--abcd\n--abc x\n", big);
	run_slow("empty parts", "Content-Type: multipart/mixed; "
	    "boundary=a\n\n", "--a\n", big);
	run_slow("header lines", "Subject: x\n", "X-A: b\n",
	    MIME_MAX_HEADER - 64);
	run_slow("8bit sjis", "Content-Type: text/plain; charset=shift_jis"
	    "\n\n", "\x82\xa0\xff\x81", big);
	run_slow("iso-2022-jp escapes", "Content-Type: text/plain; "
	    "charset=iso-2022-jp\n\n", "\x1b$B\x1b(B\x1b$", big);
}

int
main(void)
{
	const char	*dir = "data/mime";
	DIR		*d;

	if ((d = opendir(dir)) == NULL)
		dir = "tests/data/mime";
	else
		closedir(d);
	run_dir(dir);
	run_extract_emails(strcmp(dir, "data/mime") == 0 ?
	    "data/extract/email" : "tests/data/extract/email");
	run_big();
	run_junk(dir);
	run_pathological();
	return t_done();
}
