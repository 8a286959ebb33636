/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer target for what a card says: the response parsers of
 * authd/card/apdu.c, which mamori-card-helper runs on every R-APDU, and
 * the certificate parsing of authd/card/cert.c, which the daemon runs on
 * what the helper returns.
 *
 * The first byte picks what the rest is:
 *   0x00  an R-APDU of GET DATA 5FC105 (data, SW1 SW2): the status word,
 *         then the PIV certificate object, then that certificate;
 *   0x01  an R-APDU of GENERAL AUTHENTICATE: 7C { 82 signature };
 *   0x02  an R-APDU of VERIFY (tries), or of READ BINARY at offset 0 (the
 *         DER header of EF 000A);
 *   anything else: the whole input is a certificate (DER), for
 *         mamori_card_cert_parse, _check and _verify.
 *
 * Invariants checked (abort() on violation): a parser that accepts points
 * inside its input, within the limit it was given; what it refuses leaves
 * nothing behind; a certificate that parses is one whole DER certificate
 * with an accepted key, a lower-case hex fingerprint, an upper-case hex
 * serial, NUL-terminated names; no signature verifies under it by chance,
 * and no check accepts a certificate that does not parse. */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "card/apdu.h"
#include "card/card.h"
#include "card/cert.h"
#include "check.h"
#include "error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
inside(const uint8_t *p, size_t n, const uint8_t *base, size_t size)
{
	return p >= base && n <= size && (size_t)(p - base) <= size - n;
}

static void
fuzz_cert(const uint8_t *der, size_t len)
{
	struct mamori_card_cert c;
	static const uint8_t challenge[32] = { 1, 2, 3 };
	uint8_t sig[256];
	char err[256];
	int rc = mamori_card_cert_parse(der, len, &c);

	check(rc == MAMORI_OK || rc == MAMORI_ERR_INVALID);
	if (rc != MAMORI_OK) {
		check(c.fingerprint[0] == '\0' && c.key[0] == '\0');
		check(mamori_card_cert_check(der, len, NULL, NULL, 1, 0, err, sizeof(err)) == MAMORI_ERR_DENIED);
		check(mamori_card_cert_verify(der, len, challenge, sizeof(challenge), sig, sizeof(sig)) ==
		      MAMORI_ERR_INVALID);
		return;
	}
	check(len <= MAMORI_CARD_CERT_MAX);
	check(strlen(c.fingerprint) == MAMORI_CARD_FPR_HEX);
	check(strspn(c.fingerprint, "0123456789abcdef") == MAMORI_CARD_FPR_HEX);
	check(c.serial[0] != '\0' && strspn(c.serial, "0123456789ABCDEF") == strlen(c.serial));
	check(strlen(c.issuer) <= MAMORI_CARD_NAME_MAX && strlen(c.subject) <= MAMORI_CARD_NAME_MAX);
	check(!strcmp(c.key, "rsa2048") || !strcmp(c.key, "rsa3072") || !strcmp(c.key, "rsa4096") ||
	      !strcmp(c.key, "p256"));
	/* A signature of the input's own bytes does not verify by chance. */
	memset(sig, 0, sizeof(sig));
	memcpy(sig, der, len < sizeof(sig) ? len : sizeof(sig));
	check(mamori_card_cert_verify(der, len, challenge, sizeof(challenge), sig, sizeof(sig)) == MAMORI_ERR_DENIED);
	rc = mamori_card_cert_check(der, len, NULL, NULL, 1, c.not_before, err, sizeof(err));
	check(rc == (c.not_before <= c.not_after ? MAMORI_OK : MAMORI_ERR_DENIED));
}

static void
fuzz_get_data(const uint8_t *resp, size_t len)
{
	const uint8_t *cert;
	size_t dlen, clen;
	uint16_t sw;

	if (len < 2)
		return;
	/* The helper parses the data of every GET RESPONSE together: longer
	 * than one R-APDU, so the status word is taken from the end here. */
	if (mamori_apdu_sw(resp, len, &sw, &dlen) == 0)
		check(dlen == len - 2 && sw == ((resp[len - 2] << 8) | resp[len - 1]));
	else
		check(len > MAMORI_APDU_RESP_MAX);
	dlen = len - 2;
	if (mamori_apdu_piv_cert(resp, dlen, MAMORI_CARD_CERT_MAX, &cert, &clen) != 0) {
		check(cert == NULL && clen == 0);
		return;
	}
	check(clen > 0 && clen <= MAMORI_CARD_CERT_MAX && inside(cert, clen, resp, dlen));
	fuzz_cert(cert, clen);
}

static void
fuzz_auth(const uint8_t *resp, size_t len)
{
	const uint8_t *sig;
	size_t slen;

	if (mamori_apdu_piv_auth_response(resp, len, MAMORI_CARD_SIG_MAX, &sig, &slen) != 0) {
		check(sig == NULL && slen == 0);
		return;
	}
	check(slen > 0 && slen <= MAMORI_CARD_SIG_MAX && inside(sig, slen, resp, len));
	check(resp[0] == 0x7C);
}

static void
fuzz_small(const uint8_t *resp, size_t len)
{
	size_t dlen, total, off = 0;
	const uint8_t *v;
	uint32_t tag;
	uint16_t sw;
	int t;

	if (mamori_apdu_sw(resp, len, &sw, &dlen) == 0) {
		check(dlen == len - 2);
		t = mamori_apdu_tries(sw);
		check(t >= -2 && t <= 15);
		check((t >= 0) == ((sw & 0xFFF0) == 0x63C0 || sw == 0x6983 || sw == 0x6984));
	}
	if (mamori_apdu_der_length(resp, len, MAMORI_CARD_CERT_MAX, &total) == 0)
		check(total >= 2 && total <= MAMORI_CARD_CERT_MAX && resp[0] == 0x30);
	/* A TLV walk never leaves the input. */
	while (off < len) {
		size_t vlen, next;
		if (mamori_tlv_next(resp + off, len - off, &tag, &v, &vlen, &next) != 0)
			break;
		check(next >= 2 && next <= len - off && inside(v, vlen, resp + off, len - off));
		off += next;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0]) {
	case 0x00:
		fuzz_get_data(data + 1, size - 1);
		break;
	case 0x01:
		fuzz_auth(data + 1, size - 1);
		break;
	case 0x02:
		fuzz_small(data + 1, size - 1);
		break;
	default:
		fuzz_cert(data, size);
		break;
	}
	return 0;
}
