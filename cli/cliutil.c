/*
 * Helpers shared by the agentid verbs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cliutil.h"
#include "common/xmalloc.h"

void
cliutil_warnx(const char *verb, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	if (verb != NULL)
		fprintf(stderr, "agentid: %s: ", verb);
	else
		fprintf(stderr, "agentid: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cliutil_exit_for(const char *error)
{
	static const struct {
		const char	*error;
		int		 code;
	} map[] = {
		{ "timeout",		EXIT_NEGATIVE },
		{ "not_found",		EXIT_NEGATIVE },
		{ "exists",		EXIT_NEGATIVE },
		{ "pending_approval",	EXIT_NEGATIVE },
		{ "provider_filtered",	EXIT_NEGATIVE },
		{ "audit_broken",	EXIT_NEGATIVE },
		{ "unauthorized",	EXIT_NOPERM },
		{ "revoked",		EXIT_NOPERM },
		{ "busy",		EXIT_UNAVAIL },
		{ "provider_error",	EXIT_UNAVAIL },
		{ "bad_request",	EXIT_PROTOCOL },
		{ "internal",		EXIT_PROTOCOL },
	};
	size_t i;

	if (error == NULL)
		return EXIT_PROTOCOL;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(map[i].error, error) == 0)
			return map[i].code;
	return EXIT_PROTOCOL;
}

char *
cliutil_readall(const char *path, size_t max, size_t *len,
    const char **errstr)
{
	char *data = NULL;
	size_t n = 0, cap = 0;
	int fd = 0, ok = 0;

	*len = 0;
	if (path != NULL && strcmp(path, "-") != 0) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			*errstr = strerror(errno);
			return NULL;
		}
	}
	for (;;) {
		ssize_t r;

		if (cap - n < 4096) {
			/* Grow by copying, so a secret never lingers in a
			 * block realloc() released. */
			size_t ncap = cap ? cap * 2 : 8192;
			char *nd = xmalloc(ncap + 1);

			if (n)
				memcpy(nd, data, n);
			cliutil_free(data, cap);
			data = nd;
			cap = ncap;
		}
		r = read(fd, data + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*errstr = strerror(errno);
			goto done;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max) {
			*errstr = "input too large";
			goto done;
		}
	}
	data[n] = '\0';
	*len = n;
	ok = 1;
done:
	if (fd != 0)
		close(fd);
	if (!ok) {
		cliutil_free(data, cap);
		return NULL;
	}
	return data;
}

void
cliutil_free(char *p, size_t len)
{
	if (p == NULL)
		return;
	explicit_bzero(p, len);
	free(p);
}

long long
cliutil_duration(const char *s, long long min, long long max)
{
	char num[32];
	const char *errstr;
	size_t n;
	long long v, mult = 1;

	if (s == NULL || (n = strlen(s)) == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	default: mult = 0; break;
	}
	if (mult != 0)
		num[n - 1] = '\0';
	else
		mult = 1;
	v = xstrtonum(num, 0, 100LL * 365 * 86400, &errstr);
	if (errstr != NULL)
		return -1;
	v *= mult;
	if (v < min || v > max)
		return -1;
	return v;
}

long long
cliutil_since(const char *s)
{
	const char *errstr;
	long long v;
	time_t now = time(NULL);

	if (s == NULL || *s == '\0')
		return -1;
	if (strcmp(s, "now") == 0)
		return now;
	/* A bare number this large is a timestamp, not seconds ago. */
	v = xstrtonum(s, 0, 1LL << 40, &errstr);
	if (errstr == NULL && v >= 100000000)
		return v;
	v = cliutil_duration(s, 0, now);
	if (v < 0)
		return -1;
	return now - v;
}

int
cliutil_valid_name(const char *s)
{
	size_t i;

	if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (i = 1; s[i] != '\0'; i++) {
		if (i >= 32)
			return 0;
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	}
	return 1;
}
