/*
 * Long-option parser for agentid.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli/cliargs.h"

struct optdef {
	const char	*name;		/* without the leading "--" */
	unsigned	 bit;
	int		 has_arg;
	size_t		 off;		/* of a const char * or an int */
};

#define S(f)	offsetof(struct cliargs, f)

static const struct optdef opts[] = {
	{ "socket",	OPT_SOCKET,	1, S(socket) },
	{ "json",	OPT_JSON,	0, S(json) },
	{ "help",	OPT_HELP,	0, S(help) },
	{ "token-file",	OPT_TOKEN_FILE,	1, S(token_file) },
	{ "email",	OPT_EMAIL,	0, S(email) },
	{ "phone",	OPT_PHONE,	0, S(phone) },
	{ "sms",	OPT_SMS,	0, S(sms) },
	{ "uid",	OPT_UID,	1, S(uid) },
	{ "agent",	OPT_AGENT,	1, S(agent) },
	{ "verify",	OPT_VERIFY,	0, S(verify) },
	{ "rotate",	OPT_ROTATE,	0, S(rotate) },
	{ "channel",	OPT_CHANNEL,	1, S(channel) },
	{ "from",	OPT_FROM,	1, S(from) },
	{ "subject",	OPT_SUBJECT,	1, S(subject) },
	{ "text",	OPT_TEXT,	1, S(text) },
	{ "kind",	OPT_KIND,	1, S(kind) },
	{ "origin",	OPT_ORIGIN,	1, S(origin) },
	{ "since",	OPT_SINCE,	1, S(since) },
	{ "timeout",	OPT_TIMEOUT,	1, S(timeout) },
};

#undef S

static const struct optdef *
find(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (strlen(opts[i].name) == len &&
		    memcmp(opts[i].name, name, len) == 0)
			return &opts[i];
	return NULL;
}

const char *
cliargs_name(unsigned opt)
{
	static char name[32];
	size_t i;

	for (i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i].bit == opt) {
			snprintf(name, sizeof(name), "--%s", opts[i].name);
			return name;
		}
	return NULL;
}

int
cliargs_parse(struct cliargs *a, int argc, char **argv, unsigned allowed,
    int maxpos, int stop, const char **errstr)
{
	static char msg[256];
	int i, dashdash = 0;

	for (i = 0; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		const struct optdef *d;
		size_t nlen;

		if (dashdash || arg[0] != '-' || arg[1] == '\0') {
			if (stop)
				return i;
			if (a->npos >= maxpos || a->npos >= CLIARGS_MAXPOS) {
				snprintf(msg, sizeof(msg),
				    "unexpected argument \"%.64s\"", arg);
				goto fail;
			}
			a->pos[a->npos++] = arg;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			if (stop)
				return i + 1;
			dashdash = 1;
			continue;
		}
		if (strcmp(arg, "-h") == 0) {
			d = find("help", 4);
		} else if (arg[1] != '-') {
			snprintf(msg, sizeof(msg), "unknown option \"%.64s\"",
			    arg);
			goto fail;
		} else {
			eq = strchr(arg + 2, '=');
			nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
			d = find(arg + 2, nlen);
			if (eq != NULL)
				val = eq + 1;
		}
		if (d == NULL || (d->bit & allowed) == 0) {
			snprintf(msg, sizeof(msg), "unknown option \"%.64s\"",
			    arg);
			goto fail;
		}
		if (!d->has_arg) {
			if (val != NULL) {
				snprintf(msg, sizeof(msg),
				    "option --%s takes no value", d->name);
				goto fail;
			}
			*(int *)(void *)((char *)a + d->off) = 1;
		} else {
			if (val == NULL) {
				if (i + 1 >= argc) {
					snprintf(msg, sizeof(msg),
					    "option --%s needs a value",
					    d->name);
					goto fail;
				}
				val = argv[++i];
			}
			*(const char **)(void *)((char *)a + d->off) = val;
		}
		a->seen |= d->bit;
	}
	return argc;
fail:
	*errstr = msg;
	return -1;
}
