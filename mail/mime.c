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
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mime.h"

#define OUT_MAX		MIME_MAX_SIZE	/* cap of text and html each */
#define LINE_MAX_FIELD	4096		/* cap of one decoded header field */

/* A growable byte string with a cap; allocation failure sets oom. */
struct sb {
	char	*p;
	size_t	 len, cap, max;
	int	 oom;
};

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

static void	sb_init(struct sb *, size_t);
static void	sb_add(struct sb *, const void *, size_t);
static void	sb_free(struct sb *);
static char	*sb_take(struct sb *, size_t *);
static void	utf8_append(struct sb *, const char *, size_t);
static size_t	find_ci(const char *, size_t, const char *);
static size_t	utf8_seq(const unsigned char *, size_t);
static void	conv_append(struct sb *, const char *, const char *, size_t);
static int	walk_entity(struct walk *, const char *, size_t, int, int,
		    struct sb *, struct sb *);

static void
sb_init(struct sb *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Append, silently truncating at the cap (a text excerpt is still useful). */
static void
sb_add(struct sb *b, const void *d, size_t n)
{
	size_t	 cap;
	char	*np;

	if (b->oom)
		return;
	if (n > b->max - b->len)
		n = b->max - b->len;
	if (n == 0 && b->p != NULL)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_addc(struct sb *b, char c)
{
	sb_add(b, &c, 1);
}

static void
sb_free(struct sb *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Hand the string over (never NULL unless out of memory). */
static char *
sb_take(struct sb *b, size_t *lenp)
{
	char	*p;
	size_t	 k;

	sb_add(b, "", 0);
	if (!b->oom) {
		/* A cap may have cut the last UTF-8 sequence: drop its rest. */
		k = b->len;
		while (k > 0 && b->len - k < 4 &&
		    ((unsigned char)b->p[k - 1] & 0xc0) == 0x80)
			k--;
		if (k > 0 && (unsigned char)b->p[k - 1] >= 0xc0 &&
		    utf8_seq((unsigned char *)b->p + k - 1,
		    b->len - k + 1) == 0)
			b->len = k - 1;
		b->p[b->len] = '\0';
	}
	if (b->oom) {
		sb_free(b);
		return NULL;
	}
	p = b->p;
	if (lenp != NULL)
		*lenp = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Append a code point as UTF-8. */
static void
put_cp(struct sb *b, uint32_t cp)
{
	unsigned char	u[4];
	size_t		n;

	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp == 0)
		cp = 0xfffd;
	if (cp < 0x80) {
		u[0] = cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = 0xc0 | (cp >> 6);
		u[1] = 0x80 | (cp & 0x3f);
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = 0xe0 | (cp >> 12);
		u[1] = 0x80 | ((cp >> 6) & 0x3f);
		u[2] = 0x80 | (cp & 0x3f);
		n = 3;
	} else {
		u[0] = 0xf0 | (cp >> 18);
		u[1] = 0x80 | ((cp >> 12) & 0x3f);
		u[2] = 0x80 | ((cp >> 6) & 0x3f);
		u[3] = 0x80 | (cp & 0x3f);
		n = 4;
	}
	sb_add(b, u, n);
}

/* Length of a valid UTF-8 sequence at s, or 0 when invalid/truncated. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t	cp;
	size_t		len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Append bytes that should be UTF-8: invalid bytes become U+FFFD, NULs go. */
static void
utf8_append(struct sb *b, const char *s, size_t n)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, run = 0, k;

	if (n == 0)
		return;
	while (i < n) {
		if (u[i] != 0 && (k = utf8_seq(u + i, n - i)) > 0) {
			i += k;
			continue;
		}
		sb_add(b, s + run, i - run);
		if (u[i] != 0)
			put_cp(b, 0xfffd);
		run = ++i;
	}
	sb_add(b, s + run, i - run);
}

/*
 * Charsets we decode, as iconv names.  One descriptor per entry stays open
 * for the life of the process so that its gconv module is never unloaded:
 * after mime_init() no conversion needs a file (the sandbox forbids them).
 */
static const char *const conv_names[] = {
	"ISO-8859-1", "ISO-8859-2", "ISO-8859-3", "ISO-8859-4", "ISO-8859-5",
	"ISO-8859-6", "ISO-8859-7", "ISO-8859-8", "ISO-8859-9", "ISO-8859-10",
	"ISO-8859-11", "ISO-8859-13", "ISO-8859-14", "ISO-8859-15",
	"ISO-8859-16", "WINDOWS-1250", "WINDOWS-1251", "WINDOWS-1252",
	"WINDOWS-1253", "WINDOWS-1254", "WINDOWS-1255", "WINDOWS-1256",
	"WINDOWS-1257", "WINDOWS-1258", "KOI8-R", "KOI8-U", "CP932",
	"EUC-JP", "ISO-2022-JP-2", "GB18030", "BIG5", "BIG5-HKSCS", "CP949",
	"UTF-16", "UTF-16LE", "UTF-16BE", "TIS-620", "CP866"
};
#define NCONV	(sizeof(conv_names) / sizeof(conv_names[0]))

static const struct {
	const char	*alias;
	const char	*conv;		/* NULL: read as UTF-8 */
} conv_alias[] = {
	{ "utf-8", NULL }, { "utf8", NULL }, { "us-ascii", NULL },
	{ "ascii", NULL }, { "ansi-x3.4-1968", NULL },
	{ "latin1", "WINDOWS-1252" },
	{ "latin2", "ISO-8859-2" }, { "latin-1", "WINDOWS-1252" },
	{ "l1", "WINDOWS-1252" }, { "koi8-r", "KOI8-R" }, { "koi8r", "KOI8-R" },
	{ "koi8-u", "KOI8-U" }, { "shift-jis", "CP932" },
	{ "sjis", "CP932" }, { "x-sjis", "CP932" },
	{ "cp932", "CP932" }, { "ms932", "CP932" }, { "windows-31j", "CP932" },
	{ "euc-jp", "EUC-JP" }, { "x-euc-jp", "EUC-JP" }, { "eucjp", "EUC-JP" },
	{ "iso-2022-jp", "ISO-2022-JP-2" },
	{ "iso-2022-jp-2", "ISO-2022-JP-2" },
	{ "csiso2022jp", "ISO-2022-JP-2" }, { "gb2312", "GB18030" },
	{ "gbk", "GB18030" }, { "gb18030", "GB18030" }, { "x-gbk", "GB18030" },
	{ "cp936", "GB18030" }, { "euc-cn", "GB18030" }, { "hz-gb-2312", NULL },
	{ "big5", "BIG5" }, { "x-big5", "BIG5" }, { "cp950", "BIG5" },
	{ "big5-tw", "BIG5" }, { "csbig5", "BIG5" }, { "cn-big5", "BIG5" },
	{ "big5-hkscs", "BIG5-HKSCS" }, { "csgb2312", "GB18030" },
	{ "iso-8859-8-i", "ISO-8859-8" }, { "iso-8859-8-e", "ISO-8859-8" },
	{ "iso-8859-6-i", "ISO-8859-6" }, { "csshiftjis", "CP932" },
	{ "euc-kr", "CP949" }, { "ks-c-5601-1987", "CP949" },
	{ "ks-c-5601", "CP949" }, { "eucgb2312-cn", "GB18030" },
	{ "x-euc-cn", "GB18030" }, { "gb2312-80", "GB18030" },
	{ "iso2022-jp", "ISO-2022-JP-2" }, { "euckr", "CP949" },
	{ "cp949", "CP949" }, { "uhc", "CP949" }, { "x-windows-949", "CP949" },
	{ "utf-16", "UTF-16" }, { "utf-16le", "UTF-16LE" },
	{ "utf-16be", "UTF-16BE" }, { "tis-620", "TIS-620" },
	{ "windows-874", "TIS-620" }, { "cp866", "CP866" },
	{ "ibm866", "CP866" }
};

/* volatile: written once, never read, and must not be optimised away. */
static iconv_t volatile	conv_pin[NCONV];
static pthread_once_t	conv_once = PTHREAD_ONCE_INIT;

static void
conv_load(void)
{
	size_t i;

	for (i = 0; i < NCONV; i++)
		conv_pin[i] = iconv_open("UTF-8", conv_names[i]);
}

void
mime_init(void)
{
	pthread_once(&conv_once, conv_load);
}

/* Map a MIME charset label to an iconv name; NULL means "read as UTF-8". */
static const char *
charset_conv(const char *label)
{
	char		 cs[48];
	const char	*p;
	size_t		 i, n = 0;
	long		 num;

	for (p = label; *p != '\0' && n < sizeof(cs) - 1; p++) {
		if (*p == '"' || *p == ' ' || *p == '\t')
			continue;
		cs[n++] = (*p >= 'A' && *p <= 'Z') ? *p + 32 :
		    (*p == '_') ? '-' : *p;
	}
	cs[n] = '\0';
	for (i = 0; i < sizeof(conv_alias) / sizeof(conv_alias[0]); i++)
		if (strcmp(cs, conv_alias[i].alias) == 0)
			return conv_alias[i].conv;
	/* iso-8859-N, iso8859-N, iso_8859-N; windows-125N, cp125N. */
	p = NULL;
	if (strncmp(cs, "iso-8859-", 9) == 0)
		p = cs + 9;
	else if (strncmp(cs, "iso8859-", 8) == 0)
		p = cs + 8;
	if (p != NULL && p[0] >= '1' && p[0] <= '9' && (p[1] == '\0' ||
	    (p[1] >= '0' && p[1] <= '9' && p[2] == '\0'))) {
		num = strtol(p, NULL, 10);
		/* As browsers do: Latin-1 and -5 mail often holds cp125x
		 * punctuation in 0x80-0x9f, which would become C1 controls. */
		if (num == 1 || num == 9)
			return num == 1 ? "WINDOWS-1252" : "WINDOWS-1254";
		if (num >= 1 && num <= 16 && num != 12)
			return conv_names[num <= 11 ? num - 1 : num - 2];
		return NULL;
	}
	p = NULL;
	if (strncmp(cs, "windows-125", 11) == 0)
		p = cs + 11;
	else if (strncmp(cs, "cp125", 5) == 0)
		p = cs + 5;
	else if (strncmp(cs, "x-cp125", 7) == 0)
		p = cs + 7;
	if (p != NULL && p[0] >= '0' && p[0] <= '8' && p[1] == '\0')
		return conv_names[15 + (p[0] - '0')];
	return NULL;
}

/* Convert s[0..n) from charset label to UTF-8 and append it. */
static void
conv_append(struct sb *b, const char *label, const char *s, size_t n)
{
	const char	*name;
	iconv_t		 cd;
	char		 tmp[4096], *in, *cin, *o;
	size_t		 inleft, oleft, r, win, cleft, used;
	int		 last;

	if (n == 0)
		return;
	mime_init();
	if ((name = charset_conv(label)) == NULL ||
	    (cd = iconv_open("UTF-8", name)) == (iconv_t)-1) {
		utf8_append(b, s, n);
		return;
	}
	/*
	 * Feed iconv bounded windows: sanitizer interceptors check the whole
	 * input on each call, which is quadratic when every byte is invalid.
	 */
	in = (char *)(uintptr_t)s;
	inleft = n;
	while (inleft > 0 && !b->oom) {
		win = inleft < 65536 ? inleft : 65536;
		last = (win == inleft);
		cin = in;
		cleft = win;
		o = tmp;
		oleft = sizeof(tmp);
		r = iconv(cd, &cin, &cleft, &o, &oleft);
		used = win - cleft;
		in += used;
		inleft -= used;
		utf8_append(b, tmp, o - tmp);
		if (r != (size_t)-1 || (errno == E2BIG && o != tmp) ||
		    (errno == EINVAL && used > 0 && !last))
			continue;
		/* Invalid (or, at the very end, incomplete) input. */
		put_cp(b, 0xfffd);
		if (errno == EINVAL && last)
			break;
		in++;
		inleft--;
	}
	o = tmp;
	oleft = sizeof(tmp);
	iconv(cd, NULL, NULL, &o, &oleft);
	utf8_append(b, tmp, o - tmp);
	iconv_close(cd);
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Lenient base64: skips anything outside the alphabet. */
static void
b64_decode(struct sb *b, const char *s, size_t n)
{
	uint32_t	acc = 0;
	int		bits = 0, v;
	size_t		i;
	char		c;

	for (i = 0; i < n; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+' || c == '-')
			v = 62;
		else if (c == '/' || c == '_')
			v = 63;
		else
			continue;
		acc = (acc << 6) | v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			sb_addc(b, (char)((acc >> bits) & 0xff));
		}
	}
}

/* Quoted-printable body (hdr: RFC 2047 "Q", where '_' is a space). */
static void
qp_decode(struct sb *b, const char *s, size_t n, int hdr)
{
	size_t	i = 0, j, run = 0;
	int	h1, h2;

	while (i < n) {
		if (s[i] == '_' && hdr) {
			sb_add(b, s + run, i - run);
			sb_addc(b, ' ');
			run = ++i;
			continue;
		}
		if (s[i] != '=') {
			i++;
			continue;
		}
		sb_add(b, s + run, i - run);
		if (i + 2 < n && (h1 = hexval(s[i + 1])) >= 0 &&
		    (h2 = hexval(s[i + 2])) >= 0) {
			sb_addc(b, (char)(h1 * 16 + h2));
			run = i += 3;
			continue;
		}
		/* Soft line break: '=' then optional blanks then EOL. */
		for (j = i + 1; j < n && (s[j] == ' ' || s[j] == '\t'); j++)
			;
		if (j < n && s[j] == '\r')
			j++;
		if (j >= n || s[j] == '\n') {
			run = i = (j < n) ? j + 1 : n;
			continue;
		}
		run = i++;	/* a stray '=' stays literal */
	}
	sb_add(b, s + run, n - run);
}

/*
 * Parse one encoded word "=?cs?E?text?=" at s; returns its length or 0.
 * Lenient on length (senders exceed 75), strict on structure.
 */
static size_t
ew_parse(const char *s, size_t n, char *cs, size_t cssz, char *enc,
    const char **txt, size_t *txtlen)
{
	size_t i = 2, c0, cn;

	if (n < 8 || s[0] != '=' || s[1] != '?')
		return 0;
	for (c0 = i; i < n && s[i] != '?' && s[i] > ' ' && i - c0 < 64; i++)
		;
	if (i >= n || s[i] != '?' || i == c0)
		return 0;
	cn = i - c0;
	if (i + 3 > n || (s[i + 1] != 'B' && s[i + 1] != 'b' &&
	    s[i + 1] != 'Q' && s[i + 1] != 'q') || s[i + 2] != '?')
		return 0;
	*enc = s[i + 1] | 0x20;
	i += 3;
	*txt = s + i;
	/* Bounded, or "=?a?q?" repeated without "?=" goes quadratic. */
	for (; i + 1 < n; i++) {
		if (s[i] == '\r' || s[i] == '\n' ||
		    (size_t)(s + i - *txt) > 2048)
			return 0;
		if (s[i] == '?' && s[i + 1] == '=')
			break;
	}
	if (i + 1 >= n)
		return 0;
	*txtlen = (s + i) - *txt;
	if (cn >= cssz)
		cn = cssz - 1;
	memcpy(cs, s + c0, cn);
	cs[cn] = '\0';
	if (strchr(cs, '*') != NULL)	/* RFC 2231 language suffix */
		*strchr(cs, '*') = '\0';
	return i + 2;
}

static int
all_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
		    s[i] != '\n')
			return 0;
	return 1;
}

/*
 * RFC 2047: decode encoded words, drop blanks between adjacent ones, and
 * join adjacent words of one charset before converting (senders split
 * multibyte characters across words).  Raw 8-bit text is read as UTF-8.
 */
static void
hdr_decode(struct sb *out, const char *s, size_t n)
{
	struct sb	 pend;
	char		 cs[65], pcs[65] = "", enc;
	const char	*txt;
	size_t		 i = 0, run = 0, k, tl;
	int		 prev_ew = 0;

	sb_init(&pend, LINE_MAX_FIELD * 4);
	while (i < n) {
		if (s[i] != '=' || (k = ew_parse(s + i, n - i, cs, sizeof(cs),
		    &enc, &txt, &tl)) == 0) {
			i++;
			continue;
		}
		if (!(prev_ew && all_blank(s + run, i - run)) ||
		    strcasecmp(cs, pcs) != 0) {
			conv_append(out, pcs, pend.p, pend.len);
			pend.len = 0;
			if (!(prev_ew && all_blank(s + run, i - run)))
				utf8_append(out, s + run, i - run);
		}
		memcpy(pcs, cs, sizeof(pcs));
		if (enc == 'b')
			b64_decode(&pend, txt, tl);
		else
			qp_decode(&pend, txt, tl, 1);
		i += k;
		run = i;
		prev_ew = 1;
	}
	conv_append(out, pcs, pend.p, pend.len);
	utf8_append(out, s + run, n - run);
	if (pend.oom)
		out->oom = 1;
	sb_free(&pend);
}

/* Collapse control characters and blank runs to one space; trim. */
static void
oneline(struct sb *b)
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
hdr_get(const char *h, size_t hn, const char *name, struct sb *out)
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
				sb_add(out, h + k + 1, eol - k - 1);
				for (i = next; i < hn && (h[i] == ' ' ||
				    h[i] == '\t'); i = next) {
					next = line_next(h, hn, i, &eol);
					sb_add(out, h + i, eol - i);
				}
				sb_add(out, "", 0);
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

/* HTML without a charset parameter: take <meta charset> from its start. */
static void
meta_charset(const char *s, size_t n, char *cs, size_t csz)
{
	size_t	i, k = 0;

	if (s == NULL)
		return;
	n = n < 4096 ? n : 4096;
	i = find_ci(s, n, "charset=");
	if (i >= n || find_ci(s, i, "<meta") >= i)
		return;
	for (i += 8; i < n && (s[i] == '"' || s[i] == '\''); i++)
		;
	while (i < n && k + 1 < csz && s[i] != '"' && s[i] != '\'' &&
	    s[i] != ' ' && s[i] != ';' && s[i] != '>' && s[i] != '/')
		cs[k++] = s[i++];
	cs[k] = '\0';
}

/*
 * Decode a body by its Content-Transfer-Encoding into out; returns 0 when
 * it is 7bit/8bit/binary and copy is 0 (the caller uses s as it is, so
 * nested identity-encoded forwards cost no memory per level).
 */
static int
cte_decode(const char *h, size_t hn, const char *s, size_t n, struct sb *out,
    struct sb *tmp, int copy)
{
	char	enc[32];
	int	trunc;

	enc[0] = '\0';
	if (hdr_get(h, hn, "Content-Transfer-Encoding", tmp))
		read_value(tmp->p, tmp->len, skip_cfws(tmp->p, tmp->len, 0),
		    enc, sizeof(enc), &trunc, 0);
	if (strcasecmp(enc, "base64") == 0)
		b64_decode(out, s, n);
	else if (strcasecmp(enc, "quoted-printable") == 0)
		qp_decode(out, s, n, 0);
	else if (copy)
		sb_add(out, s, n);
	else
		return 0;
	return 1;
}

/* Append one decoded body to a collector, a blank line between bodies. */
static void
collect(struct sb *dst, const char *charset, const char *s, size_t n)
{
	if (n == 0)
		return;
	if (dst->len > 0)
		sb_add(dst, "\n\n", 2);
	conv_append(dst, charset, s, n);
}

/*
 * Walk the parts of a multipart body.  Delimiters are "--boundary" at a
 * line start followed only by blanks (or "--" for the close delimiter);
 * the line break before a delimiter belongs to it.
 */
static int
walk_multipart(struct walk *w, const char *s, size_t n, const char *bnd,
    int depth, int alt, int digest, struct sb *text, struct sb *html)
{
	struct sb	 tt, th;
	size_t		 bl = strlen(bnd), i = 0, next, eol, k, start = 0;
	size_t		 end;
	int		 inpart = 0, close, got_t = 0, got_h = 0, rc = 0;

	while (i < n && rc == 0) {
		next = line_next(s, n, i, &eol);
		if (eol - i < bl + 2 || s[i] != '-' || s[i + 1] != '-' ||
		    memcmp(s + i + 2, bnd, bl) != 0) {
			i = next;
			continue;
		}
		k = i + 2 + bl;
		close = (eol - k >= 2 && s[k] == '-' && s[k + 1] == '-');
		if (!close && !all_blank(s + k, eol - k)) {
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
				sb_init(&tt, OUT_MAX);
				sb_init(&th, OUT_MAX);
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
				sb_free(&tt);
				sb_free(&th);
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
    struct sb *text, struct sb *html)
{
	struct ctype	 ct;
	struct sb	 tmp, body;
	char		 disp[32];
	size_t		 hn, bo;
	int		 rc = -1, trunc, attach = 0;

	sb_init(&tmp, MIME_MAX_HEADER + 1);
	sb_init(&body, MIME_MAX_SIZE);
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
			meta_charset(body.p, body.len, ct.charset,
			    sizeof(ct.charset));
		collect(strcasecmp(ct.sub, "html") == 0 ? html : text,
		    ct.charset, body.p, body.len);
	}
	if (rc == 0 && (tmp.oom || body.oom || text->oom || html->oom)) {
		w->err = "out of memory";
		rc = -1;
	}
done:
	sb_free(&tmp);
	sb_free(&body);
	return rc;
}

static const struct {
	const char	*name;
	uint32_t	 cp;		/* 0: drop */
} entities[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "nbsp", ' ' }, { "ensp", ' ' }, { "emsp", ' ' },
	{ "thinsp", ' ' }, { "zwnj", 0 }, { "zwj", 0 }, { "shy", 0 },
	{ "copy", 0xa9 }, { "reg", 0xae }, { "trade", 0x2122 },
	{ "hellip", 0x2026 }, { "mdash", 0x2014 }, { "ndash", 0x2013 },
	{ "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201c },
	{ "rdquo", 0x201d }, { "laquo", 0xab }, { "raquo", 0xbb },
	{ "bull", 0x2022 }, { "middot", 0xb7 }, { "euro", 0x20ac },
	{ "pound", 0xa3 }, { "yen", 0xa5 }, { "cent", 0xa2 }, { "sect", 0xa7 },
	{ "deg", 0xb0 }, { "times", 0xd7 }, { "divide", 0xf7 },
	{ "eacute", 0xe9 }, { "egrave", 0xe8 }, { "ecirc", 0xea },
	{ "agrave", 0xe0 }, { "aacute", 0xe1 }, { "acirc", 0xe2 },
	{ "ccedil", 0xe7 }, { "iacute", 0xed }, { "oacute", 0xf3 },
	{ "uacute", 0xfa }, { "ntilde", 0xf1 }, { "auml", 0xe4 },
	{ "ouml", 0xf6 }, { "uuml", 0xfc }, { "szlig", 0xdf },
	{ "Eacute", 0xc9 }, { "Auml", 0xc4 }, { "Ouml", 0xd6 },
	{ "Uuml", 0xdc }, { "rarr", 0x2192 }, { "larr", 0x2190 }
};

/* Decode an entity at s ('&' included); returns its length or 0. */
static size_t
entity_decode(const char *s, size_t n, struct sb *b)
{
	char		name[16];
	uint32_t	cp = 0;
	size_t		i = 1, k = 0, e;
	int		hex = 0, v;

	if (i < n && s[i] == '#') {
		i++;
		if (i < n && (s[i] == 'x' || s[i] == 'X')) {
			hex = 1;
			i++;
		}
		for (k = i; i < n && i - k < 8 &&
		    (v = hex ? hexval(s[i]) : (s[i] >= '0' && s[i] <= '9' ?
		    s[i] - '0' : -1)) >= 0; i++)
			cp = cp * (hex ? 16 : 10) + v;
		if (i == k)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		if (cp == 0xa0)
			cp = ' ';
		if (cp == 0xad || cp == 0x34f || (cp >= 0x200b &&
		    cp <= 0x200d) || cp == 0xfeff || cp == 0x2060)
			return i;		/* invisible padding */
		put_cp(b, cp);
		return i;
	}
	for (; i < n && k + 1 < sizeof(name) && ((s[i] >= 'a' && s[i] <= 'z') ||
	    (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9'));
	    i++)
		name[k++] = s[i];
	name[k] = '\0';
	if (k == 0 || i >= n || s[i] != ';')
		return 0;
	for (e = 0; e < sizeof(entities) / sizeof(entities[0]); e++) {
		if (strcmp(name, entities[e].name) != 0)
			continue;
		if (entities[e].cp != 0)
			put_cp(b, entities[e].cp);
		return i + 1;
	}
	return 0;
}

/* Case-insensitive search for needle in s[0..n); returns offset or n. */
static size_t
find_ci(const char *s, size_t n, const char *needle)
{
	size_t	nl = strlen(needle), i;

	for (i = 0; i + nl <= n; i++)
		if (strncasecmp(s + i, needle, nl) == 0)
			return i;
	return n;
}

/* Emit whitespace, collapsing runs; nl asks for a line break. */
static void
ws_emit(struct sb *b, int nl)
{
	size_t nls = 0;

	while (b->len > 0 && b->p[b->len - 1] == ' ')
		b->len--;
	if (b->len == 0)
		return;
	while (nls < b->len && b->p[b->len - 1 - nls] == '\n')
		nls++;
	if (!nl) {
		if (nls == 0)
			sb_addc(b, ' ');
	} else if (nls < 2)
		sb_addc(b, '\n');
}

static int
is_block(const char *t)
{
	static const char *const blocks[] = { "br", "p", "div", "tr", "li",
	    "h1", "h2", "h3", "h4", "h5", "h6", "table", "hr", "ul", "ol",
	    "blockquote", "center", "section", "header", "footer", "pre",
	    "title", "dt", "dd", "article" };
	size_t i;

	for (i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
		if (strcmp(t, blocks[i]) == 0)
			return 1;
	return 0;
}

/*
 * HTML -> readable text: tags out (blocks become line breaks, cells
 * spaces), script/style/head/comments dropped, entities decoded, blanks
 * collapsed.  Linear: an unclosed <script> swallows the rest.
 */
static void
html_to_text(const char *h, size_t n, struct sb *b)
{
	char	tag[16], close[20];
	size_t	i = 0, j, k, t, run = 0;
	int	closing;

	while (i < n && !b->oom) {
		unsigned char c = h[i];

		if (c != '<' && c != '&' && c != ' ' && c != '\t' &&
		    c != '\r' && c != '\n') {
			i++;
			continue;
		}
		utf8_append(b, h + run, i - run);
		run = i;
		if (c == '&') {
			if ((k = entity_decode(h + i, n - i, b)) > 0)
				run = i += k;
			else
				i++;
			continue;
		}
		if (c != '<') {
			ws_emit(b, 0);
			run = ++i;
			continue;
		}
		if (n - i >= 4 && memcmp(h + i, "<!--", 4) == 0) {
			k = find_ci(h + i + 4, n - i - 4, "-->");
			run = i = (i + 4 + k + 3 <= n) ? i + 4 + k + 3 : n;
			continue;
		}
		j = i + 1;
		closing = (j < n && h[j] == '/');
		if (closing)
			j++;
		for (t = 0; j < n && t + 1 < sizeof(tag) &&
		    ((h[j] >= 'a' && h[j] <= 'z') || (h[j] >= 'A' &&
		    h[j] <= 'Z') || (h[j] >= '0' && h[j] <= '9')); j++)
			tag[t++] = (h[j] >= 'A' && h[j] <= 'Z') ? h[j] + 32 :
			    h[j];
		tag[t] = '\0';
		if (t == 0 && !(j < n && h[j] == '!')) {
			i++;		/* a literal '<' */
			continue;
		}
		/* End of the tag, quotes respected. */
		for (k = j; k < n && h[k] != '>'; k++) {
			if (h[k] == '"' || h[k] == '\'') {
				const char *q = memchr(h + k + 1, h[k],
				    n - k - 1);
				k = q ? (size_t)(q - h) : n - 1;
			}
		}
		i = (k < n) ? k + 1 : n;
		run = i;
		if (!closing && (strcmp(tag, "script") == 0 ||
		    strcmp(tag, "style") == 0 || strcmp(tag, "head") == 0 ||
		    strcmp(tag, "noscript") == 0 ||
		    strcmp(tag, "template") == 0)) {
			snprintf(close, sizeof(close), "</%s", tag);
			k = find_ci(h + i, n - i, close);
			i += k;
			if (i < n) {
				const char *gt = memchr(h + i, '>', n - i);
				i = gt ? (size_t)(gt - h) + 1 : n;
			}
			run = i;
			ws_emit(b, 1);
		} else if (is_block(tag))
			ws_emit(b, 1);
		else if (strcmp(tag, "td") == 0 || strcmp(tag, "th") == 0 ||
		    strcmp(tag, "img") == 0)
			ws_emit(b, 0);
	}
	utf8_append(b, h + run, n - run);
	while (b->len > 0 && (b->p[b->len - 1] == ' ' ||
	    b->p[b->len - 1] == '\n'))
		b->len--;
}

/* Unquote a phrase: quoted strings lose quotes and escapes, comments go. */
static void
phrase_clean(const char *s, size_t n, struct sb *b)
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
		sb_addc(b, s[i]);
	}
}

/*
 * First mailbox of a From value: "Name <a@b>", "a@b (Name)", "a@b",
 * groups "G: a@b;".  Fills addr (bare address) and disp (decoded name).
 */
static void
from_parse(const char *s, size_t n, struct sb *addr, struct sb *disp)
{
	struct sb	raw, tmpa;
	size_t		i, lt = n, at = n, colon = n, st, en, c0 = n, c1 = n;
	int		q = 0, depth = 0;

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
	sb_init(&raw, LINE_MAX_FIELD);
	if (lt < n) {
		const char *gt = memchr(s + lt, '>', n - lt);

		en = gt ? (size_t)(gt - s) : n;
		phrase_clean(s + lt + 1, en - lt - 1, addr);
		phrase_clean(s + st, lt - st, &raw);
	} else {
		phrase_clean(s + st, n - st, addr);
		if (c0 < n && c1 <= n && c1 > c0)
			sb_add(&raw, s + c0, c1 - c0);
	}
	/* Raw 8-bit addresses (RFC 6532) must still come out valid UTF-8. */
	sb_init(&tmpa, LINE_MAX_FIELD);
	utf8_append(&tmpa, addr->p ? addr->p : "", addr->len);
	sb_free(addr);
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
	hdr_decode(disp, raw.p ? raw.p : "", raw.len);
	oneline(disp);
	if (raw.oom)
		disp->oom = 1;
	sb_free(&raw);
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
eol_normalize(struct sb *b)
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
	struct walk	w;
	struct sb	text, html, der, fld, from, disp, subj, mid;
	size_t		hn, bo;
	int		rc = -1;

	memset(m, 0, sizeof(*m));
	memset(&w, 0, sizeof(w));
	sb_init(&text, OUT_MAX);
	sb_init(&html, OUT_MAX);
	sb_init(&der, OUT_MAX);
	sb_init(&fld, MIME_MAX_HEADER + 1);
	sb_init(&from, LINE_MAX_FIELD);
	sb_init(&disp, LINE_MAX_FIELD);
	sb_init(&subj, LINE_MAX_FIELD);
	sb_init(&mid, 998);
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
		hdr_decode(&subj, fld.p, fld.len);
	oneline(&subj);
	if (hdr_get(raw, hn, "Message-ID", &fld))
		utf8_append(&mid, fld.p, fld.len);
	oneline(&mid);
	if (hdr_get(raw, hn, "Date", &fld))
		m->date = date_parse(fld.p, fld.len);
	eol_normalize(&text);
	eol_normalize(&html);
	if (text.len == 0 && html.len > 0) {
		html_to_text(html.p, html.len, &der);
		sb_free(&text);
		text = der;
		memset(&der, 0, sizeof(der));
	}
	while (text.len > 0 && (text.p[text.len - 1] == '\n' ||
	    text.p[text.len - 1] == ' ' || text.p[text.len - 1] == '\t'))
		text.len--;
	m->from = sb_take(&from, NULL);
	m->from_display = sb_take(&disp, NULL);
	m->subject = sb_take(&subj, NULL);
	m->message_id = sb_take(&mid, NULL);
	m->text = sb_take(&text, &m->textlen);
	m->html = sb_take(&html, &m->htmllen);
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
	sb_free(&text);
	sb_free(&html);
	sb_free(&der);
	sb_free(&fld);
	sb_free(&from);
	sb_free(&disp);
	sb_free(&subj);
	sb_free(&mid);
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
