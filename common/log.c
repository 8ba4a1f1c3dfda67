/*
 * Logging to stderr, one line per event, with a timestamp and level.
 * Only ids, lengths and states are ever passed in; see log.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "common/log.h"

static const char	*log_name = "agentid";
static int		 log_max = LOG_LEVEL_INFO;
static int		 log_to_syslog;
static pthread_mutex_t	 log_mtx = PTHREAD_MUTEX_INITIALIZER;

static void	vlog(int, const char *, const char *, va_list)
		    __attribute__((format(printf, 3, 0)));

void
log_init(const char *name, int level)
{
	log_name = name;
	log_max = level;
}

void
log_syslog(void)
{
	openlog(log_name, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_to_syslog = 1;
}

void
log_setlevel(int level)
{
	log_max = level;
}

int
log_level_parse(const char *s)
{
	static const char *names[] = { "error", "warn", "info", "debug" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

static void
vlog(int level, const char *suffix, const char *fmt, va_list ap)
{
	static const char lc[] = "EWID";
	char ts[32];
	struct timespec now;
	struct tm tm;

	if (level > log_max)
		return;
	if (log_to_syslog) {
		static const int pri[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
		    LOG_DEBUG };
		char msg[1024];

		vsnprintf(msg, sizeof(msg), fmt, ap);
		syslog(pri[level], suffix ? "%s: %s" : "%s%s", msg,
		    suffix ? suffix : "");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_mtx);
	fprintf(stderr, "%s.%03ldZ %s %c ", ts, now.tv_nsec / 1000000,
	    log_name, lc[level]);
	vfprintf(stderr, fmt, ap);
	if (suffix)
		fprintf(stderr, ": %s", suffix);
	fputc('\n', stderr);
	fflush(stderr);
	pthread_mutex_unlock(&log_mtx);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;
	char e[128];
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, strerror_r(saved, e, sizeof(e)), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_WARN, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;
	char e[128];
	int saved = errno;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, strerror_r(saved, e, sizeof(e)), fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LEVEL_ERROR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}
