/* SPDX-License-Identifier: BSD-2-Clause */
#ifndef MAMORI_CARD_APDU_H
#define MAMORI_CARD_APDU_H

/* The APDUs of the PIV and JPKI profiles (card/card.h), built and parsed
 * by pure functions: no I/O, no allocation, every length checked before a
 * byte is read, so that the fuzz target and the unit tests call exactly
 * what mamori-card-helper runs on a card's responses. */

#include <stddef.h>
#include <stdint.h>

#define MAMORI_APDU_MAX 261 /* a short C-APDU: header, Lc, 255 bytes, Le */
#define MAMORI_APDU_RESP_MAX 258 /* 256 bytes and SW1 SW2 */

#define MAMORI_SW_OK 0x9000
#define MAMORI_SW_BLOCKED 0x6983 /* authentication method blocked */
#define MAMORI_SW_BLOCKED_JPKI 0x6984 /* JPKI: reference data not usable */

/* The AIDs and the SHA-256 DigestInfo prefix (RFC 8017, 9.2 note 1). */
extern const uint8_t mamori_apdu_piv_aid[11];
extern const uint8_t mamori_apdu_jpki_aid[10];
extern const uint8_t mamori_apdu_sha256_prefix[19];
#define MAMORI_APDU_DIGESTINFO_LEN 51

/* The status word of a response: its data is resp[0 .. *datalen).  -1 for
 * a response shorter than SW1 SW2, or longer than MAMORI_APDU_RESP_MAX. */
int mamori_apdu_sw(const uint8_t *resp, size_t len, uint16_t *sw, size_t *datalen);

/* PIN tries from the status word of a VERIFY (with or without data):
 * 63 Cx gives x, 69 83 / 69 84 give 0, 90 00 gives -1 (verified, or the
 * card does not say); -2 for any other word. */
int mamori_apdu_tries(uint16_t sw);

/* Builders: each writes one short C-APDU into out (MAMORI_APDU_MAX) and
 * returns its length, or 0 when the arguments do not fit. */
/* SELECT by AID.  with_fci: P2 00 and Le 00, the answer PIV defines (its
 * application property template, SP 800-73-4); else P2 0C, no answer
 * data (JPKI). */
size_t mamori_apdu_select_aid(uint8_t *out, const uint8_t *aid, size_t aid_len, int with_fci);
size_t mamori_apdu_select_ef(uint8_t *out, uint16_t fid);
size_t mamori_apdu_get_response(uint8_t *out, uint8_t le);
size_t mamori_apdu_piv_get_cert(uint8_t *out); /* GET DATA 5FC105 */
/* VERIFY, reference 80: no data (tries) when pin is NULL; PIV pads the
 * PIN with FF to 8 bytes, JPKI sends it as it is (4 digits). */
size_t mamori_apdu_verify(uint8_t *out, const char *pin, size_t pin_len, int piv);
size_t mamori_apdu_read_binary(uint8_t *out, uint16_t offset, uint16_t le); /* le 1..256 */
size_t mamori_apdu_jpki_sign(uint8_t *out, const uint8_t digestinfo[MAMORI_APDU_DIGESTINFO_LEN]);

/* The data of GENERAL AUTHENTICATE (00 87 alg 9A): 7C{82 00, 81 challenge},
 * into out (cap bytes); the caller chains it into short APDUs.  Returns
 * the length, 0 when it does not fit. */
size_t mamori_apdu_piv_auth_data(uint8_t *out, size_t cap, const uint8_t *challenge, size_t challenge_len);
#define MAMORI_PIV_ALG_RSA2048 0x07
#define MAMORI_PIV_ALG_P256 0x11

/* SHA-256 DigestInfo of digest (32 bytes) into out. */
void mamori_apdu_digestinfo(uint8_t out[MAMORI_APDU_DIGESTINFO_LEN], const uint8_t digest[32]);
/* EMSA-PKCS1-v1_5 block of a DigestInfo for a key of klen bytes:
 * 00 01 FF.. 00 DigestInfo.  -1 when klen is too short. */
int mamori_apdu_pkcs1_block(uint8_t *out, size_t klen, const uint8_t digestinfo[MAMORI_APDU_DIGESTINFO_LEN]);

/* BER-TLV: one tag (1 to 3 bytes) and a definite length (short form, 81,
 * 82) at in[0..len).  *value and *vlen give the value, *next the bytes
 * after it.  -1 when the header or the value runs past len. */
int mamori_tlv_next(const uint8_t *in, size_t len, uint32_t *tag, const uint8_t **value, size_t *vlen, size_t *next);

/* The PIV certificate object (SP 800-73-4: 53 { 70 cert, 71 certinfo,
 * FE LRC }): *cert points into in.  -1 when it does not parse, the object
 * has bytes after 53, there is no 70 or 71, the certificate is compressed
 * (71 with bit 01), or it is empty or longer than max. */
int mamori_apdu_piv_cert(const uint8_t *in, size_t len, size_t max, const uint8_t **cert, size_t *cert_len);

/* The response of GENERAL AUTHENTICATE: 7C { 82 signature }, nothing
 * else.  -1 otherwise, or when the signature is empty or longer than
 * max. */
int mamori_apdu_piv_auth_response(const uint8_t *in, size_t len, size_t max, const uint8_t **sig, size_t *sig_len);

/* The whole length of the DER SEQUENCE whose first bytes are head (at
 * least 4 bytes read from EF 000A): 30, a definite length.  -1 when the
 * head is not that or the total is over max. */
int mamori_apdu_der_length(const uint8_t *head, size_t len, size_t max, size_t *total);

#endif
