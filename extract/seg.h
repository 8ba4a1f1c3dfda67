/*
 * seg: one normalised piece of a message (SMS body, mail subject or
 * text) with its keyword hits, and the context questions the code scorer
 * asks about it.  Internal to extract/; offsets are into nb/lb.
 */
#ifndef EXTRACT_SEG_H
#define EXTRACT_SEG_H

#include <stddef.h>
#include <stdint.h>

#include "extract/kw.h"

#define HIT_MAX		2048	/* keyword hits kept per segment */

struct seg {
	const char	*src;		/* the original bytes */
	size_t		 srclen;
	char		*nb;		/* normalised */
	char		*lb;		/* normalised and folded */
	uint32_t	*map;		/* nb offset -> src offset (n + 1) */
	uint8_t		*skip;		/* inside a URL, address or hash */
	size_t		 n;
	struct kw_hit	*hits;		/* in text order */
	size_t		 nhits, hitmax;
	int		 ncode, nact, npromo;	/* hits by type */
	int		 subject;
	int		 sms;		/* an SMS body */
	int		 nnum;		/* runs of 4+ digits */
};

static inline int
isdig(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline int
isalph(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline int
isaln(unsigned char c)
{
	return isdig(c) || isalph(c);
}

static inline int
isblank_(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Normalise src[0..len) (capped at EXTRACT_INPUT_MAX) into s; -1 when
 * memory runs out.  seg_free() in every case afterwards. */
int	seg_init(struct seg *s, const char *src, size_t len, int subject);
void	seg_free(struct seg *s);

/* Mark URLs, mail addresses and app hashes, then find keywords. */
void	seg_scan(struct seg *s);

/* Length of a Unicode punctuation mark at p, or 0. */
size_t	upunct(const char *p, size_t n);

/* Only punctuation and connector words between a and b?  GAP_DECOY
 * also allows "ending", "in", "at"...; GAP_AFTER (the gap after a code)
 * stops at the end of a sentence. */
#define GAP_DECOY	1
#define GAP_AFTER	2
int	gap_adjacent(const struct seg *s, size_t a, size_t b, int flags);

/* A free-standing number in p[a..b) ("by 4821", not "3DS")? */
int	has_number(const char *p, size_t a, size_t b);

/* Characters (not bytes) in p[a..b); any ASCII digit in p[a..b)? */
size_t	chars(const char *p, size_t a, size_t b);
int	has_digit(const char *p, size_t a, size_t b);

/* Tests on the token at [a,b). */
int	alone_on_line(const struct seg *s, size_t a, size_t b);
int	assigned(const struct seg *s, size_t a);	/* "is", ":" before */
int	masked_before(const struct seg *s, size_t a);	/* "****1234" */
int	currency_near(const struct seg *s, size_t a, size_t b);
int	unit_after(const struct seg *s, size_t b);
int	address_after(const struct seg *s, size_t b);
int	zip_before(const struct seg *s, size_t a, size_t b);
int	postcode(const struct seg *s, size_t a, size_t b);	/* "10179 Berlin" */

#endif
