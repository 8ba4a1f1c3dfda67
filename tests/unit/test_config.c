/*
 * Config loader: each tests/data/config/NAME.conf starts with
 * "# want: ok", "# want: LINE text" (load fails, stderr names file:LINE
 * and text) or "# want: check text" (load works, config_check fails).
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/xmalloc.h"
#include "t.h"

static char tmpdir[] = "/tmp/agentid-config-XXXXXX";

static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s;
	long n;

	if (fp == NULL)
		return xstrdup("");
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	s = xcalloc(1, (size_t)n + 1);
	if (fread(s, 1, (size_t)n, fp) != (size_t)n)
		s[0] = '\0';
	fclose(fp);
	return s;
}

/* Replace every @NAME@ placeholder with a path. */
static char *
subst(const char *in, const char *name, const char *val)
{
	const char *p = strstr(in, name);
	char *out;

	if (p == NULL)
		return xstrdup(in);
	out = xasprintf("%.*s%s%s", (int)(p - in), in, val, p + strlen(name));
	return out;
}

/* Run fn with stderr captured into a string. */
static char *
capture(int (*fn)(void *, void *), void *a, void *b, int *rc)
{
	char path[256];
	int saved, fd;

	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	*rc = fn(a, b);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	return slurp(path);
}

static int
do_load(void *path, void *out)
{
	*(struct config **)out = config_load(path);
	return *(struct config **)out ? 0 : -1;
}

static int
do_check(void *c, void *unused)
{
	(void)unused;
	return config_check(c);
}

static void
run_case(const char *dir, const char *name, const char *secret,
    const char *loose)
{
	char src[512], dst[512], *text, *t1, *t2, *want, *nl, *err;
	struct config *c = NULL;
	FILE *fp;
	int rc;

	snprintf(src, sizeof(src), "%s/%s", dir, name);
	snprintf(dst, sizeof(dst), "%s/%s", tmpdir, name);
	text = slurp(src);
	t1 = subst(text, "@SECRET@", secret);
	t2 = subst(t1, "@LOOSE@", loose);
	fp = fopen(dst, "w");
	fputs(t2, fp);
	fclose(fp);
	want = strstr(text, "# want: ") + 8;
	if ((nl = strchr(want, '\n')) != NULL)
		*nl = '\0';
	err = capture(do_load, dst, &c, &rc);
	if (strcmp(want, "ok") == 0) {
		char *e2;
		int rc2 = -1;

		if (c)
			e2 = capture(do_check, c, NULL, &rc2);
		else
			e2 = xstrdup(err);
		T_CHECK(c != NULL && rc2 == 0, "config %s loads and checks", name);
		if (c == NULL || rc2 != 0)
			printf("    stderr: %s\n", e2);
		free(e2);
	} else if (strncmp(want, "check ", 6) == 0) {
		char *e2 = c ? capture(do_check, c, NULL, &rc) : xstrdup(err);

		T_CHECK(c != NULL && rc == -1 && strstr(e2, want + 6) != NULL,
		    "config %s: check says \"%s\"", name, want + 6);
		if (!(c != NULL && rc == -1 && strstr(e2, want + 6)))
			printf("    stderr: %s\n", e2);
		free(e2);
	} else {
		char loc[600];
		const char *msg = strchr(want, ' ');

		snprintf(loc, sizeof(loc), "%s:%.*s:", dst,
		    (int)(msg ? msg - want : 0), want);
		T_CHECK(c == NULL && strstr(err, loc) && msg &&
		    strstr(err, msg + 1), "config %s: error at %s", name, loc);
		if (!(c == NULL && strstr(err, loc)))
			printf("    stderr: %s\n", err);
	}
	config_free(c);
	free(err);
	free(text);
	free(t1);
	free(t2);
}

int
main(void)
{
	char secret[300], loose[300];
	const char *es;
	struct dirent *de;
	struct config *c;
	char *s;
	DIR *dir;
	int fd;

	if (mkdtemp(tmpdir) == NULL)
		return 1;
	snprintf(secret, sizeof(secret), "%s/secret", tmpdir);
	snprintf(loose, sizeof(loose), "%s/loose", tmpdir);
	fd = open(secret, O_WRONLY | O_CREAT, 0600);
	if (write(fd, "tok3n\n", 6) != 6)
		return 1;
	close(fd);
	fd = open(loose, O_WRONLY | O_CREAT, 0644);
	if (write(fd, "tok3n\n", 6) != 6)
		return 1;
	fchmod(fd, 0644);
	close(fd);

	if ((dir = opendir("data/config")) == NULL) {
		T_CHECK(0, "opendir data/config");
		return t_done();
	}
	while ((de = readdir(dir)) != NULL)
		if (strstr(de->d_name, ".conf"))
			run_case("data/config", de->d_name, secret, loose);
	closedir(dir);

	/* Defaults are DESIGN §8's. */
	c = config_new();
	T_CHECK(c->code_ttl == 600 && c->wait_max == 300 &&
	    c->body_retention == 86400 && c->imap_port == 993 &&
	    strcmp(c->webhook_listen, "127.0.0.1:8787") == 0 &&
	    strcmp(c->phone_provider, "none") == 0 &&
	    strcmp(c->twilio_api_base, "https://api.twilio.com") == 0,
	    "defaults match the design");
	config_free(c);

	/* Secret files: one trailing newline dropped, value intact. */
	s = config_secret(secret, &es);
	T_STREQ(s, "tok3n", "secret file: trailing newline dropped");
	secret_free(s);
	s = config_secret(loose, &es);
	T_CHECK(s == NULL && strstr(es, "group or others"),
	    "secret file readable by others refused");
	s = config_secret("/nonexistent/x", &es);
	T_CHECK(s == NULL && strcmp(es, "no such file") == 0,
	    "missing secret file refused");

	/* Loopback detection decides where http:// and plain IMAP go. */
	T_CHECK(config_is_loopback("http://127.0.0.1:80/x"), "127.0.0.1 url");
	T_CHECK(config_is_loopback("127.9.9.9"), "127/8 host");
	T_CHECK(config_is_loopback("http://[::1]:8080/"), "[::1] url");
	T_CHECK(config_is_loopback("localhost:25"), "localhost:port");
	T_CHECK(!config_is_loopback("http://127.0.0.1.evil.example/"),
	    "127.0.0.1.evil.example is not loopback");
	T_CHECK(!config_is_loopback("10.0.0.1"), "10.0.0.1 is not loopback");
	T_CHECK(!config_is_loopback("https://api.twilio.com"),
	    "api.twilio.com is not loopback");
	T_CHECK(!config_is_loopback(""), "empty is not loopback");
	return t_done();
}
