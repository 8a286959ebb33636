/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FIDO2_HELPER_H
#define MAMORI_FIDO2_HELPER_H

/* mamori-fido2-helper's key side (helper_dev.c): libfido2.  helper_main.c
 * speaks the protocol of fido2/fido2.h with the daemon and calls these.
 * Each returns NULL on success, or the MAMORI_FIDO2_E_* name of the
 * failure. */

#include <stddef.h>

#include <fido.h>

#include "fido2/fido2.h"

struct fido2_helper {
	/* The keys of the last probe, opened. */
	fido_dev_t *dev[MAMORI_FIDO2_KEYS_MAX];
	struct mamori_fido2_key_info info[MAMORI_FIDO2_KEYS_MAX];
	unsigned count;
};

/* What an assert or a make_cred asks (the request's values, decoded). */
struct fido2_helper_req {
	const char *rp_id, *rp_name, *user_name;
	unsigned char cdh[MAMORI_FIDO2_CDH_LEN];
	unsigned char cred[MAMORI_FIDO2_ALLOW_MAX][MAMORI_FIDO2_CRED_ID_MAX];
	size_t cred_len[MAMORI_FIDO2_ALLOW_MAX];
	unsigned ncred;
	unsigned char user_id[64];
	size_t user_id_len;
	int up, uv, rk;
	const char *pin; /* NULL: none */
	int timeout_ms;
};

/* What a key answered; the fido_assert_t or fido_cred_t it came from
 * stays owned here until the next call or fido2_helper_close. */
struct fido2_helper_out {
	unsigned key; /* the index of the key that answered */
	fido_assert_t *assert;
	fido_cred_t *cred;
	int retries; /* wrong_pin: the PIN retries left */
};

const char *fido2_helper_probe(struct fido2_helper *h, int timeout_ms);
const char *fido2_helper_assert(struct fido2_helper *h, const struct fido2_helper_req *req,
                                struct fido2_helper_out *out);
const char *fido2_helper_make_cred(struct fido2_helper *h, const struct fido2_helper_req *req,
                                   struct fido2_helper_out *out);
/* Free what out holds. */
void fido2_helper_out_free(struct fido2_helper_out *out);
/* Close every key. */
void fido2_helper_close(struct fido2_helper *h);

#endif
