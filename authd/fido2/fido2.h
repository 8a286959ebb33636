/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_FIDO2_H
#define MAMORI_FIDO2_H

/* FIDO2 security keys (DESIGN.md "Factors and categories"): the daemon's
 * side of the key helper, and the daemon's own checks of what a key
 * answered.
 *
 * Key data is untrusted: every CTAP exchange with a key runs in
 * mamori-fido2-helper (fido2/helper_main.c), a process started from
 * $(libexecdir)/mamori/ for one key session.  As root it drops to
 * [fido2] helper_user with [fido2] helper_group as its only group (the
 * group a udev rule gives FIDO hidraw nodes, ID_FIDO_TOKEN=1:
 * examples/udev/70-mamori-fido.rules), PR_SET_NO_NEW_PRIVS, no core dumps,
 * dies with its parent; keys are found by fido_dev_info_manifest.  The
 * daemon checks everything again with libfido2 (verify.c): the attestation
 * of a new credential, and every assertion under the *enrolled* public
 * key, over the daemon's own fresh 32-byte client-data hash, with UP
 * always and UV where [fido2] user_verification asks for it.
 *
 * Helper protocol: as the card helper's (card/card.h): stdin and stdout are
 * one end of a socketpair; each message is one JSON object and a NUL byte,
 * at most MAMORI_FIDO2_MSG_MAX bytes.  Every reply has "ok" (bool); a
 * failure has "error", one of MAMORI_FIDO2_E_*, and may have "retries".
 * Binary values are base64.
 *
 *   {"op":"probe","timeout_ms":N}
 *        waits up to N ms for at least one key (fido_dev_info_manifest,
 *        polled), opens every key found and reads its authenticatorGetInfo.
 *     -> {"ok":true,"keys":[{"path":"/dev/hidraw3","product":"...",
 *         "pin_set":bool,"uv":bool,"bio":bool,"pin_retries":N|-1}]}
 *        (uv: the key verifies its user itself, "uv" option true; bio: it
 *        has a built-in fingerprint reader, "bioEnroll" option present;
 *        pin_set: "clientPin" option true)
 *   {"op":"assert","rp_id":"...","cdh":"<32 bytes>","allow":["<cred id>",...],
 *    "up":true,"uv":bool,"pin":"..."?,"timeout_ms":N}
 *        on the keys of the last probe: finds the key that holds one of the
 *        allowed credentials (a silent assertion, up false, on each key),
 *        then asks that key (fido_dev_get_assert with the PIN when given,
 *        fido_assert_set_uv(FIDO_OPT_TRUE) when uv).  With no key holding
 *        one, the first key is asked all the same (it answers
 *        no_credential after its touch), so that an unknown name costs the
 *        same.
 *     -> {"ok":true,"path":"...","cred_id":"...","authdata":"<CBOR, as
 *         fido_assert_authdata_ptr>","sig":"...","pin_used":bool}
 *     or {"ok":false,"error":"pin_required"} (uv asked, the key has a PIN
 *        and no built-in UV, no PIN given), "wrong_pin" with "retries",
 *        "pin_blocked", "no_credential", "timeout" (no touch), ...
 *   {"op":"make_cred","rp_id":"...","rp_name":"...","user_id":"<bytes>",
 *    "user_name":"...","cdh":"<32 bytes>","exclude":["<cred id>",...],
 *    "uv":bool,"rk":bool,"pin":"..."?,"timeout_ms":N}
 *        on the first key of the last probe that holds none of exclude.
 *     -> {"ok":true,"path":"...","fmt":"packed"|"none"|...,
 *         "authdata":"<CBOR, as fido_cred_authdata_ptr>","sig":"..."?,
 *         "x5c":"<DER>"?,"pin_used":bool,"uv":bool,"bio":bool,"pin_set":bool}
 *
 * A helper never sends a PIN to a key whose pin_retries are 0.  The PIN is
 * wiped from every buffer the helper and the client make.
 *
 * Test hook (--enable-test-hooks builds only): when the daemon's
 * environment has MAMORI_TEST_FIDO2_DEVICES="sock1:sock2", the helper
 * gets it, and its keys are the software authenticators listening on
 * those AF_UNIX sockets (tests/fido2/softkey.py), reached through
 * fido_dev_set_io_functions/fido_dev_set_transport_functions
 * (fido2/devsock.h) instead of hidraw: this kernel has no hidraw. */

#include <stddef.h>
#include <stdint.h>

struct mamori_conf;

#define MAMORI_FIDO2_MSG_MAX 65536
#define MAMORI_FIDO2_CDH_LEN 32
#define MAMORI_FIDO2_CRED_ID_MAX 1024 /* CTAP2 allows more; none we accept is longer */
#define MAMORI_FIDO2_AUTHDATA_MAX 4096
#define MAMORI_FIDO2_SIG_MAX 512
#define MAMORI_FIDO2_X5C_MAX 4096
#define MAMORI_FIDO2_PATH_MAX 255
#define MAMORI_FIDO2_PIN_MAX 63 /* CTAP2: 4 to 63 bytes of UTF-8 */
#define MAMORI_FIDO2_KEYS_MAX 8 /* keys of one probe that are used */
#define MAMORI_FIDO2_ALLOW_MAX 16 /* credentials of one account asked for */

/* Errors of the helper protocol ("error"). */
#define MAMORI_FIDO2_E_TIMEOUT "timeout" /* no key within timeout_ms, or no touch */
#define MAMORI_FIDO2_E_NO_KEY "no_key" /* no key at all (and none came) */
#define MAMORI_FIDO2_E_PIN_REQUIRED "pin_required"
#define MAMORI_FIDO2_E_WRONG_PIN "wrong_pin" /* with "retries" */
#define MAMORI_FIDO2_E_PIN_BLOCKED "pin_blocked" /* no retries left: no PIN was sent */
#define MAMORI_FIDO2_E_UV_BLOCKED "uv_blocked" /* built-in UV blocked: the PIN is needed */
#define MAMORI_FIDO2_E_NO_CREDENTIAL "no_credential" /* the key holds none of allow */
#define MAMORI_FIDO2_E_EXCLUDED "excluded" /* make_cred: every key holds one of exclude */
#define MAMORI_FIDO2_E_UNSUPPORTED "unsupported" /* the key cannot do what was asked (uv, rk) */
#define MAMORI_FIDO2_E_DEVICE "device" /* the key failed or broke CTAP */
#define MAMORI_FIDO2_E_PROTOCOL "protocol" /* a request the helper does not accept */

/* One key of a probe. */
struct mamori_fido2_key_info {
	char path[MAMORI_FIDO2_PATH_MAX + 1];
	char product[64];
	int pin_set, uv, bio;
	int pin_retries; /* -1: unknown */
};

struct mamori_fido2_probe {
	unsigned count;
	struct mamori_fido2_key_info key[MAMORI_FIDO2_KEYS_MAX];
};

/* What a key answered to an assertion, as the helper relayed it. */
struct mamori_fido2_assertion {
	char path[MAMORI_FIDO2_PATH_MAX + 1];
	unsigned char cred_id[MAMORI_FIDO2_CRED_ID_MAX];
	size_t cred_id_len;
	unsigned char authdata[MAMORI_FIDO2_AUTHDATA_MAX];
	size_t authdata_len;
	unsigned char sig[MAMORI_FIDO2_SIG_MAX];
	size_t sig_len;
	int pin_used;
};

/* What a key answered to make_cred, as the helper relayed it. */
struct mamori_fido2_attestation {
	char path[MAMORI_FIDO2_PATH_MAX + 1];
	char fmt[16];
	unsigned char authdata[MAMORI_FIDO2_AUTHDATA_MAX];
	size_t authdata_len;
	unsigned char sig[MAMORI_FIDO2_SIG_MAX];
	size_t sig_len;
	unsigned char x5c[MAMORI_FIDO2_X5C_MAX];
	size_t x5c_len;
	int pin_used, uv, bio, pin_set;
};

/* The request of an assertion or a make_cred. */
struct mamori_fido2_request {
	const char *rp_id;
	const char *rp_name; /* make_cred */
	unsigned char cdh[MAMORI_FIDO2_CDH_LEN];
	/* assert: the credentials asked for; make_cred: those excluded */
	const unsigned char *cred[MAMORI_FIDO2_ALLOW_MAX];
	size_t cred_len[MAMORI_FIDO2_ALLOW_MAX];
	unsigned ncred;
	const unsigned char *user_id; /* make_cred */
	size_t user_id_len;
	const char *user_name; /* make_cred */
	int uv, rk;
	const char *pin; /* NULL: none */
	size_t pin_len;
	int timeout_ms;
};

/* A running helper for one key session. */
struct mamori_fido2_session;

/* Start a helper ([fido2] helper, helper_user, helper_group of conf). */
int mamori_fido2_open(const struct mamori_conf *conf, struct mamori_fido2_session **out);
/* Every call returns MAMORI_OK, or MAMORI_ERR_DENIED with *error set to the
 * helper's MAMORI_FIDO2_E_* (a static string; *retries set for wrong_pin),
 * or MAMORI_ERR_IO / MAMORI_ERR_PROTOCOL when the helper died or broke
 * the protocol (*error is then MAMORI_FIDO2_E_PROTOCOL).  Each call waits
 * at most its own timeout plus a margin; a helper that does not answer in
 * time is killed.  The _begin/_end halves let the daemon work meanwhile;
 * no other call may come between. */
int mamori_fido2_probe_begin(struct mamori_fido2_session *s, int timeout_ms);
int mamori_fido2_probe_end(struct mamori_fido2_session *s, struct mamori_fido2_probe *out, const char **error);
/* req->pin is copied and wiped from every buffer this makes. */
int mamori_fido2_assert(struct mamori_fido2_session *s, const struct mamori_fido2_request *req,
                        struct mamori_fido2_assertion *out, int *retries, const char **error);
int mamori_fido2_make_cred(struct mamori_fido2_session *s, const struct mamori_fido2_request *req,
                           struct mamori_fido2_attestation *out, int *retries, const char **error);
/* Stop the helper (SIGKILL if it does not exit on EOF at once) and free. */
void mamori_fido2_close(struct mamori_fido2_session **s);
/* The same without waiting: a detached thread reaps it. */
void mamori_fido2_close_nowait(struct mamori_fido2_session **s);

/* ---- The daemon's own checks (fido2/verify.c), with libfido2 only. ---- */

/* A key as enrolled: the credential table's public data (a JSON object,
 * mamori_fido2_key_encode) and its replay counter (the sign count). */
#define MAMORI_FIDO2_PK_MAX 256 /* es256 64, rs256 256+3, eddsa 32 */

struct mamori_fido2_key {
	unsigned char cred_id[MAMORI_FIDO2_CRED_ID_MAX];
	size_t cred_id_len;
	int cose_alg; /* COSE_ES256, COSE_RS256 or COSE_EDDSA (fido/param.h) */
	unsigned char pk[MAMORI_FIDO2_PK_MAX]; /* as fido_cred_pubkey_ptr gives it */
	size_t pk_len;
	char aaguid[33]; /* hex */
	int uv; /* the key verified its user at enrolment (signed UV flag) */
	int bio; /* it has a built-in fingerprint reader (bioEnroll) */
	int pin_set; /* it had a PIN (clientPin) */
	int rk; /* a resident (discoverable) credential */
	uint32_t sign_count; /* at enrolment */
};

/* The credential's key_id column: lowercase hex of SHA-256(cred id), so
 * that one credential id is enrolled once across accounts. */
#define MAMORI_FIDO2_KEY_ID_LEN 64
void mamori_fido2_key_id(const unsigned char *cred_id, size_t len, char out[MAMORI_FIDO2_KEY_ID_LEN + 1]);

/* make_cred's answer checked: fmt, authdata (with rp_id's hash, UP, and UV
 * when require_uv), the attestation signature over cdh (fido_cred_verify
 * with x5c, fido_cred_verify_self without); out is filled from what
 * libfido2 parsed, never from the helper's claims (uv from the signed
 * flags; bio and pin_set from the helper, as what the key reported).
 * MAMORI_ERR_DENIED with a reason in err for an answer that fails. */
int mamori_fido2_cred_check(const char *rp_id, const unsigned char cdh[MAMORI_FIDO2_CDH_LEN],
                            const struct mamori_fido2_attestation *att, int require_uv, struct mamori_fido2_key *out,
                            char *err, size_t errlen);
/* An assertion checked under key: rp_id's hash, the signature over cdh
 * (fido_assert_verify), UP always, UV when require_uv
 * (fido_assert_set_uv(FIDO_OPT_TRUE)).  *flags gets the signed flags
 * (FIDO_ASSERT_... up 0x01, uv 0x04) and *count the sign count.
 * MAMORI_ERR_DENIED with a reason in err when it fails. */
int mamori_fido2_assert_check(const struct mamori_fido2_key *key, const char *rp_id,
                              const unsigned char cdh[MAMORI_FIDO2_CDH_LEN], const struct mamori_fido2_assertion *a,
                              int require_uv, unsigned *flags, uint32_t *count, char *err, size_t errlen);
/* The sign-count rule: a key that keeps a count (stored or new not 0) must
 * show a count greater than the stored one; 0 otherwise. */
int mamori_fido2_count_ok(uint32_t stored, uint32_t seen);
/* The credential table's public data: a new JSON text (free()) / parsed
 * back, strictly (every key, its type, its bounds). */
char *mamori_fido2_key_encode(const struct mamori_fido2_key *key);
int mamori_fido2_key_decode(const unsigned char *data, size_t len, struct mamori_fido2_key *out);

#endif
