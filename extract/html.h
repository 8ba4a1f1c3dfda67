/*
 * html: the little HTML handling extraction needs: decode character
 * references and reduce markup to readable text.  Internal to extract/;
 * no allocation, no I/O, works on arbitrary (even broken) bytes.
 */
#ifndef EXTRACT_HTML_H
#define EXTRACT_HTML_H

#include <stddef.h>

/* Decode one character reference starting at s[0] == '&'.  On success
 * writes the UTF-8 (at most 4 bytes) to out, sets *outlen and returns the
 * number of input bytes consumed; returns 0 when s does not start a known
 * reference (the caller copies the '&' as is). */
size_t	html_entity(const char *s, size_t n, char out[4], size_t *outlen);

/* Copy s into dst (capacity cap, always NUL-terminated) with references
 * decoded; returns the length written. */
size_t	html_decode(const char *s, size_t n, char *dst, size_t cap);

/* Reduce HTML to text in dst (capacity cap, NUL-terminated): tags go,
 * block elements become line breaks, <style>, <script>, <head> and
 * comments are dropped, references are decoded, runs of blanks shrink.
 * Returns the length written. */
size_t	html_to_text(const char *s, size_t n, char *dst, size_t cap);

/* Lower-case s[0..n) into dst (n bytes, no NUL): ASCII, Latin-1 and
 * Cyrillic capitals, which keep their UTF-8 length when folded. */
void	html_fold(const char *s, size_t n, char *dst);

/* Case-insensitive ASCII prefix test: does s[0..n) start with lit? */
int	html_starts(const char *s, size_t n, const char *lit);

#endif
