/*
 * mailcow: the mailcow REST API as a mailbox provider
 * (POST /api/v1/add/mailbox, POST /api/v1/delete/mailbox, X-API-Key).
 * Blocking calls with timeouts; HTTPS only, plain HTTP only to loopback.
 */
#ifndef MAILCOW_H
#define MAILCOW_H

#include <stddef.h>

#define MAILCOW_PASSWORD_LEN	32
#define MAILCOW_MAX_RESPONSE	(256 * 1024)

struct mailcow;

/* api_base like "https://mail.example.com" (no trailing /api); the key
 * is read from api_key_file (0600, config_secret()) on every call, so a
 * rotated key needs no restart.  quota_mib 0 means 64.  NULL with a
 * message in err when api_base is not https:// (or http:// to loopback). */
struct mailcow	*mailcow_new(const char *api_base, const char *api_key_file,
		    long quota_mib, char *err, size_t errlen);
void		 mailcow_free(struct mailcow *);

/*
 * Create "agent@domain" (or "agent-N@domain" when mailcow says the name
 * is taken) with a 32-character random password.  0 with heap strings
 * *address and *password (the caller wipes the password), or -1 with a
 * message naming mailcow's answer ("mailcow: danger: domain_not_found
 * example.org", "mailcow: HTTP 401: authentication failed", ...).
 */
int		 mailcow_add(struct mailcow *, const char *domain,
		    const char *agent, char **address, char **password,
		    char *err, size_t errlen);

/* Delete the mailbox; 0 also when mailcow no longer knows it. */
int		 mailcow_delete(struct mailcow *, const char *address, char *err,
		    size_t errlen);

#endif
