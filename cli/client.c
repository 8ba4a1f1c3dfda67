/*
 * Unix-socket client for the agent and admin protocols.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/client.h"
#include "cli/cliutil.h"
#include "common/jsonl.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static enum client_status
errno_status(int e)
{
	if (e == EACCES || e == EPERM)
		return CLIENT_DENIED;
	return CLIENT_UNREACHABLE;
}

int
client_connect(const char *path, int timeout_ms, enum client_status *st,
    const char **errstr)
{
	struct sockaddr_un sun;
	long long deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	int fd = -1, fl;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		*st = CLIENT_UNREACHABLE;
		*errstr = "socket path too long";
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		goto fail;
	for (;;) {
		struct pollfd pfd = { fd, POLLOUT, 0 };
		long long left;
		int err = 0;
		socklen_t elen = sizeof(err);

		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			break;
		if (errno == EINTR)
			continue;
		left = deadline - now_ms();
		if (errno == EAGAIN) {
			/* Backlog full: the daemon is alive but busy. */
			if (left <= 0) {
				errno = ETIMEDOUT;
				goto fail;
			}
			poll(NULL, 0, left < 20 ? (int)left : 20);
			continue;
		}
		if (errno != EINPROGRESS)
			goto fail;
		if (poll(&pfd, 1, left > 0 ? (int)left : 0) <= 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
		break;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		goto fail;
	*st = CLIENT_OK;
	return fd;
fail:
	*st = errno_status(errno);
	*errstr = strerror(errno);
	if (fd != -1)
		close(fd);
	return -1;
}

int
client_send(int fd, const json_t *req, const char **errstr)
{
	char *line;
	size_t len;
	int rc = 0;

	line = jsonl_dump(req, &len);
	if (line == NULL) {
		*errstr = "cannot encode request";
		return -1;
	}
	if (len > JSONL_MAX_LINE + 1) {
		*errstr = "request longer than the 64 KiB line limit";
		rc = -1;
	} else if (jsonl_write_all(fd, line, len) == -1) {
		*errstr = strerror(errno);
		rc = -1;
	}
	explicit_bzero(line, len);
	free(line);
	return rc;
}

size_t
client_bufmax(void)
{
	return JSONL_MAX_LINE + 4096;
}

enum client_status
client_recv(int fd, struct buf *b, int timeout_ms, json_t **resp,
    const char **errstr)
{
	enum jsonl_status js;
	json_t *o = NULL;

	*resp = NULL;
	js = jsonl_read(fd, b, timeout_ms, &o, errstr);
	if (js != JSONL_OK) {
		if (*errstr != NULL && strcmp(*errstr, "timeout") == 0)
			return CLIENT_TIMEOUT;
		if (*errstr != NULL && strcmp(*errstr, "closed") == 0)
			*errstr = "connection closed without an answer";
		return CLIENT_PROTO;
	}
	if (!json_is_boolean(json_object_get(o, "ok"))) {
		json_decref(o);
		*errstr = "response without \"ok\"";
		return CLIENT_PROTO;
	}
	*resp = o;
	return CLIENT_OK;
}

enum client_status
client_call(const char *path, const json_t *req, int timeout_ms,
    json_t **resp, const char **errstr)
{
	enum client_status st;
	long long start = now_ms();
	struct buf b;
	int fd, left;

	*resp = NULL;
	fd = client_connect(path, timeout_ms, &st, errstr);
	if (fd == -1)
		return st;
	buf_init(&b, client_bufmax());
	if (client_send(fd, req, errstr) == -1) {
		/* A daemon that hangs up on us before reading is not
		 * there for us: refused by uid, or shutting down. */
		st = CLIENT_UNREACHABLE;
		goto done;
	}
	left = timeout_ms - (int)(now_ms() - start);
	st = client_recv(fd, &b, left > 0 ? left : 0, resp, errstr);
	if (st == CLIENT_TIMEOUT)
		*errstr = "the daemon did not answer in time";
done:
	buf_clear(&b);
	close(fd);
	return st;
}

void
client_warn(const char *verb, const char *path, enum client_status st,
    const char *errstr)
{
	switch (st) {
	case CLIENT_UNREACHABLE:
		cliutil_warnx(verb, "cannot reach agentidd at %s: %s", path,
		    errstr);
		break;
	case CLIENT_DENIED:
		cliutil_warnx(verb, "%s: %s (this user may not use the "
		    "socket)", path, errstr);
		break;
	default:
		cliutil_warnx(verb, "%s: %s", path, errstr);
		break;
	}
}

int
client_exit(enum client_status st)
{
	switch (st) {
	case CLIENT_OK:
		return EXIT_OK;
	case CLIENT_UNREACHABLE:
	case CLIENT_TIMEOUT:
		return EXIT_UNAVAIL;
	case CLIENT_DENIED:
		return EXIT_NOPERM;
	case CLIENT_PROTO:
		break;
	}
	return EXIT_PROTOCOL;
}

const char *
client_error(const json_t *resp)
{
	const char *s = json_string_value(json_object_get(resp, "error"));

	return s ? s : "";
}

const char *
client_message(const json_t *resp)
{
	const char *s = json_string_value(json_object_get(resp, "message"));

	return s ? s : "";
}
