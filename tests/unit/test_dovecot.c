/*
 * The Dovecot passwd-file provider: SHA-512-crypt against the published
 * vector and the system crypt(3), add/remove keeping every other line,
 * address collisions, and concurrent adds from several processes.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "mail/dovecot.h"
#include "t.h"

#define NPROC	4
#define NEACH	8

typedef char *(*crypt_fn)(const char *, const char *);

static char *
slurp(const char *path)
{
	FILE *f;
	char *p;
	long n;

	if ((f = fopen(path, "r")) == NULL)
		return xstrdup("");
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	p = xcalloc(1, (size_t)n + 1);
	if (fread(p, 1, (size_t)n, f) != (size_t)n)
		p[0] = '\0';
	fclose(f);
	return p;
}

static int
count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* The hash field of address's line, into out. */
static int
hash_of(const char *file, const char *address, char *out, size_t outlen)
{
	char *data = slurp(file), *p, *q, key[400];
	int rc = -1;

	snprintf(key, sizeof(key), "\n%s:{SHA512-CRYPT}", address);
	/* Prepend a newline so the first line matches too. */
	p = xasprintf("\n%s", data);
	if ((q = strstr(p, key)) != NULL) {
		q += strlen(key);
		size_t n = strcspn(q, ":");
		if (n < outlen) {
			memcpy(out, q, n);
			out[n] = '\0';
			rc = 0;
		}
	}
	free(p);
	free(data);
	return rc;
}

int
main(void)
{
	char dir[] = "/tmp/test_dovecot.XXXXXX", file[256], out[256];
	char err[256], hash[256], *addr = NULL, *pw = NULL, *data;
	void *lib;
	crypt_fn cr = NULL;
	struct stat st;
	int i, ok, rc, status;
	pid_t kids[NPROC];

	/* Drepper's specification, test vector 1. */
	rc = dovecot_sha512_crypt("Hello world!", "saltstring", out,
	    sizeof(out));
	T_CHECK(rc == 0, "sha512 crypt runs");
	T_STREQ(out, "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/"
	    "O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
	    "sha512 crypt vector");
	rc = dovecot_sha512_crypt("x", "bad$salt", out, sizeof(out));
	T_CHECK(rc == -1, "sha512 crypt rejects a bad salt");
	rc = dovecot_sha512_crypt("x", "abc", out, 10);
	T_CHECK(rc == -1, "sha512 crypt rejects a short buffer");

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(file, sizeof(file), "%s/users", dir);
	/* Lines written by someone else must survive every rewrite. */
	{
		FILE *f = fopen(file, "w");
		fputs("# keep me\nother@example.test:{PLAIN}x::::::\n"
		    "last@example.test:{PLAIN}y::::::", f);	/* no final \n */
		fclose(f);
		chmod(file, 0640);
	}

	rc = dovecot_add(file, "example.test", "alice", &addr, &pw, err,
	    sizeof(err));
	T_CHECK(rc == 0, "add alice");
	T_STREQ(addr, "alice@example.test", "address is name@domain");
	T_CHECK(pw != NULL && strlen(pw) == 32 &&
	    strspn(pw, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789") == 32, "password has 32 alphanumerics");
	T_CHECK(stat(file, &st) == 0 && (st.st_mode & 0777) == 0640,
	    "file mode kept");

	data = slurp(file);
	T_CHECK(strstr(data, "# keep me\n") != NULL &&
	    strstr(data, "other@example.test:{PLAIN}x::::::\n") != NULL &&
	    strstr(data, "last@example.test:{PLAIN}y::::::\n") != NULL,
	    "other lines kept on add");
	T_CHECK(strstr(data, "alice@example.test:{SHA512-CRYPT}$6$") != NULL &&
	    strstr(data, "::::::\n") != NULL, "line format");
	T_CHECK(pw == NULL || strstr(data, pw) == NULL,
	    "password not stored in clear");
	free(data);

	/* The hash must verify with the system's crypt(3). */
	lib = dlopen("libcrypt.so.1", RTLD_NOW);
	if (lib != NULL)
		cr = (crypt_fn)(uintptr_t)dlsym(lib, "crypt");
	T_CHECK(cr != NULL, "system crypt() available");
	ok = hash_of(file, "alice@example.test", hash, sizeof(hash)) == 0;
	T_CHECK(ok, "hash found");
	if (cr != NULL && ok && pw != NULL) {
		char *c = cr(pw, hash);
		T_CHECK(c != NULL && strcmp(c, hash) == 0,
		    "hash verifies with crypt()");
		c = cr("wrong password", hash);
		T_CHECK(c == NULL || strcmp(c, hash) != 0,
		    "wrong password does not verify");
	}
	free(addr);
	free(pw);

	/* Collisions: same name again gets a suffix; case-insensitive. */
	rc = dovecot_add(file, "example.test", "alice", &addr, &pw, err,
	    sizeof(err));
	T_CHECK(rc == 0, "add alice again");
	T_STREQ(addr, "alice-2@example.test", "collision gets -2");
	free(addr);
	free(pw);
	rc = dovecot_add(file, "example.test", "other", &addr, &pw, err,
	    sizeof(err));
	T_CHECK(rc == 0, "add other");
	T_STREQ(addr, "other-2@example.test", "foreign line counts as taken");
	free(addr);
	free(pw);

	rc = dovecot_add(file, "example.test", "a:b", &addr, &pw, err,
	    sizeof(err));
	T_CHECK(rc == -1, "colon in name refused");
	rc = dovecot_add(file, "ex\nample", "bob", &addr, &pw, err,
	    sizeof(err));
	T_CHECK(rc == -1, "newline in domain refused");

	/* Remove. */
	rc = dovecot_remove(file, "alice@example.test", err, sizeof(err));
	T_CHECK(rc == 0, "remove alice");
	data = slurp(file);
	T_CHECK(strstr(data, "\nalice@example.test:") == NULL &&
	    strncmp(data, "alice@example.test:", 19) != 0, "alice gone");
	T_CHECK(strstr(data, "alice-2@example.test:") != NULL &&
	    strstr(data, "# keep me\n") != NULL &&
	    strstr(data, "other@example.test:{PLAIN}x::::::\n") != NULL &&
	    strstr(data, "last@example.test:{PLAIN}y::::::\n") != NULL &&
	    strstr(data, "other-2@example.test:") != NULL,
	    "other lines kept on remove");
	T_CHECK(count_lines(data) == 5, "line count after remove (%d)",
	    count_lines(data));
	free(data);
	rc = dovecot_remove(file, "nobody@example.test", err, sizeof(err));
	T_CHECK(rc == 0, "remove of a missing address is a no-op");
	rc = dovecot_remove(file, "x:y", err, sizeof(err));
	T_CHECK(rc == -1,
	    "remove refuses a colon");

	/* Concurrent adds from several processes: no line lost. */
	for (i = 0; i < NPROC; i++) {
		if ((kids[i] = fork()) == 0) {
			int j, bad = 0;
			for (j = 0; j < NEACH; j++) {
				char *a, *p, e[256];
				if (dovecot_add(file, "example.test", "conc",
				    &a, &p, e, sizeof(e)) == -1)
					bad = 1;
				else {
					free(a);
					free(p);
				}
			}
			_exit(bad);
		}
	}
	ok = 1;
	for (i = 0; i < NPROC; i++)
		if (waitpid(kids[i], &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	T_CHECK(ok, "concurrent adders all succeeded");
	data = slurp(file);
	T_CHECK(count_lines(data) == 5 + NPROC * NEACH,
	    "concurrent adds: every line present (%d)", count_lines(data));
	{
		int seen = 0, j;
		char key[64];
		for (j = 1; j <= NPROC * NEACH; j++) {
			if (j == 1)
				snprintf(key, sizeof(key),
				    "\nconc@example.test:");
			else
				snprintf(key, sizeof(key),
				    "\nconc-%d@example.test:", j);
			if (strstr(data, key) != NULL)
				seen++;
		}
		T_CHECK(seen == NPROC * NEACH,
		    "concurrent adds: distinct addresses (%d)", seen);
	}
	free(data);

	{
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	if (lib != NULL)
		dlclose(lib);
	return t_done();
}
