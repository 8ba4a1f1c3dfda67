/*
 * mime: raw RFC 5322 message -> normalized UTF-8 fields (see mime.h).
 *
 * This is a small bounded parser of our own, not libetpan's mailmime_parse():
 * libetpan 1.9.4 overflows the heap on boundary="\"", wraps preamble lengths
 * and goes quadratic on deep nesting (notes libs.md 2.6), and a fuzzer can
 * only keep code clean that we can fix.  Every step here is a linear scan of
 * a byte range that is checked against the input, nesting and part counts
 * are capped before descending, every output buffer has a hard cap and a
 * failed allocation rejects the message instead of aborting (the parser
 * child runs under RLIMIT_AS).  Charsets go through iconv for an allow-list
 * only; everything else is read as UTF-8 and every output is valid UTF-8.
 *
 * A boundary parameter is checked before it is used: empty, over 200
 * bytes, or holding a quote, backslash or control byte (the boundary="\""
 * class) rejects the message with "bad boundary".
 *
 * What counts as the body: inline text/plain parts go to text, text/html
 * parts to html, in document order, a blank line between parts; inside
 * multipart/alternative only the first plain and the first html branch
 * count; forwarded message/rfc822 parts (inline or attached) count, other
 * attachments do not.  With no plain text at all, text is made from html.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mime.h"
#include "mail/mimetext.h"

#define OUT_MAX		MIME_MAX_SIZE	/* cap of text and html each */

struct ctype {
	char	type[32];
	char	sub[64];
	char	charset[48];
	char	boundary[201];
	int	have_boundary;
	int	bad_boundary;
};

struct walk {
	int		 nparts;
	const char	*err;
};

static int	walk_entity(struct walk *, const char *, size_t, int, int,
		    struct mimetext_buf *, struct mimetext_buf *);

void
mime_init(void)
{
	mimetext_init();
}
/* Collapse control characters and blank runs to one space; trim. */
static void
oneline(struct mimetext_buf *b)
{
	size_t	i, o = 0;
	int	sp = 1;

	for (i = 0; i < b->len; i++) {
		unsigned char c = b->p[i];

		if (c < 0x20 || c == 0x7f) {
			if (!sp)
				b->p[o++] = ' ';
			sp = 1;
			continue;
		}
		if (c == ' ' && sp)
			continue;
		sp = (c == ' ');
		b->p[o++] = c;
	}
	while (o > 0 && b->p[o - 1] == ' ')
		o--;
	b->len = o;
	if (b->p != NULL)
		b->p[o] = '\0';
}

/* Offset just past the line starting at i (past its LF), and its end. */
static size_t
line_next(const char *s, size_t n, size_t i, size_t *eol)
{
	const char *nl = memchr(s + i, '\n', n - i);

	if (nl == NULL) {
		*eol = n;
		return n;
	}
	*eol = (size_t)(nl - s);
	if (*eol > i && s[*eol - 1] == '\r')
		(*eol)--;
	return (size_t)(nl - s) + 1;
}

/*
 * Split an entity into its header block [0, *hlen) and body offset.  Stops
 * at the empty line, or at a line that is no header (lenient senders).
 */
static void
entity_split(const char *s, size_t n, size_t *hlen, size_t *body)
{
	size_t	i = 0, next, eol, k;

	while (i < n) {
		next = line_next(s, n, i, &eol);
		if (eol == i) {
			*hlen = i;
			*body = next;
			return;
		}
		if (s[i] != ' ' && s[i] != '\t') {
			for (k = i; k < eol && s[k] != ':' && s[k] > ' '; k++)
				;
			while (k < eol && (s[k] == ' ' || s[k] == '\t'))
				k++;
			if (k == i || k >= eol || s[k] != ':') {
				*hlen = *body = i;
				return;
			}
		}
		i = next;
	}
	*hlen = *body = n;
}

/* Find the first field called name in a header block; unfold it into out. */
static int
hdr_get(const char *h, size_t hn, const char *name, struct mimetext_buf *out)
{
	size_t	nl = strlen(name), i = 0, next, eol, k;

	out->len = 0;
	while (i < hn) {
		next = line_next(h, hn, i, &eol);
		if (eol - i > nl && strncasecmp(h + i, name, nl) == 0) {
			for (k = i + nl; k < eol && (h[k] == ' ' ||
			    h[k] == '\t'); k++)
				;
			if (k < eol && h[k] == ':') {
				mimetext_buf_add(out, h + k + 1, eol - k - 1);
				for (i = next; i < hn && (h[i] == ' ' ||
				    h[i] == '\t'); i = next) {
					next = line_next(h, hn, i, &eol);
					mimetext_buf_add(out, h + i, eol - i);
				}
				mimetext_buf_add(out, "", 0);
				return 1;
			}
		}
		i = next;
	}
	return 0;
}

/* Skip blanks and (nested) comments. */
static size_t
skip_cfws(const char *s, size_t n, size_t i)
{
	int depth = 0;

	for (; i < n; i++) {
		if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && depth > 0)
			depth--;
		else if (s[i] == '\\' && depth > 0 && i + 1 < n)
			i++;
		else if (depth == 0 && s[i] != ' ' && s[i] != '\t' &&
		    s[i] != '\r' && s[i] != '\n')
			break;
	}
	return i;
}

/* Read a token or quoted string into out (truncated); returns new index. */
static size_t
read_value(const char *s, size_t n, size_t i, char *out, size_t osz,
    int *trunc, int stop_slash)
{
	size_t o = 0;

	*trunc = 0;
	if (i < n && s[i] == '"') {
		for (i++; i < n && s[i] != '"'; i++) {
			if (s[i] == '\\' && i + 1 < n)
				i++;
			if (o + 1 < osz)
				out[o++] = s[i];
			else
				*trunc = 1;
		}
		if (i < n)
			i++;
	} else {
		for (; i < n && s[i] != ';' && s[i] != ' ' && s[i] != '\t' &&
		    s[i] != '(' && s[i] != '\r' && s[i] != '\n' &&
		    !(stop_slash && s[i] == '/'); i++) {
			if (o + 1 < osz)
				out[o++] = s[i];
			else
				*trunc = 1;
		}
	}
	out[o] = '\0';
	return i;
}

static void
copy_str(char *dst, size_t dsz, const char *src)
{
	size_t n = strnlen(src, dsz - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Parse "type/sub; name=value; ..." (values as token or quoted string). */
static void
ctype_parse(const char *s, size_t n, struct ctype *ct)
{
	char	name[32], val[256];
	size_t	i, k;
	int	trunc;

	i = read_value(s, n, skip_cfws(s, n, 0), ct->type, sizeof(ct->type),
	    &trunc, 1);
	i = skip_cfws(s, n, i);
	if (i < n && s[i] == '/')
		i = read_value(s, n, skip_cfws(s, n, i + 1), ct->sub,
		    sizeof(ct->sub), &trunc, 0);
	else
		ct->type[0] = '\0';
	while (i < n) {
		if (s[i] != ';') {
			i++;
			continue;
		}
		i = skip_cfws(s, n, i + 1);
		for (k = 0; i < n && s[i] != '=' && s[i] != ';' &&
		    s[i] > ' '; i++)
			if (k + 1 < sizeof(name))
				name[k++] = s[i];
		name[k] = '\0';
		i = skip_cfws(s, n, i);
		if (i >= n || s[i] != '=')
			continue;
		i = read_value(s, n, skip_cfws(s, n, i + 1), val, sizeof(val),
		    &trunc, 0);
		if (strcasecmp(name, "charset") == 0 && ct->charset[0] == '\0')
			copy_str(ct->charset, sizeof(ct->charset), val);
		else if (strcasecmp(name, "boundary") == 0 &&
		    !ct->have_boundary) {
			ct->have_boundary = 1;
			/* RFC 2046: 1-70 of a small printable set; we allow
			 * up to 200 printable, never a quote or backslash
			 * (the libetpan crash class). */
			ct->bad_boundary = trunc || val[0] == '\0' ||
			    strlen(val) > 200;
			for (k = 0; val[k] != '\0'; k++)
				if ((unsigned char)val[k] < 0x20 ||
				    (unsigned char)val[k] > 0x7e ||
				    val[k] == '"' || val[k] == '\\')
					ct->bad_boundary = 1;
			copy_str(ct->boundary, sizeof(ct->boundary), val);
		}
	}
}

/*
 * Decode a body by its Content-Transfer-Encoding into out; returns 0 when
 * it is 7bit/8bit/binary and copy is 0 (the caller uses s as it is, so
 * nested identity-encoded forwards cost no memory per level).
 */
static int
cte_decode(const char *h, size_t hn, const char *s, size_t n,
    struct mimetext_buf *out, struct mimetext_buf *tmp, int copy)
{
	char	enc[32];
	int	trunc;

	enc[0] = '\0';
	if (hdr_get(h, hn, "Content-Transfer-Encoding", tmp))
		read_value(tmp->p, tmp->len, skip_cfws(tmp->p, tmp->len, 0),
		    enc, sizeof(enc), &trunc, 0);
	if (strcasecmp(enc, "base64") == 0)
		mimetext_b64_decode(out, s, n);
	else if (strcasecmp(enc, "quoted-printable") == 0)
		mimetext_qp_decode(out, s, n, 0);
	else if (copy)
		mimetext_buf_add(out, s, n);
	else
		return 0;
	return 1;
}

/* Append one decoded body to a collector, a blank line between bodies. */
static void
collect(struct mimetext_buf *dst, const char *charset, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (dst->len > 0)
		mimetext_buf_add(dst, "\n\n", 2);
	mimetext_conv_append(dst, charset, s, n);
}

/*
 * Walk the parts of a multipart body.  Delimiters are "--boundary" at a
 * line start followed only by blanks (or "--" for the close delimiter);
 * the line break before a delimiter belongs to it.
 */
static int
walk_multipart(struct walk *w, const char *s, size_t n, const char *bnd,
    int depth, int alt, int digest, struct mimetext_buf *text,
    struct mimetext_buf *html)
{
	struct mimetext_buf	 tt, th;
	size_t			 bl = strlen(bnd), i = 0, next, eol, k;
	size_t			 start = 0, end;
	int			 inpart = 0, close, got_t = 0, got_h = 0;
	int			 rc = 0;

	while (i < n && rc == 0) {
		next = line_next(s, n, i, &eol);
		if (eol - i < bl + 2 || s[i] != '-' || s[i + 1] != '-' ||
		    memcmp(s + i + 2, bnd, bl) != 0) {
			i = next;
			continue;
		}
		k = i + 2 + bl;
		close = (eol - k >= 2 && s[k] == '-' && s[k + 1] == '-');
		if (!close && !mimetext_is_blank(s + k, eol - k)) {
			i = next;
			continue;
		}
		if (inpart) {
			end = i;
			if (end > start && s[end - 1] == '\n')
				end--;
			if (end > start && s[end - 1] == '\r')
				end--;
			if (!alt) {
				rc = walk_entity(w, s + start, end - start,
				    depth + 1, digest, text, html);
			} else {
				mimetext_buf_init(&tt, OUT_MAX);
				mimetext_buf_init(&th, OUT_MAX);
				rc = walk_entity(w, s + start, end - start,
				    depth + 1, digest, &tt, &th);
				if (!got_t && tt.len > 0) {
					got_t = 1;
					collect(text, "utf-8", tt.p, tt.len);
				}
				if (!got_h && th.len > 0) {
					got_h = 1;
					collect(html, "utf-8", th.p, th.len);
				}
				if (tt.oom || th.oom)
					text->oom = 1;
				mimetext_buf_free(&tt);
				mimetext_buf_free(&th);
			}
		}
		if (close)
			break;
		inpart = 1;
		start = next;
		i = next;
	}
	/* A last part without its close delimiter still counts. */
	if (rc == 0 && inpart && i >= n && start < n)
		rc = walk_entity(w, s + start, n - start, depth + 1, digest,
		    text, html);
	return rc;
}

/*
 * Walk one entity (headers + body), appending inline text/plain bodies to
 * text and text/html bodies to html.  Returns -1 with w->err on a cap.
 */
static int
walk_entity(struct walk *w, const char *s, size_t n, int depth, int defmsg,
    struct mimetext_buf *text, struct mimetext_buf *html)
{
	struct ctype		 ct;
	struct mimetext_buf	 tmp, body;
	char			 disp[32];
	size_t			 hn, bo;
	int			 rc = -1, trunc, attach = 0;

	mimetext_buf_init(&tmp, MIME_MAX_HEADER + 1);
	mimetext_buf_init(&body, MIME_MAX_SIZE);
	memset(&ct, 0, sizeof(ct));
	if (++w->nparts > MIME_MAX_PARTS) {
		w->err = "too many parts";
		goto done;
	}
	if (depth > MIME_MAX_DEPTH) {
		w->err = "nested too deep";
		goto done;
	}
	entity_split(s, n, &hn, &bo);
	if (hn > MIME_MAX_HEADER) {
		w->err = "header too large";
		goto done;
	}
	if (hdr_get(s, hn, "Content-Type", &tmp))
		ctype_parse(tmp.p, tmp.len, &ct);
	if (ct.type[0] == '\0') {
		snprintf(ct.type, sizeof(ct.type), defmsg ? "message" : "text");
		snprintf(ct.sub, sizeof(ct.sub), defmsg ? "rfc822" : "plain");
	}
	disp[0] = '\0';
	if (hdr_get(s, hn, "Content-Disposition", &tmp))
		read_value(tmp.p, tmp.len, skip_cfws(tmp.p, tmp.len, 0), disp,
		    sizeof(disp), &trunc, 0);
	attach = strcasecmp(disp, "attachment") == 0;
	rc = 0;
	if (strcasecmp(ct.type, "multipart") == 0) {
		if (ct.have_boundary && ct.bad_boundary) {
			w->err = "bad boundary";
			rc = -1;
		} else if (ct.have_boundary)
			rc = walk_multipart(w, s + bo, n - bo, ct.boundary,
			    depth, strcasecmp(ct.sub, "alternative") == 0,
			    strcasecmp(ct.sub, "digest") == 0, text, html);
	} else if (strcasecmp(ct.type, "message") == 0 &&
	    (strcasecmp(ct.sub, "rfc822") == 0 ||
	    strcasecmp(ct.sub, "global") == 0)) {
		/* Forwarded mail, inline or attached: its text counts too. */
		if (cte_decode(s, hn, s + bo, n - bo, &body, &tmp, 0) == 0)
			rc = walk_entity(w, s + bo, n - bo, depth + 1, 0, text,
			    html);
		else if (!body.oom)
			rc = walk_entity(w, body.p ? body.p : "", body.len,
			    depth + 1, 0, text, html);
	} else if (!attach && strcasecmp(ct.type, "text") == 0 &&
	    (strcasecmp(ct.sub, "plain") == 0 ||
	    strcasecmp(ct.sub, "html") == 0)) {
		cte_decode(s, hn, s + bo, n - bo, &body, &tmp, 1);
		if (ct.charset[0] == '\0' && strcasecmp(ct.sub, "html") == 0)
			mimetext_meta_charset(body.p, body.len, ct.charset,
			    sizeof(ct.charset));
		collect(strcasecmp(ct.sub, "html") == 0 ? html : text,
		    ct.charset, body.p, body.len);
	}
	if (rc == 0 && (tmp.oom || body.oom || text->oom || html->oom)) {
		w->err = "out of memory";
		rc = -1;
	}
done:
	mimetext_buf_free(&tmp);
	mimetext_buf_free(&body);
	return rc;
}

/* Unquote a phrase: quoted strings lose quotes and escapes, comments go. */
static void
phrase_clean(const char *s, size_t n, struct mimetext_buf *b)
{
	size_t	i;
	int	q = 0, depth = 0;

	for (i = 0; i < n; i++) {
		if (!q && s[i] == '(') {
			depth++;
			continue;
		}
		if (!q && s[i] == ')' && depth > 0) {
			depth--;
			continue;
		}
		if (depth > 0)
			continue;
		if (s[i] == '"') {
			q = !q;
			continue;
		}
		if (s[i] == '\\' && i + 1 < n)
			i++;
		mimetext_buf_addc(b, s[i]);
	}
}

/*
 * First mailbox of a From value: "Name <a@b>", "a@b (Name)", "a@b",
 * groups "G: a@b;".  Fills addr (bare address) and disp (decoded name).
 */
static void
from_parse(const char *s, size_t n, struct mimetext_buf *addr,
    struct mimetext_buf *disp)
{
	struct mimetext_buf	raw, tmpa;
	size_t			i, lt = n, at = n, colon = n, st, en;
	size_t			c0 = n, c1 = n;
	int			q = 0, depth = 0;

	/* Find '<', '@', ':' and the first comment outside quotes. */
	for (i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++;
			continue;
		}
		if (depth == 0 && s[i] == '"') {
			q = !q;
			continue;
		}
		if (q)
			continue;
		if (s[i] == '(') {
			if (depth++ == 0 && c0 == n)
				c0 = i + 1;
			continue;
		}
		if (s[i] == ')' && depth > 0) {
			if (--depth == 0 && c1 == n)
				c1 = i;
			continue;
		}
		if (depth > 0)
			continue;
		if (s[i] == ',' && (lt < n || at < n))
			break;
		if (s[i] == ':' && lt == n && at == n && colon == n)
			colon = i;
		else if (s[i] == '<' && lt == n)
			lt = i;
		else if (s[i] == '@' && at == n)
			at = i;
	}
	n = i;
	st = (colon < n) ? colon + 1 : 0;
	mimetext_buf_init(&raw, MIMETEXT_FIELD_MAX);
	if (lt < n) {
		const char *gt = memchr(s + lt, '>', n - lt);

		en = gt ? (size_t)(gt - s) : n;
		phrase_clean(s + lt + 1, en - lt - 1, addr);
		phrase_clean(s + st, lt - st, &raw);
	} else {
		phrase_clean(s + st, n - st, addr);
		if (c0 < n && c1 <= n && c1 > c0)
			mimetext_buf_add(&raw, s + c0, c1 - c0);
	}
	/* Raw 8-bit addresses (RFC 6532) must still come out valid UTF-8. */
	mimetext_buf_init(&tmpa, MIMETEXT_FIELD_MAX);
	mimetext_utf8_append(&tmpa, addr->p ? addr->p : "", addr->len);
	mimetext_buf_free(addr);
	*addr = tmpa;
	oneline(addr);
	/* An address has no blanks; keep what a mailbox would. */
	for (i = 0; i < addr->len; i++)
		if (addr->p[i] == ' ' || addr->p[i] == ';')
			break;
	addr->len = i;
	if (addr->p != NULL)
		addr->p[i] = '\0';
	if (addr->len > 0 && strncasecmp(addr->p, "mailto:", 7) == 0) {
		memmove(addr->p, addr->p + 7, addr->len - 7 + 1);
		addr->len -= 7;
	}
	mimetext_hdr_decode(disp, raw.p ? raw.p : "", raw.len);
	oneline(disp);
	if (raw.oom)
		disp->oom = 1;
	mimetext_buf_free(&raw);
}

static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long	era;
	unsigned	yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/* Read up to maxd digits; -1 when none. */
static long
num_at(const char *s, size_t n, size_t *i, int maxd)
{
	long	v = 0;
	int	d = 0;

	while (*i < n && d < maxd && s[*i] >= '0' && s[*i] <= '9') {
		v = v * 10 + (s[*i] - '0');
		(*i)++;
		d++;
	}
	return d ? v : -1;
}

/* RFC 5322 date ("Mon, 2 Jan 2006 15:04:05 -0700") -> unix seconds or 0. */
static long long
date_parse(const char *s, size_t n)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	const char	*m;
	size_t		 i = skip_cfws(s, n, 0), y0;
	long		 d, mon, y, hh, mm, ss = 0, z = 0, zs = 1;
	char		 mn[4];

	while (i < n && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' &&
	    s[i] <= 'Z')))
		i++;
	if (i < n && s[i] == ',')
		i++;
	i = skip_cfws(s, n, i);
	if ((d = num_at(s, n, &i, 2)) < 1 || d > 31)
		return 0;
	i = skip_cfws(s, n, i);
	if (n - i < 3)
		return 0;
	mn[0] = s[i] | 0x20;
	mn[1] = s[i + 1] | 0x20;
	mn[2] = s[i + 2] | 0x20;
	mn[3] = '\0';
	if ((m = strstr(months, mn)) == NULL || (m - months) % 3 != 0)
		return 0;
	mon = (m - months) / 3 + 1;
	while (i < n && s[i] != ' ' && s[i] != '\t')
		i++;
	i = skip_cfws(s, n, i);
	y0 = i;
	if ((y = num_at(s, n, &i, 4)) < 0)
		return 0;
	if (i - y0 <= 2)
		y += (y < 50) ? 2000 : 1900;
	else if (i - y0 == 3)
		y += 1900;
	i = skip_cfws(s, n, i);
	if ((hh = num_at(s, n, &i, 2)) < 0 || hh > 23 || i >= n ||
	    s[i++] != ':' || (mm = num_at(s, n, &i, 2)) < 0 || mm > 59)
		return 0;
	if (i < n && s[i] == ':') {
		i++;
		if ((ss = num_at(s, n, &i, 2)) < 0 || ss > 60)
			return 0;
	}
	i = skip_cfws(s, n, i);
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		zs = (s[i] == '-') ? -1 : 1;
		i++;
		y0 = i;
		if ((z = num_at(s, n, &i, 4)) < 0 || i - y0 != 4 ||
		    z % 100 > 59)
			z = 0;
		z = zs * ((z / 100) * 3600 + (z % 100) * 60);
	} else if (n - i >= 3) {
		static const struct { const char *n; int h; } zones[] = {
			{ "EDT", -4 }, { "EST", -5 }, { "CDT", -5 },
			{ "CST", -6 }, { "MDT", -6 }, { "MST", -7 },
			{ "PDT", -7 }, { "PST", -8 } };
		size_t k;

		for (k = 0; k < sizeof(zones) / sizeof(zones[0]); k++)
			if (strncasecmp(s + i, zones[k].n, 3) == 0)
				z = zones[k].h * 3600L;
	}
	return days_from_civil(y, mon, d) * 86400 + hh * 3600 + mm * 60 + ss -
	    z;
}

/* CRLF and lone CR -> LF, in place. */
static void
eol_normalize(struct mimetext_buf *b)
{
	size_t i, o = 0;

	for (i = 0; i < b->len; i++) {
		if (b->p[i] == '\r') {
			b->p[o++] = '\n';
			if (i + 1 < b->len && b->p[i + 1] == '\n')
				i++;
		} else
			b->p[o++] = b->p[i];
	}
	b->len = o;
	if (b->p != NULL)
		b->p[o] = '\0';
}

int
mime_parse(const char *raw, size_t len, struct mime_msg *m,
    const char **errstr)
{
	struct walk		w;
	struct mimetext_buf	text, html, der, fld, from, disp, subj, mid;
	size_t			hn, bo;
	int			rc = -1;

	memset(m, 0, sizeof(*m));
	memset(&w, 0, sizeof(w));
	mimetext_buf_init(&text, OUT_MAX);
	mimetext_buf_init(&html, OUT_MAX);
	mimetext_buf_init(&der, OUT_MAX);
	mimetext_buf_init(&fld, MIME_MAX_HEADER + 1);
	mimetext_buf_init(&from, MIMETEXT_FIELD_MAX);
	mimetext_buf_init(&disp, MIMETEXT_FIELD_MAX);
	mimetext_buf_init(&subj, MIMETEXT_FIELD_MAX);
	mimetext_buf_init(&mid, 998);
	if (raw == NULL && len > 0) {
		w.err = "no input";
		goto done;
	}
	if (len > MIME_MAX_SIZE) {
		w.err = "too large";
		goto done;
	}
	if (raw == NULL)
		raw = "";
	mime_init();
	/* An mbox "From " separator line is no header; skip it. */
	if (len >= 5 && memcmp(raw, "From ", 5) == 0) {
		bo = line_next(raw, len, 0, &hn);
		raw += bo;
		len -= bo;
	}
	entity_split(raw, len, &hn, &bo);
	if (hn > MIME_MAX_HEADER) {
		w.err = "header too large";
		goto done;
	}
	if (walk_entity(&w, raw, len, 0, 0, &text, &html) == -1)
		goto done;
	if (hdr_get(raw, hn, "From", &fld))
		from_parse(fld.p, fld.len, &from, &disp);
	if (hdr_get(raw, hn, "Subject", &fld))
		mimetext_hdr_decode(&subj, fld.p, fld.len);
	oneline(&subj);
	if (hdr_get(raw, hn, "Message-ID", &fld))
		mimetext_utf8_append(&mid, fld.p, fld.len);
	oneline(&mid);
	if (hdr_get(raw, hn, "Date", &fld))
		m->date = date_parse(fld.p, fld.len);
	eol_normalize(&text);
	eol_normalize(&html);
	if (text.len == 0 && html.len > 0) {
		mimetext_html_to_text(html.p, html.len, &der);
		mimetext_buf_free(&text);
		text = der;
		memset(&der, 0, sizeof(der));
	}
	while (text.len > 0 && (text.p[text.len - 1] == '\n' ||
	    text.p[text.len - 1] == ' ' || text.p[text.len - 1] == '\t'))
		text.len--;
	m->from = mimetext_buf_take(&from, NULL);
	m->from_display = mimetext_buf_take(&disp, NULL);
	m->subject = mimetext_buf_take(&subj, NULL);
	m->message_id = mimetext_buf_take(&mid, NULL);
	m->text = mimetext_buf_take(&text, &m->textlen);
	m->html = mimetext_buf_take(&html, &m->htmllen);
	if (fld.oom || !m->from || !m->from_display || !m->subject ||
	    !m->message_id || !m->text || !m->html) {
		w.err = "out of memory";
		mime_clear(m);
		goto done;
	}
	rc = 0;
done:
	if (rc == -1 && errstr != NULL)
		*errstr = w.err ? w.err : "malformed";
	mimetext_buf_free(&text);
	mimetext_buf_free(&html);
	mimetext_buf_free(&der);
	mimetext_buf_free(&fld);
	mimetext_buf_free(&from);
	mimetext_buf_free(&disp);
	mimetext_buf_free(&subj);
	mimetext_buf_free(&mid);
	return rc;
}

void
mime_clear(struct mime_msg *m)
{
	if (m == NULL)
		return;
	free(m->from);
	free(m->from_display);
	free(m->subject);
	free(m->message_id);
	free(m->text);
	free(m->html);
	memset(m, 0, sizeof(*m));
}
