/*
 * agentid: the command line of agentid (DESIGN §7).  A table of verbs,
 * each naming its handler, the socket it talks to, the options it takes
 * and its usage text; main() parses, picks the socket and dispatches.
 * The usage text here and man/agentid.1 are kept equal by a test.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/admincmd.h"
#include "cli/agentcmd.h"
#include "cli/cliargs.h"
#include "cli/cliutil.h"
#include "cli/extractcmd.h"
#include "cli/mcp.h"
#include "mail/parser.h"

#define ADMIN_SOCKET_DEFAULT	"/run/agentid/admin.sock"
#define AGENT_SOCKET_DEFAULT	"/run/agentid/agent.sock"

enum sock { SOCK_NONE, SOCK_ADMIN, SOCK_AGENT };

struct verb {
	const char	*name;
	int		(*fn)(struct cliargs *);
	enum sock	 sock;
	unsigned	 opts;		/* besides --socket, --json, --help */
	int		 minpos, maxpos;
	const char	*args;		/* usage after the name */
	const char	*summary;
	const char	*options;	/* one "  --opt ARG  text" line each */
};

static int	verb_mcp(struct cliargs *);
static int	verb_help(struct cliargs *);

#define COMMON	(OPT_SOCKET | OPT_JSON | OPT_HELP)

static const struct verb verbs[] = {
	{ "provision", admincmd_provision, SOCK_ADMIN,
	  OPT_EMAIL | OPT_PHONE | OPT_UID, 1, 1,
	  "NAME [--email] [--phone] [--uid UID]",
	  "create agent NAME with a mailbox and/or a phone number; prints "
	  "its token once",
	  "  --email          give the agent a mailbox\n"
	  "  --phone          give the agent a phone number\n"
	  "  --uid UID        only processes of this uid (or user name) may use "
	  "the token\n" },
	{ "list", admincmd_list, SOCK_ADMIN, 0, 0, 0, "",
	  "list agents with their addresses and pending secrets", "" },
	{ "show", admincmd_show, SOCK_ADMIN, 0, 1, 1, "NAME",
	  "show one agent: state, identities, secret counts", "" },
	{ "revoke", admincmd_revoke, SOCK_ADMIN, 0, 1, 1, "NAME",
	  "cut agent NAME off at once and release its mailbox and number",
	  "" },
	{ "token", admincmd_token, SOCK_ADMIN, OPT_ROTATE, 1, 1,
	  "NAME --rotate",
	  "give agent NAME a new token (the old one stops working); prints "
	  "it once",
	  "  --rotate         required: make a new token\n" },
	{ "audit", admincmd_audit, SOCK_ADMIN, OPT_AGENT | OPT_VERIFY, 0, 0,
	  "[--agent NAME] [--verify]",
	  "print the audit log, or check its hash chain",
	  "  --agent NAME     only records about agent NAME\n"
	  "  --verify         check the hash chain instead of printing it\n" },
	{ "approve", admincmd_approve, SOCK_ADMIN, 0, 1, 1, "ID",
	  "release a secret held for approval to its agent", "" },
	{ "deny", admincmd_deny, SOCK_ADMIN, 0, 1, 1, "ID",
	  "discard a secret held for approval", "" },
	{ "status", admincmd_status, SOCK_ADMIN, 0, 0, 0, "",
	  "show the daemon's state: agents, channels, counters", "" },
	{ "inject", admincmd_inject, SOCK_ADMIN,
	  OPT_CHANNEL | OPT_FROM | OPT_SUBJECT | OPT_TEXT, 1, 2,
	  "NAME [--channel sms|email] [--from S] [--subject S] "
	  "[--text T | FILE]",
	  "run a test message for agent NAME through extraction, store and "
	  "delivery",
	  "  --channel C      sms or email (default: email with --subject, "
	  "else sms)\n"
	  "  --from S         the sender\n"
	  "  --subject S      the subject (email)\n"
	  "  --text T         the message text (else FILE, else stdin; at most "
	  "1 MiB)\n" },
	{ "whoami", agentcmd_whoami, SOCK_AGENT, OPT_TOKEN_FILE, 0, 0, "",
	  "show the agent the token belongs to, its email and phone",
	  "  --token-file F   the token is the first line of F (else "
	  "$AGENTID_TOKEN)\n" },
	{ "wait", agentcmd_wait, SOCK_AGENT,
	  OPT_TOKEN_FILE | OPT_KIND | OPT_CHANNEL | OPT_FROM | OPT_ORIGIN |
	  OPT_SINCE | OPT_TIMEOUT, 0, 0,
	  "[--kind K] [--channel C] [--from S] [--origin D] [--since T] "
	  "[--timeout S]",
	  "wait for the newest matching code or link and print it",
	  "  --kind K         code, link or any (default any)\n"
	  "  --channel C      sms, email or any (default any)\n"
	  "  --from S         the sender contains S\n"
	  "  --origin D       the code is bound to domain D, or the link points "
	  "there\n"
	  "  --since T        received at or after T: unix seconds, \"now\", or "
	  "an age like 10m\n"
	  "                   (default: 5 minutes ago)\n"
	  "  --timeout S      wait at most S seconds (default 60; 5m works; 0 only\n"
	  "                   looks at what is there; at most the daemon's wait_max)\n"
	  "  --token-file F   the token is the first line of F (else "
	  "$AGENTID_TOKEN)\n" },
	{ "mcp", verb_mcp, SOCK_AGENT, OPT_TOKEN_FILE, 0, 0, "",
	  "serve the Model Context Protocol on stdin/stdout",
	  "  --token-file F   the token is the first line of F (else "
	  "$AGENTID_TOKEN)\n" },
	{ "extract", extractcmd_run, SOCK_NONE, OPT_SMS | OPT_EMAIL, 0, 1,
	  "[--sms | --email] [FILE]",
	  "print the codes and links found in one SMS text or one message",
	  "  --sms            the input is an SMS text\n"
	  "  --email          the input is an RFC 5322 message (default when "
	  "it starts with headers)\n" },
	{ "help", verb_help, SOCK_NONE, 0, 0, 1, "[VERB]",
	  "show this text, or the usage of VERB", "" },
};

#define NVERBS	(sizeof(verbs) / sizeof(verbs[0]))

static const struct verb *
verb_find(const char *name)
{
	size_t i;

	for (i = 0; i < NVERBS; i++)
		if (strcmp(verbs[i].name, name) == 0)
			return &verbs[i];
	return NULL;
}

static void
usage_main(FILE *fp)
{
	static const struct {
		enum sock	 sock;
		const char	*title;
	} groups[] = {
		{ SOCK_ADMIN, "Admin verbs (admin socket; root or admin_uids):" },
		{ SOCK_AGENT, "Agent verbs (agent socket; token from "
		  "AGENTID_TOKEN or --token-file):" },
		{ SOCK_NONE, "Anyone:" },
	};
	size_t g, i;

	fprintf(fp, "usage: agentid [--socket PATH] [--json] VERB "
	    "[ARGS]\n");
	for (g = 0; g < 3; g++) {
		fprintf(fp, "\n%s\n", groups[g].title);
		for (i = 0; i < NVERBS; i++) {
			if (verbs[i].sock != groups[g].sock)
				continue;
			fprintf(fp, "  %s%s%s\n      %s\n", verbs[i].name,
			    verbs[i].args[0] ? " " : "", verbs[i].args,
			    verbs[i].summary);
		}
	}
	fprintf(fp, "\nEvery verb takes --socket PATH, --json and -h/--help; "
	    "\"agentid help VERB\" shows its usage.\n"
	    "Exit codes: 0 ok, 1 nothing found or timed out, 64 usage, "
	    "69 daemon unreachable,\n"
	    "  76 protocol error, 77 unauthorized or revoked.\n"
	    "Environment: AGENTID_ADMIN_SOCKET, AGENTID_SOCKET, "
	    "AGENTID_TOKEN.  See agentid(1).\n");
}

static void
usage_verb(FILE *fp, const struct verb *v)
{
	const char *sock = v->sock == SOCK_ADMIN ?
	    "admin socket (default $AGENTID_ADMIN_SOCKET, else "
	    ADMIN_SOCKET_DEFAULT ")" : v->sock == SOCK_AGENT ?
	    "agent socket (default $AGENTID_SOCKET, else "
	    AGENT_SOCKET_DEFAULT ")" : "accepted and ignored";

	fprintf(fp, "usage: agentid %s%s%s%s [--json] [--socket PATH]\n\n"
	    "%c%s.\n", v->name, v->args[0] ? " " : "", v->args,
	    v->opts & OPT_TOKEN_FILE ? " [--token-file F]" : "",
	    v->summary[0] - 'a' + 'A', v->summary + 1);
	fprintf(fp, "\nOptions:\n%s", v->options);
	fprintf(fp, "  --json           %s\n", strcmp(v->name, "wait") == 0 ?
	    "print the secret as a JSON object (no countdown)" :
	    strcmp(v->name, "extract") == 0 ? "accepted; the output is "
	    "always JSON" : strcmp(v->name, "mcp") == 0 ? "accepted and "
	    "ignored" : "print the daemon's answer as JSON");
	fprintf(fp, "  --socket PATH    %s\n", sock);
	fprintf(fp, "  -h, --help       show this text\n");
}

static int
verb_help(struct cliargs *a)
{
	const struct verb *v;

	if (a->npos == 0) {
		usage_main(stdout);
		return EXIT_OK;
	}
	if ((v = verb_find(a->pos[0])) == NULL) {
		cliutil_warnx("help", "unknown verb \"%.40s\"", a->pos[0]);
		return EXIT_USAGE;
	}
	usage_verb(stdout, v);
	return EXIT_OK;
}

static int
verb_mcp(struct cliargs *a)
{
	const char *errstr = NULL;
	char *tok;
	int rc;

	if ((tok = agentcmd_token(a->token_file, &errstr)) == NULL) {
		cliutil_warnx(a->verb, "%s", errstr);
		return EXIT_USAGE;
	}
	rc = mcp_run(STDIN_FILENO, STDOUT_FILENO, a->socket, tok);
	agentcmd_token_free(tok);
	return rc;
}

int
main(int argc, char *argv[])
{
	struct cliargs a;
	const struct verb *v;
	const char *errstr = NULL, *env;
	int i;

	/* `agentid extract --email` parses in a child that re-executes
	 * this binary; such a child stops here. */
	parser_child_hook();
	/* A daemon that hangs up must give an error, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	memset(&a, 0, sizeof(a));
	i = cliargs_parse(&a, argc - 1, argv + 1, COMMON | OPT_TOKEN_FILE, 0,
	    1, &errstr);
	if (i < 0) {
		cliutil_warnx(NULL, "%s", errstr);
		usage_main(stderr);
		return EXIT_USAGE;
	}
	i++;
	if (i >= argc) {
		if (a.help) {
			usage_main(stdout);
			return EXIT_OK;
		}
		cliutil_warnx(NULL, "missing verb");
		usage_main(stderr);
		return EXIT_USAGE;
	}
	if ((v = verb_find(argv[i])) == NULL) {
		cliutil_warnx(NULL, "unknown verb \"%.40s\"; see agentid "
		    "--help", argv[i]);
		return EXIT_USAGE;
	}
	a.verb = v->name;
	if ((a.seen & OPT_TOKEN_FILE) && !(v->opts & OPT_TOKEN_FILE)) {
		cliutil_warnx(v->name, "unknown option \"--token-file\"");
		return EXIT_USAGE;
	}
	if (cliargs_parse(&a, argc - i - 1, argv + i + 1, COMMON | v->opts,
	    v->maxpos, 0, &errstr) < 0) {
		cliutil_warnx(v->name, "%s", errstr);
		fputc('\n', stderr);
		usage_verb(stderr, v);
		return EXIT_USAGE;
	}
	if (a.help) {
		usage_verb(stdout, v);
		return EXIT_OK;
	}
	if (a.npos < v->minpos) {
		cliutil_warnx(v->name, "missing argument");
		fputc('\n', stderr);
		usage_verb(stderr, v);
		return EXIT_USAGE;
	}
	if (a.socket == NULL && v->sock == SOCK_ADMIN) {
		env = getenv("AGENTID_ADMIN_SOCKET");
		a.socket = env && *env ? env : ADMIN_SOCKET_DEFAULT;
	} else if (a.socket == NULL && v->sock == SOCK_AGENT) {
		env = getenv("AGENTID_SOCKET");
		a.socket = env && *env ? env : AGENT_SOCKET_DEFAULT;
	}
	return v->fn(&a);
}
