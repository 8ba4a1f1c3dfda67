/*
 * imap: the IMAP watcher (libetpan).  A small fixed pool of worker threads
 * serves every watched mailbox: one IMAP session per mailbox, IDLE where
 * the server offers it (the sessions' fds multiplexed with poll), polling
 * otherwise.  New messages are fetched in UID order and handed to a
 * callback; a mailbox's cursor advances only when the callback reports
 * the message committed.
 */
#ifndef IMAP_H
#define IMAP_H

#include <stddef.h>
#include <jansson.h>

#define IMAP_MAX_WORKERS	16

enum imap_tls {
	IMAP_TLS_IMPLICIT,	/* TLS from the first byte (993) */
	IMAP_TLS_STARTTLS,	/* plain connect, STARTTLS before LOGIN */
	IMAP_TLS_NONE		/* loopback only; refused otherwise */
};

struct imap_conf {
	const char	*host;		/* also the name the cert must carry */
	int		 port;
	enum imap_tls	 tls;
	const char	*ca_file;	/* NULL: the system store */
	long		 poll_interval;	/* seconds, where IDLE is absent */
	long		 timeout;	/* per network wait, seconds (30) */
	long		 idle_restart;	/* re-IDLE after seconds (540, <1740) */
	int		 workers;	/* threads, 1..IMAP_MAX_WORKERS (4) */
	size_t		 max_size;	/* larger messages are not fetched */
	long		 rescan_window;	/* after a UIDVALIDITY change, ignore
					   mail older than this (seconds) */
};

/* One message as the watcher hands it up.  Pointers are borrowed for
 * the duration of the callback. */
struct imap_msg {
	const char		*mailbox;	/* the watched address */
	unsigned long long	 uidvalidity;
	unsigned long long	 uid;
	size_t			 size;		/* RFC822.SIZE */
	long long		 internal_date;	/* unix seconds, 0 unknown */
	const char		*raw;		/* BODY.PEEK[]; NULL when the
						   message is over max_size */
	size_t			 rawlen;
	int			 worker;	/* 0..workers-1: the calling
						   thread, for per-thread
						   resources */
};

enum imap_verdict {
	IMAP_DONE,	/* committed (or deliberately dropped): advance */
	IMAP_AGAIN	/* transient failure: stop, retry this UID later */
};
typedef enum imap_verdict (*imap_msg_cb)(const struct imap_msg *, void *arg);

struct imap;

/* Start the worker and watchdog threads.  NULL with err on a bad
 * configuration (no TLS to a non-loopback host, unreadable ca_file). */
struct imap	*imap_new(const struct imap_conf *, imap_msg_cb cb, void *arg,
		    char *err, size_t errlen);
/* Stop every thread and close every session (bounded by the timeouts). */
void		 imap_free(struct imap *);

/*
 * Watch address (also the LOGIN user) with password (copied, wiped when
 * done).  uidvalidity/last_uid is the committed cursor: 0/0 for a new
 * mailbox.  The first connection waits delay seconds (a server that
 * re-reads its user list lazily may not know a brand-new mailbox yet,
 * and a failed LOGIN earns the whole client IP an auth penalty).
 * Returns 0, or -1 when the address is already watched.
 */
int		 imap_watch(struct imap *, const char *address,
		    const char *password, unsigned long long uidvalidity,
		    unsigned long long last_uid, long delay);
/*
 * New mail is known to have arrived for address (e.g. a local delivery
 * agent or a maildir watch said so): sync it now instead of waiting for
 * the server's IDLE push (Dovecot delays those by 500 ms) or the next
 * poll.  A mailbox in error backoff keeps its backoff.
 */
void		 imap_kick(struct imap *, const char *address);

/* Stop watching; a blocked network call on that mailbox is cancelled. */
void		 imap_unwatch(struct imap *, const char *address);

/* {"mailboxes": [{address, state (down|idle|poll), idle, uidvalidity,
 * last_uid, last_ok, last_error, error_at, retry_at, fetched, skipped,
 * errors, logins}], "workers", "host", "port", "sessions" (open now),
 * "max_sessions" (beyond it mailboxes are polled with short sessions)}
 * (new reference). */
json_t		*imap_status(struct imap *);

#endif
