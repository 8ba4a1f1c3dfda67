/*
 * cliargs: the option parser behind every agentid verb.  One table of
 * long options; each verb states which of them it accepts, so a verb's
 * --help, its parser and the man page can be checked against each other.
 */
#ifndef CLIARGS_H
#define CLIARGS_H

#define CLIARGS_MAXPOS	4

enum cliopt {
	OPT_SOCKET	= 1u << 0,
	OPT_JSON	= 1u << 1,
	OPT_HELP	= 1u << 2,
	OPT_TOKEN_FILE	= 1u << 3,
	OPT_EMAIL	= 1u << 4,
	OPT_PHONE	= 1u << 5,
	OPT_SMS		= 1u << 6,
	OPT_UID		= 1u << 7,
	OPT_AGENT	= 1u << 8,
	OPT_VERIFY	= 1u << 9,
	OPT_ROTATE	= 1u << 10,
	OPT_CHANNEL	= 1u << 11,
	OPT_FROM	= 1u << 12,
	OPT_SUBJECT	= 1u << 13,
	OPT_TEXT	= 1u << 14,
	OPT_KIND	= 1u << 15,
	OPT_ORIGIN	= 1u << 16,
	OPT_SINCE	= 1u << 17,
	OPT_TIMEOUT	= 1u << 18
};

/* Every string is borrowed from argv. */
struct cliargs {
	const char	*verb;		/* for error messages */
	unsigned	 seen;		/* OPT_* given on the command line */
	const char	*socket;
	const char	*token_file;
	const char	*uid;
	const char	*agent;
	const char	*channel;
	const char	*from;
	const char	*subject;
	const char	*text;
	const char	*kind;
	const char	*origin;
	const char	*since;
	const char	*timeout;
	int		 json;
	int		 help;
	int		 email;
	int		 phone;
	int		 sms;
	int		 verify;
	int		 rotate;
	const char	*pos[CLIARGS_MAXPOS];
	int		 npos;
};

/*
 * Parse argv[0..argc) into a (which keeps what earlier calls filled).
 * Options may be mixed with operands; "--" ends options; "-" is an
 * operand.  Only options in allowed are accepted.  With stop set, parsing
 * ends at the first operand and the return value is its index; otherwise
 * operands are collected (at most maxpos) and argc is returned.
 * Returns -1 and sets *errstr (valid until the next call) on bad usage.
 */
int	cliargs_parse(struct cliargs *a, int argc, char **argv,
	    unsigned allowed, int maxpos, int stop, const char **errstr);

/* "--socket" for OPT_SOCKET, etc.; NULL for an unknown bit. */
const char *cliargs_name(unsigned opt);

#endif
