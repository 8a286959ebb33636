/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_TEST_PAUSE_H
#define MAMORI_TEST_PAUSE_H

/* Under --enable-test-hooks: when the file named by MAMORI_TEST_PAUSE_FILE
 * holds point, the calling thread writes "paused POINT" into it and waits
 * until the file is removed (30 s at most), so that a test changes the
 * store at that point of a request.  Release builds: nothing. */
#ifdef MAMORI_TEST_HOOKS
void mamori_test_pause(const char *point);
#else
static inline void
mamori_test_pause(const char *point)
{
	(void)point;
}
#endif

#endif
