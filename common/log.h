/*
 * log: the OpenBSD log.c shape.  Secrets cannot be printed by
 * construction: there is no secret type with a format, callers log ids,
 * lengths and states only (see README "Security model").
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG
};

/* name: program name prefix; level: most verbose level printed.
 * Logs go to stderr, one line each, with a timestamp. */
void	log_init(const char *name, int level);
void	log_setlevel(int level);
/* From now on, log to syslog (LOG_DAEMON) instead of stderr. */
void	log_syslog(void);
int	log_level_parse(const char *s);	/* -1 when unknown */

void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
