/*
 * bench_sock: agent-socket round trips per second, in C so the client is
 * not what is measured.  Usage: bench_sock persist|connect SOCKET SECONDS
 * with the agent token in AGENTID_TOKEN (never on the command line).
 * persist: one connection, one `hello`, then `whoami` after `whoami`.
 * connect: a new connection per request, each `whoami` carrying the token.
 * Prints one line: "whoami MODE: N ok, E errors, R req/s, p50 X us,
 * p99 Y us".  Figures only; it does not pass or fail.
 */
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXSAMPLES	(1 << 21)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int
dial(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send req, read one line; 1 when the answer says "ok":true. */
static int
roundtrip(int fd, const char *req, size_t len)
{
	char buf[8192];
	size_t have = 0;
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, req, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		req += n;
		len -= (size_t)n;
	}
	for (;;) {
		if ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0) {
			if (n == -1 && errno == EINTR)
				continue;
			return -1;
		}
		have += (size_t)n;
		buf[have] = '\0';
		if (memchr(buf, '\n', have) != NULL)
			break;
		if (have >= sizeof(buf) - 1)
			return -1;
	}
	return strstr(buf, "\"ok\":true") != NULL ||
	    strstr(buf, "\"ok\": true") != NULL;
}

int
main(int argc, char **argv)
{
	const char *mode, *path, *token = getenv("AGENTID_TOKEN");
	char tokreq[512], plain[] = "{\"op\":\"whoami\"}\n";
	double secs, t0, t1, t, *lat = NULL;
	size_t ok = 0, errs = 0, nlat = 0;
	int persist, fd = -1, rc = 1, r, tl;

	if (argc != 4 || token == NULL) {
		fprintf(stderr, "usage: AGENTID_TOKEN=... bench_sock "
		    "persist|connect SOCKET SECONDS\n");
		return 64;
	}
	mode = argv[1];
	path = argv[2];
	secs = strtod(argv[3], NULL);
	if (secs <= 0 || secs > 120)
		secs = 2;
	persist = strcmp(mode, "persist") == 0;
	tl = snprintf(tokreq, sizeof(tokreq),
	    "{\"op\":\"%s\",\"token\":\"%s\",\"v\":1}\n",
	    persist ? "hello" : "whoami", token);
	if (tl < 0 || (size_t)tl >= sizeof(tokreq))
		return 64;
	if ((lat = calloc(MAXSAMPLES, sizeof(*lat))) == NULL)
		return 1;
	if (persist) {
		if ((fd = dial(path)) == -1 ||
		    roundtrip(fd, tokreq, (size_t)tl) != 1) {
			fprintf(stderr, "bench_sock: hello failed\n");
			goto done;
		}
	}
	t0 = now();
	do {
		t1 = now();
		if (persist)
			r = roundtrip(fd, plain, sizeof(plain) - 1);
		else {
			int c = dial(path);

			r = c == -1 ? -1 : roundtrip(c, tokreq, (size_t)tl);
			if (c != -1)
				close(c);
		}
		if (nlat < MAXSAMPLES)
			lat[nlat++] = now() - t1;
		if (r == 1)
			ok++;
		else {
			errs++;
			if (r == -1 && persist)
				break;
		}
	} while (now() - t0 < secs);
	t = now() - t0;
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	printf("whoami %s: %zu ok, %zu errors, %.0f req/s, p50 %.1f us, "
	    "p99 %.1f us\n", mode, ok, errs, ok / t,
	    nlat ? lat[nlat / 2] * 1e6 : 0.0,
	    nlat ? lat[(size_t)(nlat * 0.99)] * 1e6 : 0.0);
	rc = 0;
done:
	if (fd != -1)
		close(fd);
	free(lat);
	return rc;
}
