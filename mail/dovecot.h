/*
 * dovecot: the self-hosted mailbox provider.  A mailbox is one line of a
 * Dovecot passwd-file ("address:{SHA512-CRYPT}hash::::::"); the file is
 * rewritten atomically under a lock so no other line is ever lost.
 */
#ifndef DOVECOT_H
#define DOVECOT_H

#include <stddef.h>

#define DOVECOT_PASSWORD_LEN	32	/* characters of [A-Za-z0-9] */
#define DOVECOT_HASH_MAX	128	/* "$6$salt$86 chars" with NUL */
#define DOVECOT_MAX_FILE	(64 * 1024 * 1024)

/*
 * Add a mailbox for agent at domain: "agent@domain", or "agent-N@domain"
 * (N = 2..999) when the address is taken.  On success returns 0 with heap
 * strings *address and *password (32 random characters; the caller wipes
 * it with secret_free()/crypto_wipe_free()).  On failure -1 and a
 * message in err.  Safe against concurrent callers in this and other
 * processes (flock on passwd_file + ".lock").
 */
int	dovecot_add(const char *passwd_file, const char *domain,
	    const char *agent, char **address, char **password, char *err,
	    size_t errlen);

/* Remove the line of address.  0 also when there is none (idempotent),
 * -1 with err on an I/O failure. */
int	dovecot_remove(const char *passwd_file, const char *address, char *err,
	    size_t errlen);

/*
 * SHA-512-crypt (the "$6$" scheme of crypt(3), Drepper's specification)
 * of password with salt (up to 16 characters of [./0-9A-Za-z]) and the
 * default 5000 rounds, into out as "$6$salt$hash".  Returns 0, or -1 on a
 * bad salt or a short buffer.  Exposed for the unit test.
 */
int	dovecot_sha512_crypt(const char *password, const char *salt, char *out,
	    size_t outlen);

#endif
