/*
 * agentidd.conf: a table of known keys, read with inih.  Every problem is
 * printed as file:line and loading goes on, so a user sees all of them at
 * once; then the load fails.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/xmalloc.h"

enum ktype { K_STR, K_LONG, K_INT, K_UIDS, K_LIST, K_LEVEL, K_CHOICE };

struct key {
	const char	*section;
	const char	*name;
	enum ktype	 type;
	size_t		 off;		/* field */
	size_t		 countoff;	/* K_UIDS, K_LIST: count field */
	long long	 min, max;
	const char	*choices;	/* K_CHOICE: "a|b|c" */
};

#define F(f)	offsetof(struct config, f)
static const struct key keys[] = {
	{ "daemon", "state_dir", K_STR, F(state_dir), 0, 0, 0, NULL },
	{ "daemon", "agent_socket", K_STR, F(agent_socket), 0, 0, 0, NULL },
	{ "daemon", "admin_socket", K_STR, F(admin_socket), 0, 0, 0, NULL },
	{ "daemon", "admin_uids", K_UIDS, F(admin_uids), F(nadmin_uids),
	    0, 0x7fffffff, NULL },
	{ "daemon", "user", K_STR, F(user), 0, 0, 0, NULL },
	{ "daemon", "code_ttl", K_LONG, F(code_ttl), 0, 10, 86400 * 7, NULL },
	{ "daemon", "wait_max", K_LONG, F(wait_max), 0, 1, 86400, NULL },
	{ "daemon", "body_retention", K_LONG, F(body_retention), 0, 0,
	    86400 * 365, NULL },
	{ "daemon", "log_level", K_LEVEL, F(log_level), 0, 0, 0, NULL },
	{ "webhook", "listen", K_STR, F(webhook_listen), 0, 0, 0, NULL },
	{ "webhook", "public_url", K_STR, F(public_url), 0, 0, 0, NULL },
	{ "phone", "provider", K_CHOICE, F(phone_provider), 0, 0, 0,
	    "twilio|gateway|none" },
	{ "twilio", "api_base", K_STR, F(twilio_api_base), 0, 0, 0, NULL },
	{ "twilio", "account_sid", K_STR, F(twilio_account_sid), 0, 0, 0, NULL },
	{ "twilio", "auth_token_file", K_STR, F(twilio_auth_token_file), 0,
	    0, 0, NULL },
	{ "twilio", "country", K_STR, F(twilio_country), 0, 0, 0, NULL },
	{ "twilio", "area_code", K_STR, F(twilio_area_code), 0, 0, 0, NULL },
	{ "twilio", "poll_interval", K_LONG, F(twilio_poll_interval), 0, 0,
	    86400, NULL },
	{ "gateway", "secret_file", K_STR, F(gateway_secret_file), 0, 0, 0,
	    NULL },
	{ "gateway", "numbers", K_LIST, F(gateway_numbers),
	    F(ngateway_numbers), 0, 0, NULL },
	{ "mail", "provider", K_CHOICE, F(mail_provider), 0, 0, 0,
	    "dovecot|mailcow|none" },
	{ "mail", "domain", K_STR, F(mail_domain), 0, 0, 0, NULL },
	{ "mail", "imap_host", K_STR, F(imap_host), 0, 0, 0, NULL },
	{ "mail", "imap_port", K_INT, F(imap_port), 0, 1, 65535, NULL },
	{ "mail", "imap_tls", K_CHOICE, F(imap_tls), 0, 0, 0,
	    "implicit|starttls|none" },
	{ "mail", "ca_file", K_STR, F(imap_ca_file), 0, 0, 0, NULL },
	{ "mail", "poll_interval", K_LONG, F(poll_interval), 0, 1, 86400, NULL },
	{ "dovecot", "passwd_file", K_STR, F(dovecot_passwd_file), 0, 0, 0,
	    NULL },
	{ "dovecot", "maildir", K_STR, F(dovecot_maildir), 0, 0, 0, NULL },
	{ "mailcow", "api_base", K_STR, F(mailcow_api_base), 0, 0, 0, NULL },
	{ "mailcow", "api_key_file", K_STR, F(mailcow_api_key_file), 0, 0, 0,
	    NULL },
	{ "mailcow", "quota", K_LONG, F(mailcow_quota), 0, 1, 1 << 20, NULL },
	{ "smtp", "host", K_STR, F(smtp_host), 0, 0, 0, NULL },
	{ "smtp", "port", K_INT, F(smtp_port), 0, 1, 65535, NULL },
	{ "smtp", "tls", K_CHOICE, F(smtp_tls), 0, 0, 0, "starttls|none" },
	{ "smtp", "user", K_STR, F(smtp_user), 0, 0, 0, NULL },
	{ "smtp", "password_file", K_STR, F(smtp_password_file), 0, 0, 0, NULL },
	{ "smtp", "from", K_STR, F(smtp_from), 0, 0, 0, NULL },
	{ "smtp", "owner_email", K_STR, F(smtp_owner_email), 0, 0, 0, NULL },
	{ "smtp", "ca_file", K_STR, F(smtp_ca_file), 0, 0, 0, NULL },
	{ "policy", "approve_senders", K_LIST, F(approve_senders),
	    F(napprove_senders), 0, 0, NULL },
};
#undef F

struct loader {
	struct config	*c;
	FILE		*fp;
	int		 line;
	int		 errors;
};

static void
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
}

struct config *
config_new(void)
{
	struct config *c = xcalloc(1, sizeof(*c));

	c->state_dir = xstrdup("/var/lib/agentid");
	c->agent_socket = xstrdup("/run/agentid/agent.sock");
	c->admin_socket = xstrdup("/run/agentid/admin.sock");
	c->code_ttl = 600;
	c->wait_max = 300;
	c->body_retention = 86400;
	c->log_level = LOG_LEVEL_INFO;
	c->webhook_listen = xstrdup("127.0.0.1:8787");
	c->phone_provider = xstrdup("none");
	c->twilio_api_base = xstrdup("https://api.twilio.com");
	c->twilio_country = xstrdup("US");
	c->mail_provider = xstrdup("none");
	c->imap_port = 993;
	c->imap_tls = xstrdup("implicit");
	c->poll_interval = 60;
	c->mailcow_quota = 64;
	c->smtp_port = 587;
	c->smtp_tls = xstrdup("starttls");
	return c;
}

static void	loader_err(struct loader *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static void
loader_err(struct loader *l, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", l->c->path, l->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	l->errors++;
}

/* Split "a, b , c" into the list at lst, counting into *n. */
static int
set_list(char **lst, size_t *n, const char *v, int uids, uid_t *ul)
{
	char *dup = xstrdup(v), *p = dup, *item;
	int rc = 0;

	while ((item = strsep(&p, ",")) != NULL) {
		char *e;

		while (*item == ' ' || *item == '\t')
			item++;
		e = item + strlen(item);
		while (e > item && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (*item == '\0')
			continue;
		if (*n >= CONFIG_MAX_LIST) {
			rc = -1;
			break;
		}
		if (uids) {
			const char *es;
			long long u = xstrtonum(item, 0, 0x7fffffff, &es);

			if (es) {
				rc = -1;
				break;
			}
			ul[(*n)++] = (uid_t)u;
		} else
			lst[(*n)++] = xstrdup(item);
	}
	free(dup);
	return rc;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct loader *l = user;
	const struct key *k = NULL;
	const char *es;
	long long v;
	size_t i;
	char *base = (char *)l->c;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].name, name) == 0) {
			k = &keys[i];
			break;
		}
	if (k == NULL) {
		loader_err(l, "unknown key \"%s\" in [%s]", name, section);
		return 1;
	}
	switch (k->type) {
	case K_STR:
		set_str((char **)(base + k->off), value);
		break;
	case K_CHOICE: {
		char pat[128];

		snprintf(pat, sizeof(pat), "|%s|", k->choices);
		if (*value == '\0' || strchr(value, '|') ||
		    strstr(pat, value) == NULL ||
		    strstr(pat, value)[-1] != '|' ||
		    strstr(pat, value)[strlen(value)] != '|') {
			loader_err(l, "%s must be one of %s", name, k->choices);
			break;
		}
		set_str((char **)(base + k->off), value);
		break;
	}
	case K_LONG:
	case K_INT:
		v = xstrtonum(value, k->min, k->max, &es);
		if (es) {
			loader_err(l, "%s: value is %s", name, es);
			break;
		}
		if (k->type == K_LONG)
			*(long *)(base + k->off) = (long)v;
		else
			*(int *)(base + k->off) = (int)v;
		break;
	case K_LEVEL:
		if ((v = log_level_parse(value)) < 0) {
			loader_err(l, "%s must be one of %s", name,
			    "error|warn|info|debug");
			break;
		}
		*(int *)(base + k->off) = (int)v;
		break;
	case K_UIDS:
		if (set_list(NULL, (size_t *)(base + k->countoff), value, 1,
		    (uid_t *)(base + k->off)) == -1)
			loader_err(l, "%s: bad uid list (numbers, at most %s)",
			    name, "32");
		break;
	case K_LIST:
		if (set_list((char **)(base + k->off),
		    (size_t *)(base + k->countoff), value, 0, NULL) == -1)
			loader_err(l, "%s: too many items (at most %s)", name,
			    "32");
		break;
	}
	return 1;
}

/* inih reader that counts lines, so the handler knows where it is. */
static char *
reader(char *str, int num, void *stream)
{
	struct loader *l = stream;
	char *r = fgets(str, num, l->fp);

	if (r)
		l->line++;
	return r;
}

struct config *
config_load(const char *path)
{
	struct loader l;
	int r;

	memset(&l, 0, sizeof(l));
	l.c = config_new();
	l.c->path = xstrdup(path);
	if ((l.fp = fopen(path, "re")) == NULL) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		config_free(l.c);
		return NULL;
	}
	r = ini_parse_stream(reader, &l, handler, &l);
	fclose(l.fp);
	if (r > 0) {
		/* The handler never fails, so r is a syntax error's line. */
		fprintf(stderr, "%s:%d: syntax error\n", path, r);
		l.errors++;
	} else if (r < 0) {
		fprintf(stderr, "%s: cannot parse\n", path);
		l.errors++;
	}
	if (l.errors) {
		config_free(l.c);
		return NULL;
	}
	return l.c;
}

int
config_is_loopback(const char *s)
{
	char host[256];
	const char *p, *e;
	struct in6_addr a6;
	struct in_addr a4;
	size_t n;

	if (s == NULL)
		return 0;
	if ((p = strstr(s, "://")) != NULL)
		s = p + 3;
	if (*s == '[') {
		s++;
		e = strchr(s, ']');
	} else {
		e = s + strcspn(s, ":/");
		if (strchr(s, ':') && strchr(strchr(s, ':') + 1, ':') &&
		    strchr(s, '/') == NULL)
			e = s + strlen(s);	/* bare IPv6 */
	}
	if (e == NULL)
		return 0;
	n = (size_t)(e - s);
	if (n == 0 || n >= sizeof(host))
		return 0;
	memcpy(host, s, n);
	host[n] = '\0';
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

char *
config_secret(const char *path, const char **errstr)
{
	struct stat st;
	char *s = NULL;
	size_t cap = 4096, len = 0;
	ssize_t n;
	int fd;

	if (path == NULL || *path == '\0') {
		*errstr = "no file given";
		return NULL;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		*errstr = errno == ENOENT ? "no such file" :
		    "cannot open file";
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*errstr = "not a regular file";
		goto fail;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		*errstr = "readable or writable by group or others "
		    "(chmod 600 it)";
		goto fail;
	}
	s = xmalloc(cap);
	while ((n = read(fd, s + len, cap - 1 - len)) > 0) {
		len += (size_t)n;
		if (len == cap - 1) {
			*errstr = "file too large";
			goto fail;
		}
	}
	if (n < 0) {
		*errstr = "read error";
		goto fail;
	}
	s[len] = '\0';
	if (len && s[len - 1] == '\n')
		s[--len] = '\0';
	if (len && s[len - 1] == '\r')
		s[--len] = '\0';
	if (len == 0 || memchr(s, '\0', len) || strchr(s, '\n')) {
		*errstr = len == 0 ? "file is empty" :
		    "file must hold one line";
		goto fail;
	}
	close(fd);
	return s;
fail:
	close(fd);
	secret_free(s);
	return NULL;
}

void
secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* Check that a secret file is readable and private; print why not. */
static int
check_secret(const struct config *c, const char *key, const char *path)
{
	const char *es = NULL;
	char *s;

	if (path == NULL) {
		fprintf(stderr, "%s: %s is required\n", c->path, key);
		return -1;
	}
	if ((s = config_secret(path, &es)) == NULL) {
		fprintf(stderr, "%s: %s %s: %s\n", c->path, key, path, es);
		return -1;
	}
	secret_free(s);
	return 0;
}

static int
need(const struct config *c, const char *key, const char *v)
{
	if (v == NULL || *v == '\0') {
		fprintf(stderr, "%s: %s is required\n", c->path, key);
		return -1;
	}
	return 0;
}

/* https:// anywhere, http:// only to loopback. */
static int
check_url(const struct config *c, const char *key, const char *url)
{
	if (url == NULL)
		return 0;
	if (strncmp(url, "https://", 8) == 0)
		return 0;
	if (strncmp(url, "http://", 7) == 0 && config_is_loopback(url))
		return 0;
	fprintf(stderr, "%s: %s must be https:// (http:// only for "
	    "loopback)\n", c->path, key);
	return -1;
}

/* [dovecot] maildir: absolute, and only the escapes %u %n %d %%. */
static int
check_maildir(const struct config *c)
{
	const char *p = c->dovecot_maildir;

	if (*p == '\0')
		return 0;	/* "maildir =": off, as when unset */
	if (*p != '/') {
		fprintf(stderr, "%s: [dovecot] maildir must be an absolute "
		    "path\n", c->path);
		return -1;
	}
	for (; *p != '\0'; p++) {
		if (*p != '%')
			continue;
		if (p[1] != 'u' && p[1] != 'n' && p[1] != 'd' && p[1] != '%') {
			fprintf(stderr, "%s: [dovecot] maildir: only %%u, %%n, "
			    "%%d and %%%% may follow a %%\n", c->path);
			return -1;
		}
		p++;
	}
	return 0;
}

int
config_check(const struct config *c)
{
	const char *p = c->path ? c->path : "(defaults)";
	int bad = 0;

	(void)p;
	if (strcmp(c->phone_provider, "twilio") == 0) {
		bad |= need(c, "[twilio] account_sid", c->twilio_account_sid);
		bad |= need(c, "[webhook] public_url", c->public_url);
		bad |= check_secret(c, "[twilio] auth_token_file",
		    c->twilio_auth_token_file);
		bad |= check_url(c, "[twilio] api_base", c->twilio_api_base);
	} else if (strcmp(c->phone_provider, "gateway") == 0) {
		bad |= check_secret(c, "[gateway] secret_file",
		    c->gateway_secret_file);
		if (c->ngateway_numbers == 0) {
			fprintf(stderr, "%s: [gateway] numbers is required\n",
			    c->path);
			bad = -1;
		}
	}
	if (c->public_url)
		bad |= check_url(c, "[webhook] public_url", c->public_url);
	if (strcmp(c->mail_provider, "none") != 0) {
		bad |= need(c, "[mail] domain", c->mail_domain);
		bad |= need(c, "[mail] imap_host", c->imap_host);
		if (strcmp(c->imap_tls, "none") == 0 &&
		    !config_is_loopback(c->imap_host)) {
			fprintf(stderr, "%s: [mail] imap_tls = none is only "
			    "allowed for a loopback imap_host\n", c->path);
			bad = -1;
		}
	}
	if (strcmp(c->mail_provider, "dovecot") == 0)
		bad |= need(c, "[dovecot] passwd_file", c->dovecot_passwd_file);
	if (c->dovecot_maildir && check_maildir(c) == -1)
		bad = -1;
	if (strcmp(c->mail_provider, "mailcow") == 0) {
		bad |= need(c, "[mailcow] api_base", c->mailcow_api_base);
		bad |= check_url(c, "[mailcow] api_base", c->mailcow_api_base);
		bad |= check_secret(c, "[mailcow] api_key_file",
		    c->mailcow_api_key_file);
	}
	if (c->smtp_host) {
		if (strcmp(c->smtp_tls, "none") == 0 &&
		    !config_is_loopback(c->smtp_host)) {
			fprintf(stderr, "%s: [smtp] tls = none is only allowed "
			    "for a loopback host\n", c->path);
			bad = -1;
		}
		if (c->smtp_password_file)
			bad |= check_secret(c, "[smtp] password_file",
			    c->smtp_password_file);
		bad |= need(c, "[smtp] owner_email", c->smtp_owner_email);
	}
	return bad ? -1 : 0;
}

void
config_free(struct config *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		char *base = (char *)c;

		if (keys[i].type == K_STR || keys[i].type == K_CHOICE)
			free(*(char **)(base + keys[i].off));
		else if (keys[i].type == K_LIST) {
			char **lst = (char **)(base + keys[i].off);
			size_t n = *(size_t *)(base + keys[i].countoff), j;

			for (j = 0; j < n; j++)
				free(lst[j]);
		}
	}
	free(c->path);
	free(c);
}
