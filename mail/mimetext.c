/*
 * mimetext: the text-decoding half of mime (see mimetext.h): a capped
 * string buffer, UTF-8 repair, charset conversion through an iconv
 * allow-list, base64 and quoted-printable, RFC 2047 encoded words and
 * HTML -> text.  Split out of mime.c, which keeps the message structure
 * (headers, Content-Type, multipart walk, From and Date).
 */
#include <errno.h>
#include <iconv.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mail/mimetext.h"

static size_t	find_ci(const char *, size_t, const char *);
static size_t	utf8_seq(const unsigned char *, size_t);

void
mimetext_buf_init(struct mimetext_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

/* Append, silently truncating at the cap (a text excerpt is still useful). */
void
mimetext_buf_add(struct mimetext_buf *b, const void *d, size_t n)
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

void
mimetext_buf_addc(struct mimetext_buf *b, char c)
{
	mimetext_buf_add(b, &c, 1);
}

void
mimetext_buf_free(struct mimetext_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Hand the string over (never NULL unless out of memory). */
char *
mimetext_buf_take(struct mimetext_buf *b, size_t *lenp)
{
	char	*p;
	size_t	 k;

	mimetext_buf_add(b, "", 0);
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
		mimetext_buf_free(b);
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
put_cp(struct mimetext_buf *b, uint32_t cp)
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
	mimetext_buf_add(b, u, n);
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
void
mimetext_utf8_append(struct mimetext_buf *b, const char *s, size_t n)
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
		mimetext_buf_add(b, s + run, i - run);
		if (u[i] != 0)
			put_cp(b, 0xfffd);
		run = ++i;
	}
	mimetext_buf_add(b, s + run, i - run);
}

/*
 * Charsets we decode, as iconv names.  One descriptor per entry stays open
 * for the life of the process so that its gconv module is never unloaded:
 * after mimetext_init() no conversion needs a file (the sandbox forbids them).
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
mimetext_init(void)
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
void
mimetext_conv_append(struct mimetext_buf *b, const char *label, const char *s,
    size_t n)
{
	const char	*name;
	iconv_t		 cd;
	char		 tmp[4096], *in, *cin, *o;
	size_t		 inleft, oleft, r, win, cleft, used;
	int		 last;

	if (n == 0)
		return;
	mimetext_init();
	if ((name = charset_conv(label)) == NULL ||
	    (cd = iconv_open("UTF-8", name)) == (iconv_t)-1) {
		mimetext_utf8_append(b, s, n);
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
		mimetext_utf8_append(b, tmp, o - tmp);
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
	mimetext_utf8_append(b, tmp, o - tmp);
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
void
mimetext_b64_decode(struct mimetext_buf *b, const char *s, size_t n)
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
			mimetext_buf_addc(b, (char)((acc >> bits) & 0xff));
		}
	}
}

/* Quoted-printable body (hdr: RFC 2047 "Q", where '_' is a space). */
void
mimetext_qp_decode(struct mimetext_buf *b, const char *s, size_t n, int hdr)
{
	size_t	i = 0, j, run = 0;
	int	h1, h2;

	while (i < n) {
		if (s[i] == '_' && hdr) {
			mimetext_buf_add(b, s + run, i - run);
			mimetext_buf_addc(b, ' ');
			run = ++i;
			continue;
		}
		if (s[i] != '=') {
			i++;
			continue;
		}
		mimetext_buf_add(b, s + run, i - run);
		if (i + 2 < n && (h1 = hexval(s[i + 1])) >= 0 &&
		    (h2 = hexval(s[i + 2])) >= 0) {
			mimetext_buf_addc(b, (char)(h1 * 16 + h2));
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
	mimetext_buf_add(b, s + run, n - run);
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

int
mimetext_is_blank(const char *s, size_t n)
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
void
mimetext_hdr_decode(struct mimetext_buf *out, const char *s, size_t n)
{
	struct mimetext_buf	 pend;
	char			 cs[65], pcs[65] = "", enc;
	const char		*txt;
	size_t			 i = 0, run = 0, k, tl;
	int			 prev_ew = 0;

	mimetext_buf_init(&pend, MIMETEXT_FIELD_MAX * 4);
	while (i < n) {
		if (s[i] != '=' || (k = ew_parse(s + i, n - i, cs, sizeof(cs),
		    &enc, &txt, &tl)) == 0) {
			i++;
			continue;
		}
		if (!(prev_ew && mimetext_is_blank(s + run, i - run)) ||
		    strcasecmp(cs, pcs) != 0) {
			mimetext_conv_append(out, pcs, pend.p, pend.len);
			pend.len = 0;
			if (!(prev_ew && mimetext_is_blank(s + run, i - run)))
				mimetext_utf8_append(out, s + run, i - run);
		}
		memcpy(pcs, cs, sizeof(pcs));
		if (enc == 'b')
			mimetext_b64_decode(&pend, txt, tl);
		else
			mimetext_qp_decode(&pend, txt, tl, 1);
		i += k;
		run = i;
		prev_ew = 1;
	}
	mimetext_conv_append(out, pcs, pend.p, pend.len);
	mimetext_utf8_append(out, s + run, n - run);
	if (pend.oom)
		out->oom = 1;
	mimetext_buf_free(&pend);
}

/* HTML without a charset parameter: take <meta charset> from its start. */
void
mimetext_meta_charset(const char *s, size_t n, char *cs, size_t csz)
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
entity_decode(const char *s, size_t n, struct mimetext_buf *b)
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
ws_emit(struct mimetext_buf *b, int nl)
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
			mimetext_buf_addc(b, ' ');
	} else if (nls < 2)
		mimetext_buf_addc(b, '\n');
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
void
mimetext_html_to_text(const char *h, size_t n, struct mimetext_buf *b)
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
		mimetext_utf8_append(b, h + run, i - run);
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
	mimetext_utf8_append(b, h + run, n - run);
	while (b->len > 0 && (b->p[b->len - 1] == ' ' ||
	    b->p[b->len - 1] == '\n'))
		b->len--;
}
