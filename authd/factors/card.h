/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FACTOR_CARD_H
#define MAMORI_FACTOR_CARD_H

/* The IC card factor (PIV, JPKI) through the card helper (card/card.h)
 * and the daemon's own certificate checks (card/cert.h). */

#include "factors/factor.h"

/* The credentials' factor name. */
#define MAMORI_CARD_FACTOR_NAME "card"

extern const struct mamori_factor_ops mamori_factor_card;

#endif
