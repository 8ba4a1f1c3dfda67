/*
 * cliutil: small helpers shared by the agentid verbs: error lines in the
 * "agentid: VERB: message" shape, exit codes (DESIGN §7), reading a
 * capped file or stdin, and parsing durations and times.
 */
#ifndef CLIUTIL_H
#define CLIUTIL_H

#include <stddef.h>

/* Exit codes, the public interface of agentid (DESIGN §7, sysexits). */
#define EXIT_OK		0
#define EXIT_NEGATIVE	1	/* nothing found, timed out, not_found, ... */
#define EXIT_USAGE	64
#define EXIT_UNAVAIL	69	/* daemon unreachable */
#define EXIT_PROTOCOL	76
#define EXIT_NOPERM	77	/* unauthorized or revoked */

/* Print "agentid: VERB: message" to stderr (verb may be NULL). */
void	cliutil_warnx(const char *verb, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* The exit code for a daemon error code ("timeout", "unauthorized", ...). */
int	cliutil_exit_for(const char *error);

/*
 * Read all of path (stdin when path is NULL or "-") into a heap buffer,
 * NUL-terminated.  More than max bytes is an error.  Returns NULL with
 * *errstr set (static text, or strerror) on failure; *len gets the size.
 * The caller wipes and frees with cliutil_free().
 */
char	*cliutil_readall(const char *path, size_t max, size_t *len,
	    const char **errstr);
void	 cliutil_free(char *p, size_t len);

/* "90", "90s", "5m", "2h", "1d" -> seconds in [min,max]; -1 on error. */
long long cliutil_duration(const char *s, long long min, long long max);

/* A point in time for --since: unix seconds ("1700000000"), "now", or
 * a duration ago ("10m").  Returns -1 on error. */
long long cliutil_since(const char *s);

/* Valid agent name per DESIGN §7: [a-z][a-z0-9-]{0,31}. */
int	cliutil_valid_name(const char *s);

#endif
