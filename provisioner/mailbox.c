/*
 * The email channel as the daemon sees it: a mailbox provider chosen by
 * name (a const table of function pointers per vendor), the IMAP watcher,
 * and the glue that runs every fetched message through the sandboxed
 * parser child before it goes up as a struct inbound.
 *
 * Unique key of an IMAP message.  DESIGN §3 names "UIDVALIDITY/UID", but
 * a UIDVALIDITY change renumbers every message, so after one the same
 * mail would come back under new ids and be delivered twice.  Message-ID
 * cannot replace it: it is optional, chosen by the sender (an attacker
 * who knows or guesses it could make us drop the real message as a
 * "duplicate"), and reused by some senders.  The id is therefore
 * "imap:" + SHA-256(mailbox address, NUL, the raw message as stored by
 * the server): the server's own trace headers (Received with its
 * delivery id, Delivered-To) make every delivery distinct, while a
 * re-numbered copy of the same stored message hashes the same.  The
 * consequence, deliberate: two byte-identical messages in one mailbox
 * count as one.  Messages over the size cap are never fetched, so they
 * get "imap-big:" + a hash of (address, RFC822.SIZE, INTERNALDATE),
 * which also survive a renumbering.  The cursor
 * (uidvalidity, uid) still travels in struct inbound and moves in the
 * message's own transaction; after a UIDVALIDITY change the watcher also
 * ignores mail older than the body retention window (its row may be gone).
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/inbound.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mail/dovecot.h"
#include "mail/imap.h"
#include "mail/maildir.h"
#include "mail/mailcow.h"
#include "mail/mime.h"
#include "mail/parser.h"
#include "provisioner/mailbox.h"

#define WORKERS		4

struct mbx_provider {
	const char	*name;
	int		(*open)(struct mailbox *, const struct config *, char *,
			    size_t);
	void		(*close)(struct mailbox *);
	int		(*acquire)(struct mailbox *, const char *, char **,
			    char **, char *, size_t);
	int		(*release)(struct mailbox *, const char *, const char *,
			    char *, size_t);
};

struct mailbox {
	const struct mbx_provider *prov;
	char		*domain;
	char		*passwd_file;	/* dovecot */
	struct mailcow	*mailcow;
	struct imap	*imap;
	struct maildir_watch *maildir;	/* dovecot + [dovecot] maildir */
	char		*maildir_pat;
	struct parser	*parser[WORKERS];
	inbound_cb	 cb;
	void		*arg;
	long		 newbox_delay;	/* seconds before a new box's login */
	atomic_ulong	 quarantined, rejected, oversize, parser_crashes;
};

static int	dovecot_open(struct mailbox *, const struct config *, char *,
		    size_t);
static int	dovecot_acq(struct mailbox *, const char *, char **, char **,
		    char *, size_t);
static int	dovecot_rel(struct mailbox *, const char *, const char *,
		    char *, size_t);
static int	mailcow_open(struct mailbox *, const struct config *, char *,
		    size_t);
static void	mailcow_close(struct mailbox *);
static int	mailcow_acq(struct mailbox *, const char *, char **, char **,
		    char *, size_t);
static int	mailcow_rel(struct mailbox *, const char *, const char *,
		    char *, size_t);

static const struct mbx_provider providers[] = {
	{ "none", NULL, NULL, NULL, NULL },
	{ "dovecot", dovecot_open, NULL, dovecot_acq, dovecot_rel },
	{ "mailcow", mailcow_open, mailcow_close, mailcow_acq, mailcow_rel },
	{ NULL, NULL, NULL, NULL, NULL }
};

static int
dovecot_open(struct mailbox *mb, const struct config *c, char *err,
    size_t errlen)
{
	if (c->dovecot_passwd_file == NULL) {
		snprintf(err, errlen, "[dovecot] passwd_file is required");
		return -1;
	}
	mb->passwd_file = xstrdup(c->dovecot_passwd_file);
	return 0;
}

static int
dovecot_acq(struct mailbox *mb, const char *agent, char **address,
    char **password, char *err, size_t errlen)
{
	return dovecot_add(mb->passwd_file, mb->domain, agent, address,
	    password, err, errlen);
}

static int
dovecot_rel(struct mailbox *mb, const char *address, const char *ref,
    char *err, size_t errlen)
{
	(void)ref;
	return dovecot_remove(mb->passwd_file, address, err, errlen);
}

static int
mailcow_open(struct mailbox *mb, const struct config *c, char *err,
    size_t errlen)
{
	mb->mailcow = mailcow_new(c->mailcow_api_base,
	    c->mailcow_api_key_file, c->mailcow_quota, err, errlen);
	return mb->mailcow ? 0 : -1;
}

static void
mailcow_close(struct mailbox *mb)
{
	mailcow_free(mb->mailcow);
	mb->mailcow = NULL;
}

static int
mailcow_acq(struct mailbox *mb, const char *agent, char **address,
    char **password, char *err, size_t errlen)
{
	return mailcow_add(mb->mailcow, mb->domain, agent, address, password,
	    err, errlen);
}

static int
mailcow_rel(struct mailbox *mb, const char *address, const char *ref,
    char *err, size_t errlen)
{
	(void)ref;
	return mailcow_delete(mb->mailcow, address, err, errlen);
}

/* "imap:" + hex SHA-256 of (lowercase address, NUL, raw); see the top. */
static void
message_id(const struct imap_msg *m, char *out, size_t outlen)
{
	gnutls_hash_hd_t h;
	uint8_t d[CRYPTO_SHA256_LEN];
	char lower[320], *hex;
	size_t i;

	xstrlcpy(lower, m->mailbox, sizeof(lower));
	for (i = 0; lower[i]; i++)
		if (lower[i] >= 'A' && lower[i] <= 'Z')
			lower[i] = (char)(lower[i] - 'A' + 'a');
	if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) != 0)
		fatalx("mailbox: gnutls_hash_init failed");
	gnutls_hash(h, lower, strlen(lower) + 1);
	if (m->raw != NULL)
		gnutls_hash(h, m->raw, m->rawlen);
	else {
		char k[64];

		/* Not fetched: what the server says about it, which a
		 * renumbering keeps (size and arrival time). */
		snprintf(k, sizeof(k), "%zu/%lld", m->size, m->internal_date);
		gnutls_hash(h, k, strlen(k));
	}
	gnutls_hash_deinit(h, d);
	hex = crypto_hex(d, sizeof(d));
	snprintf(out, outlen, "%s:%s", m->raw ? "imap" : "imap-big", hex);
	free(hex);
}

/* One fetched message: parse it in the sandbox, hand it up. */
static enum imap_verdict
on_message(const struct imap_msg *m, void *arg)
{
	struct mailbox *mb = arg;
	struct parser *p = mb->parser[m->worker % WORKERS];
	struct extract_result empty;
	struct parser_out po;
	struct inbound in;
	const char *why = NULL;
	char pid[96];
	int st = PARSER_REJECTED, parsed = 0;
	enum inbound_status r;

	/* Fetched: the maildir watch's follow-up kicks can stop. */
	maildir_watch_found(mb->maildir, m->mailbox);
	memset(&empty, 0, sizeof(empty));
	memset(&po, 0, sizeof(po));
	memset(&in, 0, sizeof(in));
	message_id(m, pid, sizeof(pid));
	in.channel = INBOUND_EMAIL;
	in.to = m->mailbox;
	in.provider = "imap";
	in.provider_id = pid;
	/* The server's arrival time, not the sender's Date header. */
	in.received_at = m->internal_date;
	in.uidvalidity = m->uidvalidity;
	in.uid = m->uid;
	in.extracted = &empty;

	if (m->raw == NULL) {
		in.skipped = "too large";
		atomic_fetch_add(&mb->oversize, 1);
		log_warnx("mail: %s UID %llu: %zu bytes, over the %d byte cap; "
		    "recorded, not parsed", m->mailbox, m->uid, m->size,
		    MIME_MAX_SIZE);
		goto up;
	}
	st = parser_parse(p, m->raw, m->rawlen, &po, &why);
	if (st == PARSER_CRASHED) {
		/* A crash can be bad luck (a stall, OOM from something else);
		 * the respawned child gets one more go, then quarantine. */
		atomic_fetch_add(&mb->parser_crashes, 1);
		log_warnx("mail: %s UID %llu: parser child died (%s); retrying "
		    "once", m->mailbox, m->uid, why ? why : "?");
		st = parser_parse(p, m->raw, m->rawlen, &po, &why);
		if (st == PARSER_CRASHED)
			atomic_fetch_add(&mb->parser_crashes, 1);
	}
	switch (st) {
	case PARSER_OK:
		parsed = 1;
		in.from = po.from;
		in.subject = po.subject;
		in.text = po.text;
		in.textlen = po.textlen;
		in.html = po.htmllen ? po.html : NULL;
		in.htmllen = po.htmllen;
		in.extracted = &po.res;
		break;
	case PARSER_REJECTED:
		in.skipped = "rejected";
		atomic_fetch_add(&mb->rejected, 1);
		log_warnx("mail: %s UID %llu: rejected by the parser: %s",
		    m->mailbox, m->uid, why ? why : "?");
		break;
	case PARSER_CRASHED:
		in.skipped = "quarantined";
		in.text = m->raw;
		in.textlen = m->rawlen;
		atomic_fetch_add(&mb->quarantined, 1);
		log_warnx("mail: %s UID %llu: crashed the parser twice; "
		    "quarantined (%zu bytes kept encrypted)", m->mailbox,
		    m->uid, m->rawlen);
		break;
	default:
		/* No child could start: nothing is wrong with the message. */
		log_warnx("mail: %s UID %llu: parser unavailable: %s; will "
		    "retry", m->mailbox, m->uid, why ? why : "?");
		return IMAP_AGAIN;
	}
up:
	r = mb->cb(&in, mb->arg);
	if (parsed)
		parser_out_clear(&po);
	explicit_bzero(&empty, sizeof(empty));
	return r == INBOUND_RETRY ? IMAP_AGAIN : IMAP_DONE;
}

/* The maildir watch saw a delivery: sync that mailbox now. */
static void
maildir_kick(const char *address, void *arg)
{
	mailbox_kick(arg, address);
}

struct mailbox *
mailbox_start(const struct config *c, inbound_cb cb, void *arg,
    const char **errstr)
{
	static char ebuf[512];
	const struct mbx_provider *pv;
	struct imap_conf ic;
	struct mailbox *mb;
	const char *name = c->mail_provider ? c->mail_provider : "none";
	const char *perr = NULL;
	char err[400];
	int i;

	for (pv = providers; pv->name != NULL; pv++)
		if (strcmp(pv->name, name) == 0)
			break;
	if (pv->name == NULL) {
		snprintf(ebuf, sizeof(ebuf), "mail: unknown provider \"%s\"",
		    name);
		*errstr = ebuf;
		return NULL;
	}
	mb = xcalloc(1, sizeof(*mb));
	/* Log in to a brand-new mailbox a moment later: Dovecot notices a
	 * changed passwd-file only once its mtime moves to a new second,
	 * other servers may lag similarly, and a failed LOGIN costs the
	 * daemon's IP an auth penalty on every mailbox. */
	mb->newbox_delay = 2;
	mb->prov = pv;
	mb->cb = cb;
	mb->arg = arg;
	if (pv->open == NULL)
		return mb;	/* "none": no addresses, no threads */
	if (c->mail_domain == NULL || c->imap_host == NULL) {
		snprintf(ebuf, sizeof(ebuf), "mail: [mail] domain and "
		    "imap_host are required");
		goto fail;
	}
	mb->domain = xstrdup(c->mail_domain);
	if (pv->open(mb, c, err, sizeof(err)) == -1) {
		snprintf(ebuf, sizeof(ebuf), "mail: %s", err);
		goto fail;
	}
	/* Parser children are forked before any watcher thread exists. */
	for (i = 0; i < WORKERS; i++) {
		if ((mb->parser[i] = parser_new(&perr)) == NULL) {
			snprintf(ebuf, sizeof(ebuf), "mail: parser: %s",
			    perr ? perr : "cannot start");
			goto fail;
		}
	}
	memset(&ic, 0, sizeof(ic));
	ic.host = c->imap_host;
	ic.port = c->imap_port;
	ic.tls = c->imap_tls && strcmp(c->imap_tls, "starttls") == 0 ?
	    IMAP_TLS_STARTTLS : c->imap_tls && strcmp(c->imap_tls, "none") ==
	    0 ? IMAP_TLS_NONE : IMAP_TLS_IMPLICIT;
	ic.ca_file = c->imap_ca_file;
	ic.poll_interval = c->poll_interval;
	ic.timeout = 30;
	ic.workers = WORKERS;
	ic.max_size = MIME_MAX_SIZE;
	ic.rescan_window = c->body_retention > 0 ? c->body_retention : 86400;
	if ((mb->imap = imap_new(&ic, on_message, mb, err, sizeof(err))) ==
	    NULL) {
		snprintf(ebuf, sizeof(ebuf), "mail: %s", err);
		goto fail;
	}
	if (strcmp(pv->name, "dovecot") == 0 && c->dovecot_maildir != NULL &&
	    *c->dovecot_maildir != '\0') {
		/* Only a shortcut past IDLE's delay: go on without it. */
		if ((mb->maildir = maildir_watch_new(maildir_kick, mb)) ==
		    NULL)
			log_warn("mail: maildir watch off: inotify");
		else
			mb->maildir_pat = xstrdup(c->dovecot_maildir);
	}
	log_info("mail: provider %s, domain %s%s", pv->name, mb->domain,
	    mb->maildir ? ", maildir watch on" : "");
	return mb;
fail:
	*errstr = ebuf;
	mailbox_stop(mb);
	return NULL;
}

void
mailbox_stop(struct mailbox *mb)
{
	int i;

	if (mb == NULL)
		return;
	/* The watch's thread calls into mb->imap, and the IMAP workers
	 * call into the watch (maildir_watch_found): stop the thread, then
	 * the workers, then free the watch. */
	maildir_watch_stop(mb->maildir);
	imap_free(mb->imap);
	maildir_watch_free(mb->maildir);
	free(mb->maildir_pat);
	for (i = 0; i < WORKERS; i++)
		parser_free(mb->parser[i]);
	if (mb->prov->close != NULL)
		mb->prov->close(mb);
	free(mb->passwd_file);
	free(mb->domain);
	free(mb);
}

int
mailbox_enabled(const struct mailbox *mb)
{
	return mb != NULL && mb->prov->acquire != NULL;
}

int
mailbox_acquire(struct mailbox *mb, const char *agent, char **address,
    char **ref, char **password, char *err, size_t errlen)
{
	*address = *ref = *password = NULL;
	if (!mailbox_enabled(mb)) {
		snprintf(err, errlen, "no mail provider is configured");
		return -1;
	}
	if (mb->prov->acquire(mb, agent, address, password, err, errlen) ==
	    -1)
		return -1;
	*ref = xstrdup(*address);
	return 0;
}

int
mailbox_release(struct mailbox *mb, const char *address, const char *ref,
    char *err, size_t errlen)
{
	if (!mailbox_enabled(mb)) {
		snprintf(err, errlen, "no mail provider is configured");
		return -1;
	}
	return mb->prov->release(mb, address, ref, err, errlen);
}

int
mailbox_watch(struct mailbox *mb, const char *address, const char *password,
    unsigned long long uidvalidity, unsigned long long last_uid, int fresh)
{
	if (mb == NULL || mb->imap == NULL || address == NULL ||
	    password == NULL)
		return -1;
	/* Already watched is fine: the running session has the newer
	 * cursor. */
	(void)imap_watch(mb->imap, address, password, uidvalidity, last_uid,
	    fresh ? mb->newbox_delay : 0);
	if (mb->maildir != NULL) {
		char path[PATH_MAX];

		if (maildir_expand(mb->maildir_pat, address, path,
		    sizeof(path)) == -1 ||
		    maildir_watch_add(mb->maildir, address, path) == -1)
			log_warnx("mail: %s: no maildir watch (bad address "
			    "or path for [dovecot] maildir)", address);
	}
	return 0;
}

void
mailbox_kick(struct mailbox *mb, const char *address)
{
	if (mb != NULL && mb->imap != NULL && address != NULL)
		imap_kick(mb->imap, address);
}

void
mailbox_unwatch(struct mailbox *mb, const char *address)
{
	if (mb != NULL && address != NULL)
		maildir_watch_remove(mb->maildir, address);
	if (mb != NULL && mb->imap != NULL && address != NULL)
		imap_unwatch(mb->imap, address);
}

json_t *
mailbox_status(struct mailbox *mb)
{
	json_t *o;

	if (mb == NULL)
		return json_pack("{s:s, s:b}", "provider", "none", "enabled",
		    0);
	o = json_pack("{s:s, s:b, s:I, s:I, s:I, s:I}", "provider",
	    mb->prov->name, "enabled", mailbox_enabled(mb),
	    "quarantined", (json_int_t)atomic_load(&mb->quarantined),
	    "rejected", (json_int_t)atomic_load(&mb->rejected),
	    "oversize", (json_int_t)atomic_load(&mb->oversize),
	    "parser_crashes", (json_int_t)atomic_load(&mb->parser_crashes));
	if (mb->imap != NULL)
		json_object_set_new(o, "imap", imap_status(mb->imap));
	return o;
}

json_t *
mailbox_status_one(struct mailbox *mb, const char *address)
{
	json_t *all, *arr, *v, *found = NULL;
	size_t i;

	if (mb == NULL || mb->imap == NULL || address == NULL)
		return json_null();
	all = imap_status(mb->imap);
	arr = json_object_get(all, "mailboxes");
	json_array_foreach(arr, i, v) {
		const char *a = json_string_value(json_object_get(v,
		    "address"));

		if (a != NULL && strcasecmp(a, address) == 0) {
			found = json_incref(v);
			break;
		}
	}
	json_decref(all);
	return found ? found : json_null();
}
