/*
 * The event queue between the channel and admin threads and the main
 * loop: a mutex-protected array plus an eventfd.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "provisioner/daemon.h"

struct event {
	enum notify_kind	kind;
	long long		id;
};

static pthread_mutex_t	 q_mtx = PTHREAD_MUTEX_INITIALIZER;
static struct event	*q;
static size_t		 qlen, qcap;

void
daemon_notify(struct daemon *d, enum notify_kind kind, long long agent_id)
{
	uint64_t one = 1;
	size_t i;

	pthread_mutex_lock(&q_mtx);
	for (i = 0; i < qlen; i++)
		if (q[i].kind == kind && q[i].id == agent_id)
			break;
	if (i == qlen) {
		if (qlen == qcap) {
			qcap = qcap ? qcap * 2 : 64;
			q = xreallocarray(q, qcap, sizeof(*q));
		}
		q[qlen].kind = kind;
		q[qlen].id = agent_id;
		qlen++;
	}
	pthread_mutex_unlock(&q_mtx);
	if (d->notify_fd != -1 && write(d->notify_fd, &one, sizeof(one)) !=
	    sizeof(one))
		log_debug("notify: eventfd write failed");
}

size_t
daemon_events(struct daemon *d, enum notify_kind *kinds, long long *ids,
    size_t max)
{
	size_t n, i;

	(void)d;
	pthread_mutex_lock(&q_mtx);
	n = qlen < max ? qlen : max;
	for (i = 0; i < n; i++) {
		kinds[i] = q[i].kind;
		ids[i] = q[i].id;
	}
	memmove(q, q + n, (qlen - n) * sizeof(*q));
	qlen -= n;
	pthread_mutex_unlock(&q_mtx);
	return n;
}
