/* SPDX-License-Identifier: BSD-2-Clause */
/* mamori-card-helper's card side (card/helper.h): pcsc-lite, and the PIV
 * and JPKI profiles.  Every response goes through card/apdu.c, which
 * checks its length and status word before a byte of it is used. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "card/apdu.h"
#include "card/helper.h"
#include "core/sandbox.h"
#include "secure.h"

#define PNP_READER "\\\\?PnP?\\Notification"
#define READERS_MAX 16
#define RESP_MAX (MAMORI_CARD_CERT_MAX + 64)
#define CHAIN_MAX 8 /* GET RESPONSE rounds past the first: 8 x 256 bytes */
#define JPKI_EF_AUTH_CERT 0x000A
#define JPKI_EF_AUTH_PIN 0x0018
#define JPKI_EF_AUTH_KEY 0x0017
#define RSA_LEN 256

/* The error names are string literals: compared by their text. */
static int
is(const char *e, const char *name)
{
	return e != NULL && !strcmp(e, name);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
helper_set_profiles(struct helper *h, const char *profiles)
{
	const char *p = profiles;
	int n = 0;

	for (;;) {
		size_t len = 0;
		enum helper_profile prof;
		while (*p == ' ')
			p++;
		while (p[len] != '\0' && p[len] != ',' && p[len] != ' ')
			len++;
		if (len == 3 && !strncmp(p, "piv", 3))
			prof = HELPER_PIV;
		else if (len == 4 && !strncmp(p, "jpki", 4))
			prof = HELPER_JPKI;
		else
			return -1;
		if (n == HELPER_PROFILES_MAX || (n == 1 && h->order[0] == prof))
			return -1;
		h->order[n++] = prof;
		h->order[n] = HELPER_NONE;
		p += len;
		while (*p == ' ')
			p++;
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

static const char *
pcsc_error(LONG rv)
{
	switch (rv) {
	case SCARD_W_REMOVED_CARD:
	case SCARD_E_NO_SMARTCARD:
	case SCARD_W_RESET_CARD:
	case SCARD_W_UNPOWERED_CARD:
	case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_UNKNOWN_READER:
		return MAMORI_CARD_E_REMOVED;
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_W_UNSUPPORTED_CARD:
	case SCARD_E_PROTO_MISMATCH:
		return MAMORI_CARD_E_CARD;
	default:
		return MAMORI_CARD_E_PCSC;
	}
}

const char *
helper_context(struct helper *h)
{
	LONG rv;

	if (h->have_ctx)
		return NULL;
	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &h->ctx);
	if (rv != SCARD_S_SUCCESS) {
		fprintf(stderr, "mamori-card-helper: SCardEstablishContext: %s\n", pcsc_stringify_error(rv));
		return MAMORI_CARD_E_PCSC;
	}
	h->have_ctx = 1;
	return NULL;
}

void
helper_release(struct helper *h)
{
	if (h->connected)
		SCardDisconnect(h->card, SCARD_RESET_CARD);
	h->connected = 0;
	h->profile = HELPER_NONE;
	h->tries_known = 0;
	h->release_pending = 0;
}

/* One exchange: apdu out, the response's data appended to resp[*rlen..cap)
 * with every 61 xx's GET RESPONSE, the final status word in *sw. */
static const char *
xmit(struct helper *h, const uint8_t *apdu, size_t len, uint8_t *resp, size_t cap, size_t *rlen, uint16_t *sw)
{
	const SCARD_IO_REQUEST *pci = h->proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	uint8_t buf[MAMORI_APDU_RESP_MAX], cmd[MAMORI_APDU_MAX];
	size_t dlen;
	LONG rv;

	*rlen = 0;
	for (int round = 0; round <= CHAIN_MAX; round++) {
		DWORD blen = sizeof(buf);
		rv = SCardTransmit(h->card, pci, apdu, (DWORD)len, NULL, buf, &blen);
		if (rv != SCARD_S_SUCCESS)
			return pcsc_error(rv);
		if (mamori_apdu_sw(buf, blen, sw, &dlen) != 0 || dlen > cap - *rlen) {
			mamori_wipe(buf, sizeof(buf));
			return MAMORI_CARD_E_CARD;
		}
		memcpy(resp + *rlen, buf, dlen);
		*rlen += dlen;
		mamori_wipe(buf, sizeof(buf));
		if ((*sw & 0xFF00) != 0x6100)
			return NULL;
		len = mamori_apdu_get_response(cmd, (uint8_t)(*sw & 0xFF));
		apdu = cmd;
	}
	return MAMORI_CARD_E_CARD;
}

/* A command whose data may be longer than one short APDU: chained (CLA
 * bit 10) in pieces of 255 bytes, each but the last answered 90 00. */
static const char *
xmit_chained(struct helper *h, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2, const uint8_t *data, size_t dlen,
             uint8_t *resp, size_t cap, size_t *rlen, uint16_t *sw)
{
	uint8_t cmd[MAMORI_APDU_MAX];
	size_t off = 0;
	const char *e;

	while (dlen - off > 255) {
		cmd[0] = (uint8_t)(cla | 0x10);
		cmd[1] = ins;
		cmd[2] = p1;
		cmd[3] = p2;
		cmd[4] = 255;
		memcpy(cmd + 5, data + off, 255);
		off += 255;
		e = xmit(h, cmd, 5 + 255, resp, cap, rlen, sw);
		if (e != NULL)
			return e;
		if (*sw != MAMORI_SW_OK || *rlen != 0)
			return MAMORI_CARD_E_CARD;
	}
	cmd[0] = cla;
	cmd[1] = ins;
	cmd[2] = p1;
	cmd[3] = p2;
	cmd[4] = (uint8_t)(dlen - off);
	memcpy(cmd + 5, data + off, dlen - off);
	cmd[5 + dlen - off] = 0x00; /* Le: 256 */
	e = xmit(h, cmd, 6 + dlen - off, resp, cap, rlen, sw);
	mamori_wipe(cmd, sizeof(cmd));
	return e;
}

/* A command that answers no data and 90 00. */
static const char *
xmit_ok(struct helper *h, const uint8_t *apdu, size_t len)
{
	uint8_t resp[MAMORI_APDU_RESP_MAX];
	size_t rlen;
	uint16_t sw;
	const char *e = xmit(h, apdu, len, resp, sizeof(resp), &rlen, &sw);

	if (e != NULL)
		return e;
	return sw == MAMORI_SW_OK && rlen == 0 ? NULL : MAMORI_CARD_E_CARD;
}

static const char *
jpki_select_pin(struct helper *h)
{
	uint8_t cmd[MAMORI_APDU_MAX];
	size_t len = mamori_apdu_select_ef(cmd, JPKI_EF_AUTH_PIN);

	return xmit_ok(h, cmd, len);
}

/* VERIFY without data (JPKI: on EF 0018, selected first). */
static const char *
read_tries(struct helper *h, int *tries)
{
	uint8_t cmd[MAMORI_APDU_MAX], resp[MAMORI_APDU_RESP_MAX];
	size_t len, rlen;
	uint16_t sw;
	const char *e;

	if (h->profile == HELPER_JPKI && (e = jpki_select_pin(h)) != NULL)
		return e;
	len = mamori_apdu_verify(cmd, NULL, 0, h->profile == HELPER_PIV);
	if ((e = xmit(h, cmd, len, resp, sizeof(resp), &rlen, &sw)) != NULL)
		return e;
	*tries = mamori_apdu_tries(sw);
	if (rlen != 0 || *tries < -1)
		return MAMORI_CARD_E_CARD;
	h->tries = *tries;
	h->tries_known = 1;
	return NULL;
}

/* The PIV algorithm of the certificate's key: RSA-2048 or P-256 only. */
static int
piv_alg(const uint8_t *der, size_t len, uint8_t *alg)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	EVP_PKEY *k = x != NULL && p == der + len ? X509_get0_pubkey(x) : NULL;
	char group[32];
	size_t glen;
	int rc = -1;

	if (k != NULL && EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA && EVP_PKEY_get_bits(k) == 2048) {
		*alg = MAMORI_PIV_ALG_RSA2048;
		rc = 0;
	} else if (k != NULL && EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
	           EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof(group), &glen) == 1 &&
	           !strcmp(group, "prime256v1")) {
		*alg = MAMORI_PIV_ALG_P256;
		rc = 0;
	}
	X509_free(x);
	return rc;
}

static const char *
piv_read_cert(struct helper *h)
{
	static uint8_t resp[RESP_MAX];
	uint8_t cmd[MAMORI_APDU_MAX];
	const uint8_t *cert;
	size_t rlen, clen, len = mamori_apdu_piv_get_cert(cmd);
	uint16_t sw;
	const char *e = xmit(h, cmd, len, resp, sizeof(resp), &rlen, &sw);

	if (e != NULL)
		return e;
	if (sw != MAMORI_SW_OK || mamori_apdu_piv_cert(resp, rlen, MAMORI_CARD_CERT_MAX, &cert, &clen) != 0)
		return MAMORI_CARD_E_CARD;
	memcpy(h->cert, cert, clen);
	h->cert_len = clen;
	return piv_alg(h->cert, h->cert_len, &h->piv_alg) == 0 ? NULL : MAMORI_CARD_E_CARD;
}

/* EF 000A in pieces: its length from the DER header, each piece exactly
 * the bytes asked for, with 90 00. */
static const char *
jpki_read_cert(struct helper *h)
{
	uint8_t cmd[MAMORI_APDU_MAX], resp[MAMORI_APDU_RESP_MAX];
	size_t len, rlen, total, off = 0;
	uint16_t sw;
	const char *e;

	len = mamori_apdu_select_ef(cmd, JPKI_EF_AUTH_CERT);
	if ((e = xmit_ok(h, cmd, len)) != NULL)
		return e;
	len = mamori_apdu_read_binary(cmd, 0, 4);
	if ((e = xmit(h, cmd, len, resp, sizeof(resp), &rlen, &sw)) != NULL)
		return e;
	if (sw != MAMORI_SW_OK || rlen != 4 || mamori_apdu_der_length(resp, rlen, MAMORI_CARD_CERT_MAX, &total) != 0)
		return MAMORI_CARD_E_CARD;
	while (off < total) {
		uint16_t want = (uint16_t)(total - off > 256 ? 256 : total - off);
		len = mamori_apdu_read_binary(cmd, (uint16_t)off, want);
		if (len == 0)
			return MAMORI_CARD_E_CARD;
		if ((e = xmit(h, cmd, len, resp, sizeof(resp), &rlen, &sw)) != NULL)
			return e;
		if (sw != MAMORI_SW_OK || rlen != want)
			return MAMORI_CARD_E_CARD;
		memcpy(h->cert + off, resp, rlen);
		off += rlen;
	}
	h->cert_len = total;
	return NULL;
}

/* Select the first applet of the profiles on the connected card and read
 * its certificate and tries. */
static const char *
card_probe(struct helper *h, int *tries)
{
	uint8_t cmd[MAMORI_APDU_MAX];
	size_t len;
	const char *e;

	uint8_t fci[MAMORI_APDU_RESP_MAX * 2];
	size_t flen;
	uint16_t sw;

	for (int i = 0; h->order[i] != HELPER_NONE; i++) {
		/* PIV answers its application property template (read, not used). */
		if (h->order[i] == HELPER_PIV)
			len = mamori_apdu_select_aid(cmd, mamori_apdu_piv_aid, sizeof(mamori_apdu_piv_aid), 1);
		else
			len = mamori_apdu_select_aid(cmd, mamori_apdu_jpki_aid, sizeof(mamori_apdu_jpki_aid), 0);
		e = xmit(h, cmd, len, fci, sizeof(fci), &flen, &sw);
		if (is(e, MAMORI_CARD_E_CARD) || (e == NULL && sw != MAMORI_SW_OK))
			continue; /* not this applet */
		if (e != NULL)
			return e;
		if (h->order[i] == HELPER_JPKI && flen != 0)
			return MAMORI_CARD_E_CARD;
		h->profile = h->order[i];
		e = h->profile == HELPER_PIV ? piv_read_cert(h) : jpki_read_cert(h);
		if (e == NULL)
			e = read_tries(h, tries);
		return e;
	}
	return MAMORI_CARD_E_NO_APPLET;
}

static const char *
card_try(struct helper *h, const char *reader, int *tries)
{
	LONG rv;
	const char *e;

	helper_release(h);
	/* Exclusive: no other client may ride on a verified PIN. */
	rv = SCardConnect(h->ctx, reader, SCARD_SHARE_EXCLUSIVE, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &h->card,
	                  &h->proto);
	if (rv != SCARD_S_SUCCESS)
		return pcsc_error(rv);
	h->connected = 1;
	snprintf(h->reader, sizeof(h->reader), "%s", reader);
	e = card_probe(h, tries);
	if (e != NULL)
		helper_release(h);
	return e;
}

/* The readers pcscd knows: names into buf, pointers into names. */
static const char *
list_readers(struct helper *h, char *buf, DWORD cap, const char **names, size_t *n)
{
	DWORD len = cap;
	LONG rv = SCardListReaders(h->ctx, NULL, buf, &len);

	*n = 0;
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return NULL;
	if (rv != SCARD_S_SUCCESS)
		return MAMORI_CARD_E_PCSC;
	for (const char *p = buf; *p != '\0' && p < buf + len && *n < READERS_MAX; p += strlen(p) + 1) {
		if (strlen(p) <= MAMORI_CARD_READER_MAX)
			names[(*n)++] = p;
	}
	return NULL;
}

struct wait_state {
	int64_t deadline;
	int no_applet, card_error, any_reader;
};

/* A card that has just come may not answer yet (unpowered, reset, its
 * reader busy for a moment): one that failed for any reason but "no
 * applet" is tried again, up to CARD_ATTEMPTS times, RETRY_MS apart. */
#define CARD_ATTEMPTS 3
#define RETRY_MS 150

/* One round over the reader list as it is now: try every card present;
 * then wait for a change.  1: a card is ready; 0: the reader list changed;
 * -1: failed or timed out (*err). */
static int
wait_round(struct helper *h, struct wait_state *ws, int *tries, const char **err)
{
	char buf[READERS_MAX * (MAX_READERNAME + 1) + 1];
	const char *names[READERS_MAX];
	SCARD_READERSTATE st[READERS_MAX + 1];
	unsigned char tried[READERS_MAX] = { 0 }, attempts[READERS_MAX] = { 0 };
	size_t n;
	int first = 1, retry = 0;

	if ((*err = list_readers(h, buf, sizeof(buf), names, &n)) != NULL)
		return -1;
	ws->any_reader |= n > 0;
	memset(st, 0, sizeof(st));
	for (size_t i = 0; i < n; i++)
		st[i].szReader = names[i];
	st[n].szReader = PNP_READER;
	for (;;) {
		int64_t left = first ? 0 : ws->deadline - now_ms();
		LONG rv;
		if (left < 0)
			left = 0;
		if (retry && left > RETRY_MS)
			left = RETRY_MS;
		rv = SCardGetStatusChange(h->ctx, (DWORD)left, st, (DWORD)n + 1);
		if (rv == SCARD_E_TIMEOUT && !first && (!retry || ws->deadline - now_ms() <= 0)) {
			*err = MAMORI_CARD_E_TIMEOUT;
			return -1;
		}
		if (rv == SCARD_E_UNKNOWN_READER || rv == SCARD_E_READER_UNAVAILABLE)
			return 0;
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
			*err = MAMORI_CARD_E_PCSC;
			return -1;
		}
		if (!first && (st[n].dwEventState & SCARD_STATE_CHANGED))
			return 0;
		first = 0;
		retry = 0;
		for (size_t i = 0; i < n; i++) {
			DWORD ev = st[i].dwEventState;
			if (ev & SCARD_STATE_EMPTY)
				tried[i] = attempts[i] = 0;
			if ((ev & SCARD_STATE_PRESENT) && !(ev & SCARD_STATE_MUTE) && !tried[i]) {
				tried[i] = 1;
				attempts[i]++;
				*err = card_try(h, names[i], tries);
				if (*err == NULL)
					return 1;
				if (is(*err, MAMORI_CARD_E_NO_APPLET))
					ws->no_applet = 1;
				else if (!is(*err, MAMORI_CARD_E_REMOVED))
					ws->card_error = 1;
				if (!is(*err, MAMORI_CARD_E_NO_APPLET) && attempts[i] < CARD_ATTEMPTS) {
					tried[i] = 0; /* again after RETRY_MS, or at the next change */
					retry = 1;
				}
			}
		}
		for (size_t i = 0; i <= n; i++)
			st[i].dwCurrentState = st[i].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		if (ws->deadline - now_ms() <= 0) {
			*err = MAMORI_CARD_E_TIMEOUT;
			return -1;
		}
	}
}

const char *
helper_wait(struct helper *h, int timeout_ms, int *tries)
{
	struct wait_state ws = { .deadline = now_ms() + timeout_ms };
	const char *e;
	int r;

	helper_release(h);
	if ((e = helper_context(h)) != NULL)
		return e;
	do
		r = wait_round(h, &ws, tries, &e);
	while (r == 0 && now_ms() < ws.deadline);
	if (r == 1)
		return NULL;
	if (!is(e, MAMORI_CARD_E_TIMEOUT) && r != 0)
		return e;
	/* Out of time: say why no card was ready. */
	if (!ws.any_reader)
		return MAMORI_CARD_E_NO_READER;
	if (ws.no_applet)
		return MAMORI_CARD_E_NO_APPLET;
	if (ws.card_error)
		return MAMORI_CARD_E_CARD;
	return MAMORI_CARD_E_TIMEOUT;
}

const char *
helper_tries(struct helper *h, int *tries)
{
	const char *e;

	if (!h->connected)
		return MAMORI_CARD_E_PROTOCOL;
	e = read_tries(h, tries);
	if (e != NULL)
		helper_release(h);
	return e;
}

/* VERIFY the PIN: NULL when it was right. */
static const char *
verify_pin(struct helper *h, const char *pin, size_t pin_len, int *tries)
{
	uint8_t cmd[MAMORI_APDU_MAX], resp[MAMORI_APDU_RESP_MAX];
	size_t len, rlen;
	uint16_t sw;
	const char *e;

	len = mamori_apdu_verify(cmd, pin, pin_len, h->profile == HELPER_PIV);
	if (len == 0)
		return MAMORI_CARD_E_PROTOCOL;
	e = xmit(h, cmd, len, resp, sizeof(resp), &rlen, &sw);
	mamori_wipe(cmd, sizeof(cmd));
	if (e != NULL)
		return e;
	if (rlen != 0)
		return MAMORI_CARD_E_CARD;
	if (sw == MAMORI_SW_OK)
		return NULL;
	*tries = mamori_apdu_tries(sw);
	/* 63 Cx, or 69 83 / 69 84 when this wrong PIN used the last try. */
	h->tries = *tries;
	h->tries_known = *tries >= 0;
	return *tries >= 0 ? MAMORI_CARD_E_WRONG_PIN : MAMORI_CARD_E_CARD;
}

static const char *
sign_piv(struct helper *h, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	uint8_t di[MAMORI_APDU_DIGESTINFO_LEN], block[RSA_LEN], data[RSA_LEN + 16], resp[RSA_LEN + 64];
	const uint8_t *s;
	size_t dlen, rlen, slen;
	uint16_t sw;
	const char *e;

	if (h->piv_alg == MAMORI_PIV_ALG_RSA2048) {
		mamori_apdu_digestinfo(di, digest);
		if (mamori_apdu_pkcs1_block(block, sizeof(block), di) != 0)
			return MAMORI_CARD_E_CARD;
		dlen = mamori_apdu_piv_auth_data(data, sizeof(data), block, sizeof(block));
	} else {
		dlen = mamori_apdu_piv_auth_data(data, sizeof(data), digest, 32);
	}
	if (dlen == 0)
		return MAMORI_CARD_E_CARD;
	e = xmit_chained(h, 0x00, 0x87, h->piv_alg, 0x9A, data, dlen, resp, sizeof(resp), &rlen, &sw);
	if (e != NULL)
		return e;
	if (sw != MAMORI_SW_OK || mamori_apdu_piv_auth_response(resp, rlen, MAMORI_CARD_SIG_MAX, &s, &slen) != 0 ||
	    (h->piv_alg == MAMORI_PIV_ALG_RSA2048 && slen != RSA_LEN))
		return MAMORI_CARD_E_CARD;
	memcpy(sig, s, slen);
	*sig_len = slen;
	return NULL;
}

static const char *
sign_jpki(struct helper *h, const uint8_t digest[32], uint8_t *sig, size_t *sig_len)
{
	uint8_t cmd[MAMORI_APDU_MAX], di[MAMORI_APDU_DIGESTINFO_LEN], resp[MAMORI_APDU_RESP_MAX];
	size_t len, rlen;
	uint16_t sw;
	const char *e;

	len = mamori_apdu_select_ef(cmd, JPKI_EF_AUTH_KEY);
	if ((e = xmit_ok(h, cmd, len)) != NULL)
		return e;
	mamori_apdu_digestinfo(di, digest);
	len = mamori_apdu_jpki_sign(cmd, di);
	if ((e = xmit(h, cmd, len, resp, sizeof(resp), &rlen, &sw)) != NULL)
		return e;
	if (sw != MAMORI_SW_OK || rlen != RSA_LEN)
		return MAMORI_CARD_E_CARD;
	memcpy(sig, resp, rlen);
	*sig_len = rlen;
	return NULL;
}

/* A PIN the profile can take: digits only, PIV 6 to 8 (SP 800-73-4
 * part 2, 2.4.3), JPKI 4. */
static int
pin_fits(enum helper_profile p, const char *pin, size_t len)
{
	if (p == HELPER_PIV ? len < 6 || len > 8 : len != 4)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (pin[i] < '0' || pin[i] > '9')
			return 0;
	}
	return 1;
}

const char *
helper_sign(struct helper *h, const char *pin, size_t pin_len, const uint8_t challenge[MAMORI_CARD_CHALLENGE_LEN],
            uint8_t *sig, size_t *sig_len, int *tries)
{
	uint8_t digest[32];
	unsigned int dlen = 0;
	const char *e;

	*sig_len = 0;
	if (!h->connected)
		return MAMORI_CARD_E_PROTOCOL;
	/* The tries first: a PIN is never sent to a card with none left.  Those
	 * of the wait (or of the last VERIFY) stand: the connection is
	 * exclusive, and a card pulled since answers no APDU on it. */
	if (!h->tries_known) {
		if ((e = read_tries(h, tries)) != NULL)
			goto fail;
	} else {
		*tries = h->tries;
		/* JPKI: VERIFY goes to EF 0018, selected again rather than assumed. */
		if (h->profile == HELPER_JPKI && (e = jpki_select_pin(h)) != NULL)
			goto fail;
	}
	if (*tries == 0)
		return MAMORI_CARD_E_LOCKED;
	/* A PIN that cannot be right costs no try. */
	if (!pin_fits(h->profile, pin, pin_len))
		return *tries >= 0 ? MAMORI_CARD_E_WRONG_PIN : MAMORI_CARD_E_PROTOCOL;
	e = verify_pin(h, pin, pin_len, tries);
	if (is(e, MAMORI_CARD_E_WRONG_PIN))
		return e;
	if (e != NULL)
		goto fail;
	if (EVP_Digest(challenge, MAMORI_CARD_CHALLENGE_LEN, digest, &dlen, EVP_sha256(), NULL) != 1) {
		e = MAMORI_CARD_E_PROTOCOL;
		goto fail;
	}
	e = h->profile == HELPER_PIV ? sign_piv(h, digest, sig, sig_len) : sign_jpki(h, digest, sig, sig_len);
fail:
	/* Done with this card: it is reset (no verified PIN stays) as soon as
	 * the reply has gone, before the next request is read. */
	h->release_pending = 1;
	return e;
}

/* ------------------------------------------------------------------ watch */

struct watched {
	char name[MAX_READERNAME + 1];
	int present;
};

static int
watch_emit(int fd, const char *event, const char *reader)
{
	char msg[MAX_READERNAME * 6 + 64], *p = msg;

	p += snprintf(p, 64, "{\"event\":\"%s\",\"reader\":\"", event);
	for (const unsigned char *r = (const unsigned char *)reader; *r != '\0'; r++) {
		if (*r < 0x20 || *r == '"' || *r == '\\')
			p += snprintf(p, 7, "\\u%04x", *r);
		else
			*p++ = (char)*r;
	}
	snprintf(p, 3, "\"}");
	return mamori_sandbox_send(fd, msg);
}

/* Re-list the readers: one that went is removed (when it had a card), one
 * that came is reported as it is. */
static int
watch_relist(struct helper *h, int out_fd, struct watched *w, size_t *nw, SCARD_READERSTATE *st)
{
	char buf[READERS_MAX * (MAX_READERNAME + 1) + 1];
	const char *names[READERS_MAX];
	struct watched next[READERS_MAX];
	size_t n;

	if (list_readers(h, buf, sizeof(buf), names, &n) != NULL)
		return -1;
	for (size_t i = 0; i < *nw; i++) {
		int still = 0;
		for (size_t j = 0; j < n; j++)
			still |= !strcmp(w[i].name, names[j]);
		if (!still && w[i].present && watch_emit(out_fd, "removed", w[i].name) != 0)
			return -1;
	}
	memset(st, 0, sizeof(*st) * (READERS_MAX + 1));
	for (size_t j = 0; j < n; j++) {
		snprintf(next[j].name, sizeof(next[j].name), "%s", names[j]);
		next[j].present = -1;
		for (size_t i = 0; i < *nw; i++) {
			if (!strcmp(w[i].name, names[j]))
				next[j].present = w[i].present;
		}
	}
	memcpy(w, next, sizeof(next[0]) * n);
	*nw = n;
	for (size_t j = 0; j < n; j++)
		st[j].szReader = w[j].name;
	st[n].szReader = PNP_READER;
	return 0;
}

static int
stdin_closed(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, 0) <= 0)
		return 0;
	/* The daemon sends nothing to a watcher: data or EOF both end it. */
	return read(fd, &c, 1) >= 0 || errno != EINTR;
}

int
helper_watch(struct helper *h, int in_fd, int out_fd)
{
	static struct watched w[READERS_MAX];
	SCARD_READERSTATE st[READERS_MAX + 1];
	size_t nw = 0;
	LONG rv = SCARD_S_SUCCESS;
	int relist = 1, fresh;

	if (helper_context(h) != NULL)
		return 1;
	for (;;) {
		if (stdin_closed(in_fd))
			return 0;
		if (relist && watch_relist(h, out_fd, w, &nw, st) != 0)
			return 1;
		/* After a re-list every state is asked afresh (and the PnP
		 * entry always says "changed" then). */
		fresh = relist;
		rv = SCardGetStatusChange(h->ctx, relist ? 0 : 500, st, (DWORD)nw + 1);
		relist = 0;
		if (rv == SCARD_E_TIMEOUT)
			continue;
		if (rv == SCARD_E_UNKNOWN_READER || rv == SCARD_E_READER_UNAVAILABLE) {
			relist = 1;
			continue;
		}
		if (rv != SCARD_S_SUCCESS)
			return 1;
		for (size_t i = 0; i < nw; i++) {
			int present = (st[i].dwEventState & SCARD_STATE_PRESENT) != 0;
			if (present != w[i].present &&
			    watch_emit(out_fd, present ? "present" : "removed", w[i].name) != 0)
				return 0;
			w[i].present = present;
		}
		for (size_t i = 0; i <= nw; i++)
			st[i].dwCurrentState = st[i].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		if (!fresh && (st[nw].dwEventState & SCARD_STATE_CHANGED))
			relist = 1;
	}
}
