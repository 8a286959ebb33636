/* SPDX-License-Identifier: BSD-2-Clause */
/* The fuzz targets' invariants: check(CONDITION) says which one failed,
 * and where, before abort() hands the input to libFuzzer as a crash. */
#ifndef MAMORI_FUZZ_CHECK_H
#define MAMORI_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define check(ok) fuzz_check_at((ok), #ok, __FILE__, __LINE__)

static inline void
fuzz_check_at(int ok, const char *what, const char *file, int line)
{
	if (!ok) {
		fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
		abort();
	}
}

#endif
