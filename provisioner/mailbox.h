/*
 * mailbox: the daemon's side of the email channel.  Chooses the mailbox
 * provider named in [mail] (dovecot | mailcow | none), creates and deletes
 * mailboxes, and runs the IMAP watcher threads, which hand every message
 * (already parsed and extracted in the sandboxed child) up through the
 * inbound_cb given to mailbox_start().
 */
#ifndef MAILBOX_H
#define MAILBOX_H

#include <stddef.h>
#include <jansson.h>

#include "common/config.h"
#include "common/inbound.h"

struct mailbox;

/* NULL with *errstr on error; with provider none, a mailbox that has no
 * addresses and no threads. */
struct mailbox	*mailbox_start(const struct config *, inbound_cb cb, void *arg,
		    const char **errstr);
void		 mailbox_stop(struct mailbox *);
int		 mailbox_enabled(const struct mailbox *);

/* Create a mailbox for agent: 0 and heap strings *address, *ref and
 * *password (IMAP login secret; caller stores it encrypted and wipes it),
 * or -1 with a message for people in err.  Blocking. */
int		 mailbox_acquire(struct mailbox *, const char *agent,
		    char **address, char **ref, char **password, char *err,
		    size_t errlen);
int		 mailbox_release(struct mailbox *, const char *address,
		    const char *ref, char *err, size_t errlen);

/* Start or stop watching one mailbox.  The cursor is the last committed
 * (uidvalidity, uid); the watcher fetches only UIDs above it, and passes
 * each message's uidvalidity/uid in struct inbound so the cursor advances
 * in the message's own transaction.  fresh: the mailbox was just made,
 * so the first login waits for the server to take the new account in. */
int		 mailbox_watch(struct mailbox *, const char *address,
		    const char *password, unsigned long long uidvalidity,
		    unsigned long long last_uid, int fresh);
void		 mailbox_unwatch(struct mailbox *, const char *address);

/* Mail is known to have arrived for address: fetch it now rather than
 * after the IMAP server's IDLE push (Dovecot waits 500 ms before it
 * sends one) or the next poll.  Cheap, thread-safe, never blocks. */
void		 mailbox_kick(struct mailbox *, const char *address);

/* Per-mailbox last poll, last error, counters (new reference). */
json_t		*mailbox_status(struct mailbox *);

/* The watcher's view of one address (state, last_error, error_at,
 * retry_at, last_ok, last_uid, counters), or JSON null when it is not
 * watched; for `agentid show` (new reference). */
json_t		*mailbox_status_one(struct mailbox *, const char *address);

#endif
