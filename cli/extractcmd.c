/*
 * agentid extract: run the extractor on stdin or a file.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cliutil.h"
#include "cli/extractcmd.h"
#include "mail/mime.h"
#include "mail/parser.h"

/* Header fields that mark the start of a message, not an SMS that
 * happens to begin with "Code: 1234". */
static const char *mail_fields[] = {
	"from", "to", "subject", "date", "message-id", "received",
	"return-path", "mime-version", "delivered-to", "content-type",
	"reply-to", "dkim-signature", "x-mailer", NULL
};

int
extractcmd_looks_like_mail(const char *data, size_t len)
{
	size_t pos = 0, lines = 0, known = 0;

	/* An mbox "From " separator line may come first. */
	if (len > 5 && memcmp(data, "From ", 5) == 0) {
		const char *nl = memchr(data, '\n', len);

		if (nl == NULL)
			return 0;
		pos = (size_t)(nl - data) + 1;
	}
	while (pos < len) {
		const char *line = data + pos, *nl;
		size_t n, name, i;

		nl = memchr(line, '\n', len - pos);
		n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + 1;
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n == 0)
			break;		/* end of the header block */
		if (line[0] == ' ' || line[0] == '\t') {
			if (lines == 0)
				return 0;
			continue;	/* folded continuation */
		}
		/* field-name = 1*ftext (printable but ':'), then ':' */
		for (name = 0; name < n && line[name] != ':'; name++)
			if ((unsigned char)line[name] <= 32 ||
			    (unsigned char)line[name] > 126)
				return 0;
		if (name == 0 || name == n)
			return 0;
		for (i = 0; mail_fields[i] != NULL; i++)
			if (strlen(mail_fields[i]) == name &&
			    strncasecmp(line, mail_fields[i], name) == 0)
				known++;
		lines++;
	}
	return lines >= 2 && known >= 1;
}

json_t *
extractcmd_json(const struct extract_result *r)
{
	json_t *o = json_object(), *codes = json_array(), *links = json_array();
	size_t i;

	for (i = 0; i < r->ncodes && i < EXTRACT_MAX_CODES; i++) {
		const struct extract_code *c = &r->codes[i];
		json_t *e = json_object();

		json_object_set_new(e, "value", json_string(c->value));
		json_object_set_new(e, "origin", c->origin[0] ?
		    json_string(c->origin) : json_null());
		json_object_set_new(e, "confidence", json_real(c->confidence));
		json_object_set_new(e, "rule", json_string(c->rule ? c->rule :
		    ""));
		json_array_append_new(codes, e);
	}
	for (i = 0; i < r->nlinks && i < EXTRACT_MAX_LINKS; i++) {
		const struct extract_link *l = &r->links[i];
		json_t *e = json_object();

		json_object_set_new(e, "url", json_string(l->url));
		json_object_set_new(e, "confidence", json_real(l->confidence));
		json_object_set_new(e, "rule", json_string(l->rule ? l->rule :
		    ""));
		json_array_append_new(links, e);
	}
	json_object_set_new(o, "codes", codes);
	json_object_set_new(o, "links", links);
	return o;
}

/* Parse one message in the sandboxed parser child, as the daemon does:
 * the message may be hostile, and libetpan's MIME parser is not safe. */
static int
extract_email(struct cliargs *a, const char *data, size_t len,
    struct extract_result *res)
{
	static const char *why[] = { "ok", "rejected", "the parser crashed",
	    "the parser could not run" };
	struct parser *p;
	struct parser_out out;
	const char *errstr = NULL;
	int st;

	if ((p = parser_new(&errstr)) == NULL) {
		cliutil_warnx(a->verb, "cannot start the parser: %s",
		    errstr ? errstr : "unknown error");
		return -1;
	}
	memset(&out, 0, sizeof(out));
	st = parser_parse(p, data, len, &out, &errstr);
	parser_free(p);
	if (st != PARSER_OK) {
		cliutil_warnx(a->verb, "cannot parse the message: %s%s%s",
		    st >= 0 && st <= PARSER_ERROR ? why[st] : "failed",
		    errstr ? ": " : "", errstr ? errstr : "");
		return -1;
	}
	*res = out.res;
	parser_out_clear(&out);
	return 0;
}

int
extractcmd_run(struct cliargs *a)
{
	struct extract_result *res = NULL;
	const char *errstr = NULL;
	char *data = NULL, *s = NULL;
	size_t len = 0;
	json_t *o;
	int rc = EXIT_USAGE, email;

	if (a->email && a->sms) {
		cliutil_warnx(a->verb, "give --sms or --email, not both");
		return EXIT_USAGE;
	}
	data = cliutil_readall(a->npos > 0 ? a->pos[0] : NULL, MIME_MAX_SIZE,
	    &len, &errstr);
	if (data == NULL) {
		cliutil_warnx(a->verb, "%s: %s", a->npos > 0 ? a->pos[0] :
		    "stdin", errstr);
		return EXIT_USAGE;
	}
	email = a->email || (!a->sms && extractcmd_looks_like_mail(data,
	    len));
	res = calloc(1, sizeof(*res));
	if (res == NULL) {
		cliutil_warnx(a->verb, "out of memory");
		goto done;
	}
	if (email) {
		if (extract_email(a, data, len, res) == -1) {
			rc = EXIT_NEGATIVE;
			goto done;
		}
	} else
		extract_sms(data, len, res);
	o = extractcmd_json(res);
	s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(3));
	json_decref(o);
	if (s == NULL) {
		cliutil_warnx(a->verb, "cannot encode the result");
		rc = EXIT_PROTOCOL;
		goto done;
	}
	printf("%s\n", s);
	explicit_bzero(s, strlen(s));
	free(s);
	rc = res->ncodes + res->nlinks > 0 ? EXIT_OK : EXIT_NEGATIVE;
done:
	if (res != NULL) {
		explicit_bzero(res, sizeof(*res));
		free(res);
	}
	cliutil_free(data, len);
	return rc;
}
