/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CARD_H
#define MAMORI_CARD_H

/* IC cards over PC/SC (DESIGN.md "Factors and categories"): the daemon's
 * side of the card helper.
 *
 * Card data is untrusted: every APDU is exchanged and every response parsed
 * in mamori-card-helper (card/helper_main.c), a process started from
 * $(libexecdir)/mamori/ for one card session, which keeps nothing but the
 * pcscd socket (as root it drops to [card] helper_user, no supplementary
 * groups, PR_SET_NO_NEW_PRIVS, no core dumps, dies with its parent).  The
 * daemon re-checks what it says: the certificate is parsed again here
 * (card/cert.h), and only a signature that verifies under the *enrolled*
 * certificate's key over the daemon's own fresh challenge counts.
 *
 * Helper protocol: the helper's stdin and stdout are one end of a
 * socketpair; each message is one JSON object followed by a NUL byte
 * (as on the varlink sockets), at most MAMORI_CARD_MSG_MAX bytes.  Every
 * reply has "ok" (bool); a failure has "error", one of the
 * MAMORI_CARD_E_* names, and may have "tries".  Binary values are base64.
 *
 *   {"op":"wait","timeout_ms":N}
 *        waits up to N ms for a card in any reader (SCardGetStatusChange on
 *        every reader, and on \\?PnP?\Notification for readers that come),
 *        connects, selects the first applet of [card] profiles it has
 *        (PIV, then JPKI by default), reads the certificate and the PIN
 *        tries left (VERIFY without data: 63 Cx; 90 00 counts as unknown,
 *        -1), without ever sending a PIN.
 *     -> {"ok":true,"reader":"Virtual PCD 00 00","profile":"piv"|"jpki",
 *         "cert":"<DER, base64>","tries":N|-1}
 *   {"op":"sign","pin":"1234","challenge":"<32 bytes, base64>"}
 *        on the card of the last wait: VERIFY the PIN (PIV: reference 80,
 *        padded with FF to 8 bytes; JPKI: EF 0018, the 4-digit PIN), then
 *        sign the challenge's SHA-256 with the authentication key (PIV:
 *        GENERAL AUTHENTICATE with key 9A, RSA-2048 over the PKCS#1 v1.5
 *        padded DigestInfo, or ECC P-256 over the digest; JPKI: select EF
 *        0017, COMPUTE DIGITAL SIGNATURE over the DigestInfo).  A helper
 *        never sends a PIN when the tries left are 0 (those of the wait,
 *        kept up to date by each VERIFY: the connection is exclusive).
 *        The card is reset (SCARD_RESET_CARD) right after the reply to a
 *        sign that ends the card's work (a signature, or a failure other
 *        than wrong_pin and locked), before the next request is read.
 *     -> {"ok":true,"signature":"<base64>"}  (RSA: the PKCS#1 v1.5
 *         signature; ECC: DER ECDSA-Sig-Value)
 *     or {"ok":false,"error":"wrong_pin","tries":N}, "locked", "removed"...
 *   {"op":"tries"}        -> {"ok":true,"tries":N|-1}
 *
 * Run as `mamori-card-helper --watch`, the helper instead streams one
 * message per reader change until its stdin closes:
 *     {"event":"present"|"removed","reader":"..."}
 * (every reader's state first, then changes; readers that come or go
 * included). */

#include <stddef.h>
#include <stdint.h>

struct mamori_conf;

#define MAMORI_CARD_MSG_MAX 32768
#define MAMORI_CARD_READER_MAX 127
#define MAMORI_CARD_CERT_MAX 4096 /* = MAMORI_CRED_PUBLIC_MAX */
#define MAMORI_CARD_SIG_MAX 512
#define MAMORI_CARD_PIN_MAX 8 /* PIV: 6-8 digits; JPKI: 4 */
#define MAMORI_CARD_CHALLENGE_LEN 32

/* Profiles (the "profile" of a wait reply). */
#define MAMORI_CARD_PROFILE_PIV "piv"
#define MAMORI_CARD_PROFILE_JPKI "jpki"

/* Errors of the helper protocol ("error"). */
#define MAMORI_CARD_E_TIMEOUT "timeout" /* no card within timeout_ms */
#define MAMORI_CARD_E_NO_READER "no_reader" /* pcscd knows no reader (and none came) */
#define MAMORI_CARD_E_NO_APPLET "no_applet" /* neither PIV nor JPKI answered SELECT */
#define MAMORI_CARD_E_WRONG_PIN "wrong_pin" /* with "tries" */
#define MAMORI_CARD_E_LOCKED "locked" /* no tries left: no VERIFY was sent */
#define MAMORI_CARD_E_REMOVED "removed" /* the card left the reader */
#define MAMORI_CARD_E_CARD "card" /* a response broke the rules (length, status word, TLV) */
#define MAMORI_CARD_E_PCSC "pcsc" /* pcscd failed or cannot be reached */
#define MAMORI_CARD_E_PROTOCOL "protocol" /* a request the helper does not accept */

struct mamori_card_info {
	char reader[MAMORI_CARD_READER_MAX + 1];
	char profile[8]; /* MAMORI_CARD_PROFILE_* */
	unsigned char cert[MAMORI_CARD_CERT_MAX];
	size_t cert_len;
	int tries; /* PIN tries left; -1: unknown */
};

/* A running helper for one card session. */
struct mamori_card_session;

/* Start a helper ([card] helper, helper_user of conf). */
int mamori_card_open(const struct mamori_conf *conf, struct mamori_card_session **out);
/* Every call below returns MAMORI_OK, or MAMORI_ERR_DENIED with *error set
 * to the helper's MAMORI_CARD_E_* (a static string), or MAMORI_ERR_IO /
 * MAMORI_ERR_PROTOCOL when the helper died or broke the protocol (*error
 * is then MAMORI_CARD_E_PROTOCOL).  A reply that does not fit the limits
 * above is MAMORI_ERR_PROTOCOL.  Each call waits at most its own timeout
 * plus a margin; a helper that does not answer in time is killed. */
int mamori_card_wait(struct mamori_card_session *s, int timeout_ms, struct mamori_card_info *info, const char **error);
/* mamori_card_wait in two halves, so that the helper's start, its
 * connection to pcscd and the card's power-up overlap other work: begin
 * sends the wait and returns at once (MAMORI_ERR_IO, the helper killed,
 * when it cannot); end reads its reply, waiting at most until timeout_ms
 * plus the margin after begin.  No other call may come between. */
int mamori_card_wait_begin(struct mamori_card_session *s, int timeout_ms);
int mamori_card_wait_end(struct mamori_card_session *s, struct mamori_card_info *info, const char **error);
/* pin is wiped from every buffer this makes; *tries is set on wrong_pin
 * (0 when this wrong PIN used the last try: the card is now blocked;
 * "locked" means no VERIFY was sent at all).  A PIN the card's profile
 * cannot take (PIV: 6 to 8 digits; JPKI: 4) is not sent and costs no try:
 * wrong_pin with the tries unchanged.  MAMORI_ERR_INVALID (*error
 * "protocol", the helper untouched) for a pin of 0 or more than
 * MAMORI_CARD_PIN_MAX bytes, or with a byte outside printable ASCII. */
int mamori_card_sign(struct mamori_card_session *s, const char *pin, size_t pin_len,
                     const unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN], unsigned char *sig, size_t *sig_len,
                     int *tries, const char **error);
/* mamori_card_sign in two halves, so that the daemon's own checks run
 * while the card works: begin sends the request (MAMORI_ERR_INVALID as
 * above; MAMORI_ERR_IO, the helper killed, when it cannot be sent), end
 * reads the reply, as mamori_card_sign does.  No other call may come
 * between. */
int mamori_card_sign_begin(struct mamori_card_session *s, const char *pin, size_t pin_len,
                           const unsigned char challenge[MAMORI_CARD_CHALLENGE_LEN], const char **error);
int mamori_card_sign_end(struct mamori_card_session *s, unsigned char *sig, size_t *sig_len, int *tries,
                         const char **error);
int mamori_card_tries(struct mamori_card_session *s, int *tries, const char **error);
/* Stop the helper (SIGKILL if it does not exit on EOF at once) and free. */
void mamori_card_close(struct mamori_card_session **s);
/* The same without waiting for the helper: its end of the socketpair is
 * closed, which ends the helper once it has reset its card, and a detached
 * thread reaps it (SIGKILL after 3 s; pcscd resets the card of a client
 * that dies holding it exclusively). */
void mamori_card_close_nowait(struct mamori_card_session **s);

/* The watcher: a helper run with --watch.  fd is readable when an event
 * waits; next reads one.  MAMORI_ERR_IO when the helper went away. */
struct mamori_card_watch;
int mamori_card_watch_open(const struct mamori_conf *conf, struct mamori_card_watch **out);
int mamori_card_watch_fd(const struct mamori_card_watch *w);
/* *present: 1 present, 0 removed.  MAMORI_ERR_BUSY when no whole event
 * has arrived yet: call it until then each time fd is readable (one read
 * may bring several events); MAMORI_ERR_PROTOCOL for an event that breaks
 * the protocol (skipped: the next call reads on). */
int mamori_card_watch_next(struct mamori_card_watch *w, char reader[MAMORI_CARD_READER_MAX + 1], int *present);
void mamori_card_watch_close(struct mamori_card_watch **w);

#endif
