/*
 * bench_extract: extraction throughput on one core.  Loads the SMS and
 * mail cases from the test data (argument: the data/extract directory;
 * default tests/data/extract), then runs extract_run() over them for
 * about two seconds each and prints SMS/s and emails/s.  It prints
 * figures only; it does not pass or fail.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "extract/extract.h"
#include "mail/mime.h"

#define MAXMSG	4096

struct msg {
	char	*text;
	size_t	 len;
};

/* CPU time of this thread: the figure is per core even on a busy
 * machine, where wall time would count time spent descheduled. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (b = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	*len = fread(b, 1, (size_t)n, f);
	b[*len] = '\0';
	fclose(f);
	return b;
}

/* SMS bodies: records split by "\n%%\n", body after the first blank line. */
static size_t
load_sms(const char *dir, struct msg *v, size_t max)
{
	char path[1024];
	DIR *d;
	struct dirent *e;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/sms", dir);
	if ((d = opendir(path)) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		size_t len;
		char *b, *p, *rec;

		if (strstr(e->d_name, ".txt") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/sms/%s", dir, e->d_name);
		if ((b = slurp(path, &len)) == NULL)
			continue;
		for (rec = b; rec != NULL && n < max; ) {
			char *end = strstr(rec, "\n%%\n"), *body;

			if (end != NULL)
				*end = '\0';
			body = strstr(rec, "\n\n");
			if (body != NULL) {
				v[n].text = strdup(body + 2);
				v[n].len = strlen(body + 2);
				n++;
			}
			rec = end ? end + 4 : NULL;
		}
		p = b;
		free(p);
	}
	closedir(d);
	return n;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/data/extract";
	static struct msg sms[MAXMSG];
	static struct mime_msg mail[MAXMSG];
	static char *raw[MAXMSG];
	static size_t rawlen[MAXMSG];
	struct extract_result r;
	size_t ns, nm = 0, i, runs, found = 0;
	double t0, t;
	char path[1024];
	DIR *d;
	struct dirent *e;

	ns = load_sms(dir, sms, MAXMSG);
	snprintf(path, sizeof(path), "%s/email", dir);
	if ((d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL && nm < MAXMSG) {
			const char *err;
			size_t l = strlen(e->d_name);

			if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
				continue;
			snprintf(path, sizeof(path), "%s/email/%s", dir,
			    e->d_name);
			if ((raw[nm] = slurp(path, &rawlen[nm])) == NULL)
				continue;
			if (mime_parse(raw[nm], rawlen[nm], &mail[nm], &err) != 0)
				continue;
			nm++;
		}
		closedir(d);
	}
	if (ns == 0) {
		fprintf(stderr, "bench_extract: no SMS data under %s\n", dir);
		return 1;
	}
	/* SMS */
	runs = 0;
	t0 = now();
	do {
		for (i = 0; i < ns; i++, runs++)
			found += (size_t)extract_sms(sms[i].text, sms[i].len, &r);
	} while ((t = now() - t0) < 2.0);
	printf("extract sms: %zu messages, %.0f SMS/s on one core "
	    "(%.2f us each)\n", ns, runs / t, t / runs * 1e6);
	if (nm > 0) {
		runs = 0;
		t0 = now();
		do {
			for (i = 0; i < nm; i++, runs++) {
				struct extract_input in;

				memset(&in, 0, sizeof(in));
				in.kind = EXTRACT_EMAIL;
				in.from = mail[i].from;
				in.fromlen = strlen(mail[i].from);
				in.subject = mail[i].subject;
				in.subjectlen = strlen(mail[i].subject);
				in.text = mail[i].text;
				in.textlen = mail[i].textlen;
				in.html = mail[i].html;
				in.htmllen = mail[i].htmllen;
				found += (size_t)extract_run(&in, &r);
			}
		} while ((t = now() - t0) < 2.0);
		printf("extract email: %zu messages, %.0f emails/s on one core "
		    "(%.1f us each, MIME parsed beforehand)\n", nm, runs / t,
		    t / runs * 1e6);
		runs = 0;
		t0 = now();
		do {
			for (i = 0; i < nm; i++, runs++) {
				struct mime_msg m;
				const char *err;

				if (mime_parse(raw[i], rawlen[i], &m, &err) == 0)
					mime_clear(&m);
			}
		} while ((t = now() - t0) < 1.0);
		printf("mime_parse: %.0f emails/s on one core\n", runs / t);
	}
	for (i = 0; i < ns; i++)
		free(sms[i].text);
	for (i = 0; i < nm; i++) {
		mime_clear(&mail[i]);
		free(raw[i]);
	}
	/* Keeps the optimiser from dropping the work. */
	return found == 0 ? 1 : 0;
}
