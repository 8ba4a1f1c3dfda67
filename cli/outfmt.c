/*
 * Human output helpers for agentid.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/outfmt.h"
#include "common/xmalloc.h"

struct outfmt_table {
	size_t	  ncols;
	size_t	  nrows;	/* including the header row */
	char	**cells;	/* nrows * ncols, owned */
	size_t	 *width;	/* display width per column */
};

const char *
outfmt_clean(const char *s, char *buf, size_t len)
{
	size_t i, j = 0;

	if (len == 0)
		return buf;
	for (i = 0; s[i] != '\0' && j + 1 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	buf[j] = '\0';
	return buf;
}

/* Display width of UTF-8 text, counting code points (good enough for
 * aligning names, addresses and dates). */
static size_t
utf8_width(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static void
table_row(struct outfmt_table *t, const char *const *cells)
{
	size_t c;

	t->cells = xreallocarray(t->cells, (t->nrows + 1) * t->ncols,
	    sizeof(char *));
	for (c = 0; c < t->ncols; c++) {
		const char *s = cells[c] ? cells[c] : "-";
		char *copy = xstrdup(s);
		size_t w;

		outfmt_clean(s, copy, strlen(s) + 1);
		t->cells[t->nrows * t->ncols + c] = copy;
		w = utf8_width(copy);
		if (w > t->width[c])
			t->width[c] = w;
	}
	t->nrows++;
}

struct outfmt_table *
outfmt_table_new(size_t ncols, const char *const *headers)
{
	struct outfmt_table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	t->width = xcalloc(ncols, sizeof(size_t));
	table_row(t, headers);
	return t;
}

void
outfmt_table_add(struct outfmt_table *t, const char *const *cells)
{
	table_row(t, cells);
}

void
outfmt_table_print(const struct outfmt_table *t, FILE *fp)
{
	size_t r, c;

	for (r = 0; r < t->nrows; r++) {
		for (c = 0; c < t->ncols; c++) {
			const char *s = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols) {
				fprintf(fp, "%s\n", s);
				break;
			}
			fprintf(fp, "%s%*s", s,
			    (int)(t->width[c] - utf8_width(s) + 2), "");
		}
	}
}

void
outfmt_table_free(struct outfmt_table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->width);
	free(t);
}

const char *
outfmt_value(const json_t *v, char *buf, size_t len)
{
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		outfmt_clean(json_string_value(v), buf, len);
		break;
	case JSON_INTEGER:
		snprintf(buf, len, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(buf, len, "yes");
		break;
	case JSON_FALSE:
		snprintf(buf, len, "no");
		break;
	case JSON_ARRAY:
		snprintf(buf, len, "%zu items", json_array_size(v));
		break;
	case JSON_OBJECT:
		snprintf(buf, len, "{...}");
		break;
	default:
		snprintf(buf, len, "-");
		break;
	}
	return buf;
}

const char *
outfmt_time(const json_t *v, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return outfmt_value(v, buf, len);
	t = (time_t)json_integer_value(v);
	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		return outfmt_value(v, buf, len);
	return buf;
}

void
outfmt_kv(FILE *fp, int width, const char *key, const char *value)
{
	char clean[1024];

	fprintf(fp, "%-*s %s\n", width, key,
	    outfmt_clean(value ? value : "-", clean, sizeof(clean)));
}

void
outfmt_json(const json_t *o)
{
	size_t flags = JSON_REAL_PRECISION(6);
	char *s;

	flags |= isatty(STDOUT_FILENO) ? JSON_INDENT(2) : JSON_COMPACT;
	s = json_dumps(o, flags);
	if (s == NULL)
		return;
	printf("%s\n", s);
	/* A wait --json answer holds the secret value. */
	explicit_bzero(s, strlen(s));
	free(s);
}
