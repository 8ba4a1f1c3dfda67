/*
 * test_extract: table cases for WebOTP origins, code values and
 * registrable domains, then every SMS and mail case under
 * data/extract/ (run from tests/).  Ends with accuracy figures.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract/extract.h"
#include "mail/mime.h"
#include "t.h"

#define FILE_MAX	(8 * 1024 * 1024)

struct tally {
	int	code_total, code_ok;	/* messages with a code */
	int	none_total, none_false;	/* messages without one */
	int	link_total, link_ok;
};

static struct tally sms_t, mail_t;

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, r;

	if (f == NULL)
		return NULL;
	b = malloc(FILE_MAX + 1);
	if (b != NULL) {
		while ((r = fread(b + n, 1, FILE_MAX - n, f)) > 0)
			n += r;
		b[n] = '\0';
	}
	fclose(f);
	*len = n;
	return b;
}

/* Value of "key: value" in a header block, into out ("" if absent). */
static int
header(const char *h, size_t n, const char *key, char *out, size_t cap)
{
	size_t kl = strlen(key), i = 0;

	out[0] = '\0';
	while (i < n) {
		const char *nl = memchr(h + i, '\n', n - i);
		size_t e = nl ? (size_t)(nl - h) : n;

		if (e - i > kl + 1 && strncmp(h + i, key, kl) == 0 &&
		    h[i + kl] == ':') {
			size_t s = i + kl + 1, l;

			while (s < e && h[s] == ' ')
				s++;
			l = e - s;
			while (l > 0 && (h[s + l - 1] == ' ' ||
			    h[s + l - 1] == '\r'))
				l--;
			if (l >= cap)
				l = cap - 1;
			memcpy(out, h + s, l);
			out[l] = '\0';
			return 1;
		}
		i = e + 1;
	}
	return 0;
}

static int
best_link(const struct extract_result *r, char *out, size_t cap)
{
	if (r->nlinks == 0 || r->links[0].confidence < EXTRACT_LINK_MIN) {
		snprintf(out, cap, "-");
		return 0;
	}
	snprintf(out, cap, "%s", r->links[0].url);
	return 1;
}

/* Judge one result against the expected values and print its line. */
static void
judge(const char *name, const struct extract_result *r, const char *want,
    const char *origin, int has_origin, const char *link, int has_link,
    struct tally *t)
{
	const char *got = r->ncodes > 0 ? r->codes[0].value : "-";
	char gl[EXTRACT_URL_MAX];
	int ok = 1;
	char why[512] = "";

	if (strcmp(want, "-") == 0) {
		t->none_total++;
		if (r->ncodes > 0) {
			t->none_false++;
			ok = 0;
			snprintf(why, sizeof(why), "false code (len %zu, %s)",
			    strlen(got), r->codes[0].rule);
		}
	} else {
		t->code_total++;
		if (strcmp(got, want) == 0)
			t->code_ok++;
		else {
			ok = 0;
			/* Test data are not secrets; show them. */
			snprintf(why, sizeof(why), "code got %s want %s", got,
			    want);
		}
	}
	if (ok && r->ncodes > 0) {
		const char *go = r->codes[0].origin;

		if (strcmp(go, has_origin ? origin : "") != 0) {
			ok = 0;
			snprintf(why, sizeof(why), "origin got '%s' want '%s'",
			    go, has_origin ? origin : "");
		}
	}
	if (has_link) {
		best_link(r, gl, sizeof(gl));
		t->link_total++;
		if (strcmp(gl, link) == 0)
			t->link_ok++;
		else if (ok) {
			ok = 0;
			snprintf(why, sizeof(why), "link got %.200s want %.200s",
			    gl, link);
		}
	}
	if (ok)
		printf("PASS %s\n", name);
	else {
		printf("FAIL %s: %s\n", name, why);
		t_failed = 1;
	}
}

static int
namecmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names in dir ending in suffix; caller frees. */
static size_t
list_dir(const char *dir, const char *suffix, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0, cap = 0, sl = strlen(suffix);

	*out = NULL;
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l <= sl || strcmp(e->d_name + l - sl, suffix) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			v = realloc(v, cap * sizeof(*v));
			if (v == NULL)
				abort();
		}
		v[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (n > 1)
		qsort(v, n, sizeof(*v), namecmp);
	*out = v;
	return n;
}

/*
 * One SMS file: records separated by a line "%%"; each has header lines
 * (code:, origin:, link:), a blank line, then the body verbatim (its
 * last newline dropped).
 */
static int
sms_file(const char *path, const char *fname)
{
	size_t len, i = 0;
	char *b = slurp(path, &len);
	int rec = 0;

	if (b == NULL) {
		printf("FAIL sms/%s: cannot read\n", fname);
		t_failed = 1;
		return 0;
	}
	while (i < len) {
		size_t s = i, e, hb, body;
		char want[256], origin[256], link[EXTRACT_URL_MAX], name[300];
		int ho, hl;
		struct extract_result r;
		const char *p;

		/* Record ends at "\n%%\n" or end of file. */
		p = s < len ? strstr(b + s, "\n%%\n") : NULL;
		e = p ? (size_t)(p - b) : len;
		i = p ? e + 4 : len;
		if (s == 0 && strncmp(b, "%%\n", 3) == 0)
			continue;
		while (s < e && (b[s] == '\n'))
			s++;
		if (s >= e)
			continue;
		p = strstr(b + s, "\n\n");
		if (p == NULL || (size_t)(p - b) > e) {
			printf("FAIL sms/%s#%d: no blank line after header\n",
			    fname, rec + 1);
			t_failed = 1;
			continue;
		}
		hb = (size_t)(p - b);
		body = hb + 2;
		rec++;
		snprintf(name, sizeof(name), "sms/%s#%d", fname, rec);
		if (!header(b + s, hb - s, "code", want, sizeof(want))) {
			printf("FAIL %s: no code: header\n", name);
			t_failed = 1;
			continue;
		}
		ho = header(b + s, hb - s, "origin", origin, sizeof(origin));
		hl = header(b + s, hb - s, "link", link, sizeof(link));
		extract_sms(b + body, e > body ? e - body : 0, &r);
		judge(name, &r, want, origin, ho, link, hl, &sms_t);
	}
	free(b);
	return rec;
}

static int
mail_file(const char *dir, const char *fname)
{
	char path[1024], wpath[1024], want[256], origin[256];
	char link[EXTRACT_URL_MAX], name[300];
	size_t len, wl;
	char *raw, *w;
	struct mime_msg m;
	struct extract_input in;
	struct extract_result r;
	const char *err = NULL;
	int ho, hl;

	snprintf(path, sizeof(path), "%s/%s", dir, fname);
	snprintf(wpath, sizeof(wpath), "%s/%.*s.want", dir,
	    (int)(strlen(fname) - 4), fname);
	snprintf(name, sizeof(name), "email/%s", fname);
	raw = slurp(path, &len);
	w = slurp(wpath, &wl);
	if (raw == NULL || w == NULL ||
	    !header(w, wl, "code", want, sizeof(want))) {
		printf("FAIL %s: cannot read it or its .want\n", name);
		t_failed = 1;
		free(raw);
		free(w);
		return 0;
	}
	ho = header(w, wl, "origin", origin, sizeof(origin));
	hl = header(w, wl, "link", link, sizeof(link));
	memset(&m, 0, sizeof(m));
	if (mime_parse(raw, len, &m, &err) != 0) {
		printf("FAIL %s: mime_parse: %s\n", name, err ? err : "?");
		t_failed = 1;
		free(raw);
		free(w);
		return 1;
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
	extract_run(&in, &r);
	judge(name, &r, want, origin, ho, link, hl, &mail_t);
	mime_clear(&m);
	free(raw);
	free(w);
	return 1;
}

static void
table_webotp(void)
{
	static const struct {
		const char *msg, *code, *origin;
	} cases[] = {
		{ "Your code is 123456.\n\n@example.com #123456", "123456",
		    "example.com" },
		{ "Code 747474\n@Shop.Example.COM #747474\n", "747474",
		    "shop.example.com" },
		{ "123456 is your code\n@top.example #123456 @embed.example",
		    "123456", "top.example" },
		{ "Your code: ab12CD\n@login.example.org #ab12CD", "ab12CD",
		    "login.example.org" },
		/* Malformed: no origin (but the code is still found). */
		{ "Your code is 123456\n@ example.com #123456", "123456", "" },
		{ "Your code is 123456\n@example.com 123456", "123456", "" },
		{ "Your code is 123456\n@example.com  #123456", "123456", "" },
		{ "Your code is 123456\n@exa_mple.com #123456", "123456", "" },
		{ "@example.com #123456\nYour code is 123456", "123456", "" },
		{ "Your code is 123456\n@example.com #123456 trailing", "123456",
		    "" },
		{ "Your code is 123456\n@example..com #123456", "123456", "" },
		{ "Your code is 123456\n@example.com #", "123456", "" },
		{ "Your code is 123456\n@example.com #123456 @", "123456", "" },
		{ "Your code is 123456 @example.com #123456", "123456", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct extract_result r;

		extract_sms(cases[i].msg, strlen(cases[i].msg), &r);
		T_CHECK(r.ncodes > 0 && strcmp(r.codes[0].value,
		    cases[i].code) == 0 && strcmp(r.codes[0].origin,
		    cases[i].origin) == 0, "webotp %zu", i);
	}
}

static void
table_values(void)
{
	static const struct {
		const char *msg, *value, *raw;
	} cases[] = {
		{ "Your WhatsApp code 123-456", "123456", "123-456" },
		{ "Your code: 123 456", "123456", "123 456" },
		{ "G-482913 is your Google verification code.", "482913",
		    "G-482913" },
		{ "FB-48291 is your Facebook confirmation code", "48291",
		    "FB-48291" },
		{ "認証コード：１２３４５６", "123456", "１２３４５６" },
		{ "رمز التحقق الخاص بك هو ٤٨٢٩١٣", "482913", "٤٨٢٩١٣" },
		{ "کد تایید شما: ۵۸۲۹۱۳", "582913", "۵۸۲۹۱۳" },
		{ "Your Steam Guard code: F4K9B", "F4K9B", "F4K9B" },
		{ "Your code is\xe2\x80\x8b 482913", "482913", "482913" },
		{ "Your code is 4821 5590", "48215590", "4821 5590" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct extract_result r;

		extract_sms(cases[i].msg, strlen(cases[i].msg), &r);
		T_CHECK(r.ncodes > 0 && strcmp(r.codes[0].value,
		    cases[i].value) == 0 && strcmp(r.codes[0].raw,
		    cases[i].raw) == 0 && r.codes[0].confidence > 0 &&
		    r.codes[0].confidence <= 1 && r.codes[0].rule != NULL,
		    "value %zu", i);
	}
}

static void
table_domain(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "https://www.example.co.uk/verify?x=1", "example.co.uk" },
		{ "https://accounts.google.com/signin", "google.com" },
		{ "http://user:pw@Mail.Example.COM:8080/x", "example.com" },
		{ "a.b.github.io", "b.github.io" },
		{ "https://click.e.example.com/ls/click?upn=x", "example.com" },
		{ "example.com.", "example.com" },
		{ "https://192.168.1.1/x", NULL },
		{ "https://[::1]/x", NULL },
		{ "com", NULL },
		{ "", NULL },
		{ "https://exa mple.com", NULL },
		{ "localhost", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[EXTRACT_ORIGIN_MAX];
		int rc = extract_domain(cases[i].in, out, sizeof(out));

		if (cases[i].want == NULL)
			T_CHECK(rc == -1 && out[0] == '\0', "domain %zu", i);
		else
			T_CHECK(rc == 0 && strcmp(out, cases[i].want) == 0,
			    "domain %zu", i);
	}
}

static void
table_robust(void)
{
	struct extract_result r;
	struct extract_input in;
	char *big = malloc(EXTRACT_INPUT_MAX + 4096);
	size_t i;

	T_CHECK(extract_sms(NULL, 0, &r) == 0, "robust null");
	T_CHECK(extract_sms("\xff\xfe\xc3", 3, &r) == 0, "robust bad utf8");
	if (big == NULL)
		abort();
	for (i = 0; i < EXTRACT_INPUT_MAX + 4096; i++)
		big[i] = (char)("12 ab<a href=x>\n&#"[i % 19]);
	memset(&in, 0, sizeof(in));
	in.kind = EXTRACT_EMAIL;
	in.text = big;
	in.textlen = EXTRACT_INPUT_MAX + 4096;
	in.html = big;
	in.htmllen = EXTRACT_INPUT_MAX + 4096;
	extract_run(&in, &r);
	T_CHECK(r.ncodes <= EXTRACT_MAX_CODES && r.nlinks <= EXTRACT_MAX_LINKS,
	    "robust huge input");
	free(big);
}

static const char *const thread_msgs[] = {
	"G-482913 is your Google verification code.",
	"【淘宝】验证码551203，您正在登录，请勿泄露。",
	"Your code is 661284.\n\n@login.example.com #661284",
	"A purchase of $1,234.56 was made on your card ending 4821.",
};

static const char *const thread_want[] = { "482913", "551203", "661284", "-" };

/* The first thread to run also builds the keyword tables; every thread
 * must still get the same answers. */
static void *
thread_main(void *arg)
{
	long bad = 0;
	int i, k;

	(void)arg;
	for (i = 0; i < 2000; i++)
		for (k = 0; k < 4; k++) {
			struct extract_result r;
			const char *got;

			extract_sms(thread_msgs[k], strlen(thread_msgs[k]), &r);
			got = r.ncodes ? r.codes[0].value : "-";
			if (strcmp(got, thread_want[k]) != 0)
				bad++;
		}
	return (void *)bad;
}

static void
table_threads(void)
{
	pthread_t t[4];
	long total = 0;
	int i, started = 0;

	for (i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, thread_main, NULL) == 0)
			started++;
	for (i = 0; i < started; i++) {
		void *rv;

		pthread_join(t[i], &rv);
		total += (long)rv;
	}
	T_CHECK(started == 4 && total == 0, "threads: %d started, %ld wrong",
	    started, total);
}

static void
report(const char *what, const struct tally *t)
{
	/* Not PASS/FAIL lines: figures for people. */
	printf("accuracy %s: codes %d/%d = %.3f, no-code false %d/%d = %.3f, "
	    "links %d/%d = %.3f\n", what, t->code_ok, t->code_total,
	    t->code_total ? (double)t->code_ok / t->code_total : 0,
	    t->none_false, t->none_total,
	    t->none_total ? (double)t->none_false / t->none_total : 0,
	    t->link_ok, t->link_total,
	    t->link_total ? (double)t->link_ok / t->link_total : 0);
}

int
main(void)
{
	char **names;
	size_t n, i;
	int cases = 0;

	table_threads();
	table_webotp();
	table_values();
	table_domain();
	table_robust();

	n = list_dir("data/extract/sms", ".txt", &names);
	for (i = 0; i < n; i++) {
		char path[1024];

		snprintf(path, sizeof(path), "data/extract/sms/%s", names[i]);
		cases += sms_file(path, names[i]);
		free(names[i]);
	}
	free(names);
	T_CHECK(cases >= 320, "sms data present (%d cases)", cases);

	cases = 0;
	n = list_dir("data/extract/email", ".eml", &names);
	for (i = 0; i < n; i++) {
		cases += mail_file("data/extract/email", names[i]);
		free(names[i]);
	}
	free(names);
	T_CHECK(cases >= 55, "email data present (%d cases)", cases);

	report("sms", &sms_t);
	report("email", &mail_t);
	return t_done();
}
