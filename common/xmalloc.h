/*
 * xmalloc: allocation that never fails visibly; out of memory is fatal.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Copy src into dst of size dstsize, always NUL-terminated; returns
 * strlen(src) so truncation is visible (>= dstsize). */
size_t	 xstrlcpy(char *dst, const char *src, size_t dstsize);

/* Parse a decimal integer in [min,max]; *errstr NULL on success, else
 * "invalid", "too small" or "too large" (strtonum). */
long long xstrtonum(const char *s, long long min, long long max,
	    const char **errstr);

#endif
