/*
 * parser: round trips through the sandboxed child, hostile input, crash
 * and timeout recovery, the seccomp filter really killing on socket() and
 * open(), every MIME test message in the sandbox, and concurrent callers.
 */
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "extract/extract.h"
#include "mail/mime.h"
#include "mail/parser.h"
#include "t.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static const char *M = "fork";	/* how children start: fork or exec */

static const char normal[] =
    "From: \"Example Service\" <no-reply@example.com>\r\n"
    "To: agent@agents.example.org\r\n"
    "Subject: =?UTF-8?B?WW91ciBjb2RlOiA0ODI5MTM=?=\r\n"
    "Date: Tue, 3 Mar 2026 10:15:00 +0000\r\n"
    "Message-ID: <m1@example.com>\r\n"
    "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n"
    "--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
    "Your verification code is 482913.\r\n"
    "Or confirm: https://accounts.example.com/verify?token=abc123\r\n"
    "--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    "<p>Your verification code is <b>482913</b>.</p>"
    "<a href=\"https://accounts.example.com/verify?token=abc123\">"
    "Confirm</a>\r\n--b1--\r\n";

static const char badbound[] =
    "From: x@example.com\r\nSubject: crash\r\n"
    "Content-Type: multipart/mixed; boundary=\"\\\"\"\r\n\r\n"
    "--\"\r\n\r\nhi\r\n--\"--\r\n";

/* A message that asks a test-mode child to die in a given way. */
static char *
crash_msg(const char *how)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "From: t@example.com\r\nSubject: t\r\n"
	    "X-Agentid-Test-Crash: %s\r\n\r\nbody 123456\r\n", how);
	return buf;
}

/* Parse the normal message and check every field and the extraction. */
static void
check_normal(struct parser *p, const char *name)
{
	struct parser_out	 o;
	struct mime_msg		 m;
	struct extract_input	 in;
	struct extract_result	 want;
	const char		*err = NULL;
	size_t			 i;
	int			 rc, same;

	rc = parser_parse(p, normal, sizeof(normal) - 1, &o, &err);
	T_CHECK(rc == PARSER_OK, "%s: normal message parses (%s)", name,
	    rc == PARSER_OK ? "ok" : err);
	if (rc != PARSER_OK)
		return;
	T_STREQ(o.from, "no-reply@example.com", "%s: from", name);
	T_STREQ(o.from_display, "Example Service", "%s: display", name);
	T_STREQ(o.subject, "Your code: 482913", "%s: subject", name);
	T_STREQ(o.message_id, "<m1@example.com>", "%s: message id", name);
	T_CHECK(o.date == 1772532900, "%s: date", name);
	T_CHECK(o.text && strstr(o.text, "code is 482913") &&
	    strlen(o.text) == o.textlen, "%s: text", name);
	T_CHECK(o.html && strstr(o.html, "<b>482913</b>") &&
	    strlen(o.html) == o.htmllen, "%s: html", name);
	/* What came over the wire equals extraction run here. */
	if (mime_parse(normal, sizeof(normal) - 1, &m, &err) == 0) {
		memset(&in, 0, sizeof(in));
		in.kind = EXTRACT_EMAIL;
		in.from = m.from;
		in.fromlen = strlen(m.from);
		in.subject = m.subject;
		in.subjectlen = strlen(m.subject);
		in.text = m.text;
		in.textlen = m.textlen;
		in.html = m.html;
		in.htmllen = m.htmllen;
		memset(&want, 0, sizeof(want));
		extract_run(&in, &want);
		same = want.ncodes == o.res.ncodes &&
		    want.nlinks == o.res.nlinks;
		for (i = 0; same && i < want.ncodes; i++)
			same = strcmp(want.codes[i].value,
			    o.res.codes[i].value) == 0 &&
			    strcmp(want.codes[i].raw,
			    o.res.codes[i].raw) == 0 &&
			    strcmp(want.codes[i].origin,
			    o.res.codes[i].origin) == 0 &&
			    want.codes[i].confidence ==
			    o.res.codes[i].confidence &&
			    strcmp(want.codes[i].rule ? want.codes[i].rule : "",
			    o.res.codes[i].rule) == 0;
		for (i = 0; same && i < want.nlinks; i++)
			same = strcmp(want.links[i].url,
			    o.res.links[i].url) == 0 &&
			    strcmp(want.links[i].domain,
			    o.res.links[i].domain) == 0 &&
			    want.links[i].confidence ==
			    o.res.links[i].confidence &&
			    strcmp(want.links[i].rule ? want.links[i].rule : "",
			    o.res.links[i].rule) == 0;
		T_CHECK(same, "%s: extract result crosses intact (%zu codes, "
		    "%zu links)", name, o.res.ncodes, o.res.nlinks);
		mime_clear(&m);
	} else
		T_CHECK(0, "%s: local mime_parse", name);
	parser_out_clear(&o);
}

/* One crash kind: CRASHED with the given signal, then a normal message. */
static void
check_crash(struct parser *p, const char *how, int sig)
{
	struct parser_out	 o;
	const char		*err = NULL, *m = crash_msg(how);
	int			 rc;
	char			 name[64];

	rc = parser_parse(p, m, strlen(m), &o, &err);
	T_CHECK(rc == PARSER_CRASHED && err != NULL,
	    "%s crash %s: PARSER_CRASHED (%s)", M, how, err ? err : "-");
	T_CHECK(parser_last_signal(p) == sig, "%s crash %s: child died of "
	    "signal %d (want %d)", M, how, parser_last_signal(p), sig);
	snprintf(name, sizeof(name), "%s after %s", M, how);
	check_normal(p, name);
}

static void
check_reject(struct parser *p, const char *name, const char *msg, size_t n,
    const char *why)
{
	struct parser_out	 o;
	const char		*err = NULL;
	int			 rc;

	rc = parser_parse(p, msg, n, &o, &err);
	T_CHECK(rc == PARSER_REJECTED && err && strcmp(err, why) == 0,
	    "%s %s: rejected \"%s\" (rc %d, %s)", M, name, why, rc,
	    err ? err : "-");
}

/* Every MIME test message goes through the sandbox: none may crash it. */
static void
check_corpus(struct parser *p)
{
	DIR			*d;
	struct dirent		*e;
	struct parser_out	 o;
	const char		*err, *dir = "data/mime";
	char			 path[1024], *buf;
	size_t			 l, n, total = 0, crashed = 0;
	FILE			*f;
	int			 rc;

	if ((d = opendir(dir)) == NULL && (d = opendir(dir =
	    "tests/data/mime")) == NULL) {
		T_CHECK(0, "corpus: open data/mime");
		return;
	}
	if ((buf = malloc(1 << 20)) == NULL) {
		closedir(d);
		return;
	}
	while ((e = readdir(d)) != NULL) {
		l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((f = fopen(path, "rb")) == NULL)
			continue;
		n = fread(buf, 1, 1 << 20, f);
		fclose(f);
		total++;
		err = NULL;
		rc = parser_parse(p, buf, n, &o, &err);
		if (rc == PARSER_OK)
			parser_out_clear(&o);
		else if (rc != PARSER_REJECTED) {
			crashed++;
			printf("# %s: %s (signal %d)\n", e->d_name, err,
			    parser_last_signal(p));
		}
	}
	closedir(d);
	free(buf);
	T_CHECK(total >= 60 && crashed == 0, "%s corpus: %zu messages in "
	    "the sandbox, %zu crashed", M, total, crashed);
}

static void *
worker(void *arg)
{
	struct parser		*p = arg;
	struct parser_out	 o;
	const char		*err;
	long			 ok = 0;
	int			 i;

	for (i = 0; i < 20; i++) {
		if (parser_parse(p, normal, sizeof(normal) - 1, &o, &err) ==
		    PARSER_OK && strcmp(o.from, "no-reply@example.com") == 0)
			ok++;
		parser_out_clear(&o);
	}
	return (void *)ok;
}

static void
check_threads(struct parser *p)
{
	pthread_t	t[4];
	void		*r;
	long		ok = 0;
	int		i, started = 0;

	for (i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, worker, p) == 0)
			started++;
	for (i = 0; i < started; i++) {
		pthread_join(t[i], &r);
		ok += (long)r;
	}
	T_CHECK(started == 4 && ok == 80, "%s threads: %ld of 80 concurrent "
	    "parses ok", M, ok);
}

/* 20 MB message: parses, text capped at PARSER_TEXT_MAX. */
static void
check_big(struct parser *p)
{
	struct parser_out	 o;
	const char		*err = NULL, *hdr = "From: big@example.com\r\n"
	    "Subject: big\r\n\r\ncode 246810\r\n";
	size_t			 n = 20 * 1024 * 1024 + 5, hl = strlen(hdr), i;
	char			*raw;
	int			 rc;

	if ((raw = malloc(n)) == NULL) {
		T_CHECK(0, "big: malloc");
		return;
	}
	memcpy(raw, hdr, hl);
	for (i = hl; i < n; i++)
		raw[i] = (i % 70 == 69) ? '\n' : (char)('a' + i % 26);
	rc = parser_parse(p, raw, n, &o, &err);
	T_CHECK(rc == PARSER_OK && o.textlen <= PARSER_TEXT_MAX &&
	    strncmp(o.text, "code 246810", 11) == 0,
	    "%s big: 20 MB message parses, text capped (rc %d, %s)", M, rc,
	    rc == PARSER_OK ? "ok" : err);
	if (rc == PARSER_OK)
		parser_out_clear(&o);
	free(raw);
}

/* 20 MB under 15 forwards and alternatives: fits the child's memory. */
static void
check_big_nested(struct parser *p)
{
	struct parser_out	 o;
	const char		*err = NULL;
	size_t			 n = 20 * 1024 * 1024, off = 0, i;
	char			*raw;
	int			 rc, k;

	if ((raw = malloc(n + 4096)) == NULL) {
		T_CHECK(0, "big nested: malloc");
		return;
	}
	for (k = 0; k < 7; k++)
		off += snprintf(raw + off, 4096, "Content-Type: message/rfc822"
		    "\r\n\r\nContent-Type: multipart/alternative; "
		    "boundary=\"a%d\"\r\n\r\n--a%d\r\n", k, k);
	off += snprintf(raw + off, 4096, "Content-Type: text/plain; "
	    "charset=iso-8859-1\r\n\r\ncode 135790\r\n");
	for (i = off; i < n; i++)
		raw[i] = (i % 70 == 69) ? '\n' : (char)(0xe0 + i % 26);
	rc = parser_parse(p, raw, n, &o, &err);
	T_CHECK(rc == PARSER_OK && strncmp(o.text, "code 135790", 11) == 0,
	    "%s big nested: 20 MB of Latin-1 under 14 levels (rc %d, %s)", M,
	    rc, rc == PARSER_OK ? "ok" : err);
	if (rc == PARSER_OK)
		parser_out_clear(&o);
	free(raw);
}

static void
check_deep(struct parser *p)
{
	char	*m, *w;
	size_t	 cap = 64 * 1024;
	int	 i;

	if ((m = malloc(cap)) == NULL)
		return;
	w = m;
	w += snprintf(w, cap, "Subject: deep\r\nContent-Type: multipart/mixed;"
	    " boundary=\"B0\"\r\n\r\n");
	for (i = 0; i < 40; i++)
		w += snprintf(w, cap - (w - m), "--B%d\r\nContent-Type: "
		    "multipart/mixed; boundary=\"B%d\"\r\n\r\n", i, i + 1);
	w += snprintf(w, cap - (w - m), "--B40\r\n\r\ndeep\r\n");
	check_reject(p, "deep", m, w - m, "nested too deep");
	free(m);
}

/* Our child's pid, found in /proc by its parent pid (the API is opaque). */
static pid_t
find_child(void)
{
	DIR		*d;
	struct dirent	*e;
	char		 path[300], buf[512], *rp;
	long		 ppid;
	pid_t		 found = 0;
	FILE		*f;
	size_t		 n;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while (found == 0 && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		/* "pid (comm) state ppid ...": comm may hold anything. */
		if ((rp = strrchr(buf, ')')) != NULL &&
		    sscanf(rp + 1, " %*c %ld", &ppid) == 1 &&
		    ppid == (long)getpid())
			found = (pid_t)strtol(e->d_name, NULL, 10);
	}
	closedir(d);
	return found;
}

/* Does /proc/pid/file have a line starting with key and containing val? */
static int
proc_has(pid_t pid, const char *file, const char *key, const char *val)
{
	char	 path[64], line[256];
	FILE	*f;
	int	 ok = 0;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (!ok && fgets(line, sizeof(line), f) != NULL)
		ok = strncmp(line, key, strlen(key)) == 0 &&
		    strstr(line + strlen(key), val) != NULL;
	fclose(f);
	return ok;
}

/* Look at the live child from outside: filter, no_new_privs, rlimits. */
static void
check_sandbox(void)
{
	pid_t	pid = find_child();
	char	uid[64];

	T_CHECK(pid > 0, "%s sandbox: child found in /proc", M);
	if (pid <= 0)
		return;
	T_CHECK(proc_has(pid, "status", "Seccomp:", "2"),
	    "%s sandbox: seccomp filter mode", M);
	T_CHECK(proc_has(pid, "status", "NoNewPrivs:", "1"),
	    "%s sandbox: no_new_privs", M);
	/* Root's child turns nobody; anyone else's keeps their uid. */
	snprintf(uid, sizeof(uid), "%ld\t%ld\t%ld", geteuid() == 0 ? 65534L :
	    (long)geteuid(), geteuid() == 0 ? 65534L : (long)geteuid(),
	    geteuid() == 0 ? 65534L : (long)geteuid());
	T_CHECK(proc_has(pid, "status", "Uid:", uid), "%s sandbox: uid %s", M,
	    uid);
	T_CHECK(proc_has(pid, "limits", "Max file size", " 0 "),
	    "%s sandbox: RLIMIT_FSIZE 0", M);
	T_CHECK(proc_has(pid, "limits", "Max open files", " 4 "),
	    "%s sandbox: RLIMIT_NOFILE 4", M);
	T_CHECK(proc_has(pid, "limits", "Max core file size", " 0 "),
	    "%s sandbox: no core dumps", M);
	T_CHECK(proc_has(pid, "limits", "Max cpu time", " 600 "),
	    "%s sandbox: RLIMIT_CPU", M);
#ifndef UNDER_ASAN
	T_CHECK(proc_has(pid, "limits", "Max address space", " 536870912 "),
	    "%s sandbox: RLIMIT_AS 512 MiB", M);
#endif
}

/* Everything once, with children started the current way (M). */
static void
run_suite(void)
{
	struct parser		*p;
	struct parser_out	 o;
	const char		*err = NULL, *m;
	char			 name[64];
	int			 rc;

	unsetenv("AGENTID_PARSER_TEST_CRASH");
	p = parser_new(&err);
	T_CHECK(p != NULL, "%s parser_new (%s)", M, p ? "ok" : err);
	if (p == NULL)
		return;
	snprintf(name, sizeof(name), "%s plain", M);
	check_normal(p, name);
	check_sandbox();
	check_reject(p, "boundary quote", badbound, sizeof(badbound) - 1,
	    "bad boundary");
	snprintf(name, sizeof(name), "%s after bad boundary", M);
	check_normal(p, name);
	check_deep(p);
	/* Outside test mode the crash header does nothing. */
	m = crash_msg("abort");
	rc = parser_parse(p, m, strlen(m), &o, &err);
	T_CHECK(rc == PARSER_OK, "%s crash header ignored outside test mode",
	    M);
	if (rc == PARSER_OK)
		parser_out_clear(&o);
	check_big(p);
	check_big_nested(p);
	check_corpus(p);
	check_threads(p);
	parser_free(p);

	setenv("AGENTID_PARSER_TEST_CRASH", "1", 1);
	p = parser_new(&err);
	unsetenv("AGENTID_PARSER_TEST_CRASH");
	T_CHECK(p != NULL, "%s parser_new test mode (%s)", M, p ? "ok" : err);
	if (p == NULL)
		return;
	/* A child that retires after its reply is replaced silently. */
	m = crash_msg("recycle");
	rc = parser_parse(p, m, strlen(m), &o, &err);
	T_CHECK(rc == PARSER_OK && parser_last_signal(p) == 0,
	    "%s recycle: reply delivered, child exited cleanly", M);
	if (rc == PARSER_OK)
		parser_out_clear(&o);
	snprintf(name, sizeof(name), "%s after recycle", M);
	check_normal(p, name);
	/* A lying child is killed, not believed. */
	check_crash(p, "badutf8", SIGKILL);
	check_crash(p, "trailing", SIGKILL);
	check_crash(p, "badlen", SIGKILL);
	check_crash(p, "abort", SIGABRT);
	check_crash(p, "segv", SIGSEGV);
	check_crash(p, "socket", SIGSYS);
	check_crash(p, "open", SIGSYS);
	parser_set_timeout(p, 1500);
	check_crash(p, "loop", SIGKILL);
#ifndef UNDER_ASAN
	parser_set_timeout(p, 10000);
	check_crash(p, "oom", SIGABRT);
#else
	printf("# oom case needs RLIMIT_AS, which ASan cannot run under\n");
#endif
	parser_free(p);
}

int
main(void)
{
	/* A re-executed parser child of ours lands here and never returns. */
	if (getenv("AGENTID_PARSER_CHILD") != NULL)
		parser_child_hook();
	signal(SIGPIPE, SIG_IGN);
	run_suite();
	parser_child_hook();
	M = "exec";
	run_suite();
	parser_free(NULL);
	return t_done();
}
