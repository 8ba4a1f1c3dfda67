/*
 * maildir: an optional inotify watch on local Maildirs (self-hosted
 * Dovecot) that says "mail arrived for this address" as soon as a file
 * lands in <maildir>/new, so the IMAP watcher syncs at once instead of
 * waiting for Dovecot's IDLE push (delayed 500 ms) or the next poll.
 * One inotify fd and one thread serve every watched mailbox.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>

/* Called on the watch thread, with the watcher's lock held: it must be
 * quick, must not block and must not call maildir_watch_*(). */
typedef void	(*maildir_kick_cb)(const char *address, void *arg);

struct maildir_watch;

/* Start the thread.  NULL with errno set when inotify, the eventfd or
 * the thread cannot be had (the caller goes on without the watch). */
struct maildir_watch	*maildir_watch_new(maildir_kick_cb cb, void *arg);

/* Stop the thread: no callback runs after this returns; the other
 * functions still work.  NULL is fine. */
void			 maildir_watch_stop(struct maildir_watch *);
/* Stop the thread and drop every watch.  NULL is fine. */
void			 maildir_watch_free(struct maildir_watch *);

/*
 * Watch path (a Maildir: the directory holding new/ cur/ tmp/) for
 * address; re-adding an address replaces its path.  A Maildir that does
 * not exist yet (Dovecot makes it on first delivery or login) is retried
 * every second, and kicked once when it appears.  0, or -1 on a bad
 * argument (empty, relative or over-long path).
 */
int			 maildir_watch_add(struct maildir_watch *,
			    const char *address, const char *path);
void			 maildir_watch_remove(struct maildir_watch *,
			    const char *address);

/*
 * The IMAP side fetched a message for address.  Once it has fetched as
 * many as arrived in new/ since the last event's follow-up kicks began,
 * the rest of them are dropped.  Any thread; takes the watch's lock.
 */
void			 maildir_watch_found(struct maildir_watch *,
			    const char *address);

/*
 * Expand a [dovecot] maildir pattern for address: %u the whole address,
 * %n its local part, %d its domain, %% a percent sign.  0, or -1 when the
 * pattern has another escape, the address has no '@', a part is empty,
 * ".", ".." or holds a '/', or the result does not fit out.
 */
int			 maildir_expand(const char *pattern, const char *address,
			    char *out, size_t outlen);

#endif
