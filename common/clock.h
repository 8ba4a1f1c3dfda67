/*
 * clock: monotonic milliseconds, for deadlines and timeouts (never for
 * timestamps that are stored or shown).
 */
#ifndef CLOCK_H
#define CLOCK_H

long long	clock_ms(void);

#endif
