/*
 * imapsess: internal to the IMAP watcher (imap.c + imapsess.c), not for
 * other modules.  The shared state (watcher, workers, mailboxes) and the
 * session steps a worker runs on one mailbox; the public API is imap.h.
 */
#ifndef IMAPSESS_H
#define IMAPSESS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <libetpan/libetpan.h>

#include "mail/imap.h"

struct tlscheck;

#define ERR_LEN		256

enum mb_state {
	MB_DOWN,
	MB_IDLE,
	MB_POLL
};

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
	int		 pending;	/* IDLE: sync now (a kick, or news
					   read from the server) */
	int		 readable;	/* IDLE: fd readable / data buffered,
					   not read yet */
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

/* Monotonic seconds: due times and watchdog deadlines. */
time_t	imapsess_mono(void);

/*
 * Watchdog slot of worker w: arm it for a blocking call on m's stream s
 * (or socket fd) for secs seconds; s NULL and fd -1 disarm.
 */
void	imapsess_arm_fd(struct worker *w, struct mbox *m, mailstream *s,
	    int fd, long secs);
void	imapsess_arm(struct worker *w, struct mbox *m, mailstream *s,
	    long secs);

/* One step of m's state machine on worker w, if it is due at now. */
void	imapsess_step(struct worker *w, struct mbox *m, time_t now);
/* Drop m's session without LOGOUT and release its session slot. */
void	imapsess_close(struct worker *w, struct mbox *m);

#endif
