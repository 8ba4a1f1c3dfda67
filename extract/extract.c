/*
 * extract: one-time codes from SMS and mail text.  Each message is
 * normalised (full-width and Arabic/Persian/Devanagari digits to ASCII,
 * invisible characters dropped), keywords are found in one pass, and
 * every number-like token is scored by what stands around it: code
 * words close before or after raise it, decoy words (order, card
 * ending, amount, phone) and shapes (dates, URLs, currency) sink it.
 * Only tokens above a fixed threshold are reported.
 */
#include <libpsl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "extract/extract.h"
#include "extract/html.h"
#include "extract/kw.h"
#include "extract/links.h"
#include "extract/seg.h"

#define CAND_MAX	64
#define THRESHOLD	5.0
#define WEBOTP_SCORE	20.0
#define SCORE_MAX	3000	/* tokens scored per message */

enum tok { T_DIGITS, T_GROUPED, T_PREFIXED, T_MIXED, T_LETTERS };

struct cand {
	char		 value[EXTRACT_CODE_MAX];
	char		 raw[EXTRACT_RAW_MAX];
	double		 score;
	const char	*rule;
	int		 count;
	int		 webotp;
	size_t		 order;		/* position in the message */
};

struct work {
	struct cand	 c[CAND_MAX];
	size_t		 nc;
	size_t		 norder;	/* candidates ever added */
	size_t		 scored;
	int		 rescan;	/* reading the HTML after the text */
	char		 origin[EXTRACT_ORIGIN_MAX];
	char		 otp[EXTRACT_CODE_MAX];
};

/*
 * Score the token at [a,b) of kind k.  Returns the score and sets *rule
 * to the feature that counted most.
 */
static double
score(const struct seg *s, size_t a, size_t b, enum tok k, size_t digits,
    const char **rule)
{
	double sc, kwb = 0, kwa = 0, kw;
	double decoy = 0;
	size_t j, dnear_b = SIZE_MAX, cnear_b = SIZE_MAX;
	size_t dnear_a = SIZE_MAX, cnear_a = SIZE_MAX;
	int adj_b = 0, adj_a = 0, dadj_b = 0;
	const char *rb = NULL, *ra = NULL;

	switch (k) {
	case T_DIGITS:
	case T_PREFIXED:
		sc = digits == 6 ? 3.0 : digits == 5 ? 2.3 : digits == 4 ?
		    2.0 : digits == 8 ? 2.2 : digits == 7 ? 2.0 :
		    digits == 9 ? 1.0 : 0.8;
		if (k == T_PREFIXED)
			sc += 1.5;
		break;
	case T_GROUPED:
		sc = digits == 6 ? 3.0 : digits == 8 ? 1.8 : 1.2;
		break;
	case T_MIXED:
		sc = 1.2;
		break;
	default:
		sc = -0.5;
		break;
	}

	/* Hits are in text order: jump to the first that can matter. */
	{
		size_t lo = 0, hi = s->nhits, from = a > 520 ? a - 520 : 0;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (s->hits[mid].start < from)
				lo = mid + 1;
			else
				hi = mid;
		}
		j = lo;
	}
	for (; j < s->nhits && s->hits[j].start <= b + 180; j++) {
		const struct kw_hit *h = &s->hits[j];

		if (h->end <= a && a - h->end <= 450) {
			size_t d = chars(s->nb, h->end, a);
			int adj = gap_adjacent(s, h->end, a,
			    (h->type == KW_DECOY || h->type == KW_SUPPRESS) ?
			    GAP_DECOY : 0);
			int dig = has_number(s->nb, h->end, a);
			double v = 0;

			if (d > 150)
				continue;
			if (h->type == KW_CODE)
				v = adj ? 5 : d <= 40 ? 3 : d <= 80 ? 2 : 1.2;
			else if (h->type == KW_ACT)
				v = adj ? 3.5 : d <= 40 ? 2 : d <= 80 ? 1.2 :
				    0.7;
			if (v > kwb) {
				kwb = v;
				adj_b = adj;
				rb = h->type == KW_CODE ? (adj ?
				    "keyword_adjacent" : "keyword_before") :
				    (adj ? "action_adjacent" : "action_before");
			}
			if (dig)
				continue;
			if ((h->type == KW_DECOY || h->type == KW_SUPPRESS) &&
			    d <= 30 && d < dnear_b) {
				dnear_b = d;
				dadj_b = adj;
			}
			if ((h->type == KW_CODE || h->type == KW_ACT) &&
			    d < cnear_b)
				cnear_b = d;
		} else if (h->start >= b && h->start - b <= 180) {
			size_t d = chars(s->nb, b, h->start);
			int adj, dig = has_number(s->nb, b, h->start);
			double v = 0;

			if (dig || d > 60)
				continue;
			adj = gap_adjacent(s, b, h->start, GAP_AFTER);
			if (h->type == KW_CODE)
				v = adj ? 4.5 : d <= 30 ? 3 : 1.5;
			else if (h->type == KW_ACT)
				v = adj ? 3 : d <= 30 ? 2 : 1;
			if (v > kwa) {
				kwa = v;
				adj_a = adj;
				ra = "keyword_after";
			}
			if ((h->type == KW_DECOY || h->type == KW_SUPPRESS) &&
			    d <= 20 && d < dnear_a)
				dnear_a = d;
			if ((h->type == KW_CODE || h->type == KW_ACT) &&
			    d < cnear_a)
				cnear_a = d;
		}
	}
	/* "order 12345", "card ending 4821": right before, it rules;
	 * a few words off ("to your account at Noon: 1234") it only
	 * weighs. */
	if (dnear_b != SIZE_MAX && dnear_b < cnear_b)
		decoy -= (adj_a && kwa >= 4.5) ? 2 : dadj_b ? 7 : 3;
	/* "12345 is your order number": only a nearer code word saves it. */
	if (dnear_a != SIZE_MAX && dnear_a < cnear_a && !adj_b)
		decoy -= 4;
	kw = kwb > kwa ? kwb + 0.3 * kwa : kwa + 0.3 * kwb;
	*rule = kwb >= kwa ? rb : ra;
	if (*rule == NULL)
		*rule = "context";
	sc += kw + decoy;

	if (s->ncode > 0)
		sc += 1;
	else if (s->nact > 0)
		sc += 0.4;
	if ((s->ncode > 0 || s->nact > 0) && assigned(s, a))
		sc += 1;
	if (alone_on_line(s, a, b))
		sc += (s->ncode > 0) ? 1.5 : 0.5;
	/* Marketing: "SAVE20" is a promo code; an all-digit one-time code
	 * in a promotion ("use OTP 482913 to claim 50% off") still is one. */
	if (s->npromo > 0)
		sc -= (k == T_MIXED || k == T_LETTERS) ? 5 : 2;
	/* "[Acme] 482913": a very short SMS holding one number and no
	 * words to explain it is a code. */
	if (s->sms && s->nnum == 1 && (k == T_DIGITS || k == T_GROUPED ||
	    k == T_PREFIXED) && digits >= 4 && digits <= 8 &&
	    chars(s->nb, 0, s->n) <= 40)
		sc += 2.5;

	if (k == T_DIGITS || k == T_GROUPED || k == T_PREFIXED) {
		if (currency_near(s, a, b))
			sc -= 10;
		if (unit_after(s, b))
			sc -= 6;
		if (address_after(s, b) || zip_before(s, a, b) ||
		    postcode(s, a, b))
			sc -= 6;
	}
	if (masked_before(s, a))
		sc -= 8;
	if (a > 0 && s->nb[a - 1] == '#')
		sc -= 3;
	if (k == T_DIGITS && digits == 4) {
		long y = (s->nb[a] - '0') * 1000 + (s->nb[a + 1] - '0') * 100 +
		    (s->nb[a + 2] - '0') * 10 + (s->nb[a + 3] - '0');

		/* A year is a code only when it is plainly given as one
		 * ("code: 2024", "code is 2024"). */
		if (y >= 1950 && y <= 2099 && !(adj_b && kwb >= 5 &&
		    assigned(s, a)))
			sc -= 2.5;
	}
	/* A word in capitals is a code only right after "code:". */
	if (k == T_LETTERS && !(adj_b && kwb >= 5))
		sc -= 10;
	if (k == T_PREFIXED && *rule != NULL && strcmp(*rule, "context") == 0)
		*rule = "prefixed";
	if (adj_a && kwa >= kwb && kwa >= 4.5)
		*rule = "keyword_after";
	return sc;
}

static void
add_cand(struct work *w, const struct seg *s, const char *val,
    size_t ra, size_t rb, double sc, const char *rule)
{
	size_t j, rl;
	struct cand *c;

	for (j = 0; j < w->nc; j++)
		if (strcmp(w->c[j].value, val) == 0) {
			c = &w->c[j];
			/* The HTML read again is the same text: no bonus. */
			if (!w->rescan)
				c->count++;
			if (sc > c->score) {
				c->score = sc;
				c->rule = rule;
			}
			return;
		}
	if (w->nc >= CAND_MAX) {
		/* Full (a long mail): the weakest makes room. */
		size_t low = 0;

		for (j = 1; j < w->nc; j++)
			if (w->c[j].score < w->c[low].score)
				low = j;
		if (w->c[low].score >= sc || w->c[low].webotp)
			return;
		c = &w->c[low];
	} else
		c = &w->c[w->nc++];
	memset(c, 0, sizeof(*c));
	{
		size_t l = strlen(val);

		if (l >= sizeof(c->value))
			l = sizeof(c->value) - 1;
		memcpy(c->value, val, l);
		c->value[l] = '\0';
	}
	/* Raw form from the source, cut at a character boundary. */
	ra = s->map[ra];
	rb = s->map[rb];
	rl = rb > ra ? rb - ra : 0;
	if (rl >= sizeof(c->raw)) {
		rl = sizeof(c->raw) - 1;
		while (rl > 0 && ((unsigned char)s->src[ra + rl] & 0xc0) ==
		    0x80)
			rl--;
	}
	memcpy(c->raw, s->src + ra, rl);
	c->raw[rl] = '\0';
	c->score = sc;
	c->rule = rule;
	c->count = 1;
	c->order = w->norder++;
}

/* Copy the digits of nb[a..b) (dropping separators) into v. */
static size_t
digits_of(const char *nb, size_t a, size_t b, char *v, size_t cap)
{
	size_t o = 0;

	for (; a < b && o + 1 < cap; a++)
		if (isdig((unsigned char)nb[a]))
			v[o++] = nb[a];
	v[o] = '\0';
	return o;
}

/* Part of a larger number: "12.50", "1,234", "10:30", "12/05". */
static int
compound(const struct seg *s, size_t a, size_t b)
{
	const char *p = s->nb;

	if (a >= 2 && strchr(".,:/", p[a - 1]) != NULL &&
	    isdig((unsigned char)p[a - 2]))
		return 1;
	if (b + 1 < s->n && strchr(".,:/", p[b]) != NULL &&
	    isdig((unsigned char)p[b + 1]))
		return 1;
	return 0;
}

/* International or bracketed phone prefix just before a. */
static int
phone_before(const struct seg *s, size_t a)
{
	size_t i = a;

	if (i > 0 && s->nb[i - 1] == ' ')
		i--;
	if (i > 0 && s->nb[i - 1] == '+')
		return 1;
	if (i > 1 && s->nb[i - 1] == ')' && isdig((unsigned char)
	    s->nb[i - 2]))
		return 1;
	return 0;
}

static void
consider(struct work *w, const struct seg *s, const char *val, size_t a,
    size_t b, size_t ra, size_t rb, enum tok k, size_t nd, double extra)
{
	const char *rule;
	double sc;

	/* No real message has thousands of number-like tokens; past that
	 * the rest is not looked at, which keeps huge input cheap. */
	if (++w->scored > SCORE_MAX)
		return;
	sc = score(s, a, b, k, nd, &rule) + extra;

	if (k == T_GROUPED && strcmp(rule, "context") == 0)
		rule = "grouped";
	add_cand(w, s, val, ra, rb, sc, rule);
}

/* Four to eight lone digits split by blanks: returns where they end
 * (their digits in v), or a when the shape does not fit. */
static size_t
single_digits(const struct seg *s, size_t a, char *v, size_t cap)
{
	size_t i = a, n = 0, end = a;

	while (i < s->n && isdig((unsigned char)s->nb[i]) && !s->skip[i] &&
	    (i + 1 >= s->n || !isaln((unsigned char)s->nb[i + 1]))) {
		size_t k = i + 1, gap = 0;

		if (n + 1 >= cap || n >= 8)
			return a;
		v[n++] = s->nb[i];
		end = i + 1;
		while (k < s->n && (s->nb[k] == ' ' || s->nb[k] == '\n') &&
		    gap < 3)
			k++, gap++;
		if (gap == 0)
			break;
		i = k;
	}
	v[n] = '\0';
	if (n < 4 || (end < s->n && isaln((unsigned char)s->nb[end])))
		return a;
	return end;
}

/* A digit run at [a,b), possibly the first of a chain of groups split
 * by single spaces or hyphens.  Returns where scanning continues. */
static size_t
digit_run(struct work *w, const struct seg *s, size_t a, size_t b)
{
	size_t ga[6], gb[6], ng = 1, e = b, j, nd;
	char v[EXTRACT_CODE_MAX];
	size_t pa = a;
	int prefixed = 0;

	/* "4 8 2 9 1 3", or one digit per table cell in HTML mail. */
	if (b - a == 1) {
		size_t f = single_digits(s, a, v, sizeof(v));

		if (f > b) {
			consider(w, s, v, a, f, a, f, T_GROUPED, strlen(v),
			    -0.5);
			return f;
		}
	}
	ga[0] = a;
	gb[0] = b;
	while (ng < 6 && e + 1 < s->n && (s->nb[e] == ' ' ||
	    s->nb[e] == '-') && isdig((unsigned char)s->nb[e + 1]) &&
	    !s->skip[e + 1]) {
		size_t f = e + 1;

		while (f < s->n && isdig((unsigned char)s->nb[f]))
			f++;
		if (f < s->n && isalph((unsigned char)s->nb[f]))
			break;
		ga[ng] = e + 1;
		gb[ng] = f;
		ng++;
		e = f;
	}
	if (phone_before(s, a) || compound(s, a, e) ||
	    (e < s->n && isalph((unsigned char)s->nb[e])))
		return e;
	if (ng >= 3) {
		/* "66 19 30 27", "123 456 789": even groups split by
		 * spaces are a code laid out for reading; anything else
		 * (dates, phone and card numbers) is not. */
		size_t gl = gb[0] - ga[0];
		int even = ng <= 4 && (gl == 2 || (gl == 3 && ng == 3));

		for (j = 0; even && j < ng; j++)
			if (gb[j] - ga[j] != gl || (j > 0 &&
			    s->nb[ga[j] - 1] != ' '))
				even = 0;
		if (even) {
			nd = digits_of(s->nb, a, e, v, sizeof(v));
			consider(w, s, v, a, e, a, e, T_GROUPED, nd, -1);
		}
		return e;
	}
	/* "G-123456", "FB-12345": a short capital prefix and a hyphen. */
	if (ng == 1 && a >= 2 && s->nb[a - 1] == '-') {
		size_t p = a - 1;

		while (p > 0 && s->nb[p - 1] >= 'A' && s->nb[p - 1] <= 'Z')
			p--;
		if (a - 1 - p >= 1 && a - 1 - p <= 4 &&
		    (p == 0 || !isaln((unsigned char)s->nb[p - 1]))) {
			prefixed = 1;
			pa = p;
		}
	}
	if (ng == 2) {
		size_t l0 = gb[0] - ga[0], l1 = gb[1] - ga[1];

		if (l0 >= 3 && l0 <= 4 && l1 >= 3 && l1 <= 4) {
			nd = digits_of(s->nb, a, e, v, sizeof(v));
			consider(w, s, v, a, e, a, e, T_GROUPED, nd, 0);
			return e;
		}
		/* Two unrelated numbers, or a ZIP+4: judge each alone,
		 * with less trust. */
		for (j = 0; j < 2; j++) {
			nd = gb[j] - ga[j];
			if (nd < 4 || nd > 10 || (l0 == 5 && l1 == 4))
				continue;
			digits_of(s->nb, ga[j], gb[j], v, sizeof(v));
			consider(w, s, v, ga[j], gb[j], ga[j], gb[j],
			    T_DIGITS, nd, -3);
		}
		return e;
	}
	nd = b - a;
	if (nd < 4 || nd > 10)
		return e;
	digits_of(s->nb, a, b, v, sizeof(v));
	consider(w, s, v, prefixed ? pa : a, b, prefixed ? pa : a, b,
	    prefixed ? T_PREFIXED : T_DIGITS, nd, 0);
	return e;
}

/* Letters with digits ("F7K2M", "AB12CD") or capitals alone ("QWERT"). */
static void
alnum_run(struct work *w, const struct seg *s, size_t a, size_t b)
{
	size_t i, nd = 0, nu = 0, nl = 0, len = b - a, lead = 0;
	char v[EXTRACT_CODE_MAX];

	if (len < 4 || len > 10)
		return;
	for (i = a; i < b; i++) {
		unsigned char c = (unsigned char)s->nb[i];

		if (isdig(c))
			nd++;
		else if (c >= 'A' && c <= 'Z')
			nu++;
		else
			nl++;
	}
	/* Capitals glued to a word of another script ("ПинKOD") are no
	 * token; after punctuation ("验证码：QWERT") they are. */
	if (nd == 0 && a > 0 && (unsigned char)s->nb[a - 1] >= 0x80) {
		size_t p = a - 1;

		while (p > 0 && ((unsigned char)s->nb[p] & 0xc0) == 0x80)
			p--;
		if (upunct(s->nb + p, a - p) == 0)
			return;
	}
	for (i = a; i < b && isdig((unsigned char)s->nb[i]); i++)
		lead++;
	if (nd == 0) {
		if (nl > 0 || len > 8 || kw_stopword(s->nb + a, len))
			return;
		memcpy(v, s->nb + a, len);
		v[len] = '\0';
		consider(w, s, v, a, b, a, b, T_LETTERS, 0, 0);
		return;
	}
	/* "10min", "24th", "5GB": a number with a unit glued on. */
	if (lead == nd && b - a - lead <= 3)
		return;
	/* "x1234", "XX1234": a masked account number. */
	for (i = a; i < b && (s->nb[i] == 'x' || s->nb[i] == 'X'); i++)
		;
	if (i > a && i + nd == b)
		return;
	/* Lower-case words with a digit or two are names, not codes. */
	if (nl > 0 && (nd < 2 || nl + nu < 2))
		return;
	if (nl > 0 && nu == 0 && nd < 3)
		return;
	memcpy(v, s->nb + a, len);
	v[len] = '\0';
	consider(w, s, v, a, b, a, b, T_MIXED, nd, nl > 0 ? -1 : 0);
}

static int
upper_alnum(const char *p, size_t a, size_t b)
{
	for (; a < b; a++)
		if (!(isdig((unsigned char)p[a]) || (p[a] >= 'A' &&
		    p[a] <= 'Z')))
			return 0;
	return 1;
}

/*
 * "AB12-CD34", "X7K-2QP": two or three groups of capitals and digits
 * joined by hyphens read as one code.  Returns the end of the groups,
 * or a (nothing taken) when the shape does not fit.
 */
static size_t
alnum_groups(struct work *w, const struct seg *s, size_t a, size_t b)
{
	size_t ga = a, gb = b, ng = 1, gl = b - a, nd, o = 0, j;
	char v[EXTRACT_CODE_MAX];

	if (gl < 3 || gl > 5 || !upper_alnum(s->nb, a, b))
		return a;
	while (ng < 3 && gb + 1 < s->n && s->nb[gb] == '-') {
		size_t f = gb + 1;

		while (f < s->n && isaln((unsigned char)s->nb[f]) &&
		    !s->skip[f])
			f++;
		if (f - gb - 1 != gl || !upper_alnum(s->nb, gb + 1, f))
			break;
		gb = f;
		ng++;
	}
	if (ng < 2 || (gb < s->n && (isaln((unsigned char)s->nb[gb]) ||
	    s->nb[gb] == '-')))
		return a;
	nd = 0;
	for (j = ga; j < gb; j++) {
		if (s->nb[j] == '-')
			continue;
		if (isdig((unsigned char)s->nb[j]))
			nd++;
		if (o + 1 < sizeof(v))
			v[o++] = s->nb[j];
	}
	v[o] = '\0';
	/* All digits is digit_run's; all letters is too likely a word. */
	if (nd == 0 || nd == o)
		return a;
	consider(w, s, v, ga, gb, ga, gb, T_MIXED, nd, 0.3);
	return gb;
}

static void
seg_codes(struct work *w, const struct seg *s)
{
	size_t i = 0, e;

	while (i < s->n) {
		unsigned char c = (unsigned char)s->nb[i];

		if (s->skip[i] || !isaln(c)) {
			i++;
			continue;
		}
		for (e = i; e < s->n && isaln((unsigned char)s->nb[e]) &&
		    !s->skip[e]; e++)
			;
		if (has_digit(s->nb, i, e) && !isalph((unsigned char)
		    s->nb[i]) && !isalph((unsigned char)s->nb[e - 1])) {
			size_t k;

			for (k = i; k < e && isdig((unsigned char)s->nb[k]);
			    k++)
				;
			if (k == e) {
				i = digit_run(w, s, i, e);
				continue;
			}
		}
		if (e < s->n && s->nb[e] == '-' && (i = alnum_groups(w, s, i,
		    e)) >= e)
			continue;
		alnum_run(w, s, i, e);
		i = e;
	}
}

static int
host_ok(const char *h, size_t n)
{
	size_t i;

	if (n == 0 || n >= EXTRACT_ORIGIN_MAX || h[0] == '.' ||
	    h[n - 1] == '.' || h[0] == '-')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (!(isaln(c) || c == '.' || c == '-'))
			return 0;
		if (c == '.' && (h[i + 1] == '.' || h[i + 1] == '-' ||
		    (i > 0 && h[i - 1] == '-')))
			return 0;
	}
	return 1;
}

/*
 * Origin-bound one-time code (WICG sms-one-time-codes): the last line is
 * "@host #code" or "@host #code @embedded".  Anything else on that line
 * makes it malformed, and then there is no origin.
 */
static int
webotp(const char *t, size_t n, char *origin, size_t olen, char *code,
    size_t clen)
{
	size_t e = n, l, i, hs, he, cs, ce;

	while (e > 0 && (t[e - 1] == '\n' || t[e - 1] == '\r' ||
	    t[e - 1] == ' ' || t[e - 1] == '\t'))
		e--;
	for (l = e; l > 0 && t[l - 1] != '\n'; l--)
		;
	if (l >= e || t[l] != '@')
		return 0;
	hs = l + 1;
	for (i = hs; i < e && t[i] != ' ' && t[i] != '\t'; i++)
		;
	he = i;
	if (!host_ok(t + hs, he - hs) || i + 1 >= e || t[i] != ' ' ||
	    t[i + 1] != '#')
		return 0;
	cs = i + 2;
	for (i = cs; i < e && !isblank_((unsigned char)t[i]) && t[i] != '#';
	    i++)
		;
	ce = i;
	if (ce == cs || ce - cs >= clen)
		return 0;
	if (i < e) {
		size_t es;

		if (t[i] != ' ' || i + 1 >= e || t[i + 1] != '@')
			return 0;
		es = i + 2;
		for (i = es; i < e && !isblank_((unsigned char)t[i]); i++)
			;
		if (i != e || !host_ok(t + es, i - es))
			return 0;
	}
	for (i = 0; i < he - hs && i + 1 < olen; i++)
		origin[i] = (char)(t[hs + i] >= 'A' && t[hs + i] <= 'Z' ?
		    t[hs + i] + 32 : t[hs + i]);
	origin[i] = '\0';
	memcpy(code, t + cs, ce - cs);
	code[ce - cs] = '\0';
	return 1;
}

static int
cand_cmp(const void *x, const void *y)
{
	const struct cand *a = x, *b = y;

	if (a->score != b->score)
		return a->score > b->score ? -1 : 1;
	/* Equal evidence: the one met first (subject, then body). */
	return a->order < b->order ? -1 : a->order > b->order;
}

static double
conf(double sc)
{
	double c = 1.0 / (1.0 + exp(-(sc - THRESHOLD) / 1.5));

	if (c < 0.5)
		c = 0.5;
	return floor(c * 1000 + 0.5) / 1000;
}

/* Codes (and, when asked, the WebOTP line) of one body text. */
static void
scan_body(struct work *w, const char *text, size_t len, int sms, int otp)
{
	struct seg s;

	if (seg_init(&s, text, len, 0) == 0) {
		s.sms = sms;
		seg_scan(&s);
		if (otp && webotp(text, len, w->origin, sizeof(w->origin),
		    w->otp, sizeof(w->otp))) {
			/* The "@host" part is no code. */
			size_t at;

			for (at = s.n; at > 0 && s.nb[at - 1] != '\n'; at--)
				;
			for (; at < s.n; at++)
				if (s.nb[at] == '@')
					while (at < s.n && s.nb[at] != ' ')
						s.skip[at++] = 1;
		}
		seg_codes(w, &s);
	}
	seg_free(&s);
}

static double
best(const struct work *w)
{
	double b = -1e9;
	size_t j;

	for (j = 0; j < w->nc; j++)
		if (w->c[j].score > b)
			b = w->c[j].score;
	return b;
}

int
extract_run(const struct extract_input *in, struct extract_result *res)
{
	struct work *w = NULL;
	struct seg s;
	char *derived = NULL;
	const char *text = in->text;
	size_t textlen = in->text ? in->textlen : 0, j, k;

	memset(res, 0, sizeof(*res));
	memset(&s, 0, sizeof(s));
	if ((w = malloc(sizeof(*w))) == NULL)
		goto done;
	w->nc = 0;
	w->norder = 0;
	w->scored = 0;
	w->rescan = 0;
	w->origin[0] = '\0';
	w->otp[0] = '\0';
	if (textlen > EXTRACT_INPUT_MAX)
		textlen = EXTRACT_INPUT_MAX;
	/* Mail with only HTML: read its text as a person would see it. */
	if (textlen == 0 && in->html != NULL && in->htmllen > 0) {
		size_t hl = in->htmllen > EXTRACT_INPUT_MAX ?
		    EXTRACT_INPUT_MAX : in->htmllen;

		if ((derived = malloc(hl + 1)) == NULL)
			goto done;
		textlen = html_to_text(in->html, hl, derived, hl + 1);
		text = derived;
	}
	if (in->kind == EXTRACT_EMAIL && in->subject != NULL &&
	    in->subjectlen > 0) {
		if (seg_init(&s, in->subject, in->subjectlen, 1) == 0) {
			seg_scan(&s);
			seg_codes(w, &s);
		}
		seg_free(&s);
		memset(&s, 0, sizeof(s));
	}
	if (text != NULL && textlen > 0)
		scan_body(w, text, textlen, in->kind == EXTRACT_SMS, 1);
	/* A text part can be a stub ("view this mail in HTML") while the
	 * code sits only in the HTML: read that too when nothing was found. */
	if (derived == NULL && in->kind == EXTRACT_EMAIL && in->html != NULL &&
	    in->htmllen > 0 && best(w) < THRESHOLD) {
		size_t hl = in->htmllen > EXTRACT_INPUT_MAX ?
		    EXTRACT_INPUT_MAX : in->htmllen;

		if ((derived = malloc(hl + 1)) == NULL)
			goto done;
		hl = html_to_text(in->html, hl, derived, hl + 1);
		w->rescan = 1;
		scan_body(w, derived, hl, 0, 0);
	}
	if (w->otp[0] != '\0') {
		for (j = 0; j < w->nc; j++)
			if (strcmp(w->c[j].value, w->otp) == 0)
				break;
		if (j == w->nc && w->nc < CAND_MAX) {
			memset(&w->c[j], 0, sizeof(w->c[j]));
			w->c[j].order = w->norder++;
			memcpy(w->c[j].value, w->otp, sizeof(w->otp));
			snprintf(w->c[j].raw, sizeof(w->c[j].raw), "#%s",
			    w->otp);
			w->nc++;
		}
		if (j < w->nc) {
			w->c[j].score = WEBOTP_SCORE;
			w->c[j].rule = "webotp";
			w->c[j].webotp = 1;
		}
	}
	for (j = 0; j < w->nc; j++)
		if (w->c[j].count > 1 && !w->c[j].webotp)
			w->c[j].score += 0.7;
	qsort(w->c, w->nc, sizeof(w->c[0]), cand_cmp);
	for (j = 0, k = 0; j < w->nc && k < EXTRACT_MAX_CODES; j++) {
		struct extract_code *c = &res->codes[k];

		if (w->c[j].score < THRESHOLD)
			break;
		memcpy(c->value, w->c[j].value, sizeof(c->value));
		memcpy(c->raw, w->c[j].raw, sizeof(c->raw));
		if (w->c[j].webotp)
			memcpy(c->origin, w->origin, sizeof(c->origin));
		c->confidence = w->c[j].webotp ? 0.99 : conf(w->c[j].score);
		c->rule = w->c[j].rule;
		k++;
	}
	res->ncodes = k;
	links_run(in, res);
done:
	free(derived);
	if (w != NULL) {
		/* Candidates are secrets too; leave nothing behind. */
		memset(w->c, 0, w->nc * sizeof(w->c[0]));
		memset(w->otp, 0, sizeof(w->otp));
		free(w);
	}
	return (int)(res->ncodes + res->nlinks);
}

int
extract_sms(const char *text, size_t len, struct extract_result *res)
{
	struct extract_input in;

	memset(&in, 0, sizeof(in));
	in.kind = EXTRACT_SMS;
	in.text = text;
	in.textlen = text != NULL ? len : 0;
	return extract_run(&in, res);
}

int
extract_domain(const char *url_or_host, char *out, size_t outlen)
{
	char host[EXTRACT_ORIGIN_MAX];
	const char *p = url_or_host, *q, *r;
	size_t i, o = 0;
	int alldig = 1;

	if (outlen > 0)
		out[0] = '\0';
	if (p == NULL || outlen == 0)
		return -1;
	if ((q = strstr(p, "://")) != NULL && (size_t)(q - p) < 16)
		p = q + 3;
	else if (strncmp(p, "//", 2) == 0)
		p += 2;
	/* Host ends at the path, query or fragment; userinfo goes. */
	for (r = p; *r && *r != '/' && *r != '?' && *r != '#' &&
	    *r != '\\'; r++)
		;
	for (q = r; q > p; q--)
		if (q[-1] == '@') {
			p = q;
			break;
		}
	if (*p == '[')
		return -1;			/* IPv6 literal */
	for (i = 0; p + i < r && p[i] != ':'; i++) {
		unsigned char c = (unsigned char)p[i];

		if (o + 1 >= sizeof(host))
			return -1;
		if (!(isaln(c) || c == '-' || c == '.' || c == '_' || c >= 0x80))
			return -1;
		if (!(isdig(c) || c == '.'))
			alldig = 0;
		host[o++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	while (o > 0 && host[o - 1] == '.')
		o--;			/* "example.com." */
	host[o] = '\0';
	if (o == 0 || alldig || host[0] == '.')
		return -1;
	{
		const psl_ctx_t *psl = psl_builtin();
		const char *reg;

		if (psl == NULL)
			return -1;
		reg = psl_registrable_domain(psl, host);
		if (reg == NULL || strlen(reg) >= outlen)
			return -1;
		memcpy(out, reg, strlen(reg) + 1);
	}
	return 0;
}
