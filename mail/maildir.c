/*
 * Local Maildir watch: inotify on <maildir>/new of every watched mailbox,
 * one thread.  Dovecot delivers by writing tmp/<name> and then link()ing
 * or rename()ing it into new/, so IN_CREATE | IN_MOVED_TO on new/ is
 * "a message arrived".  cur/ is not watched: a message only gets there
 * after someone (our own IMAP session, usually) has seen it.
 *
 * A Maildir that is not there yet (Dovecot makes it on the first login
 * or the first delivery) is waited for by watching its deepest existing
 * ancestor: the creation of the next path component retries at once,
 * one level down, until new/ itself is watched.  The first message to a
 * fresh mailbox is the one an agent is usually waiting for (the sign-up
 * mail), so a timer here showed up as up to a second of latency on
 * exactly that message.  A one-second timer stays as the fallback (a
 * lost ancestor watch, a path through a symlink made elsewhere).  When
 * new/ appears it is kicked once, because the message that created it
 * may already sit there.
 *
 * Dovecot's LMTP links the file into new/ while it holds the Maildir's
 * dovecot-uidlist.lock, and commits (uidlist, index) before letting go.
 * An IMAP sync in that window does not see the message, and when it
 * needs the lock itself Dovecot sleeps 100 to 200 ms (its dotlock
 * retry) with our worker blocked on the answer.  So the Maildir is
 * watched as well, and a kick that finds the lock waits until it goes
 * (MD_LOCK_MAX_MS at most: a stale lock must not stop us); see fire().
 *
 * Follow-up kicks, 5, 15, 40, 100 and 400 ms after the last event
 * (md_settle_ms), cover what the lock cannot tell: a Dovecot that keeps
 * its uidlist elsewhere (CONTROL=), a commit that lands after the lock
 * check.  They stop as soon as the IMAP side has fetched as many
 * messages as arrived (maildir_watch_found()): each one is a sync that
 * can meet the next delivery's lock.  Measured with Dovecot 2.3: 2.2
 * syncs per message, figure 3 p99 under 50 ms with 1,000 mailboxes.
 *
 * File names in new/ are never logged (they carry only times, host and
 * sizes, but there is no need); neither is anything read from a file.
 */
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "mail/maildir.h"

/* One mask for every watch: the kernel keeps one watch, and one mask,
 * per directory, and the same directory can be one box's Maildir and
 * another box's ancestor. */
#define MD_MASK		(IN_CREATE | IN_MOVED_TO | IN_DELETE | \
			    IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | \
			    IN_ONLYDIR)
#define MD_LOCK_NAME	"dovecot-uidlist.lock"
#define MD_LOCK_MAX_MS	2000		/* a kick waits this long at most
					   for Dovecot's lock */
#define MD_RETRY_MS	1000		/* missing Maildir: look again */
#define MD_RETRY_MAX_MS	60000		/* other errors back off to this */
#define MD_MISSING_MS	60000		/* missing this long: say so */
#define MD_BUFSZ	(64 * 1024)	/* one read() of events */
/* The follow-up kicks, ms after the last event; see the top. */
static const int md_settle_ms[] = { 5, 15, 40, 100, 400 };
#define MD_NSETTLE	((int)(sizeof(md_settle_ms) / sizeof(md_settle_ms[0])))

struct mdbox {
	struct mdbox	*next;
	char		*address;
	char		*newdir;	/* <maildir>/new */
	int		 wd;		/* -1: not watched (pending) */
	int		 pwd;		/* pending: the ancestor's watch, or
					   -1 */
	size_t		 plen;		/* that ancestor's length in newdir */
	long long	 retry_at;	/* monotonic ms, when wd == -1 */
	long long	 lost_at;	/* monotonic ms it went missing */
	long		 backoff;	/* ms */
	int		 warned;	/* an odd error was logged once */
	int		 hit;		/* kick after this batch of events */
	long long	 settle_at;	/* monotonic ms of the next follow-up
					   kick, 0: none */
	int		 settle;	/* follow-ups done since the last
					   event */
	int		 dwd;		/* the Maildir itself, for the lock;
					   -1: not watched */
	char		*lockpath;	/* <maildir>/dovecot-uidlist.lock */
	int		 deferred;	/* a kick waits for the lock */
	long long	 defer_at;	/* monotonic ms it began waiting */
	int		 unlocked;	/* the lock went away */
	unsigned	 arrived;	/* files in new/ since the follow-ups
					   began */
	unsigned	 found;		/* messages the IMAP side fetched
					   meanwhile */
};

struct maildir_watch {
	pthread_mutex_t	 lock;
	struct mdbox	*boxes;
	maildir_kick_cb	 cb;
	void		*arg;
	int		 ifd;		/* inotify */
	int		 efd;		/* eventfd: wake / stop the thread */
	int		 stop;		/* under lock */
	int		 joined;	/* the thread is gone */
	pthread_t	 th;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
wake(struct maildir_watch *w)
{
	uint64_t one = 1;

	/* A full counter (impossible in practice) still wakes poll(). */
	(void)!write(w->efd, &one, sizeof(one));
}

/* True when another box shares wd (same directory watched twice, e.g.
 * a pattern without %u/%n): inotify hands out one wd per inode. */
static int
wd_shared(struct maildir_watch *w, const struct mdbox *self, int wd)
{
	struct mdbox *b;

	for (b = w->boxes; b != NULL; b = b->next)
		if (b != self && (b->wd == wd || b->pwd == wd ||
		    b->dwd == wd))
			return 1;
	return 0;
}

/* Under lock: forget one of b's watches (*wd), and drop it in the
 * kernel unless another box uses it too. */
static void
unwatch(struct maildir_watch *w, struct mdbox *b, int *wd)
{
	if (*wd != -1 && !wd_shared(w, b, *wd))
		(void)inotify_rm_watch(w->ifd, *wd);
	*wd = -1;
}

/* Under lock: stop b's ancestor watch. */
static void
parent_drop(struct maildir_watch *w, struct mdbox *b)
{
	unwatch(w, b, &b->pwd);
	b->plen = 0;
}

/*
 * Under lock, new/ missing: watch the deepest ancestor of b's new/ that
 * exists.  1 when the next component below it exists by now (it came
 * between the two looks: try again), 0 when the ancestor is watched,
 * -1 when none can be (b keeps the timer).
 */
static int
parent_watch(struct maildir_watch *w, struct mdbox *b)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len;
	char *slash;
	int wd;

	len = strlen(b->newdir);
	if (len >= sizeof(path))
		return -1;
	memcpy(path, b->newdir, len + 1);
	for (;;) {
		if ((slash = strrchr(path, '/')) == NULL || slash == path)
			return -1;	/* never the root itself */
		*slash = '\0';
		len = (size_t)(slash - path);
		wd = inotify_add_watch(w->ifd, path, MD_MASK);
		if (wd != -1)
			break;
		if (errno != ENOENT)
			return -1;
	}
	if (b->pwd != wd) {
		parent_drop(w, b);
		b->pwd = wd;
		log_debug("maildir: %s: waiting in %s for %s", b->address,
		    path, b->newdir);
	}
	b->plen = len;
	/* Made after the watch went on?  Then no event will say so. */
	memcpy(path, b->newdir, strlen(b->newdir) + 1);
	if ((slash = strchr(path + len + 1, '/')) != NULL)
		*slash = '\0';
	return stat(path, &st) == 0 ? 1 : 0;
}

/* True when the event's name is the component below b's ancestor. */
static int
parent_hit(const struct mdbox *b, const struct inotify_event *ev)
{
	const char *c = b->newdir + b->plen + 1, *e;
	size_t n;

	if (ev->len == 0 || b->newdir[b->plen] != '/')
		return 0;
	n = (e = strchr(c, '/')) != NULL ? (size_t)(e - c) : strlen(c);
	return strnlen(ev->name, ev->len) == n && memcmp(ev->name, c, n) == 0;
}

/*
 * Under lock, new/ just watched: watch the Maildir too, for Dovecot's
 * uidlist lock (see fire()).  Without it (the lock file lives elsewhere
 * with CONTROL=, or no watch can be had) kicks go out unconditionally.
 */
static void
lock_watch(struct maildir_watch *w, struct mdbox *b)
{
	size_t len = strlen(b->newdir) - 4;	/* drop "/new" */
	char *dir;
	int wd;

	if (b->dwd != -1)
		return;
	dir = xstrndup(b->newdir, len);
	wd = inotify_add_watch(w->ifd, dir, MD_MASK);
	free(dir);
	if (wd == -1)
		return;
	b->dwd = wd;
}

/* Under lock: stop watching b's Maildir. */
static void
lock_drop(struct maildir_watch *w, struct mdbox *b)
{
	unwatch(w, b, &b->dwd);
	b->deferred = 0;
	b->unlocked = 0;
	b->defer_at = 0;
}

/* Under lock: try to watch b's new/.  On success kick it once (the
 * directory may have appeared together with the first message). */
static void
box_try(struct maildir_watch *w, struct mdbox *b, long long now)
{
	int wd, e = ENOENT, tries;

	for (tries = 0; tries < 16; tries++) {
		wd = inotify_add_watch(w->ifd, b->newdir, MD_MASK);
		if (wd != -1) {
			parent_drop(w, b);
			b->wd = wd;
			lock_watch(w, b);
			b->backoff = 0;
			b->lost_at = 0;
			if (b->warned)
				log_info("maildir: %s: watching now",
				    b->address);
			b->warned = 0;
			b->hit = 1;
			log_debug("maildir: watching %s for %s", b->newdir,
			    b->address);
			return;
		}
		/* Missing: wait on an ancestor, one level at a time. */
		e = errno;
		if (e != ENOENT || parent_watch(w, b) != 1)
			break;
	}
	if (b->lost_at == 0)
		b->lost_at = now;
	if (e == ENOENT && now - b->lost_at < MD_MISSING_MS) {
		/* Not delivered to yet: the common, quiet case. */
		b->backoff = MD_RETRY_MS;
	} else if (e == ENOENT) {
		/* Dovecot makes it on the first login, which is seconds
		 * after the watch starts: the pattern may be wrong. */
		if (!b->warned)
			log_warnx("maildir: %s: %s still does not exist "
			    "(does [dovecot] maildir match Dovecot's "
			    "mail_location?); retrying", b->address,
			    b->newdir);
		b->warned = 1;
		b->backoff = b->backoff * 2 > MD_RETRY_MAX_MS ?
		    MD_RETRY_MAX_MS : b->backoff * 2;
	} else {
		/* EACCES, ENOSPC (fs.inotify.max_user_watches), ENOTDIR:
		 * say so once, keep trying, less often. */
		if (!b->warned)
			log_warnx("maildir: %s: cannot watch %s: %s; "
			    "retrying", b->address, b->newdir, strerror(e));
		b->warned = 1;
		b->backoff = b->backoff < MD_RETRY_MS ? MD_RETRY_MS :
		    b->backoff * 2;
		if (b->backoff > MD_RETRY_MAX_MS)
			b->backoff = MD_RETRY_MAX_MS;
	}
	b->retry_at = now + b->backoff;
}

/*
 * Under lock: kick b now, or, while Dovecot holds b's uidlist lock, once
 * it lets go.  Dovecot files a message under that lock, and an IMAP
 * sync that needs the lock meanwhile does not wait for it: it sleeps 100
 * to 200 ms (Dovecot's dotlock retry) before it looks again.  That sleep
 * held up the IMAP worker, and every other mailbox on it, behind one
 * delivery (measured: the whole p99 of figure 3 under load).
 */
static void
fire(struct maildir_watch *w, struct mdbox *b, long long now)
{
	struct stat st;

	if (b->dwd != -1 && lstat(b->lockpath, &st) == 0) {
		if (b->defer_at == 0) {
			b->defer_at = now;
			log_debug("maildir: %s: Dovecot holds the uidlist "
			    "lock; the kick waits", b->address);
		}
		/* A stale lock (Dovecot crashed) must not stop us. */
		if (now - b->defer_at < MD_LOCK_MAX_MS) {
			b->deferred = 1;
			return;
		}
		log_debug("maildir: %s: the uidlist lock is still there "
		    "after %d ms; kicking anyway", b->address,
		    MD_LOCK_MAX_MS);
	} else if (b->deferred)
		log_debug("maildir: %s: the uidlist lock is gone; kicking",
		    b->address);
	b->deferred = 0;
	b->defer_at = 0;
	w->cb(b->address, w->arg);
}

/* Under lock: kick every box marked hit, every box whose lock went away
 * while a kick waited, and every box whose follow-up kick is due;
 * returns the poll timeout (ms) the next timer needs, -1 for none. */
static int
flush_hits(struct maildir_watch *w)
{
	struct mdbox *b;
	long long now = now_ms(), next = -1, t;

	for (b = w->boxes; b != NULL; b = b->next) {
		if (b->hit) {
			b->hit = 0;
			b->unlocked = 0;
			b->settle = 0;
			b->settle_at = now + md_settle_ms[0];
			log_debug("maildir: new mail for %s", b->address);
			fire(w, b, now);
		} else if (b->unlocked) {
			b->unlocked = 0;
			if (b->deferred)
				fire(w, b, now);
		} else if (b->settle_at != 0 && b->settle_at <= now) {
			b->settle++;
			b->settle_at = b->settle < MD_NSETTLE ? now +
			    md_settle_ms[b->settle] - md_settle_ms[b->settle -
			    1] : 0;
			if (b->settle_at == 0)
				b->arrived = b->found = 0;
			fire(w, b, now);
		} else if (b->deferred &&
		    now - b->defer_at >= MD_LOCK_MAX_MS)
			fire(w, b, now);
		if (b->settle_at != 0 && (next == -1 || b->settle_at < next))
			next = b->settle_at;
		t = b->defer_at + MD_LOCK_MAX_MS;
		if (b->deferred && (next == -1 || t < next))
			next = t;
	}
	if (next == -1)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* Under lock: one read()'s worth of events, n bytes.  Anything short or
 * odd ends the batch; an unknown wd is ignored. */
static void
handle_events(struct maildir_watch *w, const char *buf, size_t n)
{
	const struct inotify_event *ev;
	struct mdbox *b;
	size_t off = 0;

	while (n - off >= sizeof(*ev)) {
		ev = (const struct inotify_event *)(const void *)(buf + off);
		if (ev->len > n - off - sizeof(*ev))
			break;
		off += sizeof(*ev) + ev->len;
		if (ev->mask & IN_Q_OVERFLOW) {
			/* Events were lost: any box may have mail. */
			log_debug("maildir: inotify queue overflow; kicking "
			    "every mailbox");
			for (b = w->boxes; b != NULL; b = b->next)
				b->hit = 1;
			continue;
		}
		if (ev->wd < 0)
			continue;
		for (b = w->boxes; b != NULL; b = b->next) {
			if (b->wd == -1 && b->pwd == ev->wd) {
				/* The next level of a missing Maildir. */
				if ((ev->mask & (IN_CREATE | IN_MOVED_TO)) &&
				    parent_hit(b, ev))
					b->retry_at = 0;
				if (ev->mask & (IN_IGNORED | IN_DELETE_SELF |
				    IN_MOVE_SELF | IN_UNMOUNT)) {
					/* The timer finds another one. */
					b->pwd = -1;
					b->retry_at = 0;
				}
				continue;
			}
			if (b->dwd == ev->wd) {
				/* Dovecot let go of the uidlist lock (unlink,
				 * or rename over dovecot-uidlist). */
				if ((ev->mask & (IN_DELETE | IN_MOVED_FROM)) &&
				    ev->len > 0 && strncmp(ev->name,
				    MD_LOCK_NAME, ev->len) == 0)
					b->unlocked = 1;
				if (ev->mask & (IN_IGNORED | IN_DELETE_SELF |
				    IN_MOVE_SELF | IN_UNMOUNT)) {
					b->dwd = -1;
					b->deferred = 0;
					b->defer_at = 0;
					b->hit = 1;	/* kick anyway */
				}
			}
			if (b->wd != ev->wd)
				continue;
			if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
				b->hit = 1;
				b->arrived++;
			}
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF |
			    IN_MOVE_SELF | IN_UNMOUNT)) {
				/* Recreated later: box_try() picks it up
				 * and kicks then, in case mail came with
				 * it. */
				b->wd = -1;
				b->backoff = MD_RETRY_MS;
				b->retry_at = now_ms() + MD_RETRY_MS;
			}
		}
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
			/* The kernel keeps a moved directory's watch;
			 * we want the path, not the inode. */
			(void)inotify_rm_watch(w->ifd, ev->wd);
		}
	}
}

/* Under lock: retry due pending boxes; returns the poll timeout (ms). */
static int
retry_pending(struct maildir_watch *w)
{
	struct mdbox *b;
	long long now = now_ms(), next = -1;

	for (b = w->boxes; b != NULL; b = b->next) {
		if (b->wd != -1)
			continue;
		if (b->retry_at <= now)
			box_try(w, b, now);
		if (b->wd == -1 && (next == -1 || b->retry_at < next))
			next = b->retry_at;
	}
	if (next == -1)
		return -1;
	return next <= now ? 0 : (int)(next - now > INT_MAX ? INT_MAX :
	    next - now);
}

static void *
watch_main(void *arg)
{
	struct maildir_watch *w = arg;
	struct pollfd pfd[2];
	char *buf;
	ssize_t n;
	uint64_t v;
	int timeout, t2;

	/* Heap, aligned for struct inotify_event by malloc. */
	buf = xmalloc(MD_BUFSZ);
	pfd[0].fd = w->efd;
	pfd[0].events = POLLIN;
	pfd[1].fd = w->ifd;
	pfd[1].events = POLLIN;
	for (;;) {
		pthread_mutex_lock(&w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			break;
		}
		timeout = retry_pending(w);
		t2 = flush_hits(w);
		if (t2 != -1 && (timeout == -1 || t2 < timeout))
			timeout = t2;
		pthread_mutex_unlock(&w->lock);

		if (poll(pfd, 2, timeout) == -1) {
			if (errno != EINTR) {
				log_warn("maildir: poll");
				/* Do not spin: a second's pause. */
				(void)poll(NULL, 0, 1000);
			}
			continue;
		}
		if (pfd[0].revents & POLLIN)
			(void)!read(w->efd, &v, sizeof(v));
		if (pfd[1].revents & (POLLERR | POLLNVAL)) {
			log_warnx("maildir: inotify fd failed; maildir "
			    "watch off");
			pfd[1].fd = -1;		/* poll() ignores it now */
			continue;
		}
		if (!(pfd[1].revents & POLLIN))
			continue;
		n = read(w->ifd, buf, MD_BUFSZ);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				log_warn("maildir: inotify read; maildir "
				    "watch off");
				pfd[1].fd = -1;
			}
			continue;
		}
		pthread_mutex_lock(&w->lock);
		handle_events(w, buf, (size_t)n);
		pthread_mutex_unlock(&w->lock);
	}
	free(buf);
	return NULL;
}

struct maildir_watch *
maildir_watch_new(maildir_kick_cb cb, void *arg)
{
	struct maildir_watch *w;
	int e;

	if (cb == NULL) {
		errno = EINVAL;
		return NULL;
	}
	w = xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	w->efd = -1;
	if ((w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
		goto fail;
	if ((w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	if ((e = pthread_mutex_init(&w->lock, NULL)) != 0) {
		errno = e;
		goto fail;
	}
	if ((e = pthread_create(&w->th, NULL, watch_main, w)) != 0) {
		pthread_mutex_destroy(&w->lock);
		errno = e;
		goto fail;
	}
	return w;
fail:
	e = errno;
	if (w->ifd != -1)
		close(w->ifd);
	if (w->efd != -1)
		close(w->efd);
	free(w);
	errno = e;
	return NULL;
}

static void
box_free(struct mdbox *b)
{
	free(b->address);
	free(b->newdir);
	free(b->lockpath);
	free(b);
}

void
maildir_watch_stop(struct maildir_watch *w)
{
	if (w == NULL || w->joined)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = 1;
	pthread_mutex_unlock(&w->lock);
	wake(w);
	pthread_join(w->th, NULL);
	w->joined = 1;
}

void
maildir_watch_free(struct maildir_watch *w)
{
	struct mdbox *b;

	if (w == NULL)
		return;
	maildir_watch_stop(w);
	while ((b = w->boxes) != NULL) {
		w->boxes = b->next;
		box_free(b);
	}
	close(w->ifd);		/* drops every watch */
	close(w->efd);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int
maildir_watch_add(struct maildir_watch *w, const char *address,
    const char *path)
{
	struct mdbox *b;
	char newdir[PATH_MAX], lockpath[PATH_MAX];
	int r;

	if (w == NULL || address == NULL || *address == '\0' ||
	    path == NULL || path[0] != '/')
		return -1;
	r = snprintf(newdir, sizeof(newdir), "%s%snew", path,
	    path[strlen(path) - 1] == '/' ? "" : "/");
	if (r < 0 || (size_t)r >= sizeof(newdir))
		return -1;
	r = snprintf(lockpath, sizeof(lockpath), "%.*s%s", r - 3, newdir,
	    MD_LOCK_NAME);
	if (r < 0 || (size_t)r >= sizeof(lockpath))
		return -1;
	pthread_mutex_lock(&w->lock);
	for (b = w->boxes; b != NULL; b = b->next)
		if (strcasecmp(b->address, address) == 0)
			break;
	if (b != NULL) {
		if (strcmp(b->newdir, newdir) == 0) {
			pthread_mutex_unlock(&w->lock);
			return 0;	/* already watched there */
		}
		unwatch(w, b, &b->wd);
		parent_drop(w, b);
		lock_drop(w, b);
		free(b->newdir);
		free(b->lockpath);
	} else {
		b = xcalloc(1, sizeof(*b));
		b->address = xstrdup(address);
		b->pwd = -1;
		b->dwd = -1;
		b->next = w->boxes;
		w->boxes = b;
	}
	b->newdir = xstrdup(newdir);
	b->lockpath = xstrdup(lockpath);
	b->wd = -1;
	b->backoff = 0;
	b->warned = 0;
	b->hit = 0;
	b->settle_at = 0;
	b->settle = 0;
	b->lost_at = 0;
	box_try(w, b, now_ms());
	/* A fresh watch needs no kick: the IMAP watcher is about to look
	 * anyway.  A pending one needs the thread's timer. */
	b->hit = 0;
	pthread_mutex_unlock(&w->lock);
	wake(w);
	return 0;
}

void
maildir_watch_remove(struct maildir_watch *w, const char *address)
{
	struct mdbox *b, **pp;

	if (w == NULL || address == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	for (pp = &w->boxes; (b = *pp) != NULL; pp = &b->next) {
		if (strcasecmp(b->address, address) != 0)
			continue;
		*pp = b->next;
		unwatch(w, b, &b->wd);
		parent_drop(w, b);
		lock_drop(w, b);
		log_debug("maildir: stopped watching %s", b->address);
		box_free(b);
		break;
	}
	pthread_mutex_unlock(&w->lock);
}

void
maildir_watch_found(struct maildir_watch *w, const char *address)
{
	struct mdbox *b;

	if (w == NULL || address == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	for (b = w->boxes; b != NULL; b = b->next) {
		if (strcasecmp(b->address, address) != 0)
			continue;
		/* Every file that arrived has been fetched: the follow-ups
		 * have nothing left to find, and each one is a sync that
		 * can run into the next delivery's lock (see fire()). */
		if (++b->found >= b->arrived) {
			b->settle_at = 0;
			b->deferred = 0;
			b->defer_at = 0;
			b->arrived = b->found = 0;
		}
		break;
	}
	pthread_mutex_unlock(&w->lock);
}

/* One address part as a path component: not empty, ".", ".." and no
 * '/', so an expansion cannot leave the pattern's directory. */
static int
part_ok(const char *s, size_t n)
{
	if (n == 0 || memchr(s, '/', n) != NULL)
		return 0;
	if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	return 1;
}

int
maildir_expand(const char *pattern, const char *address, char *out,
    size_t outlen)
{
	const char *at, *p, *s;
	size_t len = 0, n;

	if (pattern == NULL || address == NULL || out == NULL || outlen == 0)
		return -1;
	if ((at = strchr(address, '@')) == NULL || strchr(at + 1, '@') ||
	    !part_ok(address, (size_t)(at - address)) ||
	    !part_ok(at + 1, strlen(at + 1)))
		return -1;
	for (p = pattern; *p != '\0'; p++) {
		s = p;
		n = 1;
		if (*p == '%') {
			switch (p[1]) {
			case 'u':
				s = address;
				n = strlen(address);
				break;
			case 'n':
				s = address;
				n = (size_t)(at - address);
				break;
			case 'd':
				s = at + 1;
				n = strlen(at + 1);
				break;
			case '%':
				break;
			default:
				return -1;
			}
			p++;
		}
		if (n >= outlen - len)
			return -1;
		memcpy(out + len, s, n);
		len += n;
	}
	out[len] = '\0';
	return 0;
}
