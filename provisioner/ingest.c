/*
 * The one path every message takes into the store (see ingest.h).
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "extract/extract.h"
#include "provisioner/ingest.h"

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
	struct store *s;
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
	if ((s = store_get()) == NULL)
		return INBOUND_RETRY;
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
	st = secrets_ingest(s, &in, agent_id, use,
	    ingest_needs_approval(d->conf, in.from), d->conf->code_ttl,
	    d->conf->body_retention, out);
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
