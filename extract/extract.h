/*
 * extract: find one-time codes and confirmation links in the text of one
 * SMS or one email.  Pure: no I/O, no globals that change, thread-safe.
 * Results are ranked best first, each with a confidence in [0,1] and the
 * name of the rule that produced it, so a user can see why.
 */
#ifndef EXTRACT_H
#define EXTRACT_H

#include <stddef.h>

#define EXTRACT_MAX_CODES	8
#define EXTRACT_MAX_LINKS	16
#define EXTRACT_CODE_MAX	32	/* longest value, with NUL */
#define EXTRACT_RAW_MAX		64
#define EXTRACT_ORIGIN_MAX	256
#define EXTRACT_URL_MAX		2048

/* Every code returned has at least this confidence; a link below it was
 * considered but is not a confirmation link (footer, decoy, unknown). */
#define EXTRACT_LINK_MIN	0.5

enum extract_kind {
	EXTRACT_SMS,
	EXTRACT_EMAIL
};

/* What to look at.  All strings are UTF-8, borrowed, and need not be
 * NUL-terminated (the lengths rule); any may be NULL with length 0. */
struct extract_input {
	enum extract_kind	 kind;
	const char		*from;		/* sender address or number */
	size_t			 fromlen;
	const char		*subject;	/* email only */
	size_t			 subjectlen;
	const char		*text;		/* plain text (or SMS body) */
	size_t			 textlen;
	const char		*html;		/* email HTML part, if any */
	size_t			 htmllen;
};

struct extract_code {
	char		 value[EXTRACT_CODE_MAX];	/* what a person types */
	char		 raw[EXTRACT_RAW_MAX];		/* as it stood */
	char		 origin[EXTRACT_ORIGIN_MAX];	/* WebOTP @domain, or "" */
	double		 confidence;
	const char	*rule;				/* static string */
};

struct extract_link {
	char		 url[EXTRACT_URL_MAX];		/* entities decoded */
	char		 domain[EXTRACT_ORIGIN_MAX];	/* registrable domain */
	double		 confidence;
	const char	*rule;				/* static string */
};

/* Plain value type: no heap inside, so it can be copied and zeroed. */
struct extract_result {
	size_t			ncodes;
	struct extract_code	codes[EXTRACT_MAX_CODES];
	size_t			nlinks;
	struct extract_link	links[EXTRACT_MAX_LINKS];
};

/*
 * Fill res from in.  Never fails on bad input: invalid UTF-8, binary bytes
 * and huge inputs give fewer or no results, never a crash.  Input longer
 * than EXTRACT_INPUT_MAX bytes per field is looked at only up to that cap.
 * Returns the number of codes plus links found.
 */
#define EXTRACT_INPUT_MAX	(1024 * 1024)
int	extract_run(const struct extract_input *in, struct extract_result *res);

/* Convenience for one SMS text. */
int	extract_sms(const char *text, size_t len, struct extract_result *res);

/* Registrable domain (public suffix + 1) of a host or URL, into out;
 * returns 0, or -1 when there is none (IP literal, bad URL). */
int	extract_domain(const char *url_or_host, char *out, size_t outlen);

#endif
