/*
 * Monotonic time for deadlines (see clock.h).
 */
#include <time.h>

#include "common/clock.h"

long long
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
