/*
 * admincmd: the admin verbs of agentid (DESIGN §7), each one request on
 * the admin socket (docs/protocol.md) and its answer printed for people,
 * or as the daemon's JSON object with --json.  Each returns an exit code.
 */
#ifndef ADMINCMD_H
#define ADMINCMD_H

#include "cli/cliargs.h"

int	admincmd_provision(struct cliargs *);
int	admincmd_list(struct cliargs *);
int	admincmd_show(struct cliargs *);
int	admincmd_revoke(struct cliargs *);
int	admincmd_token(struct cliargs *);
int	admincmd_audit(struct cliargs *);
int	admincmd_approve(struct cliargs *);
int	admincmd_deny(struct cliargs *);
int	admincmd_status(struct cliargs *);
int	admincmd_inject(struct cliargs *);

/* Largest message inject reads from --text, FILE or stdin. */
#define ADMINCMD_INJECT_MAX	(1024 * 1024)

#endif
