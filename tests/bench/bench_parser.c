/*
 * bench_parser: round trip through the sandboxed parser child (mail/parser.h):
 * frame out over the socketpair, MIME parse and extraction in the child,
 * frame back.  Loads the .eml cases of the extraction test data (argument:
 * the data/extract directory), parses each once to warm the child, then
 * runs them round-robin for about SECONDS and prints one line:
 *   parser round trip: N messages, R msgs/s, p50 X us, p99 Y us
 * It prints figures only; it does not pass or fail.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mail/parser.h"

#define MAXMSG		512
#define MAXSAMPLES	(1 << 20)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (b = malloc((size_t)n + 1)) == NULL)
		goto done;
	*len = fread(b, 1, (size_t)n, f);
	b[*len] = '\0';
done:
	fclose(f);
	return b;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "tests/data/extract";
	double seconds = 3.0, t0, t1, t, *lat = NULL;
	static char *raw[MAXMSG];
	static size_t rawlen[MAXMSG];
	struct parser *p = NULL;
	struct parser_out out;
	const char *err = NULL;
	char path[1024];
	size_t nm = 0, i, runs = 0, nlat = 0, bytes = 0, failed = 0;
	DIR *d;
	struct dirent *e;
	int rc = 1;

	/* First thing: a re-executed child must serve, not benchmark. */
	parser_child_hook();
	if (argc > 2) {
		seconds = strtod(argv[2], NULL);
		if (seconds <= 0 || seconds > 60)
			seconds = 3.0;
	}
	snprintf(path, sizeof(path), "%s/email", dir);
	if ((d = opendir(path)) == NULL) {
		fprintf(stderr, "bench_parser: no %s\n", path);
		goto done;
	}
	while ((e = readdir(d)) != NULL && nm < MAXMSG) {
		size_t l = strlen(e->d_name);

		if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/email/%s", dir, e->d_name);
		if ((raw[nm] = slurp(path, &rawlen[nm])) != NULL)
			bytes += rawlen[nm++];
	}
	closedir(d);
	if (nm == 0) {
		fprintf(stderr, "bench_parser: no .eml under %s/email\n", dir);
		goto done;
	}
	if ((p = parser_new(&err)) == NULL) {
		fprintf(stderr, "bench_parser: parser_new: %s\n",
		    err ? err : "?");
		goto done;
	}
	if ((lat = calloc(MAXSAMPLES, sizeof(*lat))) == NULL)
		goto done;
	for (i = 0; i < nm; i++) {
		memset(&out, 0, sizeof(out));
		if (parser_parse(p, raw[i], rawlen[i], &out, &err) == PARSER_OK)
			parser_out_clear(&out);
	}
	t0 = now();
	do {
		for (i = 0; i < nm; i++, runs++) {
			int st;

			memset(&out, 0, sizeof(out));
			t1 = now();
			st = parser_parse(p, raw[i], rawlen[i], &out, &err);
			if (nlat < MAXSAMPLES)
				lat[nlat++] = now() - t1;
			if (st == PARSER_OK)
				parser_out_clear(&out);
			else
				failed++;
		}
	} while ((t = now() - t0) < seconds);
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("parser round trip: %zu messages (avg %zu bytes), %.0f msgs/s, "
	    "p50 %.1f us, p99 %.1f us, %zu not parsed\n", nm, bytes / nm,
	    runs / t, lat[nlat / 2] * 1e6,
	    lat[(size_t)(nlat * 0.99)] * 1e6, failed);
	rc = 0;
done:
	parser_free(p);
	free(lat);
	for (i = 0; i < nm; i++)
		free(raw[i]);
	return rc;
}
