/*
 * The one path every message takes into the store (see ingest.h).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "extract/extract.h"
#include "provisioner/ingest.h"
#include "provisioner/notify.h"

#define BATCH_MAX	512

/* A message waiting for the committer; lives on its caller's stack. */
struct pending {
	struct ingest_job	 job;
	enum inbound_status	 status;
	int			 done;
	struct pending		*next;
};

static pthread_mutex_t	 q_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 q_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t	 q_done = PTHREAD_COND_INITIALIZER;
static struct pending	*q_head, **q_tail = &q_head;
static int		 q_running;

/*
 * Group commit: every message waiting when the previous COMMIT finished
 * goes into the next transaction, so one fsync acknowledges many.  A
 * lone message is committed at once; nobody waits for a batch to fill.
 */
static void *
committer(void *arg)
{
	struct pending *batch[BATCH_MAX];
	struct ingest_job jobs[BATCH_MAX];
	size_t n, i;

	(void)arg;
	for (;;) {
		pthread_mutex_lock(&q_mtx);
		while (q_head == NULL)
			pthread_cond_wait(&q_work, &q_mtx);
		for (n = 0; q_head && n < BATCH_MAX; n++) {
			batch[n] = q_head;
			q_head = q_head->next;
		}
		if (q_head == NULL)
			q_tail = &q_head;
		pthread_mutex_unlock(&q_mtx);
		for (i = 0; i < n; i++) {
			jobs[i] = batch[i]->job;
			jobs[i].status = &batch[i]->status;
		}
		if (store_get() == NULL)
			for (i = 0; i < n; i++)
				batch[i]->status = INBOUND_RETRY;
		else
			secrets_ingest_batch(store_get(), jobs, n);
		pthread_mutex_lock(&q_mtx);
		for (i = 0; i < n; i++)
			batch[i]->done = 1;
		pthread_cond_broadcast(&q_done);
		pthread_mutex_unlock(&q_mtx);
	}
	return NULL;
}

void
ingest_start(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, committer, NULL) != 0)
		fatalx("cannot start the commit thread");
	pthread_detach(t);
	q_running = 1;
}

/* Hand one message to the committer and wait for its transaction. */
static enum inbound_status
commit_one(const struct ingest_job *job)
{
	struct pending p;

	if (!q_running) {
		enum inbound_status st = INBOUND_RETRY;
		struct ingest_job j = *job;
		struct store *s = store_get();

		j.status = &st;
		if (s)
			secrets_ingest_batch(s, &j, 1);
		return st;
	}
	memset(&p, 0, sizeof(p));
	p.job = *job;
	p.status = INBOUND_RETRY;
	pthread_mutex_lock(&q_mtx);
	*q_tail = &p;
	q_tail = &p.next;
	pthread_cond_signal(&q_work);
	while (!p.done)
		pthread_cond_wait(&q_done, &q_mtx);
	pthread_mutex_unlock(&q_mtx);
	return p.status;
}

int
ingest_needs_approval(const struct config *c, const char *sender)
{
	const char *at;
	size_t i;

	if (sender == NULL)
		return 0;
	at = strrchr(sender, '@');
	for (i = 0; i < c->napprove_senders; i++) {
		const char *g = c->approve_senders[i];

		/* A glob matches the whole sender, or its domain. */
		if (fnmatch(g, sender, FNM_CASEFOLD) == 0 ||
		    (at && fnmatch(g, at + 1, FNM_CASEFOLD) == 0))
			return 1;
	}
	return 0;
}

static enum inbound_status
ingest(struct daemon *d, const struct inbound *in0, long long agent_id,
    struct ingest_result *out)
{
	struct inbound in = *in0;
	struct extract_result *res = NULL;
	const struct extract_result *use = in0->extracted;
	enum inbound_status st;
	struct ingest_job job;
	char to[256];
	size_t i;

	if (in.provider_id == NULL || *in.provider_id == '\0') {
		log_warnx("ingest: message without a provider id dropped");
		return INBOUND_UNKNOWN;
	}
	if (in.to && in.channel == INBOUND_EMAIL) {
		xstrlcpy(to, in.to, sizeof(to));
		for (i = 0; to[i]; i++)
			to[i] = (char)tolower((unsigned char)to[i]);
		in.to = to;
	}
	if (use == NULL && in.error_code == 0 && in.skipped == NULL) {
		struct extract_input ei;

		res = xcalloc(1, sizeof(*res));
		memset(&ei, 0, sizeof(ei));
		ei.kind = in.channel == INBOUND_SMS ? EXTRACT_SMS :
		    EXTRACT_EMAIL;
		ei.from = in.from;
		ei.fromlen = in.from ? strlen(in.from) : 0;
		ei.subject = in.subject;
		ei.subjectlen = in.subject ? strlen(in.subject) : 0;
		ei.text = in.text;
		ei.textlen = in.textlen;
		ei.html = in.html;
		ei.htmllen = in.htmllen;
		extract_run(&ei, res);
		use = res;
	}
	/* Extraction ran here, in the caller's thread; only the inserts
	 * are serialized. */
	memset(&job, 0, sizeof(job));
	job.in = &in;
	job.agent_id = agent_id;
	job.res = use;
	job.held = ingest_needs_approval(d->conf, in.from);
	job.code_ttl = d->conf->code_ttl;
	job.retention = d->conf->body_retention;
	job.out = out;
	st = commit_one(&job);
	if (res) {
		explicit_bzero(res, sizeof(*res));
		free(res);
	}
	switch (st) {
	case INBOUND_STORED:
		if (out->duplicate) {
			atomic_fetch_add(&d->duplicates, 1);
			log_debug("ingest: %s message %s is a replay",
			    in.channel == INBOUND_SMS ? "sms" : "email",
			    in.provider ? in.provider : "?");
			break;
		}
		atomic_fetch_add(&d->ingested, 1);
		if (in.skipped) {
			/* Stored (so the cursor moves on), never extracted. */
			atomic_fetch_add(&d->skipped, 1);
			log_warnx("ingest: email message %lld for agent %lld "
			    "not parsed: %s", out->message_id, out->agent_id,
			    in.skipped);
		}
		log_info("ingest: message %lld for agent %lld: %d code(s), "
		    "%d link(s), %d held", out->message_id, out->agent_id,
		    out->codes, out->links, out->held);
		daemon_notify(d, NOTIFY_SECRET, out->agent_id);
		if (out->held > 0) {
			struct agent_row a;

			/* Tell the owner, off this thread (notify.h). */
			if (store_get() == NULL || store_agent_by_id(
			    store_get(), out->agent_id, &a) != 0)
				a.name[0] = '\0';
			for (i = 0; i < (size_t)out->held; i++)
				notify_held(d, a.name, out->held_ids[i],
				    in.from);
		}
		break;
	case INBOUND_UNKNOWN:
		atomic_fetch_add(&d->dropped, 1);
		log_info("ingest: %s message for no active identity dropped",
		    in.channel == INBOUND_SMS ? "sms" : "email");
		break;
	case INBOUND_RETRY:
		log_warnx("ingest: message not stored; the sender should "
		    "retry");
		break;
	}
	return st;
}

enum inbound_status
ingest_inbound(const struct inbound *in, void *arg)
{
	struct ingest_result out;

	return ingest(arg, in, 0, &out);
}

enum inbound_status
ingest_for_agent(struct daemon *d, const struct inbound *in,
    long long agent_id, struct ingest_result *out)
{
	return ingest(d, in, agent_id, out);
}
