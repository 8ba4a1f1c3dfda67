/*
 * agentidd: the daemon.  Reads the config, opens the store, binds the
 * sockets and the channels, drops privileges, then runs the main loop.
 */
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "mail/parser.h"
#include "provisioner/admin.h"
#include "provisioner/daemon.h"
#include "provisioner/ingest.h"
#include "provisioner/mailbox.h"
#include "provisioner/notify.h"
#include "provisioner/phone.h"
#include "provisioner/server.h"
#include "provisioner/store.h"

#define DEFAULT_CONF	"/etc/agentid/agentidd.conf"

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: agentidd [-fhn] [-c file]\n"
	    "  -c file  configuration file (default " DEFAULT_CONF ")\n"
	    "  -f       stay in the foreground\n"
	    "  -n       check the configuration and exit\n"
	    "  -h       show this help\n");
}

/* Create dir (0700) if missing; refuse one others can write into. */
static int
ensure_dir(const char *dir, mode_t mode)
{
	struct stat st;

	if (mkdir(dir, mode) == -1 && errno != EEXIST) {
		log_warn("cannot create %s", dir);
		return -1;
	}
	if (stat(dir, &st) == -1 || !S_ISDIR(st.st_mode)) {
		log_warnx("%s is not a directory", dir);
		return -1;
	}
	if (st.st_mode & S_IWOTH) {
		log_warnx("%s is writable by others; refusing", dir);
		return -1;
	}
	return 0;
}

static void
socket_dir(const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');

	if (slash && slash != dir) {
		*slash = '\0';
		/* Agents of any uid must reach the socket inside. */
		if (mkdir(dir, 0755) == 0)
			log_info("created %s", dir);
	}
	free(dir);
}

/* Each watched mailbox holds a socket: take every fd the hard limit
 * allows, so 1,000 mailboxes do not need a tuned shell. */
static void
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("cannot raise the open-file limit");
	}
}

/* Give up root for the configured user, after everything is bound. */
static void
drop_privileges(const struct config *c, const char *dbpath)
{
	struct passwd *pw;
	char wal[4200], shm[4200], key[4200];

	if (c->user == NULL)
		return;
	if ((pw = getpwnam(c->user)) == NULL)
		fatalx("unknown user %s", c->user);
	snprintf(wal, sizeof(wal), "%s-wal", dbpath);
	snprintf(shm, sizeof(shm), "%s-shm", dbpath);
	snprintf(key, sizeof(key), "%s/key", c->state_dir);
	if (chown(c->state_dir, pw->pw_uid, pw->pw_gid) == -1 ||
	    chown(dbpath, pw->pw_uid, pw->pw_gid) == -1 ||
	    chown(key, pw->pw_uid, pw->pw_gid) == -1)
		fatal("chown state to %s", c->user);
	/* The WAL files may not exist yet. */
	if (chown(wal, pw->pw_uid, pw->pw_gid) == -1 && errno != ENOENT)
		fatal("chown %s", wal);
	if (chown(shm, pw->pw_uid, pw->pw_gid) == -1 && errno != ENOENT)
		fatal("chown %s", shm);
	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		fatal("cannot drop privileges to %s", c->user);
	if (setuid(0) != -1)
		fatalx("privileges were not dropped");
	log_info("running as %s", c->user);
}

int
main(int argc, char *argv[])
{
	const char *conffile = DEFAULT_CONF, *errstr = NULL;
	struct daemon d;
	struct config *c;
	struct server *sv;
	uint8_t key[CRYPTO_KEY_LEN];
	char dbpath[4096];
	int ch, check = 0, foreground = 0;

	/* Parser children re-execute this binary and stop here. */
	parser_child_hook();
	while ((ch = getopt(argc, argv, "c:fhn")) != -1) {
		switch (ch) {
		case 'c':
			conffile = optarg;
			break;
		case 'f':
			foreground = 1;
			break;
		case 'n':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 64;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 64;
	}
	if ((c = config_load(conffile)) == NULL)
		return 1;
	if (config_check(c) == -1)
		return 1;
	if (check) {
		printf("configuration OK\n");
		config_free(c);
		return 0;
	}
	log_init("agentidd", c->log_level);
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	json_object_seed(0);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");

	memset(&d, 0, sizeof(d));
	d.conf = c;
	d.euid = geteuid();
	d.started = store_now();
	/* Before any thread starts: fork() keeps only the calling thread. */
	if (!foreground) {
		if (daemon(0, 0) == -1)
			fatal("daemon");
		log_syslog();
	}
	if ((d.notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1)
		fatal("eventfd");
	if (ensure_dir(c->state_dir, 0700) == -1)
		return 1;
	if (store_keyfile(c->state_dir, key, &errstr) == -1)
		fatalx("%s/key: %s", c->state_dir, errstr);
	snprintf(dbpath, sizeof(dbpath), "%s/agentid.db", c->state_dir);
	if (store_setup(dbpath, key, &errstr) == -1)
		fatalx("%s: %s", dbpath, errstr);
	explicit_bzero(key, sizeof(key));
	socket_dir(c->agent_socket);
	socket_dir(c->admin_socket);
	if ((sv = server_new(&d, &errstr)) == NULL)
		fatalx("sockets: %s", errstr);
	ingest_start();
	if ((d.phone = phone_start(c, ingest_inbound, &d, &errstr)) == NULL)
		fatalx("phone: %s", errstr);
	if ((d.mailbox = mailbox_start(c, ingest_inbound, &d, &errstr)) ==
	    NULL)
		fatalx("mail: %s", errstr);
	drop_privileges(c, dbpath);
	admin_watch_all(&d);
	admin_start_releaser(&d);
	notify_start(&d);
	log_info("started (phone %s, mail %s)", c->phone_provider,
	    c->mail_provider);
	server_run(sv);

	server_free(sv);
	mailbox_stop(d.mailbox);
	phone_stop(d.phone);
	store_shutdown();
	curl_global_cleanup();
	close(d.notify_fd);
	config_free(c);
	log_info("stopped");
	return 0;
}
