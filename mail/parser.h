/*
 * parser: the long-lived sandboxed child that turns raw mail into
 * normalized fields plus extraction results (DESIGN 3 rule 2).  The child
 * has no files, no network, a seccomp allow-list and rlimits; it talks to
 * us over a socketpair with length-prefixed frames.  If it dies or stalls
 * it is killed and the next call starts a new one.
 */
#ifndef PARSER_H
#define PARSER_H

#include <stddef.h>

#include "extract/extract.h"

#define PARSER_TEXT_MAX		(256 * 1024)	/* cap of text and html each */
#define PARSER_TIMEOUT_MS	10000		/* per message, then SIGKILL */

enum parser_status {
	PARSER_OK,		/* out is filled */
	PARSER_REJECTED,	/* the message is bad (mime said why) */
	PARSER_CRASHED,		/* the child died or timed out on it */
	PARSER_ERROR		/* local trouble (no child could start) */
};

/* Filled on PARSER_OK.  Strings owned, NUL-terminated UTF-8, never NULL;
 * text and html are cut at PARSER_TEXT_MAX (extraction saw all of it). */
struct parser_out {
	char			*from;		/* bare address */
	char			*from_display;
	char			*subject;
	char			*message_id;
	char			*text;
	size_t			 textlen;
	char			*html;
	size_t			 htmllen;
	long long		 date;		/* unix seconds, 0 if unknown */
	struct extract_result	 res;		/* rule strings are static */
};

struct parser;

/*
 * Call first thing in main(), before threads or secrets.  In a parser
 * child started by exec it serves requests and never returns; otherwise
 * it returns at once and from then on children are started by
 * re-executing this program (/proc/self/exe), so they begin with a fresh
 * address space holding none of the caller's keys or tokens.  Without
 * this call (or when exec fails) children are plain fork()s of the caller.
 */
void		 parser_child_hook(void);

/*
 * Start the child.  NULL with *errstr on failure.  When the environment
 * has AGENTID_PARSER_TEST_CRASH=1 at this call, the child obeys a test
 * header "X-Agentid-Test-Crash: abort|segv|loop|oom|socket|open|recycle|
 * badutf8|trailing|badlen" (tests only; without the variable the header
 * is ignored).
 */
struct parser	*parser_new(const char **errstr);

/*
 * Parse raw[0..len) in the child.  Thread-safe (one message at a time).
 * Returns an enum parser_status.  On PARSER_OK out must later go to
 * parser_out_clear(); otherwise out is zeroed and *errstr says why.
 * PARSER_CRASHED is what quarantine counts: the same message crashing
 * twice is the caller's cue.  The next call respawns a dead child.
 */
int		 parser_parse(struct parser *, const char *raw, size_t len,
		    struct parser_out *out, const char **errstr);

/* Per-message deadline in milliseconds (default PARSER_TIMEOUT_MS). */
void		 parser_set_timeout(struct parser *, int ms);

/* Signal that killed the last child that died (0: none or clean exit). */
int		 parser_last_signal(struct parser *);

void		 parser_out_clear(struct parser_out *);

/* Kill and reap the child, free everything; NULL is fine. */
void		 parser_free(struct parser *);

#endif
