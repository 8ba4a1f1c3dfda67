/*
 * html: character references and a tolerant tag stripper.  Mail HTML is
 * often broken (unclosed tags, stray '<'), so everything here is a single
 * forward scan that never backtracks and never reads past n.
 */
#include <stdint.h>
#include <string.h>

#include "extract/html.h"

struct named {
	const char	*name;
	uint32_t	 cp;
};

/* The references that turn up in verification mail; unknown ones stay
 * literal, which is harmless for matching. */
static const struct named named_refs[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' },
	{ "apos", '\'' }, { "nbsp", 0xa0 }, { "shy", 0xad }, { "copy", 0xa9 },
	{ "reg", 0xae }, { "trade", 0x2122 }, { "hellip", 0x2026 },
	{ "mdash", 0x2014 }, { "ndash", 0x2013 }, { "lsquo", 0x2018 },
	{ "rsquo", 0x2019 }, { "ldquo", 0x201c }, { "rdquo", 0x201d },
	{ "bull", 0x2022 }, { "middot", 0xb7 }, { "zwnj", 0x200c },
	{ "zwj", 0x200d }, { "laquo", 0xab }, { "raquo", 0xbb },
	{ "euro", 0x20ac }, { "pound", 0xa3 }, { "yen", 0xa5 },
	{ "cent", 0xa2 }, { "times", 0xd7 }, { "eacute", 0xe9 },
	{ "egrave", 0xe8 }, { "aacute", 0xe1 }, { "agrave", 0xe0 },
	{ "oacute", 0xf3 }, { "uacute", 0xfa }, { "iacute", 0xed },
	{ "ntilde", 0xf1 }, { "ccedil", 0xe7 }, { "uuml", 0xfc },
	{ "ouml", 0xf6 }, { "auml", 0xe4 }, { "szlig", 0xdf },
	{ "ecirc", 0xea }, { "atilde", 0xe3 }, { "otilde", 0xf5 },
	{ "thinsp", 0x2009 }, { "ensp", 0x2002 }, { "emsp", 0x2003 },
	{ "colon", ':' }, { "sol", '/' }, { "quest", '?' }, { "equals", '=' },
	{ "num", '#' }, { "period", '.' }, { "comma", ',' },
};

static size_t
utf8_put(uint32_t cp, char out[4])
{
	if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		cp = 0xfffd;
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

size_t
html_entity(const char *s, size_t n, char out[4], size_t *outlen)
{
	size_t i = 1, j;
	uint32_t cp = 0;

	if (n < 3 || s[0] != '&')
		return 0;
	if (s[1] == '#') {
		int hex = 0, digits = 0;

		i = 2;
		if (i < n && (s[i] == 'x' || s[i] == 'X')) {
			hex = 1;
			i++;
		}
		for (; i < n && digits < 8; i++, digits++) {
			unsigned char c = (unsigned char)s[i];
			uint32_t d;

			if (c >= '0' && c <= '9')
				d = c - '0';
			else if (hex && c >= 'a' && c <= 'f')
				d = c - 'a' + 10;
			else if (hex && c >= 'A' && c <= 'F')
				d = c - 'A' + 10;
			else
				break;
			cp = cp * (hex ? 16 : 10) + d;
		}
		if (digits == 0 || digits >= 8)
			return 0;
		if (i < n && s[i] == ';')
			i++;
		*outlen = utf8_put(cp, out);
		return i;
	}
	for (j = 0; j < sizeof(named_refs) / sizeof(named_refs[0]); j++) {
		size_t l = strlen(named_refs[j].name);

		if (1 + l <= n && memcmp(s + 1, named_refs[j].name, l) == 0) {
			i = 1 + l;
			/* "&amp" without ';' is common in hrefs; accept it
			 * only when no letter follows. */
			if (i < n && s[i] == ';')
				i++;
			else if (i < n && ((s[i] | 0x20) >= 'a' &&
			    (s[i] | 0x20) <= 'z'))
				continue;
			*outlen = utf8_put(named_refs[j].cp, out);
			return i;
		}
	}
	return 0;
}

size_t
html_decode(const char *s, size_t n, char *dst, size_t cap)
{
	size_t i = 0, o = 0;

	if (cap == 0)
		return 0;
	while (i < n && o + 1 < cap) {
		char u[4];
		size_t ul = 0, used = 0;

		if (s[i] == '&')
			used = html_entity(s + i, n - i, u, &ul);
		if (used > 0) {
			if (o + ul >= cap)
				break;
			memcpy(dst + o, u, ul);
			o += ul;
			i += used;
		} else
			dst[o++] = s[i++];
	}
	dst[o] = '\0';
	return o;
}

int
html_starts(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; lit[i] != '\0'; i++) {
		unsigned char c;

		if (i >= n)
			return 0;
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c += 32;
		if (c != (unsigned char)lit[i])
			return 0;
	}
	return 1;
}

/* Index just past the '>' that ends the tag opened at s[0], honouring
 * quoted attribute values; n when the tag never closes. */
static size_t
tag_end(const char *s, size_t n)
{
	size_t i = 1;
	char q = 0;

	for (; i < n; i++) {
		if (q) {
			if (s[i] == q)
				q = 0;
		} else if (s[i] == '"' || s[i] == '\'') {
			/* A quote only opens inside an attribute value. */
			if (i > 0 && s[i - 1] == '=')
				q = s[i];
		} else if (s[i] == '>')
			return i + 1;
	}
	return n;
}

/* Find "</name" case-insensitively from s; returns its index or n. */
static size_t
find_close(const char *s, size_t n, const char *name)
{
	size_t i, l = strlen(name);

	for (i = 0; i + 2 + l <= n; i++)
		if (s[i] == '<' && s[i + 1] == '/' &&
		    html_starts(s + i + 2, n - i - 2, name))
			return i;
	return n;
}

static int
is_block(const char *t, size_t n)
{
	static const char *const blocks[] = {
		"br", "p", "div", "tr", "td", "th", "li", "ul", "ol", "h1",
		"h2", "h3", "h4", "h5", "h6", "table", "hr", "blockquote",
		"center", "section", "article", "header", "footer", "pre",
		"tbody", "thead", "title",
	};
	size_t j, l;

	for (j = 0; j < sizeof(blocks) / sizeof(blocks[0]); j++) {
		l = strlen(blocks[j]);
		if (html_starts(t, n, blocks[j]) && (l == n ||
		    !((t[l] | 0x20) >= 'a' && (t[l] | 0x20) <= 'z') ||
		    (t[l] >= '0' && t[l] <= '9')))
			return 1;
	}
	return 0;
}

static void
emit(char *dst, size_t cap, size_t *o, const char *p, size_t l)
{
	if (*o + l + 1 > cap)
		return;
	memcpy(dst + *o, p, l);
	*o += l;
}

size_t
html_to_text(const char *s, size_t n, char *dst, size_t cap)
{
	size_t i = 0, o = 0;
	int blank = 1;		/* last emitted byte was a blank */

	if (cap == 0)
		return 0;
	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '<') {
			const char *t = s + i + 1;
			size_t tn = n - i - 1, e;
			int closing = 0;

			if (html_starts(t, tn, "!--")) {
				size_t k;

				for (k = i + 4; k + 2 < n; k++)
					if (s[k] == '-' && s[k + 1] == '-' &&
					    s[k + 2] == '>')
						break;
				i = k + 3 < n ? k + 3 : n;
				continue;
			}
			if (tn > 0 && t[0] == '/') {
				closing = 1;
				t++;
				tn--;
			}
			if (tn == 0 || !(((t[0] | 0x20) >= 'a' &&
			    (t[0] | 0x20) <= 'z') || t[0] == '!')) {
				/* A stray '<' is text. */
				goto literal;
			}
			e = tag_end(s + i, n - i);
			if (!closing && (html_starts(t, tn, "style") ||
			    html_starts(t, tn, "script") ||
			    html_starts(t, tn, "head>") ||
			    html_starts(t, tn, "title"))) {
				const char *nm = html_starts(t, tn, "style") ?
				    "style" : html_starts(t, tn, "script") ?
				    "script" : html_starts(t, tn, "title") ?
				    "title" : "head";
				size_t a = i + e;

				i = a + find_close(s + a, n - a, nm);
				i = i < n ? i + tag_end(s + i, n - i) : n;
				continue;
			}
			if (is_block(t, tn)) {
				emit(dst, cap, &o, "\n", 1);
				blank = 1;
			}
			i += e;
			continue;
		}
		if (c == '&') {
			char u[4];
			size_t ul = 0, used = html_entity(s + i, n - i, u, &ul);

			if (used > 0) {
				if (ul == 2 && (unsigned char)u[0] == 0xc2 &&
				    (unsigned char)u[1] == 0xa0) {
					/* nbsp: a plain blank is easier
					 * for everything downstream. */
					u[0] = ' ';
					ul = 1;
				}
				if (!(ul == 1 && u[0] == ' ' && blank))
					emit(dst, cap, &o, u, ul);
				blank = ul == 1 && u[0] == ' ';
				i += used;
				continue;
			}
		}
literal:
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (!blank)
				emit(dst, cap, &o, " ", 1);
			blank = 1;
			i++;
			continue;
		}
		emit(dst, cap, &o, s + i, 1);
		blank = 0;
		i++;
	}
	dst[o] = '\0';
	return o;
}

void
html_fold(const char *s, size_t n, char *dst)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i], d;

		if (c >= 'A' && c <= 'Z') {
			dst[i] = (char)(c + 32);
			continue;
		}
		dst[i] = (char)c;
		if (i + 1 >= n || c < 0xc3 || c > 0xd0)
			continue;
		d = (unsigned char)s[i + 1];
		if (c == 0xc3 && d >= 0x80 && d <= 0x9e && d != 0x97) {
			/* Latin-1 capitals A-grave..Thorn. */
			dst[i + 1] = (char)(d + 0x20);
			i++;
		} else if ((c == 0xc4 || c == 0xc5) && (d & 0xc0) == 0x80) {
			/* Latin Extended-A (Polish, Turkish, Czech...):
			 * capitals sit next to their small letters. */
			unsigned cp = ((c & 0x1fu) << 6) | (d & 0x3fu);

			if (((cp <= 0x137 || (cp >= 0x14a && cp <= 0x177)) &&
			    cp % 2 == 0 && cp != 0x130) ||
			    (cp >= 0x139 && cp <= 0x148 && cp % 2 == 1))
				cp++;
			dst[i] = (char)(0xc0 | (cp >> 6));
			dst[i + 1] = (char)(0x80 | (cp & 0x3f));
			i++;
		} else if (c == 0xd0 && d >= 0x90 && d <= 0x9f) {
			/* Cyrillic A..P -> a..p */
			dst[i + 1] = (char)(d + 0x20);
			i++;
		} else if (c == 0xd0 && d >= 0xa0 && d <= 0xaf) {
			/* Cyrillic R..Ya -> r..ya, one lead byte up */
			dst[i] = (char)0xd1;
			dst[i + 1] = (char)(d - 0x20);
			i++;
		} else if (c == 0xd0 && d >= 0x80 && d <= 0x8f) {
			/* Ie-grave..Dzhe (incl. Ukrainian capitals) */
			dst[i] = (char)0xd1;
			dst[i + 1] = (char)(d + 0x10);
			i++;
		} else {
			dst[i + 1] = (char)d;
			i++;
		}
	}
}
