/*
 * The IMAP watcher.  Worker threads each own a share of the mailboxes;
 * a worker steps every mailbox it owns through a small state machine
 * (DOWN -> connect, verify, login, examine, sync -> IDLE or POLL) and
 * sleeps in poll() on the IDLE sessions' fds, its wake pipe and the
 * nearest timer.  Every blocking libetpan call runs under a deadline
 * kept by a watchdog thread, which calls mailstream_cancel() on a stuck
 * stream (libetpan's timeouts are per read, and a few of its loops never
 * time out at all; notes: libs.md §1.3).
 *
 * TLS: libetpan's GnuTLS build accepts any certificate, so sessions run
 * on tlscheck's own stream driver, which verifies the chain and the host
 * name inside the handshake, before the greeting is parsed and long
 * before LOGIN.  A bad certificate means no LOGIN, an error in the
 * status, and a retry with backoff.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "common/config.h"
#include "common/crypto.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mail/imap.h"
#include "mail/tlscheck.h"

#define BATCH_MAX	500		/* UIDs looked at per FETCH round */
#define BACKOFF_MIN	1
#define BACKOFF_MAX	300
#define AGAIN_DELAY	5		/* after IMAP_AGAIN from the callback */
#define IDLE_FAILS_MAX	3		/* then poll instead */
#define ERR_LEN		256
/*
 * Every session holds one socket (tlscheck's driver; libetpan's own took
 * three fds and waited with select(), which aborts on fds >= 1024).
 * Sessions stay open (in IDLE) while the fd limit leaves FD_RESERVE for
 * the rest of the daemon; further mailboxes are polled with short
 * sessions.
 */
#define FD_RESERVE	256
#define MAX_SESSIONS	16384

enum mb_state {
	MB_DOWN,
	MB_IDLE,
	MB_POLL
};
static const char *const state_name[] = { "down", "idle", "poll" };

struct mbox {
	struct mbox	*next;		/* imap->boxes, under imap->lock */
	int		 worker;
	int		 removed;	/* under imap->lock */
	int		 kicked;	/* under imap->lock: look now */
	char		*address;
	char		*password;	/* wiped on free */

	/* Worker-thread only. */
	mailimap	*s;
	enum mb_state	 state;
	int		 has_idle;
	int		 idle_fails;
	int		 counted;	/* holds one of imap->sessions */
	int		 transient;	/* no session slot: connect, sync,
					   disconnect, every poll_interval */
	int		 pending;	/* IDLE fd readable / data buffered */
	int		 rescan;	/* UIDVALIDITY changed */
	int		 backoff;
	time_t		 due;		/* monotonic: next action */

	/* Status; written by the worker under imap->lock. */
	uint32_t	 uidvalidity;
	uint32_t	 last_uid;
	char		 last_error[ERR_LEN];
	long long	 error_at, last_ok, retry_at;
	unsigned long	 fetched, skipped, errors, logins;
};

struct worker {
	struct imap	*im;
	int		 idx;
	pthread_t	 th;
	int		 started;
	int		 wake[2];
	size_t		 nboxes;	/* under imap->lock */
	size_t		 rr;		/* round-robin start for connects */
	struct tlscheck	*tc;
	/* Watchdog slot: the stream in a blocking call and its deadline. */
	pthread_mutex_t	 wd_lock;
	mailstream	*wd_stream;	/* cancelled on the deadline */
	int		 wd_fd;		/* shut down on the deadline */
	struct mbox	*wd_box;
	time_t		 wd_deadline;
};

struct imap {
	struct imap_conf conf;
	char		*host;
	char		*ca_file;
	imap_msg_cb	 cb;
	void		*arg;
	pthread_mutex_t	 lock;
	struct mbox	*boxes;
	int		 sessions;	/* open or opening, under lock */
	int		 max_sessions;
	int		 warned_cap;
	int		 stop;
	struct worker	 w[IMAP_MAX_WORKERS];
	int		 nw;
	pthread_t	 wd;
	int		 wd_started;
	pthread_cond_t	 wd_cond;
};

struct uidinfo {
	uint32_t	uid;
	uint32_t	size;
	long long	date;
};

static void	*worker_main(void *);
static void	*watchdog_main(void *);
static void	 box_step(struct worker *, struct mbox *, time_t);
static int	 box_connect(struct worker *, struct mbox *, char *, size_t);
static int	 box_sync(struct worker *, struct mbox *, char *, size_t);
static int	 box_wait(struct worker *, struct mbox *, time_t, char *,
		    size_t);
static void	 box_fail(struct worker *, struct mbox *, const char *);
static void	 box_close(struct worker *, struct mbox *);
static void	 box_free(struct mbox *);

static time_t
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static void
wake(struct worker *w)
{
	char c = 1;

	(void)!write(w->wake[1], &c, 1);
}

/*
 * Put a blocking call under the watchdog for secs seconds: the stream s
 * gets mailstream_cancel() (which also ends libetpan's EOF-in-literal
 * spin), the socket fd shutdown() (which ends a TLS handshake or a
 * read on a half-built stream).  s NULL and fd -1 disarm; the worker
 * disarms before it closes either, so the watchdog never touches a
 * closed (or reused) descriptor.
 */
static void
wd_arm_fd(struct worker *w, struct mbox *m, mailstream *s, int fd, long secs)
{
	if (s != NULL && fd == -1)
		fd = mailstream_low_get_fd(mailstream_get_low(s));
	pthread_mutex_lock(&w->wd_lock);
	w->wd_stream = s;
	w->wd_fd = fd;
	w->wd_box = s != NULL || fd != -1 ? m : NULL;
	w->wd_deadline = mono() + secs;
	pthread_mutex_unlock(&w->wd_lock);
}

static void
wd_arm(struct worker *w, struct mbox *m, mailstream *s, long secs)
{
	wd_arm_fd(w, m, s, -1, secs);
}

/* Under w->wd_lock: break whatever the worker is blocked in. */
static void
wd_fire(struct worker *w)
{
	if (w->wd_stream != NULL)
		mailstream_cancel(w->wd_stream);
	if (w->wd_fd != -1)
		(void)shutdown(w->wd_fd, SHUT_RDWR);
	w->wd_stream = NULL;
	w->wd_fd = -1;
}

static void *
watchdog_main(void *arg)
{
	struct imap *im = arg;
	struct timespec ts;
	int i;

	pthread_mutex_lock(&im->lock);
	while (!im->stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&im->wd_cond, &im->lock, &ts);
		for (i = 0; i < im->nw; i++) {
			struct worker *w = &im->w[i];

			pthread_mutex_lock(&w->wd_lock);
			if ((w->wd_stream != NULL || w->wd_fd != -1) &&
			    mono() >= w->wd_deadline) {
				log_warnx("imap: %s: deadline passed, "
				    "cancelling the connection", w->wd_box ?
				    w->wd_box->address : "?");
				wd_fire(w);
			}
			pthread_mutex_unlock(&w->wd_lock);
		}
	}
	pthread_mutex_unlock(&im->lock);
	return NULL;
}

struct imap *
imap_new(const struct imap_conf *c, imap_msg_cb cb, void *arg, char *err,
    size_t errlen)
{
	struct imap *im;
	int i;

	if (c->host == NULL || c->host[0] == '\0') {
		snprintf(err, errlen, "imap: no host");
		return NULL;
	}
	if (c->tls == IMAP_TLS_NONE && !config_is_loopback(c->host)) {
		snprintf(err, errlen, "imap: plain IMAP is only allowed to a "
		    "loopback host");
		return NULL;
	}
	im = xcalloc(1, sizeof(*im));
	im->conf = *c;
	im->host = xstrdup(c->host);
	im->ca_file = c->ca_file && *c->ca_file ? xstrdup(c->ca_file) : NULL;
	im->conf.host = im->host;
	im->conf.ca_file = im->ca_file;
	if (im->conf.port <= 0)
		im->conf.port = c->tls == IMAP_TLS_IMPLICIT ? 993 : 143;
	if (im->conf.timeout <= 0)
		im->conf.timeout = 30;
	if (im->conf.poll_interval <= 0)
		im->conf.poll_interval = 60;
	if (im->conf.idle_restart <= 0 || im->conf.idle_restart > 29 * 60)
		im->conf.idle_restart = 9 * 60;
	if (im->conf.workers <= 0)
		im->conf.workers = 4;
	if (im->conf.workers > IMAP_MAX_WORKERS)
		im->conf.workers = IMAP_MAX_WORKERS;
	if (im->conf.max_size == 0)
		im->conf.max_size = 25 * 1024 * 1024;
	if (im->conf.rescan_window <= 0)
		im->conf.rescan_window = 86400;
	im->cb = cb;
	im->arg = arg;
	{
		struct rlimit rl;

		im->max_sessions = MAX_SESSIONS;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < (rlim_t)MAX_SESSIONS + FD_RESERVE)
			im->max_sessions = rl.rlim_cur > 2 * FD_RESERVE ?
			    (int)rl.rlim_cur - FD_RESERVE :
			    (int)rl.rlim_cur / 2;
	}
	pthread_mutex_init(&im->lock, NULL);
	pthread_cond_init(&im->wd_cond, NULL);
	im->nw = im->conf.workers;
	for (i = 0; i < im->nw; i++) {
		struct worker *w = &im->w[i];

		w->im = im;
		w->idx = i;
		w->wake[0] = w->wake[1] = -1;
		w->wd_fd = -1;
		pthread_mutex_init(&w->wd_lock, NULL);
		if (c->tls != IMAP_TLS_NONE &&
		    (w->tc = tlscheck_new(im->ca_file, err, errlen)) == NULL)
			goto fail;
		if (pipe2(w->wake, O_CLOEXEC | O_NONBLOCK) == -1) {
			snprintf(err, errlen, "imap: pipe: %s",
			    strerror(errno));
			goto fail;
		}
	}
	for (i = 0; i < im->nw; i++) {
		if (pthread_create(&im->w[i].th, NULL, worker_main,
		    &im->w[i]) != 0) {
			snprintf(err, errlen, "imap: cannot start a thread");
			goto fail;
		}
		im->w[i].started = 1;
	}
	if (pthread_create(&im->wd, NULL, watchdog_main, im) != 0) {
		snprintf(err, errlen, "imap: cannot start the watchdog");
		goto fail;
	}
	im->wd_started = 1;
	log_info("imap: %d workers for %s:%d (%s)", im->nw, im->host,
	    im->conf.port, c->tls == IMAP_TLS_IMPLICIT ? "implicit TLS" :
	    c->tls == IMAP_TLS_STARTTLS ? "STARTTLS" : "plain, loopback");
	return im;
fail:
	imap_free(im);
	return NULL;
}

void
imap_free(struct imap *im)
{
	struct mbox *m;
	int i;

	if (im == NULL)
		return;
	pthread_mutex_lock(&im->lock);
	im->stop = 1;
	for (m = im->boxes; m != NULL; m = m->next)
		__atomic_store_n(&m->removed, 1, __ATOMIC_RELAXED);
	pthread_cond_broadcast(&im->wd_cond);
	pthread_mutex_unlock(&im->lock);
	for (i = 0; i < im->nw; i++) {
		struct worker *w = &im->w[i];

		/* Cut short whatever the worker is blocked in. */
		pthread_mutex_lock(&w->wd_lock);
		wd_fire(w);
		pthread_mutex_unlock(&w->wd_lock);
		if (w->wake[1] != -1)
			wake(w);
		if (w->started)
			pthread_join(w->th, NULL);
	}
	if (im->wd_started)
		pthread_join(im->wd, NULL);
	for (i = 0; i < im->nw; i++) {
		struct worker *w = &im->w[i];

		if (w->wake[0] != -1)
			close(w->wake[0]);
		if (w->wake[1] != -1)
			close(w->wake[1]);
		tlscheck_free(w->tc);
		pthread_mutex_destroy(&w->wd_lock);
	}
	while ((m = im->boxes) != NULL) {
		im->boxes = m->next;
		box_free(m);
	}
	pthread_cond_destroy(&im->wd_cond);
	pthread_mutex_destroy(&im->lock);
	free(im->host);
	free(im->ca_file);
	free(im);
}

int
imap_watch(struct imap *im, const char *address, const char *password,
    unsigned long long uidvalidity, unsigned long long last_uid,
    long delay)
{
	struct mbox *m;
	int i, best = 0;

	pthread_mutex_lock(&im->lock);
	for (m = im->boxes; m != NULL; m = m->next) {
		if (!m->removed && strcasecmp(m->address, address) == 0) {
			pthread_mutex_unlock(&im->lock);
			return -1;
		}
	}
	for (i = 1; i < im->nw; i++)
		if (im->w[i].nboxes < im->w[best].nboxes)
			best = i;
	m = xcalloc(1, sizeof(*m));
	m->address = xstrdup(address);
	m->password = xstrdup(password);
	m->uidvalidity = uidvalidity > UINT32_MAX ? 0 : (uint32_t)uidvalidity;
	m->last_uid = last_uid > UINT32_MAX || m->uidvalidity == 0 ? 0 :
	    (uint32_t)last_uid;
	m->state = MB_DOWN;
	m->due = mono() + (delay > 0 ? delay : 0);
	m->worker = best;
	m->next = im->boxes;
	im->boxes = m;
	im->w[best].nboxes++;
	pthread_mutex_unlock(&im->lock);
	wake(&im->w[best]);
	log_info("imap: watching %s (worker %d, cursor %u/%u)", address, best,
	    m->uidvalidity, m->last_uid);
	return 0;
}

void
imap_unwatch(struct imap *im, const char *address)
{
	struct mbox *m;
	struct worker *w = NULL;

	pthread_mutex_lock(&im->lock);
	for (m = im->boxes; m != NULL; m = m->next) {
		if (m->removed || strcasecmp(m->address, address) != 0)
			continue;
		__atomic_store_n(&m->removed, 1, __ATOMIC_RELAXED);
		w = &im->w[m->worker];
		/* A revoked mailbox should not wait out a slow server. */
		pthread_mutex_lock(&w->wd_lock);
		if (w->wd_box == m)
			wd_fire(w);
		pthread_mutex_unlock(&w->wd_lock);
		break;
	}
	pthread_mutex_unlock(&im->lock);
	if (w != NULL) {
		wake(w);
		log_info("imap: stopped watching %s", address);
	}
}

void
imap_kick(struct imap *im, const char *address)
{
	struct mbox *m;
	int wk = -1;

	pthread_mutex_lock(&im->lock);
	for (m = im->boxes; m != NULL; m = m->next) {
		if (!m->removed && strcasecmp(m->address, address) == 0) {
			m->kicked = 1;
			wk = m->worker;
			break;
		}
	}
	pthread_mutex_unlock(&im->lock);
	if (wk != -1)
		wake(&im->w[wk]);
}

json_t *
imap_status(struct imap *im)
{
	json_t *root, *arr;
	struct mbox *m;

	arr = json_array();
	pthread_mutex_lock(&im->lock);
	for (m = im->boxes; m != NULL; m = m->next) {
		if (m->removed)
			continue;
		json_array_append_new(arr, json_pack("{s:s, s:s, s:b, s:I, "
		    "s:I, s:I, s:s?, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "address", m->address, "state", m->transient &&
		    m->state == MB_DOWN && m->last_error[0] == '\0' ?
		    "poll" : state_name[m->state],
		    "idle", m->state == MB_IDLE,
		    "uidvalidity", (json_int_t)m->uidvalidity,
		    "last_uid", (json_int_t)m->last_uid,
		    "last_ok", (json_int_t)m->last_ok,
		    "last_error", m->last_error[0] ? m->last_error : NULL,
		    "error_at", (json_int_t)m->error_at,
		    "retry_at", (json_int_t)m->retry_at,
		    "fetched", (json_int_t)m->fetched,
		    "skipped", (json_int_t)m->skipped,
		    "errors", (json_int_t)m->errors,
		    "logins", (json_int_t)m->logins));
	}
	root = json_pack("{s:o, s:i, s:s, s:i, s:i, s:i}", "mailboxes", arr,
	    "workers", im->nw, "host", im->host, "port", im->conf.port,
	    "sessions", im->sessions, "max_sessions", im->max_sessions);
	pthread_mutex_unlock(&im->lock);
	return root;
}

static void
box_free(struct mbox *m)
{
	if (m == NULL)
		return;
	if (m->password != NULL)
		crypto_wipe_free(m->password, strlen(m->password));
	free(m->address);
	free(m);
}

/* Drop the session without a LOGOUT round trip (the link may be dead). */
static void
box_close(struct worker *w, struct mbox *m)
{
	wd_arm(w, m, NULL, 0);
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

	box_close(w, m);
	m->backoff = m->backoff ? m->backoff * 2 : BACKOFF_MIN;
	if (m->backoff > BACKOFF_MAX)
		m->backoff = BACKOFF_MAX;
	crypto_random(&j, 1);
	m->due = mono() + m->backoff + (j % (m->backoff / 2 + 1));
	pthread_mutex_lock(&im->lock);
	xstrlcpy(m->last_error, why, sizeof(m->last_error));
	m->error_at = time(NULL);
	m->retry_at = m->error_at + (m->due - mono());
	m->errors++;
	pthread_mutex_unlock(&im->lock);
	log_warnx("imap: %s: %s (retry in %llds)", m->address, why,
	    (long long)(m->due - mono()));
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
	wd_arm_fd(w, m, NULL, fd, c->timeout + 5);
	st = tlscheck_open(w->tc, fd, c->host, c->tls == IMAP_TLS_IMPLICIT,
	    c->timeout, err, errlen);
	wd_arm(w, m, NULL, 0);
	if (st == NULL)
		return -1;
	if ((m->s = mailimap_new(0, NULL)) == NULL) {
		mailstream_close(st);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	mailimap_set_timeout(m->s, c->timeout);
	wd_arm(w, m, st, c->timeout * 2);
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
		wd_arm_fd(w, m, NULL, mailstream_low_get_fd(
		    mailstream_get_low(m->s->imap_stream)), c->timeout + 5);
		r = tlscheck_starttls(w->tc, m->s->imap_stream, c->host,
		    c->timeout, err, errlen);
		wd_arm(w, m, NULL, 0);
		if (r == -1)
			return -1;
		wd_arm(w, m, m->s->imap_stream, c->timeout * 2);
	}
	/* Capabilities from before TLS are not to be trusted; ask again. */
	cap = NULL;
	if ((r = mailimap_capability(m->s, &cap)) != MAILIMAP_NO_ERROR) {
		snprintf(err, errlen, "CAPABILITY failed (%d)", r);
		return -1;
	}
	mailimap_capability_data_free(cap);
	wd_arm(w, m, m->s->imap_stream, c->timeout * 2);
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
	wd_arm(w, m, m->s->imap_stream, c->timeout * 2);
	cap = NULL;
	if (mailimap_capability(m->s, &cap) == MAILIMAP_NO_ERROR && cap != NULL)
		mailimap_capability_data_free(cap);
	m->has_idle = mailimap_has_idle(m->s) && m->idle_fails <
	    IDLE_FAILS_MAX;
	wd_arm(w, m, m->s->imap_stream, c->timeout * 2);
	if ((r = mailimap_examine(m->s, "INBOX")) != MAILIMAP_NO_ERROR) {
		snprintf(err, errlen, "EXAMINE INBOX failed (%d)", r);
		return -1;
	}
	wd_arm(w, m, NULL, 0);
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
 * 0 when done, 1 when the callback asked to retry later, -1 on a
 * session error (err set).
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
	size_t n, i;
	int r, rc = -1, full;

	do {
		uint32_t start = m->last_uid + 1;

		set = mailimap_set_new_interval(start, 0);	/* start:* */
		ft = mailimap_fetch_type_new_fetch_att_list_empty();
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		    mailimap_fetch_att_new_uid());
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		    mailimap_fetch_att_new_rfc822_size());
		mailimap_fetch_type_new_fetch_att_list_add(ft,
		    mailimap_fetch_att_new_internaldate());
		wd_arm(w, m, m->s->imap_stream, im->conf.timeout * 4);
		r = mailimap_uid_fetch(m->s, set, ft, &res);
		wd_arm(w, m, NULL, 0);
		mailimap_fetch_type_free(ft);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR) {
			snprintf(err, errlen, "UID FETCH failed (%d)", r);
			goto done;
		}
		n = 0;
		u = xreallocarray(NULL, clist_count(res) + 1, sizeof(*u));
		for (it = clist_begin(res); it; it = clist_next(it)) {
			/* "N:*" returns the last message even when its UID
			 * is below N (RFC 3501 6.4.8): drop those. */
			if (msg_info(clist_content(it), &u[n]) == 0 &&
			    u[n].uid >= start)
				n++;
		}
		mailimap_fetch_list_free(res);
		res = NULL;
		qsort(u, n, sizeof(*u), uid_cmp);
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
				wd_arm(w, m, m->s->imap_stream,
				    im->conf.timeout * 4 +
				    (long)(u[i].size / 65536));
				r = fetch_body(w, m, u[i].uid, &res, &body,
				    &len);
				wd_arm(w, m, NULL, 0);
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
	} while (full && !__atomic_load_n(&m->removed, __ATOMIC_RELAXED));
	m->rescan = 0;
	rc = 0;
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
	wd_arm(w, m, m->s->imap_stream, im->conf.timeout * 2);
	r = mailimap_idle(m->s);
	wd_arm(w, m, NULL, 0);
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
	m->pending = tlscheck_pending(m->s->imap_stream);
	return 0;
}

/* One step of one mailbox's state machine, if it is due. */
static void
box_step(struct worker *w, struct mbox *m, time_t now)
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
		if (!m->pending && now < m->due)
			return;
		m->pending = 0;
		wd_arm(w, m, m->s->imap_stream, im->conf.timeout * 2);
		r = mailimap_idle_done(m->s);
		wd_arm(w, m, NULL, 0);
		if (r != MAILIMAP_NO_ERROR) {
			snprintf(err, sizeof(err), "IDLE DONE failed (%d)", r);
			box_fail(w, m, err);
			return;
		}
		break;
	case MB_POLL:
		if (now < m->due)
			return;
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
		m->due = mono() + AGAIN_DELAY;
		return;
	}
	if (m->transient) {
		/* No session slot: free it for the next mailbox.  (No
		 * LOGOUT: libetpan frees the stream inside it, which the
		 * watchdog could then touch.) */
		box_close(w, m);
		m->due = mono() + im->conf.poll_interval;
		return;
	}
	if (box_wait(w, m, mono(), err, sizeof(err)) == -1)
		box_fail(w, m, err);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct imap *im = w->im;
	struct mbox **mine = NULL, **pmap = NULL, *m, **pp;
	struct pollfd *pfd;
	size_t cap = 0, n, i, np;
	char drain[64];
	time_t now, soonest;
	int stop, timeout;

	pfd = xreallocarray(NULL, 1, sizeof(*pfd));
	pmap = xreallocarray(NULL, 1, sizeof(*pmap));
	for (;;) {
		/* Snapshot this worker's mailboxes; reap removed ones. */
		pthread_mutex_lock(&im->lock);
		stop = im->stop;
		n = 0;
		for (pp = &im->boxes; (m = *pp) != NULL; ) {
			if (m->worker != w->idx) {
				pp = &m->next;
				continue;
			}
			if (m->removed) {
				*pp = m->next;
				w->nboxes--;
				pthread_mutex_unlock(&im->lock);
				box_close(w, m);
				box_free(m);
				pthread_mutex_lock(&im->lock);
				pp = &im->boxes;	/* list may have changed */
				n = 0;
				continue;
			}
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				mine = xreallocarray(mine, cap, sizeof(*mine));
				pfd = xreallocarray(pfd, cap + 1,
				    sizeof(*pfd));
				pmap = xreallocarray(pmap, cap + 1,
				    sizeof(*pmap));
			}
			if (m->kicked) {
				/* Someone saw new mail arrive: sync now. */
				m->kicked = 0;
				if (m->state == MB_IDLE)
					m->pending = 1;
				else if (m->error_at == 0 ||
				    m->last_error[0] == '\0')
					m->due = 0;
			}
			mine[n++] = m;
			pp = &m->next;
		}
		pthread_mutex_unlock(&im->lock);
		if (stop)
			break;

		/*
		 * IDLE sessions with news first (cheap, latency matters);
		 * then at most one connect or poll, round robin, before the
		 * IDLE fds are looked at again, so hundreds of polled
		 * mailboxes cannot hold up a waiting agent.
		 */
		for (i = 0; i < n; i++)
			if (mine[i]->state == MB_IDLE)
				box_step(w, mine[i], mono());
		for (i = 0; i < n; i++) {
			m = mine[(w->rr + i) % n];
			if (m->state == MB_IDLE || mono() < m->due)
				continue;
			box_step(w, m, mono());
			w->rr = (w->rr + i + 1) % n;
			break;
		}

		/* Sleep until an IDLE fd, the wake pipe or a timer. */
		now = mono();
		soonest = now + 3600;
		pfd[0].fd = w->wake[0];
		pfd[0].events = POLLIN;
		np = 1;
		for (i = 0; i < n; i++) {
			m = mine[i];
			if (m->state == MB_IDLE && m->pending)
				soonest = now;
			if (m->due < soonest)
				soonest = m->due;
			if (m->state == MB_IDLE && m->s != NULL) {
				pfd[np].fd = mailimap_idle_get_fd(m->s);
				pfd[np].events = POLLIN;
				pfd[np].revents = 0;
				pmap[np] = m;
				np++;
			}
		}
		timeout = soonest <= now ? 0 : (int)(soonest - now) * 1000;
		if (poll(pfd, np, timeout) > 0) {
			if (pfd[0].revents & POLLIN)
				while (read(w->wake[0], drain,
				    sizeof(drain)) > 0)
					;
			for (i = 1; i < np; i++)
				if (pfd[i].revents != 0)
					pmap[i]->pending = 1;
		}
	}
	/* Stopping: close what is left (imap_free frees the structs). */
	pthread_mutex_lock(&im->lock);
	for (m = im->boxes; m != NULL; m = m->next) {
		if (m->worker != w->idx)
			continue;
		pthread_mutex_unlock(&im->lock);
		box_close(w, m);
		pthread_mutex_lock(&im->lock);
	}
	pthread_mutex_unlock(&im->lock);
	free(mine);
	free(pmap);
	free(pfd);
	return NULL;
}
