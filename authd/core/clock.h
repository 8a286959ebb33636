/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CLOCK_H
#define MAMORI_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* The daemon's only source of wall-clock time, in epoch seconds.  Builds
 * configured with --enable-test-hooks read MAMORI_TEST_CLOCK_FILE when it is
 * set, so tests can move time without sleeping. */
int64_t mamori_clock_now(void);
/* Monotonic milliseconds, for timeouts and measurements. */
int64_t mamori_clock_monotonic_ms(void);
/* Today's local date as YYYY-MM-DD (11 bytes). */
void mamori_clock_today(char buf[11]);
/* Format an epoch time as local "YYYY-MM-DD HH:MM:SS". */
void mamori_clock_format(int64_t t, char *buf, size_t len);

#endif
