/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FACTOR_FINGERPRINT_H
#define MAMORI_FACTOR_FINGERPRINT_H

/* The fingerprint factor (inherence) through fprintd (fprint/fprint.h).
 * Its credentials are administrators' approvals of a person's
 * fingerprint for login (FingerAllow): who approved, and when; the prints
 * themselves stay with fprintd. */

#include "factors/factor.h"

/* The credentials' factor name. */
#define MAMORI_FINGERPRINT_FACTOR_NAME "fingerprint"

extern const struct mamori_factor_ops mamori_factor_fingerprint;

#endif
