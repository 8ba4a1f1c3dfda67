/*
 * Owner notices for held secrets (see notify.h).  A mutex-protected
 * queue and one sender thread; the thread reads the agent and sender
 * from the store (its own connection) so a notice always describes what
 * is really held, and skips secrets decided meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/log.h"
#include "mail/smtp.h"
#include "provisioner/notify.h"
#include "provisioner/store.h"

#define NOTIFY_QUEUE_MAX	256
#define NOTIFY_ATTEMPTS		5
#define NOTIFY_BACKOFF_MS	2000	/* doubled after each failure */

struct notice {
	long long	 id;
	char		 agent[64];
	char		 sender[256];
	int		 attempts;
	long long	 due_ms;		/* CLOCK_REALTIME */
};

static pthread_mutex_t	 mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 cv = PTHREAD_COND_INITIALIZER;
static struct notice	 queue[NOTIFY_QUEUE_MAX];
static size_t		 nqueue;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Untrusted sender text for a mail body: printable, one line, bounded. */
static void
clean_copy(char *dst, size_t dstlen, const char *src)
{
	size_t i;

	if (src == NULL)
		src = "(unknown)";
	for (i = 0; src[i] && i + 1 < dstlen && i < 200; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch < ' ' || ch == 0x7f ? '?' : (char)ch;
	}
	dst[i] = '\0';
}

/* Caller holds mu.  0 queued, -1 full; a queued id is not added twice. */
static int
enqueue(long long id, const char *agent, const char *sender)
{
	struct notice *n;
	size_t i;

	for (i = 0; i < nqueue; i++)
		if (queue[i].id == id)
			return 0;
	if (nqueue == NOTIFY_QUEUE_MAX)
		return -1;
	n = &queue[nqueue++];
	memset(n, 0, sizeof(*n));
	n->id = id;
	clean_copy(n->agent, sizeof(n->agent), agent);
	clean_copy(n->sender, sizeof(n->sender), sender);
	n->due_ms = now_ms();
	return 0;
}

void
notify_held(struct daemon *d, const char *agent, long long secret_id,
    const char *sender)
{
	int rc;

	if (d->conf->smtp_host == NULL || *d->conf->smtp_host == '\0') {
		log_info("approval needed: secret %lld is held; release it "
		    "with `agentid approve %lld` or discard it with "
		    "`agentid deny %lld`", secret_id, secret_id, secret_id);
		return;
	}
	pthread_mutex_lock(&mu);
	rc = enqueue(secret_id, agent, sender);
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	if (rc == -1)
		log_warnx("notify: queue full; secret %lld waits for approval "
		    "without an email", secret_id);
}

/*
 * What the store says about held secret n->id: refreshes agent and
 * sender, sets *expires.  1 when a notice is still wanted (held, waiting,
 * not yet notified), 0 when not, -1 when the store cannot tell.
 */
static int
lookup(struct store *s, struct notice *n, long long *expires)
{
	sqlite3_stmt *st;
	int rc;

	st = store_stmt(s, "SELECT g.name, se.sender, se.expires_at, "
	    "ap.state = 'waiting' AND ap.notified = 0 AND se.state = 'held' "
	    "FROM approvals ap JOIN secrets se ON se.id = ap.secret_id "
	    "JOIN agents g ON g.id = se.agent_id WHERE ap.secret_id = ?");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, n->id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		sqlite3_reset(st);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return -1;
	}
	clean_copy(n->agent, sizeof(n->agent),
	    (const char *)sqlite3_column_text(st, 0));
	clean_copy(n->sender, sizeof(n->sender),
	    (const char *)sqlite3_column_text(st, 1));
	*expires = sqlite3_column_int64(st, 2);
	rc = sqlite3_column_int(st, 3) ? 1 : 0;
	sqlite3_reset(st);
	return rc;
}

static int
mark_notified(struct store *s, long long id)
{
	sqlite3_stmt *st;

	if (store_begin(s) == -1)
		return -1;
	if ((st = store_stmt(s, "UPDATE approvals SET notified = 1 "
	    "WHERE secret_id = ?")) == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE)
		goto fail;
	return store_commit(s);
fail:
	store_rollback(s);
	return -1;
}

/* Send one notice: 0 done (sent or no longer wanted), -1 retry later. */
static int
send_one(const struct config *c, struct notice *n)
{
	struct store *s = store_get();
	long long expires = 0, left;
	char subject[SMTP_SUBJECT_MAX], err[256];
	struct buf body;
	int rc;

	if (s != NULL && lookup(s, n, &expires) == 0) {
		log_debug("notify: secret %lld no longer waits for a notice",
		    n->id);
		return 0;
	}
	left = expires > 0 ? expires - store_now() : 0;
	snprintf(subject, sizeof(subject), "agentid: approval needed for "
	    "agent %s (secret %lld)", n->agent, n->id);
	/* Ids, names and the sender only: never the code or the link. */
	buf_init(&body, 4096);
	buf_printf(&body, "A verification message for agent \"%s\" is held "
	    "for your approval,\nbecause its sender matches [policy] "
	    "approve_senders.\n\n  agent:   %s\n  sender:  %s\n"
	    "  secret:  %lld\n", n->agent, n->agent, n->sender, n->id);
	if (left > 0)
		buf_printf(&body, "  expires: in about %lld minute(s)\n",
		    (left + 59) / 60);
	buf_printf(&body, "\nTo release it to the agent, run:\n\n"
	    "    agentid approve %lld\n\nTo discard it, run:\n\n"
	    "    agentid deny %lld\n\nThe code or link itself is not in "
	    "this email.  If you did not expect\nthis message, deny it and "
	    "check what the agent is doing.\n", n->id, n->id);
	rc = smtp_send_notice(c, subject, body.data, err, sizeof(err));
	buf_clear(&body);
	if (rc == -1) {
		log_warnx("notify: notice for secret %lld not sent "
		    "(attempt %d): %s", n->id, n->attempts + 1, err);
		return -1;
	}
	if (s == NULL || mark_notified(s, n->id) == -1)
		log_warnx("notify: notice for secret %lld sent but not "
		    "recorded", n->id);
	else
		log_info("notify: owner told that secret %lld of agent %s "
		    "waits for approval", n->id, n->agent);
	return 0;
}

/* Queue the held secrets whose notice was never sent. */
static void
requeue_unsent(void)
{
	struct store *s = store_get();
	sqlite3_stmt *st;
	size_t n = 0;

	if (s == NULL || (st = store_stmt(s, "SELECT ap.secret_id, g.name, "
	    "se.sender FROM approvals ap JOIN secrets se ON "
	    "se.id = ap.secret_id JOIN agents g ON g.id = se.agent_id "
	    "WHERE ap.state = 'waiting' AND ap.notified = 0 AND "
	    "se.state = 'held' AND se.expires_at > ? ORDER BY ap.secret_id")) ==
	    NULL)
		return;
	sqlite3_bind_int64(st, 1, store_now());
	pthread_mutex_lock(&mu);
	while (sqlite3_step(st) == SQLITE_ROW)
		if (enqueue(sqlite3_column_int64(st, 0),
		    (const char *)sqlite3_column_text(st, 1),
		    (const char *)sqlite3_column_text(st, 2)) == 0)
			n++;
	pthread_mutex_unlock(&mu);
	sqlite3_reset(st);
	if (n)
		log_info("notify: %zu held secret(s) still need a notice", n);
}

static void *
notify_main(void *arg)
{
	struct daemon *d = arg;
	struct notice cur;
	size_t i, pick;

	requeue_unsent();
	pthread_mutex_lock(&mu);
	for (;;) {
		long long now = now_ms(), first = -1;

		pick = nqueue;
		for (i = 0; i < nqueue; i++) {
			if (queue[i].due_ms <= now) {
				pick = i;
				break;
			}
			if (first == -1 || queue[i].due_ms < first)
				first = queue[i].due_ms;
		}
		if (pick == nqueue) {
			if (first == -1) {
				/* Idle: close the store connection, so a
				 * shutdown can checkpoint the WAL. */
				pthread_mutex_unlock(&mu);
				store_release();
				pthread_mutex_lock(&mu);
				if (nqueue == 0)
					pthread_cond_wait(&cv, &mu);
			} else {
				struct timespec ts;

				ts.tv_sec = first / 1000;
				ts.tv_nsec = (first % 1000) * 1000000;
				pthread_cond_timedwait(&cv, &mu, &ts);
			}
			continue;
		}
		cur = queue[pick];
		queue[pick] = queue[--nqueue];
		pthread_mutex_unlock(&mu);

		if (send_one(d->conf, &cur) == -1) {
			cur.attempts++;
			if (cur.attempts >= NOTIFY_ATTEMPTS)
				log_warnx("notify: giving up on the notice for "
				    "secret %lld after %d attempts; it still "
				    "waits for `agentid approve %lld`", cur.id,
				    cur.attempts, cur.id);
			else {
				cur.due_ms = now_ms() +
				    ((long long)NOTIFY_BACKOFF_MS <<
				    (cur.attempts - 1));
				pthread_mutex_lock(&mu);
				if (nqueue < NOTIFY_QUEUE_MAX)
					queue[nqueue++] = cur;
				pthread_mutex_unlock(&mu);
			}
		}
		pthread_mutex_lock(&mu);
	}
	/* NOTREACHED */
	return NULL;
}

void
notify_start(struct daemon *d)
{
	pthread_t th;
	int rc;

	if (d->conf->smtp_host == NULL || *d->conf->smtp_host == '\0') {
		log_debug("notify: no [smtp] host; approvals are only logged");
		return;
	}
	if ((rc = pthread_create(&th, NULL, notify_main, d)) != 0) {
		errno = rc;
		log_warn("notify: cannot start the sender thread");
		return;
	}
	pthread_detach(th);
}
