/*
 * The Dovecot passwd-file provider.  Every change is read-modify-write of
 * the whole file under an exclusive flock on a separate lock file (the
 * data file's inode changes with every rename, so it cannot carry the
 * lock), written to a temporary file in the same directory, fsync'ed and
 * renamed over the original, then the directory is fsync'ed.  A crash at
 * any point leaves either the old or the new file, never a torn one.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mail/dovecot.h"

#define SHA512_LEN	64
#define SALT_LEN	16
#define ROUNDS		5000

static const char itoa64[] =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
static const char alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static int	lock_open(const char *, char *, size_t);
static int	file_read(const char *, char **, size_t *, mode_t *, uid_t *,
		    gid_t *, int *, char *, size_t);
static int	file_replace(const char *, const char *, size_t, mode_t,
		    uid_t, gid_t, int, char *, size_t);
static int	line_is(const char *, size_t, const char *);
static int	name_ok(const char *, int);
static void	random_from(char *, size_t, const char *, size_t);

/* One SHA-512 context step; fatal only if GnuTLS itself is broken. */
static void
h_add(gnutls_hash_hd_t h, const void *p, size_t n)
{
	if (n > 0 && gnutls_hash(h, p, n) != 0)
		fatalx("dovecot: gnutls_hash failed");
}

static gnutls_hash_hd_t
h_new(void)
{
	gnutls_hash_hd_t h;

	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA512) != 0)
		fatalx("dovecot: gnutls_hash_init failed");
	return h;
}

int
dovecot_sha512_crypt(const char *password, const char *salt, char *out,
    size_t outlen)
{
	uint8_t a[SHA512_LEN], b[SHA512_LEN], dp[SHA512_LEN], ds[SHA512_LEN];
	gnutls_hash_hd_t h;
	char *pseq = NULL, *sseq = NULL, *o;
	size_t plen = strlen(password), slen = strlen(salt), cnt, i;
	int rc = -1;

	if (slen > SALT_LEN || strspn(salt, itoa64) != slen ||
	    outlen < 3 + slen + 1 + 86 + 1)
		goto done;

	/* B = H(P S P) */
	h = h_new();
	h_add(h, password, plen);
	h_add(h, salt, slen);
	h_add(h, password, plen);
	gnutls_hash_deinit(h, b);

	/* A = H(P S B-repeated-to-|P| then a bit walk over |P|) */
	h = h_new();
	h_add(h, password, plen);
	h_add(h, salt, slen);
	for (cnt = plen; cnt > SHA512_LEN; cnt -= SHA512_LEN)
		h_add(h, b, SHA512_LEN);
	h_add(h, b, cnt);
	for (cnt = plen; cnt > 0; cnt >>= 1) {
		if (cnt & 1)
			h_add(h, b, SHA512_LEN);
		else
			h_add(h, password, plen);
	}
	gnutls_hash_deinit(h, a);

	/* DP = H(P repeated |P| times), P-sequence */
	h = h_new();
	for (cnt = 0; cnt < plen; cnt++)
		h_add(h, password, plen);
	gnutls_hash_deinit(h, dp);
	pseq = xmalloc(plen + 1);
	for (i = 0; i < plen; i++)
		pseq[i] = (char)dp[i % SHA512_LEN];

	/* DS = H(S repeated 16 + A[0] times), S-sequence */
	h = h_new();
	for (cnt = 0; cnt < 16u + a[0]; cnt++)
		h_add(h, salt, slen);
	gnutls_hash_deinit(h, ds);
	sseq = xmalloc(slen + 1);
	for (i = 0; i < slen; i++)
		sseq[i] = (char)ds[i % SHA512_LEN];

	for (cnt = 0; cnt < ROUNDS; cnt++) {
		h = h_new();
		if (cnt & 1)
			h_add(h, pseq, plen);
		else
			h_add(h, a, SHA512_LEN);
		if (cnt % 3 != 0)
			h_add(h, sseq, slen);
		if (cnt % 7 != 0)
			h_add(h, pseq, plen);
		if (cnt & 1)
			h_add(h, a, SHA512_LEN);
		else
			h_add(h, pseq, plen);
		gnutls_hash_deinit(h, a);
	}

	o = out + snprintf(out, outlen, "$6$%s$", salt);
	/* The byte order of the encoding is part of the scheme. */
	for (i = 0; i < 21; i++) {
		unsigned int x, y, z, w, n;

		switch (i % 3) {
		case 0:
			x = a[i]; y = a[i + 21]; z = a[i + 42];
			break;
		case 1:
			x = a[i + 21]; y = a[i + 42]; z = a[i];
			break;
		default:
			x = a[i + 42]; y = a[i]; z = a[i + 21];
			break;
		}
		w = (x << 16) | (y << 8) | z;
		for (n = 0; n < 4; n++, w >>= 6)
			*o++ = itoa64[w & 0x3f];
	}
	*o++ = itoa64[a[63] & 0x3f];
	*o++ = itoa64[(a[63] >> 6) & 0x3f];
	*o = '\0';
	rc = 0;
done:
	explicit_bzero(a, sizeof(a));
	explicit_bzero(b, sizeof(b));
	explicit_bzero(dp, sizeof(dp));
	if (pseq != NULL)
		crypto_wipe_free(pseq, plen + 1);
	free(sseq);
	return rc;
}

/* Unbiased random characters from set (rejection sampling). */
static void
random_from(char *out, size_t n, const char *set, size_t setlen)
{
	uint8_t r[64];
	size_t i = 0, j, limit = 256 - (256 % setlen);

	while (i < n) {
		crypto_random(r, sizeof(r));
		for (j = 0; j < sizeof(r) && i < n; j++)
			if (r[j] < limit)
				out[i++] = set[r[j] % setlen];
	}
	out[n] = '\0';
	explicit_bzero(r, sizeof(r));
}

/* Agent names and domains end up in a colon-separated file and in IMAP
 * LOGIN: allow only [a-z0-9.-] (and '-' not first). */
static int
name_ok(const char *s, int dots)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || s[0] == '-' || s[0] == '.' ||
	    strlen(s) > 200)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || (dots && c == '.'))
			continue;
		return 0;
	}
	return 1;
}

/* True when the line line[0..n) belongs to user (case-insensitive). */
static int
line_is(const char *line, size_t n, const char *user)
{
	size_t ulen = strlen(user);

	return n > ulen && line[ulen] == ':' &&
	    strncasecmp(line, user, ulen) == 0;
}

static int
lock_open(const char *path, char *err, size_t errlen)
{
	char lp[4096];
	int fd;

	if ((size_t)snprintf(lp, sizeof(lp), "%s.lock", path) >= sizeof(lp)) {
		snprintf(err, errlen, "passwd_file path too long");
		return -1;
	}
	fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "open %s: %s", lp, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		snprintf(err, errlen, "flock %s: %s", lp, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Read the whole file (a missing file is empty). */
static int
file_read(const char *path, char **data, size_t *len, mode_t *mode,
    uid_t *uid, gid_t *gid, int *exists, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	char *p = NULL;
	int fd, rc = -1;

	*data = NULL;
	*len = 0;
	*exists = 0;
	*mode = 0640;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) {
		if (errno == ENOENT) {
			*data = xstrdup("");
			return 0;
		}
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		goto done;
	}
	if (st.st_size > DOVECOT_MAX_FILE) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    DOVECOT_MAX_FILE);
		goto done;
	}
	*exists = 1;
	*mode = st.st_mode & 07777;
	*uid = st.st_uid;
	*gid = st.st_gid;
	p = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "read %s: %s", path,
			    strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	p[got] = '\0';
	*data = p;
	*len = got;
	p = NULL;
	rc = 0;
done:
	if (p != NULL)
		crypto_wipe_free(p, (size_t)st.st_size + 1);
	close(fd);
	return rc;
}

/* Write data to a temporary file next to path and rename it over path. */
static int
file_replace(const char *path, const char *data, size_t len, mode_t mode,
    uid_t uid, gid_t gid, int exists, char *err, size_t errlen)
{
	char tmp[4096], dir[4096];
	size_t off = 0;
	ssize_t n;
	int fd = -1, dfd = -1, rc = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >=
	    sizeof(tmp)) {
		snprintf(err, errlen, "passwd_file path too long");
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "mkstemp %s: %s", tmp, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) == -1) {
		snprintf(err, errlen, "fchmod %s: %s", tmp, strerror(errno));
		goto done;
	}
	/* Keep the group Dovecot reads the file with; failure is harmless
	 * when we are not root (the file is then ours anyway). */
	if (exists && fchown(fd, uid, gid) == -1 && geteuid() == 0)
		log_warn("dovecot: fchown %s", tmp);
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "write %s: %s", tmp,
			    strerror(errno));
			goto done;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		snprintf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		goto done;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "close %s: %s", tmp, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "rename %s: %s", path, strerror(errno));
		goto done;
	}
	tmp[0] = '\0';
	xstrlcpy(dir, path, sizeof(dir));
	if ((dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1)
		(void)fsync(dfd);
	rc = 0;
done:
	if (fd != -1)
		close(fd);
	if (dfd != -1)
		close(dfd);
	if (tmp[0] != '\0')
		unlink(tmp);
	return rc;
}

/* True when the passwd-file content has a line for user. */
static int
has_user(const char *data, size_t len, const char *user)
{
	const char *p = data, *end = data + len, *nl;

	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (line_is(p, (size_t)(nl - p), user))
			return 1;
		p = nl + 1;
	}
	return 0;
}

int
dovecot_add(const char *passwd_file, const char *domain, const char *agent,
    char **address, char **password, char *err, size_t errlen)
{
	char addr[320], salt[SALT_LEN + 1], hash[DOVECOT_HASH_MAX];
	char *data = NULL, *pw = NULL, *line = NULL, *out = NULL;
	size_t len = 0, outlen;
	mode_t mode;
	uid_t uid = 0;
	gid_t gid = 0;
	int lfd = -1, exists, n, rc = -1;

	*address = NULL;
	*password = NULL;
	if (!name_ok(agent, 0) || !name_ok(domain, 1)) {
		snprintf(err, errlen, "invalid mailbox name or domain");
		return -1;
	}
	if ((lfd = lock_open(passwd_file, err, errlen)) == -1)
		return -1;
	if (file_read(passwd_file, &data, &len, &mode, &uid, &gid, &exists,
	    err, errlen) == -1)
		goto done;
	for (n = 1; n < 1000; n++) {
		if (n == 1)
			snprintf(addr, sizeof(addr), "%s@%s", agent, domain);
		else
			snprintf(addr, sizeof(addr), "%s-%d@%s", agent, n,
			    domain);
		if (!has_user(data, len, addr))
			break;
	}
	if (n == 1000) {
		snprintf(err, errlen, "no free address for %s@%s", agent,
		    domain);
		goto done;
	}
	pw = xmalloc(DOVECOT_PASSWORD_LEN + 1);
	random_from(pw, DOVECOT_PASSWORD_LEN, alnum, sizeof(alnum) - 1);
	random_from(salt, SALT_LEN, itoa64, sizeof(itoa64) - 1);
	if (dovecot_sha512_crypt(pw, salt, hash, sizeof(hash)) == -1) {
		snprintf(err, errlen, "password hashing failed");
		goto done;
	}
	line = xasprintf("%s:{SHA512-CRYPT}%s::::::\n", addr, hash);
	/* Old content, a newline if its last line lacked one, our line. */
	outlen = len + 1 + strlen(line);
	out = xmalloc(outlen + 1);
	memcpy(out, data, len);
	outlen = len;
	if (len > 0 && data[len - 1] != '\n')
		out[outlen++] = '\n';
	memcpy(out + outlen, line, strlen(line));
	outlen += strlen(line);
	if (file_replace(passwd_file, out, outlen, mode, uid, gid, exists,
	    err, errlen) == -1)
		goto done;
	*address = xstrdup(addr);
	*password = pw;
	pw = NULL;
	log_info("dovecot: added mailbox %s", addr);
	rc = 0;
done:
	if (pw != NULL)
		crypto_wipe_free(pw, DOVECOT_PASSWORD_LEN + 1);
	free(line);
	free(out);
	free(data);
	explicit_bzero(hash, sizeof(hash));
	if (lfd != -1)
		close(lfd);
	return rc;
}

int
dovecot_remove(const char *passwd_file, const char *address, char *err,
    size_t errlen)
{
	char *data = NULL, *out = NULL;
	const char *p, *end, *nl;
	size_t len = 0, outlen = 0;
	mode_t mode;
	uid_t uid = 0;
	gid_t gid = 0;
	int lfd = -1, exists, found = 0, rc = -1;

	if (address == NULL || address[0] == '\0' ||
	    strpbrk(address, ":\n") != NULL) {
		snprintf(err, errlen, "invalid address");
		return -1;
	}
	if ((lfd = lock_open(passwd_file, err, errlen)) == -1)
		return -1;
	if (file_read(passwd_file, &data, &len, &mode, &uid, &gid, &exists,
	    err, errlen) == -1)
		goto done;
	out = xmalloc(len + 1);
	for (p = data, end = data + len; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (line_is(p, (size_t)(nl - p), address)) {
			found = 1;
			continue;
		}
		memcpy(out + outlen, p, (size_t)(nl - p));
		outlen += (size_t)(nl - p);
		out[outlen++] = '\n';
	}
	if (!found) {
		log_info("dovecot: mailbox %s was not in the passwd-file",
		    address);
		rc = 0;
		goto done;
	}
	if (file_replace(passwd_file, out, outlen, mode, uid, gid, exists,
	    err, errlen) == -1)
		goto done;
	log_info("dovecot: removed mailbox %s", address);
	rc = 0;
done:
	free(out);
	free(data);
	if (lfd != -1)
		close(lfd);
	return rc;
}
