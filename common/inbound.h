/*
 * inbound: one message as a channel (SMS webhook, IMAP watcher, inject)
 * hands it upward.  Plain struct; every pointer is borrowed for the
 * duration of the call it is passed to.
 */
#ifndef INBOUND_H
#define INBOUND_H

#include <stddef.h>

#include "extract/extract.h"

enum inbound_channel {
	INBOUND_SMS,
	INBOUND_EMAIL
};

struct inbound {
	enum inbound_channel	 channel;
	const char		*to;		/* our number or address */
	const char		*from;		/* sender number or address */
	const char		*subject;	/* email; NULL for SMS */
	const char		*text;		/* body text (UTF-8) */
	size_t			 textlen;
	const char		*html;		/* email HTML, or NULL */
	size_t			 htmllen;
	const char		*provider;	/* "twilio", "gateway", "imap", "inject" */
	const char		*provider_id;	/* unique per channel: MessageSid,
						   "uidvalidity/uid", ... */
	long long		 received_at;	/* unix seconds; 0 = now */
	int			 error_code;	/* provider error, e.g. 30038 */
	/* Set when extraction already ran (the sandboxed mail parser);
	 * NULL makes the receiver run extract_run() on text/html. */
	const struct extract_result *extracted;
	/* IMAP cursor to advance in the same transaction; 0 when not IMAP. */
	unsigned long long	 uidvalidity;
	unsigned long long	 uid;
	/* Email only (appended by the mail channel): NULL for a normally
	 * parsed message, else a static reason it was not parsed: "too
	 * large" (over MIME_MAX_SIZE, never fetched), "rejected" (the parser
	 * refused it) or "quarantined" (it crashed the parser child twice).
	 * Such a message still gets stored, so the IMAP cursor moves past
	 * it; extracted then points at an empty result, and a quarantined
	 * message carries its raw bytes in text/textlen so the store keeps
	 * them encrypted for the admin (never parsed, never extracted). */
	const char		*skipped;
};

/*
 * What a channel calls for each message.  Called from the channel's own
 * thread.  Returns INBOUND_STORED once the message is durably committed
 * (or was already stored: a replay), INBOUND_UNKNOWN when no active
 * identity owns "to" (nothing stored), INBOUND_RETRY on a transient
 * failure (the provider should retry; nothing acknowledged).
 */
enum inbound_status {
	INBOUND_STORED = 0,
	INBOUND_UNKNOWN = 1,
	INBOUND_RETRY = -1
};
typedef enum inbound_status (*inbound_cb)(const struct inbound *, void *arg);

#endif
