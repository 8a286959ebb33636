/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CARD_HELPER_H
#define MAMORI_CARD_HELPER_H

/* mamori-card-helper's card side (helper_card.c): pcsc-lite and the PIV
 * and JPKI profiles.  helper_main.c speaks the protocol of card/card.h
 * with the daemon and calls these.  Each returns NULL on success, or the
 * MAMORI_CARD_E_* name of the failure. */

#include <stddef.h>
#include <stdint.h>

#include <PCSC/winscard.h>

#include "card/card.h"

enum helper_profile { HELPER_NONE, HELPER_PIV, HELPER_JPKI };

#define HELPER_PROFILES_MAX 2

struct helper {
	SCARDCONTEXT ctx;
	int have_ctx;
	enum helper_profile order[HELPER_PROFILES_MAX + 1]; /* HELPER_NONE-terminated */
	/* The card of the last wait. */
	SCARDHANDLE card;
	int connected;
	DWORD proto;
	enum helper_profile profile;
	uint8_t piv_alg; /* MAMORI_PIV_ALG_* */
	char reader[MAMORI_CARD_READER_MAX + 1];
	uint8_t cert[MAMORI_CARD_CERT_MAX];
	size_t cert_len;
	/* The PIN tries read at the wait, kept up to date by every VERIFY: in
	 * one exclusive connection nothing else can change them, so a sign
	 * does not read them again.  tries_known: 0 before the first read. */
	int tries;
	int tries_known;
	/* The sign is over: the card is to be reset (helper_release) once its
	 * reply has gone, so that the daemon does not wait for the reset. */
	int release_pending;
};

/* profiles: "piv, jpki" as in [card] profiles.  -1 when it is not that. */
int helper_set_profiles(struct helper *h, const char *profiles);
/* Connect to pcscd (once). */
const char *helper_context(struct helper *h);
const char *helper_wait(struct helper *h, int timeout_ms, int *tries);
const char *helper_tries(struct helper *h, int *tries);
/* sig holds MAMORI_CARD_SIG_MAX bytes.  *tries is set on wrong_pin.  When
 * the card's work is over (a signature, or a failure other than wrong_pin
 * and locked), h->release_pending is set: the caller answers, then calls
 * helper_release before it reads another request. */
const char *helper_sign(struct helper *h, const char *pin, size_t pin_len,
                        const uint8_t challenge[MAMORI_CARD_CHALLENGE_LEN], uint8_t *sig, size_t *sig_len, int *tries);
/* Disconnect with SCARD_RESET_CARD: no verified PIN stays on the card. */
void helper_release(struct helper *h);
/* --watch: events to out_fd until in_fd reaches EOF.  Returns the exit
 * status. */
int helper_watch(struct helper *h, int in_fd, int out_fd);

#endif
