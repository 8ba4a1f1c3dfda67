/*
 * kw: the multilingual word lists behind code extraction (internal to
 * extract/), and a matcher that finds all of them in one pass over
 * folded (lower-cased) UTF-8 text.
 */
#ifndef EXTRACT_KW_H
#define EXTRACT_KW_H

#include <stddef.h>
#include <stdint.h>

enum kw_type {
	KW_CODE = 1,	/* names a code: "code", "验证码", "пароль" */
	KW_ACT,		/* asks to use one: "enter", "log in", "do not share" */
	KW_DECOY,	/* names another number: "order", "card ending" */
	KW_SUPPRESS,	/* a non-secret code: "promo code", "zip code" */
	KW_PROMO	/* marketing: "% off", "sale"; lowers every code */
};

struct kw_hit {
	uint32_t	start, end;	/* byte offsets in the folded text */
	uint8_t		type;
};

/* Find keywords in folded text s[0..n); skip[i] != 0 marks bytes to
 * ignore (URLs).  Writes at most max hits in text order, returns the
 * count.  Code hits inside a KW_SUPPRESS phrase are dropped. */
size_t	kw_scan(const char *s, size_t n, const uint8_t *skip,
	    struct kw_hit *hits, size_t max);

/* Is the folded word w[0..n) a connector that may stand between a
 * keyword and its code ("is", "ist", "是", "입니다")?  With decoy != 0
 * also the words that join a decoy to its number ("ending in"). */
int	kw_connector(const char *w, size_t n, int decoy);

/* Length of a currency sign or word at s (folded), or 0; back != 0
 * tests a word that ends at s + n instead (text before a number). */
size_t	kw_currency_after(const char *s, size_t n);
size_t	kw_currency_before(const char *s, size_t n);

/* Does a unit, street word or date word follow at s (after a number)? */
int	kw_unit_after(const char *s, size_t n);

/* Is the upper-case word w[0..n) common enough to never be a code? */
int	kw_stopword(const char *w, size_t n);

#endif
