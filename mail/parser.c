/*
 * parser: sandboxed parser child (see parser.h).
 *
 * Frames on a SOCK_STREAM socketpair (seqpacket cannot carry 25 MB):
 * request  = u32 type, u32 len, raw message;
 * response = u32 status, u32 flags, u32 len, payload.
 * OK payload: six length-prefixed strings (from, display, subject,
 * message id, text, html), i64 date, then codes and links field by field.
 * Everything the child sends is checked as hostile: it has just parsed
 * attacker bytes.  The child is re-executed from /proc/self/exe when the
 * program called parser_child_hook() (a fresh address space, none of the
 * caller's secrets), else a plain fork() copy of the caller.  Either way it
 * closes every inherited fd, resets signals, loads all charset converters,
 * runs one warm-up message, turns from root (if so) into nobody, sets
 * rlimits, PR_SET_NO_NEW_PRIVS and a default-kill seccomp filter, and only
 * then says "ready" and reads mail.  RLIMIT_CPU counts the child's whole
 * life, so the child asks to be recycled (flag in the reply) long before
 * reaching it; the per-message bound is the parent's wall-clock deadline.
 * The child learns of its parent's death from EOF on the socket:
 * PR_SET_PDEATHSIG would fire when the calling worker thread exits.
 */
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "extract/extract.h"
#include "mail/mime.h"
#include "mail/parser.h"

#define REQ_PARSE	1
#define ST_OK		0
#define ST_REJECTED	1
#define FL_RECYCLE	1
#define CHILD_FD	3
#define FIELD_MAX	4096		/* from, display, subject, id */
#define REPLY_MAX	(2 * PARSER_TEXT_MAX + 8 * FIELD_MAX + 256 * 1024)
#define CHILD_AS	(512UL * 1024 * 1024)
#define CHILD_CPU_S	600		/* lifetime cap (rlimit) */
#define RECYCLE_CPU_S	300		/* ask for a fresh child past this */
#define RECYCLE_MSGS	5000
#define RULES_MAX	256
#define CHILD_ENV	"AGENTID_PARSER_CHILD"
#define READY_MAGIC	0x52454459u	/* "REDY" */
#define SPAWN_TIMEOUT_MS 10000
#define NOBODY_ID	65534		/* Debian's nobody and nogroup */
#define HOOK_RECYCLE	1		/* test hooks, see child_test_hook() */
#define HOOK_BADUTF8	2
#define HOOK_TRAILING	3
#define HOOK_BADLEN	4

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

struct parser {
	pthread_mutex_t	 lock;
	pid_t		 pid;		/* 0: no child */
	int		 fd;
	int		 timeout_ms;
	int		 test;		/* honour the test crash header */
	int		 last_signal;
};

/* Reply reader: a bounded cursor over the payload. */
struct rd {
	const unsigned char	*p;
	size_t			 len, off;
	int			 bad;
};

static int		 exec_ok;	/* parser_child_hook() was called */
static pthread_mutex_t	 rules_lock = PTHREAD_MUTEX_INITIALIZER;
static char		*rules[RULES_MAX];

static void	child_main(int, int) __attribute__((noreturn));
static void	reap(struct parser *, int);

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read or write exactly n bytes before the deadline (-1: none). */
static int
io_full(int fd, void *buf, size_t n, int wr, long long deadline)
{
	struct pollfd	 pfd;
	unsigned char	*p = buf;
	ssize_t		 r;
	long long	 left;

	while (n > 0) {
		if (deadline >= 0) {
			if ((left = deadline - now_ms()) <= 0)
				return -1;
			pfd.fd = fd;
			pfd.events = wr ? POLLOUT : POLLIN;
			if (poll(&pfd, 1, (int)left) <= 0) {
				if (errno == EINTR)
					continue;
				return -1;
			}
		}
		r = wr ? send(fd, p, n, MSG_NOSIGNAL) : read(fd, p, n);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= r;
	}
	return 0;
}

/* ---- child ------------------------------------------------------------ */

/* Growable output buffer for the child; failure means exit. */
struct wb {
	unsigned char	*p;
	size_t		 len, cap;
};

static void
wb_add(struct wb *b, const void *d, size_t n)
{
	unsigned char	*np;
	size_t		 cap;

	if (b->len + n > b->cap) {
		cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL)
			_exit(3);
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
}

static void
wb_u32(struct wb *b, uint32_t v)
{
	wb_add(b, &v, sizeof(v));
}

/* Length of the valid UTF-8 character (not NUL) at s, or 0. */
static size_t
utf8_char(const unsigned char *s, size_t n)
{
	size_t len, k;

	if (n == 0 || s[0] == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	len = (s[0] >= 0xc2 && s[0] <= 0xdf) ? 2 :
	    (s[0] >= 0xe0 && s[0] <= 0xef) ? 3 :
	    (s[0] >= 0xf0 && s[0] <= 0xf4) ? 4 : 0;
	if (len == 0 || len > n)
		return 0;
	for (k = 1; k < len; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return len;
}

/*
 * A length-prefixed string of at most max bytes: invalid UTF-8 and NULs
 * are dropped (so it never grows), the cut falls between characters.
 * The parent rejects anything else, so this must hold for extract's
 * fixed-size fields too.
 */
static void
wb_str(struct wb *b, const char *s, size_t n, size_t max)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 at, i = 0, k, run = 0, out = 0;
	uint32_t		 len;

	at = b->len;
	wb_u32(b, 0);
	if (s == NULL)
		n = 0;
	while (i < n) {
		k = utf8_char(u + i, n - i);
		if (k > 0 && out + k > max)
			break;
		if (k == 0) {
			if (i > run)
				wb_add(b, s + run, i - run);
			run = ++i;
			continue;
		}
		i += k;
		out += k;
	}
	if (i > run)
		wb_add(b, s + run, i - run);
	len = (uint32_t)(b->len - at - sizeof(len));
	memcpy(b->p + at, &len, sizeof(len));
}

static void
wb_f64(struct wb *b, double d)
{
	wb_add(b, &d, sizeof(d));
}

/* Send one reply frame; a dead parent means we are done. */
static void
child_reply(int fd, uint32_t status, uint32_t flags, struct wb *b)
{
	uint32_t hdr[3] = { status, flags, (uint32_t)b->len };

	if (io_full(fd, hdr, sizeof(hdr), 1, -1) == -1 ||
	    (b->len > 0 && io_full(fd, b->p, b->len, 1, -1) == -1))
		_exit(0);
}

/*
 * Test-only crash hooks, honoured only when the parent was in test mode.
 * Returns a HOOK_* asking for a recycle or for a malformed reply.
 */
static int
child_test_hook(const char *raw, size_t len)
{
	static const char	 key[] = "X-Agentid-Test-Crash: ";
	const char		*h, *v;
	size_t			 i;
	void			*p;

	if ((h = memmem(raw, len < 65536 ? len : 65536, key,
	    sizeof(key) - 1)) == NULL)
		return 0;
	v = h + sizeof(key) - 1;
	i = (size_t)(raw + len - v);
	if (i >= 5 && memcmp(v, "abort", 5) == 0)
		abort();
	if (i >= 4 && memcmp(v, "segv", 4) == 0)
		raise(SIGSEGV);
	if (i >= 4 && memcmp(v, "loop", 4) == 0)
		for (;;)
			__asm__ volatile("" ::: "memory");
	if (i >= 6 && memcmp(v, "socket", 6) == 0)
		(void)socket(AF_INET, SOCK_STREAM, 0);
	if (i >= 4 && memcmp(v, "open", 4) == 0)
		(void)open("/etc/hostname", O_RDONLY);
	if (i >= 3 && memcmp(v, "oom", 3) == 0) {
		/* Touch memory until the rlimit says no, then die of it. */
		for (;;) {
			if ((p = malloc(16 << 20)) == NULL)
				abort();
			memset(p, 0x5a, 16 << 20);
		}
	}
	if (i >= 7 && memcmp(v, "recycle", 7) == 0)
		return HOOK_RECYCLE;
	if (i >= 7 && memcmp(v, "badutf8", 7) == 0)
		return HOOK_BADUTF8;
	if (i >= 8 && memcmp(v, "trailing", 8) == 0)
		return HOOK_TRAILING;
	if (i >= 6 && memcmp(v, "badlen", 6) == 0)
		return HOOK_BADLEN;
	return 0;
}

/* Parse one message and write the reply frame; returns the flags sent. */
static uint32_t
child_parse(int fd, const char *raw, size_t len, int test, uint32_t flags)
{
	struct mime_msg		 m;
	struct extract_input	 in;
	struct extract_result	 res;
	struct wb		 b = { NULL, 0, 0 };
	const char		*err = NULL;
	int64_t			 date;
	size_t			 i;
	int			 hook = 0;

	if (test && (hook = child_test_hook(raw, len)) == HOOK_RECYCLE)
		flags |= FL_RECYCLE;
	if (mime_parse(raw, len, &m, &err) == -1) {
		wb_str(&b, err ? err : "malformed", err ? strlen(err) : 9,
		    FIELD_MAX);
		child_reply(fd, ST_REJECTED, flags, &b);
		free(b.p);
		return flags;
	}
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
	memset(&res, 0, sizeof(res));
	extract_run(&in, &res);
	wb_str(&b, m.from, strlen(m.from), FIELD_MAX);
	wb_str(&b, m.from_display, strlen(m.from_display), FIELD_MAX);
	wb_str(&b, m.subject, strlen(m.subject), FIELD_MAX);
	wb_str(&b, m.message_id, strlen(m.message_id), FIELD_MAX);
	wb_str(&b, m.text, m.textlen, PARSER_TEXT_MAX);
	wb_str(&b, m.html, m.htmllen, PARSER_TEXT_MAX);
	date = m.date;
	wb_add(&b, &date, sizeof(date));
	if (res.ncodes > EXTRACT_MAX_CODES)
		res.ncodes = EXTRACT_MAX_CODES;
	if (res.nlinks > EXTRACT_MAX_LINKS)
		res.nlinks = EXTRACT_MAX_LINKS;
	wb_u32(&b, (uint32_t)res.ncodes);
	for (i = 0; i < res.ncodes; i++) {
		const struct extract_code *c = &res.codes[i];

		wb_str(&b, c->value, strnlen(c->value, sizeof(c->value)),
		    sizeof(c->value) - 1);
		wb_str(&b, c->raw, strnlen(c->raw, sizeof(c->raw)),
		    sizeof(c->raw) - 1);
		wb_str(&b, c->origin, strnlen(c->origin, sizeof(c->origin)),
		    sizeof(c->origin) - 1);
		wb_f64(&b, c->confidence);
		wb_str(&b, c->rule, c->rule ? strlen(c->rule) : 0, 64);
	}
	wb_u32(&b, (uint32_t)res.nlinks);
	for (i = 0; i < res.nlinks; i++) {
		const struct extract_link *l = &res.links[i];

		wb_str(&b, l->url, strnlen(l->url, sizeof(l->url)),
		    sizeof(l->url) - 1);
		wb_str(&b, l->domain, strnlen(l->domain, sizeof(l->domain)),
		    sizeof(l->domain) - 1);
		wb_f64(&b, l->confidence);
		wb_str(&b, l->rule, l->rule ? strlen(l->rule) : 0, 64);
	}
	mime_clear(&m);
	/* Test-only lies, to prove the parent checks what it is told. */
	if (hook == HOOK_BADUTF8 && b.len > 4)
		b.p[4] = 0xff;
	if (hook == HOOK_TRAILING)
		wb_add(&b, "", 1);
	if (hook == HOOK_BADLEN)
		b.len = REPLY_MAX + 1;
	if (hook == HOOK_BADLEN) {
		uint32_t hdr[3] = { ST_OK, flags, (uint32_t)b.len };

		if (io_full(fd, hdr, sizeof(hdr), 1, -1) == -1)
			_exit(0);
	} else
		child_reply(fd, ST_OK, flags, &b);
	free(b.p);
	return flags;
}

/* Touch every lazy path (converters, extractor tables) before seccomp. */
static void
child_warmup(void)
{
	static const char	warm[] =
	    "From: Warm Up <warm@example.com>\r\n"
	    "Subject: =?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?= "
	    "=?KOI8-R?Q?=EB=CF=C4?=\r\n"
	    "Date: Mon, 2 Jan 2006 15:04:05 -0700\r\n"
	    "Content-Type: multipart/alternative; boundary=\"w\"\r\n\r\n"
	    "--w\r\nContent-Type: text/plain; charset=windows-1252\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	    "Your code is 123456 =E9 https://example.com/verify?t=3Dabc\r\n"
	    "--w\r\nContent-Type: text/html; charset=big5\r\n\r\n"
	    "<p>Code <b>123456</b> <a href=\"https://example.com/v\">go</a>"
	    "</p>\r\n--w--\r\n";
	struct mime_msg		m;
	struct extract_input	in;
	struct extract_result	res;
	const char		*err;
	char			dom[256];

	mime_init();
	if (mime_parse(warm, sizeof(warm) - 1, &m, &err) == 0) {
		memset(&in, 0, sizeof(in));
		in.kind = EXTRACT_EMAIL;
		in.subject = m.subject;
		in.subjectlen = strlen(m.subject);
		in.text = m.text;
		in.textlen = m.textlen;
		in.html = m.html;
		in.htmllen = m.htmllen;
		extract_run(&in, &res);
		extract_sms("Your code is 123456", 19, &res);
		mime_clear(&m);
	}
	(void)extract_domain("https://www.example.co.uk/x", dom, sizeof(dom));
}

/* Allow-list seccomp filter; anything else kills the child (SIGSYS). */
static int
child_seccomp(void)
{
	scmp_filter_ctx	ctx;
	int		rc = -1;
	pid_t		self = getpid();

	if ((ctx = seccomp_init(SCMP_ACT_KILL_PROCESS)) == NULL)
		return -1;
	/*
	 * The minimum seen under strace over the whole test suite, plus what
	 * glibc's malloc may need (mremap, madvise) and what abort() and
	 * libc's fatal messages use, so such deaths keep their own signal.
	 */
	if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1,
	    SCMP_A0(SCMP_CMP_EQ, CHILD_FD, 0)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendto), 1,
	    SCMP_A0(SCMP_CMP_EQ, CHILD_FD, 0)) ||
	    /* stderr: sanitizer and libc diagnostics only. */
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(write), 1,
	    SCMP_A0(SCMP_CMP_EQ, 2, 0)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(writev), 1,
	    SCMP_A0(SCMP_CMP_EQ, 2, 0)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(brk), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
	    SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(munmap), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mremap), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(madvise), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clock_gettime), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigreturn), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(rt_sigprocmask),
	    0) ||
	    /* Sanitizer builds look at it when reporting; harmless. */
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sigaltstack), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0) ||
	    /* abort() and raise() signal themselves, nobody else. */
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(getpid), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(gettid), 0) ||
	    seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
	    SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)self, 0)))
		goto done;
	if (seccomp_load(ctx) != 0)
		goto done;
	rc = 0;
done:
	seccomp_release(ctx);
	return rc;
}

static void
child_rlimit(int res, rlim_t v)
{
	struct rlimit rl = { v, v };

	if (setrlimit(res, &rl) == -1)
		_exit(4);
}

/* The child: sandbox itself, then serve requests until EOF. */
static void
child_main(int sock, int test)
{
	struct sigaction	 sa;
	struct timespec		 cpu;
	sigset_t		 all;
	unsigned char		*buf = NULL, *nb;
	size_t			 cap = 0;
	uint32_t		 hdr[2], flags;
	unsigned long		 nmsg = 0;
	int			 sig, null;

	/* Our socket on fd 3, /dev/null on 0 and 1, stderr kept, rest shut. */
	if (sock != CHILD_FD) {
		if (dup2(sock, CHILD_FD) == -1)
			_exit(4);
		close(sock);
	}
	if ((null = open("/dev/null", O_RDWR)) != -1) {
		dup2(null, 0);
		dup2(null, 1);
		if (null > CHILD_FD)
			close(null);
	}
	if (close_range(CHILD_FD + 1, ~0U, 0) == -1)
		for (null = CHILD_FD + 1; null < 4096; null++)
			close(null);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	(void)sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	child_warmup();

	/* Started by a root daemon before it dropped privileges: the child
	 * has no use for root, so it becomes nobody (no NSS lookup needed). */
	if (geteuid() == 0 && (setgroups(0, NULL) == -1 ||
	    setresgid(NOBODY_ID, NOBODY_ID, NOBODY_ID) == -1 ||
	    setresuid(NOBODY_ID, NOBODY_ID, NOBODY_ID) == -1))
		_exit(4);
	child_rlimit(RLIMIT_CORE, 0);
	child_rlimit(RLIMIT_FSIZE, 0);
	child_rlimit(RLIMIT_NOFILE, CHILD_FD + 1);
	child_rlimit(RLIMIT_NPROC, 0);
	child_rlimit(RLIMIT_MEMLOCK, 0);
	{
		struct rlimit rl = { CHILD_CPU_S, CHILD_CPU_S + 10 };

		if (setrlimit(RLIMIT_CPU, &rl) == -1)
			_exit(4);
	}
#ifndef UNDER_ASAN
	/* ASan reserves terabytes of shadow; it cannot live under RLIMIT_AS. */
	child_rlimit(RLIMIT_AS, CHILD_AS);
#endif
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    child_seccomp() == -1)
		_exit(5);
	/* Tell the parent we are sandboxed: only now is a death our input's
	 * fault rather than a broken start. */
	flags = READY_MAGIC;
	if (io_full(CHILD_FD, &flags, sizeof(flags), 1, -1) == -1)
		_exit(0);

	for (;;) {
		if (io_full(CHILD_FD, hdr, sizeof(hdr), 0, -1) == -1)
			_exit(0);
		if (hdr[0] != REQ_PARSE || hdr[1] > MIME_MAX_SIZE)
			_exit(6);
		if (hdr[1] + 1 > cap) {
			if ((nb = realloc(buf, hdr[1] + 1)) == NULL)
				_exit(3);
			buf = nb;
			cap = hdr[1] + 1;
		}
		if (io_full(CHILD_FD, buf, hdr[1], 0, -1) == -1)
			_exit(0);
		flags = 0;
		if (++nmsg >= RECYCLE_MSGS || (clock_gettime(
		    CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0 &&
		    cpu.tv_sec >= RECYCLE_CPU_S))
			flags = FL_RECYCLE;
		if (child_parse(CHILD_FD, (const char *)buf, hdr[1], test,
		    flags) & FL_RECYCLE)
			_exit(0);
		/* Give a big buffer back rather than hold it for the next. */
		if (cap > 1024 * 1024) {
			free(buf);
			buf = NULL;
			cap = 0;
		}
	}
}

/* ---- parent ----------------------------------------------------------- */

void
parser_child_hook(void)
{
	const char *v = getenv(CHILD_ENV);

	if (v != NULL && (strcmp(v, "3") == 0 || strcmp(v, "3t") == 0)) {
		unsetenv(CHILD_ENV);
		child_main(CHILD_FD, v[1] == 't');
	}
	exec_ok = 1;
}

static int
spawn(struct parser *p)
{
	static char	 arg0[] = "agentid-parser";
	char		*argv[] = { arg0, NULL }, env[32], *envp[2];
	uint32_t	 ready = 0;
	int		 sv[2];
	pid_t		 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		if (exec_ok) {
			/* Only async-signal-safe calls until execve(). */
			if (sv[1] == CHILD_FD)
				fcntl(CHILD_FD, F_SETFD, 0);
			else if (dup2(sv[1], CHILD_FD) == -1)
				_exit(4);
			memcpy(env, CHILD_ENV "=3t", sizeof(CHILD_ENV "=3t"));
			if (!p->test)
				env[sizeof(CHILD_ENV "=3") - 1] = '\0';
			envp[0] = env;
			envp[1] = NULL;
			execve("/proc/self/exe", argv, envp);
			sv[1] = CHILD_FD;	/* no exec: go on as a fork */
		}
		child_main(sv[1], p->test);
	}
	close(sv[1]);
	p->pid = pid;
	p->fd = sv[0];
	if (io_full(p->fd, &ready, sizeof(ready), 0, now_ms() +
	    SPAWN_TIMEOUT_MS) == -1 || ready != READY_MAGIC) {
		reap(p, 1);
		return -1;
	}
	return 0;
}

/* Kill (if asked) and reap the child; remember how it died. */
static void
reap(struct parser *p, int kill_it)
{
	struct timespec	tick = { 0, 10 * 1000 * 1000 };
	int		status = 0, i;
	pid_t		r = -1;

	if (p->pid <= 0)
		return;
	if (kill_it)
		kill(p->pid, SIGKILL);
	close(p->fd);
	p->fd = -1;
	/* A retiring child gets a second to exit; a hostile one that said
	 * "recycle" and lingers must not hang us in waitpid(). */
	for (i = 0; !kill_it && i < 100; i++) {
		r = waitpid(p->pid, &status, WNOHANG);
		if (r != 0 && !(r == -1 && errno == EINTR))
			break;
		nanosleep(&tick, NULL);
	}
	if (!kill_it && i == 100)
		kill(p->pid, SIGKILL);
	if (kill_it || i == 100)
		do
			r = waitpid(p->pid, &status, 0);
		while (r == -1 && errno == EINTR);
	p->last_signal = 0;
	if (r == p->pid && WIFSIGNALED(status))
		p->last_signal = WTERMSIG(status);
	p->pid = 0;
}

struct parser *
parser_new(const char **errstr)
{
	struct parser	*p;
	const char	*t = getenv("AGENTID_PARSER_TEST_CRASH");

	if ((p = calloc(1, sizeof(*p))) == NULL) {
		if (errstr != NULL)
			*errstr = "out of memory";
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->fd = -1;
	p->timeout_ms = PARSER_TIMEOUT_MS;
	p->test = (t != NULL && strcmp(t, "1") == 0);
	if (!exec_ok)
		mime_init();	/* forked children inherit loaded converters */
	if (spawn(p) == -1) {
		if (errstr != NULL)
			*errstr = "cannot start parser child";
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

static uint32_t
rd_u32(struct rd *r)
{
	uint32_t v = 0;

	if (r->bad || r->len - r->off < sizeof(v)) {
		r->bad = 1;
		return 0;
	}
	memcpy(&v, r->p + r->off, sizeof(v));
	r->off += sizeof(v);
	return v;
}

/* One string: at most max bytes, valid UTF-8, no NUL. */
static const unsigned char *
rd_str(struct rd *r, size_t max, size_t *lenp)
{
	const unsigned char	*s;
	size_t			 n = rd_u32(r), i = 0, len;

	if (r->bad || n > max || r->len - r->off < n) {
		r->bad = 1;
		return NULL;
	}
	s = r->p + r->off;
	while (i < n) {
		if ((len = utf8_char(s + i, n - i)) == 0)
			goto bad;
		i += len;
	}
	r->off += n;
	*lenp = n;
	return s;
bad:
	r->bad = 1;
	return NULL;
}

static char *
rd_dup(struct rd *r, size_t max, size_t *lenp)
{
	const unsigned char	*s;
	size_t			 n = 0;
	char			*d;

	if ((s = rd_str(r, max, &n)) == NULL)
		return NULL;
	if ((d = malloc(n + 1)) == NULL) {
		r->bad = 1;
		return NULL;
	}
	memcpy(d, s, n);
	d[n] = '\0';
	if (lenp != NULL)
		*lenp = n;
	return d;
}

static void
rd_fixed(struct rd *r, char *dst, size_t dsz)
{
	const unsigned char	*s;
	size_t			 n = 0;

	dst[0] = '\0';
	if ((s = rd_str(r, dsz - 1, &n)) == NULL)
		return;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

static double
rd_f64(struct rd *r)
{
	double d = 0;

	if (r->bad || r->len - r->off < sizeof(d)) {
		r->bad = 1;
		return 0;
	}
	memcpy(&d, r->p + r->off, sizeof(d));
	r->off += sizeof(d);
	if (!(d >= 0 && d <= 1))	/* NaN too */
		d = 0;
	return d;
}

/* The child's rule name as one of our own static strings (interned). */
static const char *
rd_rule(struct rd *r)
{
	char		 name[65];
	const char	*out = "unknown";
	size_t		 i;

	rd_fixed(r, name, sizeof(name));
	if (r->bad)
		return out;
	pthread_mutex_lock(&rules_lock);
	for (i = 0; i < RULES_MAX && rules[i] != NULL; i++)
		if (strcmp(rules[i], name) == 0)
			break;
	if (i < RULES_MAX && rules[i] == NULL)
		rules[i] = strdup(name);
	if (i < RULES_MAX && rules[i] != NULL)
		out = rules[i];
	pthread_mutex_unlock(&rules_lock);
	return out;
}

/* Decode an OK payload into out; -1 when the child sent nonsense. */
static int
decode_ok(const unsigned char *pl, size_t len, struct parser_out *out)
{
	struct rd	r = { pl, len, 0, 0 };
	int64_t		date = 0;
	size_t		i;

	out->from = rd_dup(&r, FIELD_MAX, NULL);
	out->from_display = rd_dup(&r, FIELD_MAX, NULL);
	out->subject = rd_dup(&r, FIELD_MAX, NULL);
	out->message_id = rd_dup(&r, FIELD_MAX, NULL);
	out->text = rd_dup(&r, PARSER_TEXT_MAX, &out->textlen);
	out->html = rd_dup(&r, PARSER_TEXT_MAX, &out->htmllen);
	if (!r.bad && r.len - r.off >= sizeof(date)) {
		memcpy(&date, r.p + r.off, sizeof(date));
		r.off += sizeof(date);
	} else
		r.bad = 1;
	out->date = date;
	out->res.ncodes = rd_u32(&r);
	if (out->res.ncodes > EXTRACT_MAX_CODES)
		r.bad = 1;
	for (i = 0; !r.bad && i < out->res.ncodes; i++) {
		struct extract_code *c = &out->res.codes[i];

		rd_fixed(&r, c->value, sizeof(c->value));
		rd_fixed(&r, c->raw, sizeof(c->raw));
		rd_fixed(&r, c->origin, sizeof(c->origin));
		c->confidence = rd_f64(&r);
		c->rule = rd_rule(&r);
	}
	out->res.nlinks = r.bad ? 0 : rd_u32(&r);
	if (out->res.nlinks > EXTRACT_MAX_LINKS)
		r.bad = 1;
	for (i = 0; !r.bad && i < out->res.nlinks; i++) {
		struct extract_link *l = &out->res.links[i];

		rd_fixed(&r, l->url, sizeof(l->url));
		rd_fixed(&r, l->domain, sizeof(l->domain));
		l->confidence = rd_f64(&r);
		l->rule = rd_rule(&r);
	}
	if (r.bad || r.off != r.len)
		return -1;
	return 0;
}

int
parser_parse(struct parser *p, const char *raw, size_t len,
    struct parser_out *out, const char **errstr)
{
	unsigned char	*pl = NULL;
	uint32_t	 req[2], rep[3] = { 0, 0, 0 };
	long long	 deadline;
	const char	*why = NULL;
	int		 rc = PARSER_CRASHED;

	memset(out, 0, sizeof(*out));
	if (len > MIME_MAX_SIZE || (raw == NULL && len > 0)) {
		if (errstr != NULL)
			*errstr = len > MIME_MAX_SIZE ? "too large" :
			    "no input";
		return PARSER_REJECTED;
	}
	pthread_mutex_lock(&p->lock);
	if (p->pid <= 0 && spawn(p) == -1) {
		why = "cannot start parser child";
		rc = PARSER_ERROR;
		goto done;
	}
	deadline = now_ms() + p->timeout_ms;
	req[0] = REQ_PARSE;
	req[1] = (uint32_t)len;
	if (io_full(p->fd, req, sizeof(req), 1, deadline) == -1 ||
	    (len > 0 && io_full(p->fd, (void *)(uintptr_t)raw, len, 1,
	    deadline) == -1) ||
	    io_full(p->fd, rep, sizeof(rep), 0, deadline) == -1) {
		why = now_ms() >= deadline ? "parser timed out" :
		    "parser child died";
		goto done;
	}
	if (rep[2] > REPLY_MAX || (rep[0] != ST_OK && rep[0] != ST_REJECTED) ||
	    (pl = malloc(rep[2] + 1)) == NULL ||
	    io_full(p->fd, pl, rep[2], 0, deadline) == -1) {
		why = "parser child sent a bad reply";
		goto done;
	}
	if (rep[0] == ST_REJECTED) {
		struct rd	 r = { pl, rep[2], 0, 0 };
		const char	*s;
		size_t		 n = 0;

		/* Map the child's reason to a static string of ours. */
		s = (const char *)rd_str(&r, FIELD_MAX, &n);
		why = "malformed";
		if (s != NULL) {
			static const char *const reasons[] = { "too large",
			    "nested too deep", "too many parts",
			    "header too large", "bad boundary",
			    "out of memory", "no input" };
			size_t i;

			for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]);
			    i++)
				if (strlen(reasons[i]) == n &&
				    memcmp(reasons[i], s, n) == 0)
					why = reasons[i];
		}
		rc = PARSER_REJECTED;
	} else if (decode_ok(pl, rep[2], out) == -1) {
		parser_out_clear(out);
		why = "parser child sent a bad reply";
	} else
		rc = PARSER_OK;
done:
	if (rc == PARSER_CRASHED)
		reap(p, 1);
	else if (rc != PARSER_ERROR && (rep[1] & FL_RECYCLE))
		reap(p, 0);
	pthread_mutex_unlock(&p->lock);
	free(pl);
	if (rc != PARSER_OK && errstr != NULL)
		*errstr = why;
	return rc;
}

void
parser_set_timeout(struct parser *p, int ms)
{
	pthread_mutex_lock(&p->lock);
	p->timeout_ms = ms > 0 ? ms : PARSER_TIMEOUT_MS;
	pthread_mutex_unlock(&p->lock);
}

int
parser_last_signal(struct parser *p)
{
	int sig;

	pthread_mutex_lock(&p->lock);
	sig = p->last_signal;
	pthread_mutex_unlock(&p->lock);
	return sig;
}

void
parser_out_clear(struct parser_out *o)
{
	if (o == NULL)
		return;
	free(o->from);
	free(o->from_display);
	free(o->subject);
	free(o->message_id);
	free(o->text);
	free(o->html);
	memset(o, 0, sizeof(*o));
}

void
parser_free(struct parser *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	reap(p, 1);
	pthread_mutex_unlock(&p->lock);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
