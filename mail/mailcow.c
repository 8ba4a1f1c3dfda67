/*
 * mailcow REST client: libcurl (GnuTLS flavour) for transport, jansson
 * for JSON.  mailcow answers most API calls with HTTP 200 and a JSON
 * array of {"type": "success"|"danger"|"error"|"warning", "msg": string
 * or [key, args...], "log": [...]}, so the status code alone says little:
 * every entry is checked and the first failure is reported verbatim
 * (mailcow's msg keys are not secret; our request body is never logged).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mail/mailcow.h"

#define CONNECT_TIMEOUT	10L
#define TOTAL_TIMEOUT	30L

struct mailcow {
	char	*base;		/* without trailing slash */
	char	*key_file;
	long	 quota;
	int	 plain_ok;	/* http:// to loopback */
};

enum mc_result {
	MC_OK,
	MC_EXISTS,	/* add: the name is taken, try another */
	MC_FAIL
};

static size_t	on_body(char *, size_t, size_t, void *);
static enum mc_result	post(struct mailcow *, const char *, const char *,
		    size_t, char *, size_t);
static enum mc_result	judge(long, const struct buf *, char *, size_t);
static void	msg_text(json_t *, char *, size_t);

struct mailcow *
mailcow_new(const char *api_base, const char *api_key_file, long quota_mib,
    char *err, size_t errlen)
{
	struct mailcow *m;
	size_t n;
	int plain = 0;

	if (api_base == NULL || api_key_file == NULL) {
		snprintf(err, errlen, "mailcow: api_base and api_key_file "
		    "are required");
		return NULL;
	}
	if (strncmp(api_base, "https://", 8) != 0) {
		if (strncmp(api_base, "http://", 7) != 0 ||
		    !config_is_loopback(api_base)) {
			snprintf(err, errlen, "mailcow: api_base must be "
			    "https:// (http:// only for loopback)");
			return NULL;
		}
		plain = 1;
	}
	m = xcalloc(1, sizeof(*m));
	m->base = xstrdup(api_base);
	n = strlen(m->base);
	while (n > 0 && m->base[n - 1] == '/')
		m->base[--n] = '\0';
	m->key_file = xstrdup(api_key_file);
	m->quota = quota_mib > 0 ? quota_mib : 64;
	m->plain_ok = plain;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return m;
}

void
mailcow_free(struct mailcow *m)
{
	if (m == NULL)
		return;
	free(m->base);
	free(m->key_file);
	free(m);
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (buf_add(b, p, size * n) == -1)
		return 0;	/* over the cap: curl fails the transfer */
	return size * n;
}

/* mailcow's "msg" is a string or [key, arg, ...]: "key arg ...". */
static void
msg_text(json_t *msg, char *out, size_t outlen)
{
	size_t i, off = 0;
	json_t *v;

	out[0] = '\0';
	if (json_is_string(msg)) {
		snprintf(out, outlen, "%s", json_string_value(msg));
		return;
	}
	if (!json_is_array(msg))
		return;
	json_array_foreach(msg, i, v) {
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;
		char num[32];
		int w;

		if (s == NULL && json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld",
			    (long long)json_integer_value(v));
			s = num;
		}
		if (s == NULL || off >= outlen)
			continue;
		w = snprintf(out + off, outlen - off, "%s%s", off ? " " : "",
		    s);
		if (w > 0)
			off += (size_t)w;
	}
}

/* Decide from the status code and mailcow's JSON entries. */
static enum mc_result
judge(long code, const struct buf *b, char *err, size_t errlen)
{
	json_t *root = NULL, *e, *arr;
	json_error_t je;
	char text[512];
	size_t i;
	int ok = 0;
	enum mc_result rc = MC_FAIL;

	if (b->len > 0)
		root = json_loadb(b->data, b->len, 0, &je);
	if (code != 200) {
		text[0] = '\0';
		if (json_is_object(root))
			msg_text(json_object_get(root, "msg"), text,
			    sizeof(text));
		snprintf(err, errlen, "mailcow: HTTP %ld%s%s", code,
		    text[0] ? ": " : "", text);
		goto done;
	}
	if (root == NULL) {
		snprintf(err, errlen, "mailcow: answer is not JSON");
		goto done;
	}
	/* Normally an array; a lone object is accepted too. */
	if (json_is_object(root)) {
		arr = json_array();
		json_array_append(arr, root);
		json_decref(root);
		root = arr;
	}
	if (!json_is_array(root) || json_array_size(root) == 0) {
		snprintf(err, errlen, "mailcow: empty answer");
		goto done;
	}
	json_array_foreach(root, i, e) {
		const char *type = json_string_value(json_object_get(e,
		    "type"));

		if (type == NULL)
			continue;
		if (strcmp(type, "success") == 0) {
			ok = 1;
			continue;
		}
		if (strcmp(type, "danger") != 0 && strcmp(type, "error") != 0)
			continue;	/* "warning", "info" */
		msg_text(json_object_get(e, "msg"), text, sizeof(text));
		if (strncmp(text, "object_exists", 13) == 0 ||
		    strncmp(text, "is_alias", 8) == 0 ||
		    strncmp(text, "is_spam_alias", 13) == 0) {
			rc = MC_EXISTS;
			goto done;
		}
		snprintf(err, errlen, "mailcow: %s: %s", type,
		    text[0] ? text : "(no message)");
		goto done;
	}
	if (!ok) {
		snprintf(err, errlen, "mailcow: no success in the answer");
		goto done;
	}
	rc = MC_OK;
done:
	json_decref(root);
	return rc;
}

/* POST body to base + path with the API key. */
static enum mc_result
post(struct mailcow *m, const char *path, const char *body, size_t len,
    char *err, size_t errlen)
{
	struct curl_slist *hdr = NULL;
	struct buf resp;
	const char *kerr = NULL;
	char *key = NULL, *h = NULL, *url = NULL;
	char ebuf[CURL_ERROR_SIZE];
	CURL *c = NULL;
	CURLcode cc;
	long code = 0;
	enum mc_result rc = MC_FAIL;

	buf_init(&resp, MAILCOW_MAX_RESPONSE);
	if ((key = config_secret(m->key_file, &kerr)) == NULL) {
		snprintf(err, errlen, "mailcow: api_key_file: %s", kerr);
		goto done;
	}
	if (key[0] == '\0' || strpbrk(key, "\r\n") != NULL) {
		snprintf(err, errlen, "mailcow: api_key_file: bad key");
		goto done;
	}
	h = xasprintf("X-API-Key: %s", key);
	hdr = curl_slist_append(hdr, h);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "Accept: application/json");
	hdr = curl_slist_append(hdr, "Expect:");
	url = xasprintf("%s%s", m->base, path);
	if ((c = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "mailcow: curl_easy_init failed");
		goto done;
	}
	ebuf[0] = '\0';
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
	    m->plain_ok ? "http" : "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "agentid");
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		snprintf(err, errlen, "mailcow: %s: %s", path,
		    cc == CURLE_WRITE_ERROR ? "answer too large" :
		    (ebuf[0] ? ebuf : curl_easy_strerror(cc)));
		goto done;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	rc = judge(code, &resp, err, errlen);
	log_debug("mailcow: POST %s -> HTTP %ld, %zu bytes, %s", path, code,
	    resp.len, rc == MC_OK ? "ok" : rc == MC_EXISTS ? "exists" :
	    "failed");
done:
	if (c != NULL)
		curl_easy_cleanup(c);
	curl_slist_free_all(hdr);
	if (h != NULL)
		crypto_wipe_free(h, strlen(h));
	secret_free(key);
	free(url);
	buf_clear(&resp);
	return rc;
}

int
mailcow_add(struct mailcow *m, const char *domain, const char *agent,
    char **address, char **password, char *err, size_t errlen)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789";
	char local[96], quota[32], *pw = NULL, *body = NULL;
	uint8_t r[64];
	size_t i = 0, j;
	json_t *o = NULL;
	int n, rc = -1;
	enum mc_result mr;

	*address = NULL;
	*password = NULL;
	if (agent == NULL || domain == NULL || strlen(agent) > 64 ||
	    strpbrk(agent, "@:/ \r\n\"") != NULL ||
	    strpbrk(domain, "@:/ \r\n\"") != NULL) {
		snprintf(err, errlen, "mailcow: invalid name or domain");
		return -1;
	}
	pw = xmalloc(MAILCOW_PASSWORD_LEN + 1);
	while (i < MAILCOW_PASSWORD_LEN) {
		crypto_random(r, sizeof(r));
		for (j = 0; j < sizeof(r) && i < MAILCOW_PASSWORD_LEN; j++)
			if (r[j] < 248)		/* 62 * 4: no modulo bias */
				pw[i++] = set[r[j] % 62];
	}
	pw[i] = '\0';
	explicit_bzero(r, sizeof(r));
	snprintf(quota, sizeof(quota), "%ld", m->quota);
	for (n = 1; n <= 20; n++) {
		if (n == 1)
			snprintf(local, sizeof(local), "%s", agent);
		else
			snprintf(local, sizeof(local), "%s-%d", agent, n);
		o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		    "s:s, s:s, s:s, s:s, s:[s]}",
		    "active", "1", "domain", domain, "local_part", local,
		    "name", agent, "authsource", "mailcow", "password", pw,
		    "password2", pw, "quota", quota, "force_pw_update", "0",
		    "tls_enforce_in", "1", "tls_enforce_out", "1",
		    "imap_access", "1", "tags", "agentid");
		if (o == NULL ||
		    (body = json_dumps(o, JSON_COMPACT)) == NULL) {
			snprintf(err, errlen, "mailcow: cannot build request");
			goto done;
		}
		mr = post(m, "/api/v1/add/mailbox", body, strlen(body), err,
		    errlen);
		crypto_wipe_free(body, strlen(body));
		body = NULL;
		json_decref(o);
		o = NULL;
		if (mr == MC_EXISTS)
			continue;
		if (mr != MC_OK)
			goto done;
		*address = xasprintf("%s@%s", local, domain);
		*password = pw;
		pw = NULL;
		log_info("mailcow: added mailbox %s", *address);
		rc = 0;
		goto done;
	}
	snprintf(err, errlen, "mailcow: no free address for %s@%s", agent,
	    domain);
done:
	/* json_pack copied pw into o; decref frees it (not wiped: jansson
	 * gives no hook), the request string itself was wiped above. */
	json_decref(o);
	if (pw != NULL)
		crypto_wipe_free(pw, MAILCOW_PASSWORD_LEN + 1);
	return rc;
}

int
mailcow_delete(struct mailcow *m, const char *address, char *err,
    size_t errlen)
{
	json_t *o;
	char *body;
	int rc;

	if (address == NULL || strchr(address, '@') == NULL) {
		snprintf(err, errlen, "mailcow: invalid address");
		return -1;
	}
	o = json_pack("[s]", address);
	body = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (body == NULL) {
		snprintf(err, errlen, "mailcow: cannot build request");
		return -1;
	}
	rc = post(m, "/api/v1/delete/mailbox", body, strlen(body), err,
	    errlen) == MC_OK ? 0 : -1;
	free(body);
	if (rc == 0)
		log_info("mailcow: deleted mailbox %s", address);
	return rc;
}
