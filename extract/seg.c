/*
 * seg: one normalised piece of a message (an SMS body, a mail subject or
 * text) and the questions the code scorer asks about it: what stands
 * between two offsets, is a number masked, priced, dated or part of an
 * address.  Internal to extract/.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "extract/extract.h"
#include "extract/html.h"
#include "extract/kw.h"
#include "extract/seg.h"

/*
 * Normalise src into s->nb.  Returns -1 only when memory runs out.
 * Every output byte records where its source character started, so the
 * raw form of a code can be cut from the original text.
 */
int
seg_init(struct seg *s, const char *src, size_t len, int subject)
{
	size_t i = 0, o = 0;
	const unsigned char *u = (const unsigned char *)src;

	memset(s, 0, sizeof(*s));
	if (len > EXTRACT_INPUT_MAX)
		len = EXTRACT_INPUT_MAX;
	s->src = src;
	s->srclen = len;
	s->subject = subject;
	/* One block: map and hits first for alignment, then the bytes.
	 * Hits scale with the text (a keyword is at least two bytes). */
	{
		size_t nh = len / 2 + 16 < HIT_MAX ? len / 2 + 16 : HIT_MAX;
		char *blk = malloc((len + 1) * sizeof(uint32_t) +
		    nh * sizeof(struct kw_hit) + 3 * (len + 1));

		if (blk == NULL)
			return -1;
		s->map = (uint32_t *)(void *)blk;
		s->hits = (struct kw_hit *)(void *)(blk + (len + 1) *
		    sizeof(uint32_t));
		s->hitmax = nh;
		s->nb = (char *)(s->hits + nh);
		s->lb = s->nb + len + 1;
		s->skip = (uint8_t *)(s->lb + len + 1);
		memset(s->skip, 0, len + 1);
	}
	while (i < len) {
		unsigned char c = u[i];
		unsigned char b1 = i + 1 < len ? u[i + 1] : 0;
		unsigned char b2 = i + 2 < len ? u[i + 2] : 0;
		int out = -1;
		size_t used = 1;

		if (c == 0xef && b1 == 0xbc && b2 >= 0x90 && b2 <= 0x99)
			out = '0' + (b2 - 0x90), used = 3;
		else if (c == 0xef && b1 == 0xbc && b2 >= 0xa1 && b2 <= 0xba)
			out = 'A' + (b2 - 0xa1), used = 3;
		else if (c == 0xef && b1 == 0xbd && b2 >= 0x81 && b2 <= 0x9a)
			out = 'a' + (b2 - 0x81), used = 3;
		else if (c == 0xef && b1 == 0xbc && b2 == 0x8d)
			out = '-', used = 3;		/* full-width hyphen */
		else if (c == 0xd9 && b1 >= 0xa0 && b1 <= 0xa9)
			out = '0' + (b1 - 0xa0), used = 2;
		else if (c == 0xdb && b1 >= 0xb0 && b1 <= 0xb9)
			out = '0' + (b1 - 0xb0), used = 2;
		else if (c == 0xe0 && b1 == 0xa5 && b2 >= 0xa6 && b2 <= 0xaf)
			out = '0' + (b2 - 0xa6), used = 3;
		else if (c == 0xc2 && b1 == 0xa0)
			out = ' ', used = 2;
		else if (c == 0xe3 && b1 == 0x80 && b2 == 0x80)
			out = ' ', used = 3;
		else if (c == 0xe2 && b1 == 0x80 && ((b2 >= 0x80 &&
		    b2 <= 0x8a) || b2 == 0xaf))
			out = ' ', used = 3;
		else if ((c == 0xe2 && b1 == 0x80 && ((b2 >= 0x8b &&
		    b2 <= 0x8f) || (b2 >= 0xaa && b2 <= 0xae))) ||
		    (c == 0xe2 && b1 == 0x81 && b2 >= 0xa6 && b2 <= 0xa9) ||
		    (c == 0xef && b1 == 0xbb && b2 == 0xbf))
			used = 3;			/* invisible: drop */
		else if (c == 0xe2 && b1 == 0x80 && (b2 == 0x90 ||
		    b2 == 0x91))
			out = '-', used = 3;		/* Unicode hyphen */
		else if (c == '\t' || c == '\r' || c == '\f' || c == '\v')
			out = c == '\r' ? '\n' : ' ';
		else if (c == 0)
			out = ' ';
		else
			out = c;
		if (out >= 0) {
			s->map[o] = (uint32_t)i;
			s->nb[o++] = (char)out;
		}
		i += used;
	}
	s->map[o] = (uint32_t)len;
	s->nb[o] = '\0';
	s->n = o;
	html_fold(s->nb, o, s->lb);
	s->lb[o] = '\0';
	return 0;
}

void
seg_free(struct seg *s)
{
	free(s->map);
}

static int
urlch(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"' &&
	    c != '\'' && c != '`';
}

static void
mark(struct seg *s, size_t a, size_t b)
{
	if (b > s->n)
		b = s->n;
	if (a < b)
		memset(s->skip + a, 1, b - a);
}

/* Mark what can hold digits but never a code: URLs, bare domains with
 * paths, mail addresses, and the SMS Retriever app hash at the end. */
static void
mark_skips(struct seg *s)
{
	const char *b = s->lb;
	size_t n = s->n, i, e;

	for (i = 0; i < n; i++) {
		if ((b[i] == 'h' && (html_starts(b + i, n - i, "http://") ||
		    html_starts(b + i, n - i, "https://"))) ||
		    (b[i] == 'w' && html_starts(b + i, n - i, "www.") &&
		    (i == 0 || !isaln((unsigned char)b[i - 1])))) {
			for (e = i; e < n && urlch((unsigned char)b[e]); e++)
				;
			mark(s, i, e);
			i = e;
		} else if (b[i] == '@' && i > 0 &&
		    isaln((unsigned char)b[i - 1])) {
			size_t a = i, dot = 0;

			/* Bounded both ways: "a@a@a@..." stays linear. */
			while (a > 0 && i - a < 128 &&
			    (isaln((unsigned char)b[a - 1]) ||
			    b[a - 1] == '.' || b[a - 1] == '_' ||
			    b[a - 1] == '-' || b[a - 1] == '+' ||
			    b[a - 1] == '%'))
				a--;
			for (e = i + 1; e < n && e - i < 256 &&
			    (isaln((unsigned char)b[e]) ||
			    b[e] == '.' || b[e] == '-'); e++)
				if (b[e] == '.')
					dot = 1;
			if (dot)
				mark(s, a, e);
		} else if (b[i] == '.' && i > 0 && i + 3 < n &&
		    isaln((unsigned char)b[i - 1]) &&
		    b[i + 1] >= 'a' && b[i + 1] <= 'z' &&
		    b[i + 2] >= 'a' && b[i + 2] <= 'z') {
			/* host.tld/path, or host.tld when the host has a
			 * letter: "amzn.to/3xYz", "shop123.com". */
			size_t a = i, t = i + 1;
			int letter = 0;

			while (t < n && b[t] >= 'a' && b[t] <= 'z')
				t++;
			if (t - i - 1 > 6 || (t < n && isaln((unsigned char)
			    b[t])))
				continue;
			while (a > 0 && i - a < 128 &&
			    (isaln((unsigned char)b[a - 1]) ||
			    b[a - 1] == '.' || b[a - 1] == '-'))
				if (isalph((unsigned char)b[--a]))
					letter = 1;
			if (t < n && b[t] == '/') {
				for (e = t; e < n && urlch((unsigned char)b[e]);
				    e++)
					;
				mark(s, a, e);
				i = e;
			} else if (letter && s->nb[i + 1] >= 'a' &&
			    s->nb[i + 1] <= 'z')
				mark(s, a, t);
		}
	}
	/* SMS Retriever: an 11-character hash ends the message. */
	e = n;
	while (e > 0 && isblank_((unsigned char)s->nb[e - 1]))
		e--;
	i = e;
	while (i > 0 && (isaln((unsigned char)s->nb[i - 1]) ||
	    s->nb[i - 1] == '+' || s->nb[i - 1] == '/'))
		i--;
	if (e - i == 11 && (i == 0 || isblank_((unsigned char)s->nb[i - 1])))
		mark(s, i, e);
}

void
seg_scan(struct seg *s)
{
	size_t j, run = 0;

	mark_skips(s);
	for (j = 0; j <= s->n; j++) {
		if (j < s->n && isdig((unsigned char)s->nb[j]) && !s->skip[j])
			run++;
		else {
			if (run >= 4)
				s->nnum++;
			run = 0;
		}
	}
	s->nhits = kw_scan(s->lb, s->n, s->skip, s->hits, s->hitmax);
	for (j = 0; j < s->nhits; j++) {
		if (s->hits[j].type == KW_CODE)
			s->ncode++;
		else if (s->hits[j].type == KW_ACT)
			s->nact++;
		else if (s->hits[j].type == KW_PROMO)
			s->npromo++;
	}
}

/* Length of a UTF-8 punctuation mark at p, or 0. */
#define L(x)	{ x, sizeof(x) - 1 }

struct lit {
	const char	*s;
	size_t		 len;
};

size_t
upunct(const char *p, size_t n)
{
	static const struct lit marks[] = {
		L("："), L("【"), L("】"), L("「"), L("」"), L("『"), L("』"),
		L("（"), L("）"), L("«"), L("»"), L("“"), L("”"), L("‘"),
		L("’"), L("–"), L("—"), L("，"), L("。"), L("、"), L("…"),
		L("·"), L("〔"), L("〕"), L("［"), L("］"), L("《"), L("》"),
		L("〈"), L("〉"), L("！"), L("؟"), L("،"), L("•"), L("→"),
		L("▶"), L("►"), L("："),
	};
	size_t j;

	if (n == 0 || (unsigned char)p[0] < 0xc2)
		return 0;
	for (j = 0; j < sizeof(marks) / sizeof(marks[0]); j++) {
		size_t l = marks[j].len;

		if (l <= n && p[0] == marks[j].s[0] &&
		    memcmp(p, marks[j].s, l) == 0)
			return l;
	}
	return 0;
}

/*
 * Is lb[a..b) only blanks, punctuation and connector words ("is",
 * "是", "입니다"), at most four words?  That is what stands between a
 * keyword and its code in "code: 1234" or "验证码是1234".
 */
int
gap_adjacent(const struct seg *s, size_t a, size_t b, int flags)
{
	const char *p = s->lb;
	size_t i = a, words = 0;

	if (b < a || b - a > 48)
		return 0;
	while (i < b) {
		unsigned char c = (unsigned char)p[i];
		size_t l, w;

		if (isdig(c))
			return 0;
		/* After a code, the sentence must go on: "1234. Please
		 * use the code" speaks of another number. */
		if ((flags & GAP_AFTER) && (c == '.' || c == '!' || c == '?' ||
		    c == '\n' || c == ';'))
			return 0;
		if (c < 0x80 && !isalph(c)) {
			i++;
			continue;
		}
		if ((l = upunct(p + i, b - i)) > 0) {
			if ((flags & GAP_AFTER) && l == 3 &&
			    (memcmp(p + i, "。", 3) == 0 ||
			    memcmp(p + i, "！", 3) == 0))
				return 0;
			i += l;
			continue;
		}
		w = i;
		while (i < b && !isblank_((unsigned char)p[i]) &&
		    !(p[i] == ':' || p[i] == ',' || p[i] == '(' ||
		    p[i] == '[' || p[i] == '"') && upunct(p + i, b - i) == 0)
			i++;
		if (++words > 4 || !kw_connector(p + w, i - w,
		    (flags & GAP_DECOY) != 0))
			return 0;
	}
	return 1;
}

/* A number between a and b: a digit run standing alone or of three
 * digits or more ("by 4821", "XX4521" yes; "3DS", "2FA" no). */
int
has_number(const char *p, size_t a, size_t b)
{
	size_t i = a;

	while (i < b) {
		size_t e = i;

		if (!isdig((unsigned char)p[i])) {
			i++;
			continue;
		}
		while (e < b && isdig((unsigned char)p[e]))
			e++;
		if (e - i >= 3 || !((i > a && isalph((unsigned char)
		    p[i - 1])) || (e < b && isalph((unsigned char)p[e]))))
			return 1;
		i = e;
	}
	return 0;
}

/* Characters, not bytes, between a and b: distances mean the same in
 * Arabic (two bytes a letter) as in English. */
size_t
chars(const char *p, size_t a, size_t b)
{
	size_t n = 0;

	for (; a < b; a++)
		if (((unsigned char)p[a] & 0xc0) != 0x80)
			n++;
	return n;
}

int
has_digit(const char *p, size_t a, size_t b)
{
	for (; a < b; a++)
		if (isdig((unsigned char)p[a]))
			return 1;
	return 0;
}

/* Is the line around [a,b) nothing but this token and punctuation? */
int
alone_on_line(const struct seg *s, size_t a, size_t b)
{
	size_t i;

	for (i = a; i > 0 && s->nb[i - 1] != '\n'; i--)
		if (isaln((unsigned char)s->nb[i - 1]) ||
		    (unsigned char)s->nb[i - 1] >= 0x80)
			return 0;
	for (i = b; i < s->n && s->nb[i] != '\n'; i++)
		if (isaln((unsigned char)s->nb[i]) ||
		    (unsigned char)s->nb[i] >= 0x80)
			return 0;
	return 1;
}

/* Last word before a (skipping blanks and ':'): "is", ":" etc. */
int
assigned(const struct seg *s, size_t a)
{
	static const struct lit verbs[] = {
		L("is"), L("es"), L("ist"), L("est"), L("é"), L("è"),
		L("là"), L("adalah"), L("lautet"), L("wynosi"), L("brzmi"),
		L("hai"), L("是"), L("为"), L("為"), L("は"), L("는"), L("은"),
		L("="), L(":"), L("："), L("is:"), L("code"), L("kod"),
		L("kode"), L("código"), L("codice"), L("код"), L("otp"),
		L("pin"),
	};
	size_t i = a, e, j;

	while (i > 0 && (s->lb[i - 1] == ' ' || s->lb[i - 1] == '\n'))
		i--;
	if (i > 0 && (s->lb[i - 1] == ':' || s->lb[i - 1] == '='))
		return 1;
	if (i >= 3 && memcmp(s->lb + i - 3, "：", 3) == 0)
		return 1;
	e = i;
	for (j = 0; j < sizeof(verbs) / sizeof(verbs[0]); j++) {
		size_t l = verbs[j].len;

		if (l <= e && memcmp(s->lb + e - l, verbs[j].s, l) == 0 &&
		    (l == e || !isalph((unsigned char)s->lb[e - l - 1]) ||
		    !isalph((unsigned char)verbs[j].s[0])))
			return 1;
	}
	return 0;
}

/* A masked card or phone number just before: "****1234", "x1234",
 * "•••• 1234", "***-***-1234". */
int
masked_before(const struct seg *s, size_t a)
{
	size_t i = a, k = 0;

	while (i > 0 && k < 2 && (s->nb[i - 1] == ' ' || s->nb[i - 1] == '-'))
		i--, k++;
	if (i == 0)
		return 0;
	if (s->nb[i - 1] == '*' || s->nb[i - 1] == 'x' || s->nb[i - 1] == 'X' ||
	    s->nb[i - 1] == '#')
		return s->nb[i - 1] == '#' ? (i >= 2 && (s->nb[i - 2] == '#' ||
		    s->nb[i - 2] == '*')) : (i < 2 || !isalph((unsigned char)
		    s->nb[i - 2]) || s->nb[i - 2] == 'x' || s->nb[i - 2] == 'X');
	if (i >= 3 && (memcmp(s->nb + i - 3, "•", 3) == 0 ||
	    memcmp(s->nb + i - 3, "…", 3) == 0 ||
	    memcmp(s->nb + i - 3, "∗", 3) == 0))
		return 1;
	if (i >= 2 && memcmp(s->nb + i - 2, "·", 2) == 0)
		return 1;
	return 0;
}

int
currency_near(const struct seg *s, size_t a, size_t b)
{
	size_t i = a, w;

	if (i > 0 && s->lb[i - 1] == ' ')
		i--;
	w = i > 12 ? 12 : i;
	if (i > 0 && kw_currency_before(s->lb + i - w, w) > 0)
		return 1;
	i = b;
	if (i < s->n && s->lb[i] == ' ')
		i++;
	return i < s->n && kw_currency_after(s->lb + i, s->n - i) > 0;
}

int
unit_after(const struct seg *s, size_t b)
{
	size_t i = b;

	if (i < s->n && s->lb[i] == ' ')
		i++;
	return i < s->n && kw_unit_after(s->lb + i, s->n - i);
}

/* "1600 Amphitheatre Parkway": a capitalised word, then a street word
 * within the next three. */
int
address_after(const struct seg *s, size_t b)
{
	size_t i = b, w;

	if (i >= s->n || s->nb[i] != ' ' || i + 1 >= s->n ||
	    !(s->nb[i + 1] >= 'A' && s->nb[i + 1] <= 'Z'))
		return 0;
	for (w = 0; w < 4 && i < s->n; w++) {
		while (i < s->n && s->nb[i] == ' ')
			i++;
		if (w > 0 && kw_unit_after(s->lb + i, s->n - i) &&
		    isalph((unsigned char)s->lb[i]))
			return 1;
		while (i < s->n && s->nb[i] != ' ' && s->nb[i] != '\n')
			i++;
	}
	return 0;
}

/* "CA 94043", "NY 10118-0110": a US state before five digits. */
int
zip_before(const struct seg *s, size_t a, size_t b)
{
	static const char states[] =
	    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD "
	    "MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA RI SC "
	    "SD TN TX UT VT VA WA WV WI WY DC PR ON BC QC AB ";
	char st[4];

	if (b - a != 5 || a < 3 || s->nb[a - 1] != ' ' ||
	    !(s->nb[a - 3] >= 'A' && s->nb[a - 3] <= 'Z') ||
	    !(s->nb[a - 2] >= 'A' && s->nb[a - 2] <= 'Z') ||
	    (a >= 4 && isaln((unsigned char)s->nb[a - 4])))
		return 0;
	st[0] = s->nb[a - 3];
	st[1] = s->nb[a - 2];
	st[2] = ' ';
	st[3] = '\0';
	return strstr(states, st) != NULL;
}

/* "..., 10179 Berlin", "75002 Paris": a European postcode and town at
 * the end of an address line. */
int
postcode(const struct seg *s, size_t a, size_t b)
{
	size_t i = b + 1;

	if (b - a < 4 || b - a > 5 || a < 2 || b + 2 >= s->n ||
	    s->nb[b] != ' ' || !(s->nb[i] >= 'A' && s->nb[i] <= 'Z'))
		return 0;
	if (!((s->nb[a - 1] == ' ' && s->nb[a - 2] == ',') ||
	    s->nb[a - 1] == '\n' || (s->nb[a - 1] == '-' &&
	    isalph((unsigned char)s->nb[a - 2]))))
		return 0;
	while (i < s->n && (isalph((unsigned char)s->nb[i]) ||
	    (unsigned char)s->nb[i] >= 0x80 || s->nb[i] == '-'))
		i++;
	return i >= s->n || s->nb[i] == '\n' || s->nb[i] == ',' ||
	    s->nb[i] == '.' || s->nb[i] == ' ';
}
