/*
 * The IMAP watcher.  Worker threads each own a share of the mailboxes;
 * a worker steps every mailbox it owns through a small state machine
 * (DOWN -> connect, verify, login, examine, sync -> IDLE or POLL) and
 * sleeps in poll() on the IDLE sessions' fds, its wake pipe and the
 * nearest timer.  Every blocking libetpan call runs under a deadline
 * kept by a watchdog thread, which calls mailstream_cancel() on a stuck
 * stream (libetpan's timeouts are per read, and a few of its loops never
 * time out at all; notes: libs.md §1.3).
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
#include "mail/imapsess.h"
#include "mail/tlscheck.h"

/*
 * Every session holds one socket (tlscheck's driver; libetpan's own took
 * three fds and waited with select(), which aborts on fds >= 1024).
 * Sessions stay open (in IDLE) while the fd limit leaves FD_RESERVE for
 * the rest of the daemon; further mailboxes are polled with short
 * sessions.
 */
#define FD_RESERVE	256
#define MAX_SESSIONS	16384

static const char *const state_name[] = { "down", "idle", "poll" };

static void	*worker_main(void *);
static void	*watchdog_main(void *);
static void	 box_free(struct mbox *);

static void
wake(struct worker *w)
{
	char c = 1;

	(void)!write(w->wake[1], &c, 1);
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
			    imapsess_mono() >= w->wd_deadline) {
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
	m->due = imapsess_mono() + (delay > 0 ? delay : 0);
	m->worker = best;
	m->next = im->boxes;
	im->boxes = m;
	im->w[best].nboxes++;
	pthread_mutex_unlock(&im->lock);
	wake(&im->w[best]);
	log_info("imap: watching %s (worker %d, cursor %u/%u%s)", address,
	    best, m->uidvalidity, m->last_uid, delay > 0 ?
	    ", new account: first login in a moment" : "");
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
				imapsess_close(w, m);
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
		for (i = 0; i < n; i++)	/* kicked: mail is waiting */
			if (mine[i]->state == MB_IDLE && mine[i]->pending)
				imapsess_step(w, mine[i], imapsess_mono());
		for (i = 0; i < n; i++)
			if (mine[i]->state == MB_IDLE)
				imapsess_step(w, mine[i], imapsess_mono());
		for (i = 0; i < n; i++) {
			m = mine[(w->rr + i) % n];
			if (m->state == MB_IDLE || imapsess_mono() < m->due)
				continue;
			imapsess_step(w, m, imapsess_mono());
			w->rr = (w->rr + i + 1) % n;
			break;
		}

		/* Sleep until an IDLE fd, the wake pipe or a timer. */
		now = imapsess_mono();
		soonest = now + 3600;
		pfd[0].fd = w->wake[0];
		pfd[0].events = POLLIN;
		np = 1;
		for (i = 0; i < n; i++) {
			m = mine[i];
			if (m->state == MB_IDLE && (m->pending ||
			    m->readable))
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
					pmap[i]->readable = 1;
		}
	}
	/* Stopping: close what is left (imap_free frees the structs). */
	pthread_mutex_lock(&im->lock);
	for (m = im->boxes; m != NULL; m = m->next) {
		if (m->worker != w->idx)
			continue;
		pthread_mutex_unlock(&im->lock);
		imapsess_close(w, m);
		pthread_mutex_lock(&im->lock);
	}
	pthread_mutex_unlock(&im->lock);
	free(mine);
	free(pmap);
	free(pfd);
	return NULL;
}
