/*
 * imapsess: one watched mailbox's IMAP session, step by step (connect,
 * verify, login, examine, sync, IDLE or poll, fail with backoff), and the
 * arming of the watchdog around each blocking libetpan call.  The worker
 * pool, the watchdog thread and the public API live in imap.c.
 *
 * TLS: libetpan's GnuTLS build accepts any certificate, so sessions run
 * on tlscheck's own stream driver, which verifies the chain and the host
 * name inside the handshake, before the greeting is parsed and long
 * before LOGIN.  A bad certificate means no LOGIN, an error in the
 * status, and a retry with backoff.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>

#include "common/crypto.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mail/imapsess.h"
#include "mail/tlscheck.h"

#define BATCH_MAX	500		/* UIDs looked at per FETCH round */
#define BACKOFF_MIN	1
#define BACKOFF_MAX	300
#define AGAIN_DELAY	5		/* after IMAP_AGAIN from the callback */
#define IDLE_FAILS_MAX	3		/* then poll instead */
#define IDLE_LINES_MAX	32		/* read in IDLE per wake-up */
#define SYNC_PASSES	4		/* listings per sync while mail
					   keeps coming in */

struct uidinfo {
	uint32_t	seq;		/* message sequence number */
	uint32_t	uid;
	uint32_t	size;
	long long	date;
};

static int	 box_connect(struct worker *, struct mbox *, char *, size_t);
static int	 box_sync(struct worker *, struct mbox *, char *, size_t);
static int	 box_wait(struct worker *, struct mbox *, time_t, char *,
		    size_t);
static void	 box_fail(struct worker *, struct mbox *, const char *);

time_t
imapsess_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/*
 * Put a blocking call under the watchdog for secs seconds: the stream s
 * gets mailstream_cancel() (which also ends libetpan's EOF-in-literal
 * spin), the socket fd shutdown() (which ends a TLS handshake or a
 * read on a half-built stream).  s NULL and fd -1 disarm; the worker
 * disarms before it closes either, so the watchdog never touches a
 * closed (or reused) descriptor.
 */
void
imapsess_arm_fd(struct worker *w, struct mbox *m, mailstream *s, int fd,
    long secs)
{
	if (s != NULL && fd == -1)
		fd = mailstream_low_get_fd(mailstream_get_low(s));
	pthread_mutex_lock(&w->wd_lock);
	w->wd_stream = s;
	w->wd_fd = fd;
	w->wd_box = s != NULL || fd != -1 ? m : NULL;
	w->wd_deadline = imapsess_mono() + secs;
	pthread_mutex_unlock(&w->wd_lock);
}

void
imapsess_arm(struct worker *w, struct mbox *m, mailstream *s, long secs)
{
	imapsess_arm_fd(w, m, s, -1, secs);
}

/* Drop the session without a LOGOUT round trip (the link may be dead). */
void
imapsess_close(struct worker *w, struct mbox *m)
{
	imapsess_arm(w, m, NULL, 0);
	if (m->s != NULL) {
		if (m->s->imap_stream != NULL) {
			mailstream_close(m->s->imap_stream);
			m->s->imap_stream = NULL;
		}
		mailimap_free(m->s);
		m->s = NULL;
	}
	m->state = MB_DOWN;
	m->pending = 0;
	m->readable = 0;
	if (m->counted) {
		pthread_mutex_lock(&w->im->lock);
		w->im->sessions--;
		pthread_mutex_unlock(&w->im->lock);
		m->counted = 0;
	}
}

/* Record why, close, and schedule a reconnect with exponential backoff. */
static void
box_fail(struct worker *w, struct mbox *m, const char *why)
{
	struct imap *im = w->im;
	uint8_t j;

	imapsess_close(w, m);
	m->backoff = m->backoff ? m->backoff * 2 : BACKOFF_MIN;
	if (m->backoff > BACKOFF_MAX)
		m->backoff = BACKOFF_MAX;
	crypto_random(&j, 1);
	m->due = imapsess_mono() + m->backoff + (j % (m->backoff / 2 + 1));
	pthread_mutex_lock(&im->lock);
	xstrlcpy(m->last_error, why, sizeof(m->last_error));
	m->error_at = time(NULL);
	m->retry_at = m->error_at + (m->due - imapsess_mono());
	m->errors++;
	pthread_mutex_unlock(&im->lock);
	log_warnx("imap: %s: %s (retry in %llds)", m->address, why,
	    (long long)(m->due - imapsess_mono()));
}

/* Connect, verify, log in, EXAMINE INBOX.  0, or -1 with err. */
static int
box_connect(struct worker *w, struct mbox *m, char *err, size_t errlen)
{
	struct imap *im = w->im;
	const struct imap_conf *c = &im->conf;
	struct mailimap_capability_data *cap;
	mailstream *st = NULL;
	uint32_t uv;
	int fd, r;

	pthread_mutex_lock(&im->lock);
	m->transient = im->sessions >= im->max_sessions;
	if (m->transient && !im->warned_cap) {
		im->warned_cap = 1;
		log_warnx("imap: %d sessions open; further mailboxes are "
		    "polled every %lds with short sessions", im->sessions,
		    c->poll_interval);
	}
	im->sessions++;
	m->counted = 1;
	pthread_mutex_unlock(&im->lock);
	if ((fd = tlscheck_connect(c->host, c->port, c->timeout, err, errlen)) ==
	    -1)
		return -1;
	/* The certificate is verified inside the handshake, before the
	 * IMAP parser sees a byte of the greeting. */
	imapsess_arm_fd(w, m, NULL, fd, c->timeout + 5);
	st = tlscheck_open(w->tc, fd, c->host, c->tls == IMAP_TLS_IMPLICIT,
	    c->timeout, err, errlen);
	imapsess_arm(w, m, NULL, 0);
	if (st == NULL)
		return -1;
	if ((m->s = mailimap_new(0, NULL)) == NULL) {
		mailstream_close(st);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mailimap_set_timeout(m->s, c->timeout);
	imapsess_arm(w, m, st, c->timeout * 2);
	r = mailimap_connect(m->s, st);
	if (r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED) {
		/* PREAUTH included: we never accept a session we did not
		 * authenticate ourselves. */
		snprintf(err, errlen, "no usable IMAP greeting (%d)", r);
		return -1;
	}
	if (c->tls == IMAP_TLS_STARTTLS) {
		if ((r = mailimap_starttls(m->s)) != MAILIMAP_NO_ERROR) {
			snprintf(err, errlen, "STARTTLS refused (%d)", r);
			return -1;
		}
		/* The stream's low layer is swapped: only the socket (which
		 * stays) may be touched by the watchdog meanwhile. */
		imapsess_arm_fd(w, m, NULL, mailstream_low_get_fd(
		    mailstream_get_low(m->s->imap_stream)), c->timeout + 5);
		r = tlscheck_starttls(w->tc, m->s->imap_stream, c->host,
		    c->timeout, err, errlen);
		imapsess_arm(w, m, NULL, 0);
		if (r == -1)
			return -1;
		imapsess_arm(w, m, m->s->imap_stream, c->timeout * 2);
	}
	/* Capabilities from before TLS are not to be trusted; ask again. */
	cap = NULL;
	if ((r = mailimap_capability(m->s, &cap)) != MAILIMAP_NO_ERROR) {
		snprintf(err, errlen, "CAPABILITY failed (%d)", r);
		return -1;
	}
	mailimap_capability_data_free(cap);
	imapsess_arm(w, m, m->s->imap_stream, c->timeout * 2);
	r = mailimap_login(m->s, m->address, m->password);
	pthread_mutex_lock(&im->lock);
	m->logins++;
	pthread_mutex_unlock(&im->lock);
	if (r == MAILIMAP_ERROR_LOGIN) {
		snprintf(err, errlen, "LOGIN as %s refused%s%s", m->address,
		    m->s->imap_response ? ": " : "",
		    m->s->imap_response ? m->s->imap_response : "");
		return -1;
	}
	if (r != MAILIMAP_NO_ERROR) {
		snprintf(err, errlen, "LOGIN as %s failed (%d)", m->address, r);
		return -1;
	}
	/* Capabilities may grow after login (IDLE among them). */
	imapsess_arm(w, m, m->s->imap_stream, c->timeout * 2);
	cap = NULL;
	if (mailimap_capability(m->s, &cap) == MAILIMAP_NO_ERROR && cap != NULL)
		mailimap_capability_data_free(cap);
	m->has_idle = mailimap_has_idle(m->s) && m->idle_fails <
	    IDLE_FAILS_MAX;
	imapsess_arm(w, m, m->s->imap_stream, c->timeout * 2);
	if ((r = mailimap_examine(m->s, "INBOX")) != MAILIMAP_NO_ERROR) {
		snprintf(err, errlen, "EXAMINE INBOX failed (%d)", r);
		return -1;
	}
	imapsess_arm(w, m, NULL, 0);
	uv = m->s->imap_selection_info ?
	    m->s->imap_selection_info->sel_uidvalidity : 0;
	if (uv == 0) {
		snprintf(err, errlen, "server sent no UIDVALIDITY");
		return -1;
	}
	pthread_mutex_lock(&im->lock);
	if (m->uidvalidity != 0 && m->uidvalidity != uv) {
		log_warnx("imap: %s: UIDVALIDITY changed %u -> %u; "
		    "re-scanning (duplicates are recognised by content)",
		    m->address, m->uidvalidity, uv);
		m->rescan = 1;
		m->last_uid = 0;
	}
	m->uidvalidity = uv;
	pthread_mutex_unlock(&im->lock);
	log_info("imap: %s: logged in, UIDVALIDITY %u, last UID %u, %s",
	    m->address, uv, m->last_uid, m->has_idle ? "IDLE" : "polling");
	return 0;
}

/* The UID, RFC822.SIZE and INTERNALDATE of one FETCH result. */
static int
msg_info(struct mailimap_msg_att *ma, struct uidinfo *u)
{
	clistiter *it;

	memset(u, 0, sizeof(*u));
	u->seq = ma->att_number;
	for (it = clist_begin(ma->att_list); it; it = clist_next(it)) {
		struct mailimap_msg_att_item *item = clist_content(it);
		struct mailimap_msg_att_static *s;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		s = item->att_data.att_static;
		switch (s->att_type) {
		case MAILIMAP_MSG_ATT_UID:
			u->uid = s->att_data.att_uid;
			break;
		case MAILIMAP_MSG_ATT_RFC822_SIZE:
			u->size = s->att_data.att_rfc822_size;
			break;
		case MAILIMAP_MSG_ATT_INTERNALDATE: {
			struct mailimap_date_time *d =
			    s->att_data.att_internal_date;
			struct tm tm;

			if (d == NULL)
				break;
			memset(&tm, 0, sizeof(tm));
			tm.tm_year = d->dt_year - 1900;
			tm.tm_mon = d->dt_month - 1;
			tm.tm_mday = d->dt_day;
			tm.tm_hour = d->dt_hour;
			tm.tm_min = d->dt_min;
			tm.tm_sec = d->dt_sec;
			/* dt_zone is +-HHMM */
			u->date = (long long)timegm(&tm) -
			    ((d->dt_zone / 100) * 3600 +
			    (d->dt_zone % 100) * 60);
			break;
		}
		default:
			break;
		}
	}
	return u->uid != 0 ? 0 : -1;
}

static int
uid_cmp(const void *a, const void *b)
{
	const struct uidinfo *x = a, *y = b;

	return x->uid < y->uid ? -1 : x->uid > y->uid;
}

/* Fetch BODY.PEEK[] of one UID (capped at max_size + 1 bytes). */
static int
fetch_body(struct worker *w, struct mbox *m, uint32_t uid, clist **res,
    const char **body, size_t *len)
{
	struct mailimap_set *set;
	struct mailimap_fetch_type *ft;
	struct mailimap_section *sec;
	clistiter *it, *jt;
	int r;

	*res = NULL;
	*body = NULL;
	*len = 0;
	set = mailimap_set_new_single(uid);
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_uid());
	sec = mailimap_section_new(NULL);
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_body_peek_section_partial(sec, 0,
	    (uint32_t)(w->im->conf.max_size + 1)));
	r = mailimap_uid_fetch(m->s, set, ft, res);
	mailimap_fetch_type_free(ft);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return -1;
	for (it = clist_begin(*res); it; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		uint32_t got = 0;
		const char *b = NULL;
		size_t l = 0;

		for (jt = clist_begin(ma->att_list); jt; jt = clist_next(jt)) {
			struct mailimap_msg_att_item *item = clist_content(jt);
			struct mailimap_msg_att_static *s;

			if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
				continue;
			s = item->att_data.att_static;
			if (s->att_type == MAILIMAP_MSG_ATT_UID)
				got = s->att_data.att_uid;
			else if (s->att_type == MAILIMAP_MSG_ATT_BODY_SECTION &&
			    s->att_data.att_body_section != NULL) {
				b = s->att_data.att_body_section->
				    sec_body_part;
				l = s->att_data.att_body_section->sec_length;
			}
		}
		if (got == uid && b != NULL) {
			*body = b;
			*len = l;
			break;
		}
	}
	return 0;
}

/*
 * Hand every message above the cursor to the callback, in UID order.
 * 0 when done, 1 when the callback asked to retry later, 2 when done but
 * the server still counts more mail than it listed, -1 on a session
 * error (err set).
 */
static int
box_sync(struct worker *w, struct mbox *m, char *err, size_t errlen)
{
	struct imap *im = w->im;
	struct mailimap_set *set;
	struct mailimap_fetch_type *ft;
	struct uidinfo *u = NULL;
	clist *res = NULL;
	clistiter *it;
	struct mailimap_selection_info *sel = m->s->imap_selection_info;
	uint32_t listed;
	size_t n, i;
	int r, rc = -1, full, behind = 0, passes = 0;

	do {
		uint32_t start = m->last_uid + 1;

		/*
		 * Mail that lands after the server made the listing below is
		 * announced (EXISTS) in the reply to whatever command runs
		 * then, and never again: IDLE would wait on it until the
		 * next delivery.  So count only what is announced from here
		 * on, and list again when it is more than was listed.
		 */
		if (sel != NULL)
			sel->sel_exists = 0;
		set = mailimap_set_new_interval(start, 0);	/* start:* */
		ft = mailimap_fetch_type_new_fetch_att_list_empty();
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		    mailimap_fetch_att_new_uid());
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		    mailimap_fetch_att_new_rfc822_size());
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		    mailimap_fetch_att_new_internaldate());
		imapsess_arm(w, m, m->s->imap_stream, im->conf.timeout * 4);
		r = mailimap_uid_fetch(m->s, set, ft, &res);
		imapsess_arm(w, m, NULL, 0);
		mailimap_fetch_type_free(ft);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR) {
			snprintf(err, errlen, "UID FETCH failed (%d)", r);
			goto done;
		}
		n = 0;
		listed = 0;
		u = xreallocarray(NULL, clist_count(res) + 1, sizeof(*u));
		for (it = clist_begin(res); it; it = clist_next(it)) {
			/* "N:*" returns the last message even when its UID
			 * is below N (RFC 3501 6.4.8): drop those, but the
			 * highest sequence number is the count listed. */
			r = msg_info(clist_content(it), &u[n]);
			if (u[n].seq > listed)
				listed = u[n].seq;
			if (r == 0 && u[n].uid >= start)
				n++;
		}
		mailimap_fetch_list_free(res);
		res = NULL;
		qsort(u, n, sizeof(*u), uid_cmp);
		/* What each sync saw: how kicks and IDLE pushes line up
		 * with deliveries (make bench reads this). */
		log_debug("imap: %s: UID FETCH %u:*, %zu new", m->address,
		    start, n);
		full = n > BATCH_MAX;
		if (full)
			n = BATCH_MAX;
		for (i = 0; i < n; i++) {
			struct imap_msg msg;
			const char *body = NULL;
			size_t len = 0;
			enum imap_verdict v;

			if (__atomic_load_n(&m->removed, __ATOMIC_RELAXED))
				break;
			memset(&msg, 0, sizeof(msg));
			msg.mailbox = m->address;
			msg.uidvalidity = m->uidvalidity;
			msg.uid = u[i].uid;
			msg.size = u[i].size;
			msg.internal_date = u[i].date;
			msg.worker = w->idx;
			if (m->rescan && u[i].date > 0 &&
			    u[i].date < (long long)time(NULL) -
			    im->conf.rescan_window) {
				/* Old mail seen again under a new UIDVALIDITY:
				 * its store row may be gone, so skip it rather
				 * than deliver a stale code. */
				pthread_mutex_lock(&im->lock);
				m->last_uid = u[i].uid;
				pthread_mutex_unlock(&im->lock);
				continue;
			}
			if (u[i].size <= im->conf.max_size) {
				imapsess_arm(w, m, m->s->imap_stream,
				    im->conf.timeout * 4 +
				    (long)(u[i].size / 65536));
				r = fetch_body(w, m, u[i].uid, &res, &body,
				    &len);
				imapsess_arm(w, m, NULL, 0);
				if (r == -1) {
					snprintf(err, errlen, "UID FETCH "
					    "BODY.PEEK[] failed");
					goto done;
				}
				if (body == NULL) {
					/* Expunged in between: nothing to
					 * deliver, nothing to retry. */
					mailimap_fetch_list_free(res);
					res = NULL;
					pthread_mutex_lock(&im->lock);
					m->last_uid = u[i].uid;
					pthread_mutex_unlock(&im->lock);
					continue;
				}
				if (len <= im->conf.max_size) {
					msg.raw = body;
					msg.rawlen = len;
				}
			}
			log_debug("imap: %s: UID %u/%u, %u bytes%s", m->address,
			    m->uidvalidity, u[i].uid, u[i].size,
			    msg.raw ? "" : ", over the size cap: not parsed");
			v = im->cb(&msg, im->arg);
			if (res != NULL) {
				mailimap_fetch_list_free(res);
				res = NULL;
			}
			if (v == IMAP_AGAIN) {
				rc = 1;
				goto done;
			}
			pthread_mutex_lock(&im->lock);
			m->last_uid = u[i].uid;
			if (msg.raw == NULL)
				m->skipped++;
			else
				m->fetched++;
			pthread_mutex_unlock(&im->lock);
		}
		free(u);
		u = NULL;
		behind = sel != NULL && sel->sel_exists > listed;
		if (behind)
			log_debug("imap: %s: %u messages now, %u listed: "
			    "again", m->address, sel->sel_exists, listed);
	} while ((full || (behind && ++passes < SYNC_PASSES)) &&
	    !__atomic_load_n(&m->removed, __ATOMIC_RELAXED));
	m->rescan = 0;
	rc = behind ? 2 : 0;
done:
	if (res != NULL)
		mailimap_fetch_list_free(res);
	free(u);
	return rc;
}

/* After a sync: IDLE (its fd joins the poll set) or a poll timer. */
static int
box_wait(struct worker *w, struct mbox *m, time_t now, char *err,
    size_t errlen)
{
	struct imap *im = w->im;
	int r;

	if (!m->has_idle) {
		m->state = MB_POLL;
		m->due = now + im->conf.poll_interval;
		return 0;
	}
	imapsess_arm(w, m, m->s->imap_stream, im->conf.timeout * 2);
	r = mailimap_idle(m->s);
	imapsess_arm(w, m, NULL, 0);
	if (r != MAILIMAP_NO_ERROR) {
		/* Some servers break IDLE (libetpan issue #393): after a few
		 * failures this mailbox polls instead. */
		m->idle_fails++;
		snprintf(err, errlen, "IDLE failed (%d)", r);
		return -1;
	}
	m->idle_fails = 0;
	m->state = MB_IDLE;
	m->due = now + im->conf.idle_restart;
	/* Data that came with "+ idling" sits in a buffer poll() cannot
	 * see (libs.md §1.6). */
	m->readable = tlscheck_pending(m->s->imap_stream);
	return 0;
}

/*
 * The IDLE session has something to say: read it a line at a time.  An
 * untagged OK ("* OK Still here", Dovecot's every two minutes) is only a
 * keep-alive; anything else (EXISTS, RECENT, EXPUNGE, FETCH, BYE, a
 * literal) ends IDLE for a sync, which finds what changed by itself, so
 * the consumed line is not needed.  Without this, a thousand IDLE
 * sessions each did DONE, UID FETCH and IDLE every two minutes, and a
 * kicked mailbox waited behind that queue (measured: up to 150 ms).
 * 1: sync now, 0: keep-alives only, -1: the stream failed (err set).
 */
static int
idle_read(struct worker *w, struct mbox *m, char *err, size_t errlen)
{
	struct imap *im = w->im;
	const char *line;
	size_t len;
	int i;

	m->readable = 0;
	for (i = 0; i < IDLE_LINES_MAX; i++) {
		/* Only whole lines: the worker must not block here. */
		switch (tlscheck_fill(m->s->imap_stream)) {
		case 0:
			return 0;
		case -1:
			snprintf(err, errlen, "connection lost in IDLE");
			return -1;
		}
		imapsess_arm(w, m, m->s->imap_stream, im->conf.timeout * 2);
		line = mailimap_read_line(m->s);
		imapsess_arm(w, m, NULL, 0);
		if (line == NULL) {
			snprintf(err, errlen, "connection lost in IDLE");
			return -1;
		}
		len = strlen(line);
		if (strncmp(line, "* OK", 4) != 0 ||
		    (len >= 3 && line[len - 3] == '}'))
			return 1;
	}
	return 1;	/* a flood of chatter: sync, then IDLE afresh */
}

/* One step of one mailbox's state machine, if it is due. */
void
imapsess_step(struct worker *w, struct mbox *m, time_t now)
{
	struct imap *im = w->im;
	char err[ERR_LEN];
	int r;

	err[0] = '\0';
	if (__atomic_load_n(&m->removed, __ATOMIC_RELAXED))
		return;
	switch (m->state) {
	case MB_DOWN:
		if (now < m->due)
			return;
		if (box_connect(w, m, err, sizeof(err)) == -1) {
			box_fail(w, m, err);
			return;
		}
		break;
	case MB_IDLE:
		if (!m->pending && m->readable) {
			r = idle_read(w, m, err, sizeof(err));
			if (r == -1) {
				box_fail(w, m, err);
				return;
			}
			m->pending = r;
		}
		if (!m->pending && now < m->due)
			return;
		m->pending = 0;
		imapsess_arm(w, m, m->s->imap_stream, im->conf.timeout * 2);
		r = mailimap_idle_done(m->s);
		imapsess_arm(w, m, NULL, 0);
		if (r != MAILIMAP_NO_ERROR) {
			snprintf(err, sizeof(err), "IDLE DONE failed (%d)", r);
			box_fail(w, m, err);
			return;
		}
		break;
	case MB_POLL:
		if (now < m->due)
			return;
		/* A reused session learns of new mail (EXISTS) only after a
		 * command; without this NOOP the UID FETCH below sees the
		 * mailbox as it was, and mail arrives one poll late. */
		imapsess_arm(w, m, m->s->imap_stream, im->conf.timeout * 2);
		r = mailimap_noop(m->s);
		imapsess_arm(w, m, NULL, 0);
		if (r != MAILIMAP_NO_ERROR) {
			snprintf(err, sizeof(err), "NOOP failed (%d)", r);
			box_fail(w, m, err);
			return;
		}
		break;
	}
	r = box_sync(w, m, err, sizeof(err));
	if (r == -1) {
		box_fail(w, m, err);
		return;
	}
	pthread_mutex_lock(&im->lock);
	m->last_ok = time(NULL);
	m->last_error[0] = '\0';
	m->retry_at = 0;
	pthread_mutex_unlock(&im->lock);
	m->backoff = 0;
	if (r == 1) {
		/* The store could not commit: keep the session, come back
		 * soon, without IDLE in between. */
		m->state = MB_POLL;
		m->due = imapsess_mono() + AGAIN_DELAY;
		return;
	}
	if (m->transient) {
		/* No session slot: free it for the next mailbox.  (No
		 * LOGOUT: libetpan frees the stream inside it, which the
		 * watchdog could then touch.) */
		imapsess_close(w, m);
		m->due = imapsess_mono() + im->conf.poll_interval;
		return;
	}
	if (box_wait(w, m, imapsess_mono(), err, sizeof(err)) == -1) {
		box_fail(w, m, err);
		return;
	}
	/* Still more than listed after SYNC_PASSES: a flood, or a server
	 * that miscounts.  Look again soon, not at once. */
	if (r == 2 && m->state == MB_IDLE)
		m->due = imapsess_mono() + 1;
}
