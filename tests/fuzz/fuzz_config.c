/*
 * libFuzzer target for the configuration parser: the input is written to
 * an in-memory file and read with config_load(), then config_check() and
 * config_free().  Errors are printed by design, so stderr is pointed at
 * /dev/null around the calls; set AGENTID_FUZZ_VERBOSE=1 to see them (and
 * the sanitizer report) when replaying a crash.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int	devnull = -1, verbose = -1;

static void
check_str(const char *s)
{
	/* Every string field must be NUL-terminated and readable. */
	if (s != NULL)
		(void)strlen(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *c;
	char path[64];
	int fd, saved = -1;
	size_t i;

	if (verbose == -1) {
		verbose = getenv("AGENTID_FUZZ_VERBOSE") != NULL;
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	if (size > 64 * 1024)
		return 0;
	if ((fd = memfd_create("fuzz_config", MFD_CLOEXEC)) == -1)
		abort();
	if (size > 0 && write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (!verbose && devnull != -1) {
		fflush(stderr);
		saved = dup(2);
		dup2(devnull, 2);
	}
	if ((c = config_load(path)) != NULL) {
		(void)config_check(c);
		check_str(c->state_dir);
		check_str(c->agent_socket);
		check_str(c->smtp_host);
		check_str(c->public_url);
		for (i = 0; i < c->napprove_senders; i++)
			check_str(c->approve_senders[i]);
		for (i = 0; i < c->ngateway_numbers; i++)
			check_str(c->gateway_numbers[i]);
		if (c->nadmin_uids > CONFIG_MAX_LIST ||
		    c->napprove_senders > CONFIG_MAX_LIST ||
		    c->ngateway_numbers > CONFIG_MAX_LIST)
			abort();
		(void)config_is_loopback(c->smtp_host);
		(void)config_is_loopback(c->public_url);
		(void)config_is_loopback(c->imap_host);
		config_free(c);
	}
	if (saved != -1) {
		fflush(stderr);
		dup2(saved, 2);
		close(saved);
	}
	close(fd);
	return 0;
}
