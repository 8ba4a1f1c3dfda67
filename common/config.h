/*
 * config: agentidd.conf, an INI file read with inih (DESIGN §8).  Every
 * error names file:line; loading reports all errors before failing.
 * Secret values are never inline: *_file keys name a 0600 file, read by
 * config_secret().
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stddef.h>
#include <sys/types.h>

#define CONFIG_MAX_LIST	32

struct config {
	char	*path;			/* the file read */

	/* [daemon] */
	char	*state_dir;		/* default /var/lib/agentid */
	char	*agent_socket;		/* default /run/agentid/agent.sock */
	char	*admin_socket;		/* default /run/agentid/admin.sock */
	uid_t	 admin_uids[CONFIG_MAX_LIST];
	size_t	 nadmin_uids;
	char	*user;			/* NULL: keep the starting uid */
	long	 code_ttl;		/* 600 */
	long	 wait_max;		/* 300 */
	long	 body_retention;	/* 86400 */
	int	 log_level;		/* LOG_LEVEL_* from log.h */

	/* [webhook] */
	char	*webhook_listen;	/* 127.0.0.1:8787, "" disables */
	char	*public_url;		/* e.g. https://sms.example.com */

	/* [phone] */
	char	*phone_provider;	/* twilio | gateway | none */

	/* [twilio] */
	char	*twilio_api_base;	/* https://api.twilio.com */
	char	*twilio_account_sid;
	char	*twilio_auth_token_file;
	char	*twilio_country;	/* US */
	char	*twilio_area_code;
	long	 twilio_poll_interval;	/* 0: no polling fallback */

	/* [gateway] */
	char	*gateway_secret_file;
	char	*gateway_numbers[CONFIG_MAX_LIST];
	size_t	 ngateway_numbers;

	/* [mail] */
	char	*mail_provider;		/* dovecot | mailcow | none */
	char	*mail_domain;
	char	*imap_host;
	int	 imap_port;		/* 993 */
	char	*imap_tls;		/* implicit | starttls | none */
	char	*imap_ca_file;		/* NULL: system store */
	long	 poll_interval;		/* 60 */

	/* [dovecot] */
	char	*dovecot_passwd_file;

	/* [mailcow] */
	char	*mailcow_api_base;
	char	*mailcow_api_key_file;
	long	 mailcow_quota;		/* MiB, 64 */

	/* [smtp] */
	char	*smtp_host;
	int	 smtp_port;		/* 587 */
	char	*smtp_tls;		/* starttls | none */
	char	*smtp_user;
	char	*smtp_password_file;
	char	*smtp_from;
	char	*smtp_owner_email;
	char	*smtp_ca_file;

	/* [policy] */
	char	*approve_senders[CONFIG_MAX_LIST];
	size_t	 napprove_senders;

	/* [dovecot], appended */
	char	*dovecot_maildir;	/* one mailbox's Maildir, with %u %n
					   %d; NULL: no inotify watch */
};

/* Defaults only, no file.  Caller frees with config_free(). */
struct config	*config_new(void);

/* Read path into a new config.  On error prints every "file:line: why"
 * to stderr and returns NULL. */
struct config	*config_load(const char *path);

/* Cross-key checks (http:// only for loopback, a provider's required keys,
 * secret files present and not group/world readable).  Prints
 * "file: why" lines to stderr and returns -1 on any problem. */
int		 config_check(const struct config *c);

void		 config_free(struct config *c);

/*
 * Read a secret file: refuses a file readable or writable by group or
 * others, or not a regular file; strips one trailing newline.  Returns a
 * heap string the caller wipes and frees with secret_free(), or NULL with
 * *errstr set to a static reason.
 */
char		*config_secret(const char *path, const char **errstr);
void		 secret_free(char *s);

/* True when host (or the host part of a URL or host:port) is loopback. */
int		 config_is_loopback(const char *host_or_url);

#endif
