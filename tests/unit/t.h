/*
 * A tiny table-test harness: T_CHECK prints one PASS or FAIL line per case,
 * which tests/run counts.  t_done() is the exit status.
 */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <string.h>

static int t_failed;

/* cond is evaluated exactly once: it may have side effects. */
#define T_CHECK(cond, ...) do {						\
	int t_c_ = (cond) ? 1 : 0;					\
	printf(t_c_ ? "PASS " : "FAIL ");				\
	if (!t_c_)							\
		t_failed = 1;						\
	printf(__VA_ARGS__);						\
	printf("%s\n", t_c_ ? "" : "  [" #cond "]");			\
	fflush(stdout);							\
} while (0)

#define T_STREQ(a, b, ...) do {						\
	const char *t_a_ = (a), *t_b_ = (b);				\
	int t_ok_ = (t_a_ && t_b_ && strcmp(t_a_, t_b_) == 0) ||	\
	    (!t_a_ && !t_b_);						\
	T_CHECK(t_ok_, __VA_ARGS__);					\
	if (!t_ok_)							\
		printf("    got \"%s\" want \"%s\"\n",			\
		    t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)");	\
} while (0)

static inline int
t_done(void)
{
	return t_failed ? 1 : 0;
}

#endif
