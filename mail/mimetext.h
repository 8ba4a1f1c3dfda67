/*
 * mimetext: text decoding for mime.c — a capped string buffer, charset
 * conversion to UTF-8 (iconv, allow-list only), base64, quoted-printable,
 * RFC 2047 encoded words and HTML -> text.  Every output is valid UTF-8.
 */
#ifndef MIMETEXT_H
#define MIMETEXT_H

#include <stddef.h>

#define MIMETEXT_FIELD_MAX	4096	/* cap of one decoded header field */

/* A growable byte string with a cap; allocation failure sets oom. */
struct mimetext_buf {
	char	*p;
	size_t	 len, cap, max;
	int	 oom;
};

/* Empty buffer that never grows past max bytes. */
void	mimetext_buf_init(struct mimetext_buf *, size_t max);
/* Append, silently truncating at the cap. */
void	mimetext_buf_add(struct mimetext_buf *, const void *, size_t);
void	mimetext_buf_addc(struct mimetext_buf *, char);
void	mimetext_buf_free(struct mimetext_buf *);
/* Hand the string over (a cut last UTF-8 sequence dropped); NULL only
 * when out of memory, and then the buffer is freed. */
char	*mimetext_buf_take(struct mimetext_buf *, size_t *lenp);

/* Load every charset converter once (mime_init()).  Thread-safe. */
void	mimetext_init(void);

/* Append bytes that should be UTF-8: invalid bytes become U+FFFD, NULs
 * go. */
void	mimetext_utf8_append(struct mimetext_buf *, const char *, size_t);
/* Convert s[0..n) from a MIME charset label to UTF-8 and append it;
 * unknown labels are read as UTF-8. */
void	mimetext_conv_append(struct mimetext_buf *, const char *label,
	    const char *s, size_t n);

/* Lenient base64: skips anything outside the alphabet. */
void	mimetext_b64_decode(struct mimetext_buf *, const char *, size_t);
/* Quoted-printable (hdr: RFC 2047 "Q", where '_' is a space). */
void	mimetext_qp_decode(struct mimetext_buf *, const char *, size_t,
	    int hdr);
/* 1 when s[0..n) holds only blanks and line breaks. */
int	mimetext_is_blank(const char *s, size_t n);
/* RFC 2047: decode a header value's encoded words into out (UTF-8). */
void	mimetext_hdr_decode(struct mimetext_buf *out, const char *, size_t);

/* HTML without a charset parameter: <meta charset> from its start into
 * cs (unchanged when there is none). */
void	mimetext_meta_charset(const char *, size_t, char *cs, size_t csz);
/* HTML -> readable text appended to b. */
void	mimetext_html_to_text(const char *, size_t, struct mimetext_buf *b);

#endif
