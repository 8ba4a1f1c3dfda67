/*
 * agentcmd: the agent verbs of agentid (whoami, wait) and what they share
 * with mcp: reading the token (AGENTID_TOKEN or --token-file, never the
 * command line) and checking the DESIGN §6 wait filters.
 */
#ifndef AGENTCMD_H
#define AGENTCMD_H

#include <jansson.h>

#include "cli/cliargs.h"

#define AGENTCMD_TOKEN_MAX	512
#define AGENTCMD_DEFAULT_WAIT	60	/* the daemon's default timeout */

/*
 * The agent token: the first line of token_file when given, else the
 * environment variable AGENTID_TOKEN.  Returns a heap string to free with
 * agentcmd_token_free() (which wipes it), or NULL with *errstr.
 */
char	*agentcmd_token(const char *token_file, const char **errstr);
void	 agentcmd_token_free(char *);

/*
 * Add the wait/list filters to req, checking each: kind code|link|any,
 * channel sms|email|any, from and origin up to 256 bytes, since >= 0,
 * timeout 0..86400 (negative since/timeout: not given; NULL strings: not
 * given).  Returns 0, or -1 with *errstr naming the bad filter.
 */
int	 agentcmd_filters(json_t *req, const char *kind, const char *channel,
	    const char *from, const char *origin, long long since,
	    long long timeout, const char **errstr);

int	 agentcmd_whoami(struct cliargs *);
int	 agentcmd_wait(struct cliargs *);

#endif
