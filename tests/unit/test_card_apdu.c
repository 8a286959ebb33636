/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests for authd/card/apdu.c: the C-APDUs of the PIV and JPKI
 * profiles byte for byte, and the response parsers refusing every response
 * whose length, status word or TLV breaks the rules. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "card/apdu.h"

static size_t
unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (hex[0] != '\0' && hex[1] != '\0') {
		unsigned v;
		if (hex[0] == ' ') {
			hex++;
			continue;
		}
		assert_true(n < cap);
		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
		hex += 2;
	}
	return n;
}

static void
expect_bytes(const uint8_t *got, size_t len, const char *hex)
{
	uint8_t want[600];
	size_t n = unhex(hex, want, sizeof(want));

	assert_int_equal(len, n);
	assert_memory_equal(got, want, n);
}

static void
test_status_word(void **state)
{
	const uint8_t ok[] = { 0x01, 0x02, 0x90, 0x00 };
	uint8_t big[MAMORI_APDU_RESP_MAX + 1] = { 0 };
	uint16_t sw = 0;
	size_t dlen = 99;

	(void)state;
	assert_int_equal(mamori_apdu_sw(ok, sizeof(ok), &sw, &dlen), 0);
	assert_int_equal(sw, 0x9000);
	assert_int_equal(dlen, 2);
	assert_int_equal(mamori_apdu_sw(ok + 2, 2, &sw, &dlen), 0);
	assert_int_equal(dlen, 0);
	assert_int_equal(mamori_apdu_sw(ok, 1, &sw, &dlen), -1);
	assert_int_equal(mamori_apdu_sw(ok, 0, &sw, &dlen), -1);
	assert_int_equal(mamori_apdu_sw(NULL, 2, &sw, &dlen), -1);
	assert_int_equal(mamori_apdu_sw(big, sizeof(big), &sw, &dlen), -1);
	assert_int_equal(mamori_apdu_sw(big, sizeof(big) - 1, &sw, &dlen), 0);
}

static void
test_tries(void **state)
{
	(void)state;
	assert_int_equal(mamori_apdu_tries(0x63C3), 3);
	assert_int_equal(mamori_apdu_tries(0x63C0), 0);
	assert_int_equal(mamori_apdu_tries(0x63CF), 15);
	assert_int_equal(mamori_apdu_tries(0x6983), 0);
	assert_int_equal(mamori_apdu_tries(0x6984), 0);
	assert_int_equal(mamori_apdu_tries(0x9000), -1);
	assert_int_equal(mamori_apdu_tries(0x6300), -2);
	assert_int_equal(mamori_apdu_tries(0x6A82), -2);
	assert_int_equal(mamori_apdu_tries(0x6F00), -2);
	assert_int_equal(mamori_apdu_tries(0x6B00), -2);
}

static void
test_builders(void **state)
{
	uint8_t c[MAMORI_APDU_MAX], di[MAMORI_APDU_DIGESTINFO_LEN], digest[32];
	size_t n;

	(void)state;
	n = mamori_apdu_select_aid(c, mamori_apdu_piv_aid, sizeof(mamori_apdu_piv_aid), 1);
	expect_bytes(c, n, "00A40400 0B A0000003080000100001 00 00");
	n = mamori_apdu_select_aid(c, mamori_apdu_jpki_aid, sizeof(mamori_apdu_jpki_aid), 0);
	expect_bytes(c, n, "00A4040C 0A D392F000260100000001");
	assert_int_equal(mamori_apdu_select_aid(c, mamori_apdu_jpki_aid, 4, 0), 0);
	n = mamori_apdu_select_ef(c, 0x000A);
	expect_bytes(c, n, "00A4020C 02 000A");
	n = mamori_apdu_piv_get_cert(c);
	expect_bytes(c, n, "00CB3FFF 05 5C035FC105 00");
	n = mamori_apdu_get_response(c, 0x6D);
	expect_bytes(c, n, "00C00000 6D");
	n = mamori_apdu_verify(c, NULL, 0, 1);
	expect_bytes(c, n, "00200080");
	n = mamori_apdu_verify(c, "123456", 6, 1);
	expect_bytes(c, n, "00200080 08 313233343536FFFF");
	n = mamori_apdu_verify(c, "12345678", 8, 1);
	expect_bytes(c, n, "00200080 08 3132333435363738");
	assert_int_equal(mamori_apdu_verify(c, "123456789", 9, 1), 0);
	n = mamori_apdu_verify(c, "1234", 4, 0);
	expect_bytes(c, n, "00200080 04 31323334");
	assert_int_equal(mamori_apdu_verify(c, "12345", 5, 0), 0);
	n = mamori_apdu_read_binary(c, 0x0100, 256);
	expect_bytes(c, n, "00B00100 00");
	n = mamori_apdu_read_binary(c, 0, 4);
	expect_bytes(c, n, "00B00000 04");
	assert_int_equal(mamori_apdu_read_binary(c, 0, 0), 0);
	assert_int_equal(mamori_apdu_read_binary(c, 0, 257), 0);
	assert_int_equal(mamori_apdu_read_binary(c, 0x8000, 4), 0);
	memset(digest, 0xAB, sizeof(digest));
	mamori_apdu_digestinfo(di, digest);
	expect_bytes(di, sizeof(di),
	             "3031300d060960864801650304020105000420"
	             "ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB");
	n = mamori_apdu_jpki_sign(c, di);
	assert_int_equal(n, 5 + 51 + 1);
	expect_bytes(c, 5, "802A0080 33");
	assert_memory_equal(c + 5, di, sizeof(di));
	assert_int_equal(c[n - 1], 0x00);
}

static void
test_piv_auth_data(void **state)
{
	uint8_t out[300], ch[256];
	size_t n;

	(void)state;
	memset(ch, 0x11, sizeof(ch));
	n = mamori_apdu_piv_auth_data(out, sizeof(out), ch, 32);
	assert_int_equal(n, 2 + 4 + 32);
	expect_bytes(out, 6, "7C24 8200 8120");
	n = mamori_apdu_piv_auth_data(out, sizeof(out), ch, 256);
	assert_int_equal(n, 4 + 2 + 4 + 256);
	expect_bytes(out, 10, "7C820106 8200 81820100");
	assert_int_equal(mamori_apdu_piv_auth_data(out, 265, ch, 256), 0);
	assert_int_equal(mamori_apdu_piv_auth_data(out, sizeof(out), ch, 0), 0);
}

static void
test_pkcs1_block(void **state)
{
	uint8_t block[256], di[MAMORI_APDU_DIGESTINFO_LEN];

	(void)state;
	memset(di, 0x5A, sizeof(di));
	assert_int_equal(mamori_apdu_pkcs1_block(block, sizeof(block), di), 0);
	assert_int_equal(block[0], 0x00);
	assert_int_equal(block[1], 0x01);
	for (size_t i = 2; i < 256 - 52; i++)
		assert_int_equal(block[i], 0xFF);
	assert_int_equal(block[256 - 52], 0x00);
	assert_memory_equal(block + 256 - 51, di, 51);
	assert_int_equal(mamori_apdu_pkcs1_block(block, 61, di), -1);
	assert_int_equal(mamori_apdu_pkcs1_block(block, 62, di), 0);
}

static void
test_tlv(void **state)
{
	uint8_t b[600];
	const uint8_t *v;
	size_t vlen, next, n;
	uint32_t tag;

	(void)state;
	n = unhex("53 03 010203 FF", b, sizeof(b));
	assert_int_equal(mamori_tlv_next(b, n, &tag, &v, &vlen, &next), 0);
	assert_int_equal(tag, 0x53);
	assert_int_equal(vlen, 3);
	assert_ptr_equal(v, b + 2);
	assert_int_equal(next, 5);
	n = unhex("5FC105 81 80", b, sizeof(b));
	memset(b + n, 0, 0x80);
	assert_int_equal(mamori_tlv_next(b, n + 0x80, &tag, &v, &vlen, &next), 0);
	assert_int_equal(tag, 0x5FC105);
	assert_int_equal(vlen, 0x80);
	assert_int_equal(mamori_tlv_next(b, n + 0x7F, &tag, &v, &vlen, &next), -1); /* value runs past */
	n = unhex("70 82 0100", b, sizeof(b));
	assert_int_equal(mamori_tlv_next(b, n + 0x100, &tag, &v, &vlen, &next), 0);
	assert_int_equal(vlen, 0x100);
	assert_int_equal(mamori_tlv_next(b, n + 0xFF, &tag, &v, &vlen, &next), -1);
	n = unhex("70 83 000001 00", b, sizeof(b)); /* long form of 3 bytes */
	assert_int_equal(mamori_tlv_next(b, n, &tag, &v, &vlen, &next), -1);
	n = unhex("70 80 00 00", b, sizeof(b)); /* indefinite length */
	assert_int_equal(mamori_tlv_next(b, n, &tag, &v, &vlen, &next), -1);
	n = unhex("70 82 01", b, sizeof(b)); /* length cut */
	assert_int_equal(mamori_tlv_next(b, n, &tag, &v, &vlen, &next), -1);
	n = unhex("5F", b, sizeof(b));
	assert_int_equal(mamori_tlv_next(b, n, &tag, &v, &vlen, &next), -1);
	n = unhex("5F C1 85 85 01 00", b, sizeof(b)); /* a 4-byte tag */
	assert_int_equal(mamori_tlv_next(b, n, &tag, &v, &vlen, &next), -1);
	n = unhex("FE 00", b, sizeof(b));
	assert_int_equal(mamori_tlv_next(b, n, &tag, &v, &vlen, &next), 0);
	assert_int_equal(vlen, 0);
}

static void
test_piv_cert(void **state)
{
	uint8_t b[64];
	const uint8_t *c;
	size_t n, clen;

	(void)state;
	n = unhex("53 0B 70 04 30020500 71 01 00 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), 0);
	assert_int_equal(clen, 4);
	assert_ptr_equal(c, b + 4);
	/* The certificate's limit. */
	assert_int_equal(mamori_apdu_piv_cert(b, n, 3, &c, &clen), -1);
	assert_null(c);
	/* Compressed (71 01). */
	n = unhex("53 0B 70 04 30020500 71 01 01 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	/* A byte after the object. */
	n = unhex("53 0B 70 04 30020500 71 01 00 FE 00 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	/* The object's length past the response. */
	n = unhex("53 0C 70 04 30020500 71 01 00 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	/* An inner length past the object. */
	n = unhex("53 0B 70 05 30020500 71 01 00 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	/* No CertInfo; no certificate; an empty one; another tag; two 70s. */
	n = unhex("53 08 70 04 30020500 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	n = unhex("53 05 71 01 00 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	n = unhex("53 07 70 00 71 01 00 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	n = unhex("53 0E 70 04 30020500 71 01 00 72 01 00 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	n = unhex("53 11 70 04 30020500 70 04 30020500 71 01 00 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	/* Not 53 at all. */
	n = unhex("54 0B 70 04 30020500 71 01 00 FE 00", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_cert(b, n, 4096, &c, &clen), -1);
	assert_int_equal(mamori_apdu_piv_cert(b, 0, 4096, &c, &clen), -1);
}

static void
test_piv_auth_response(void **state)
{
	uint8_t b[64];
	const uint8_t *s;
	size_t n, slen;

	(void)state;
	n = unhex("7C 06 82 04 DEADBEEF", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_auth_response(b, n, 512, &s, &slen), 0);
	assert_int_equal(slen, 4);
	assert_ptr_equal(s, b + 4);
	assert_int_equal(mamori_apdu_piv_auth_response(b, n, 3, &s, &slen), -1);
	n = unhex("7C 06 82 05 DEADBEEF", b, sizeof(b)); /* inner length past */
	assert_int_equal(mamori_apdu_piv_auth_response(b, n, 512, &s, &slen), -1);
	n = unhex("7C 07 82 04 DEADBEEF 00", b, sizeof(b)); /* a byte after 82 */
	assert_int_equal(mamori_apdu_piv_auth_response(b, n, 512, &s, &slen), -1);
	n = unhex("7C 06 82 04 DEADBEEF 00", b, sizeof(b)); /* a byte after 7C */
	assert_int_equal(mamori_apdu_piv_auth_response(b, n, 512, &s, &slen), -1);
	n = unhex("7C 06 81 04 DEADBEEF", b, sizeof(b)); /* not 82 */
	assert_int_equal(mamori_apdu_piv_auth_response(b, n, 512, &s, &slen), -1);
	n = unhex("7C 02 82 00", b, sizeof(b)); /* empty */
	assert_int_equal(mamori_apdu_piv_auth_response(b, n, 512, &s, &slen), -1);
	n = unhex("7D 06 82 04 DEADBEEF", b, sizeof(b));
	assert_int_equal(mamori_apdu_piv_auth_response(b, n, 512, &s, &slen), -1);
}

static void
test_der_length(void **state)
{
	uint8_t b[8];
	size_t total = 0, n;

	(void)state;
	n = unhex("30820400", b, sizeof(b));
	assert_int_equal(mamori_apdu_der_length(b, n, 4096, &total), 0);
	assert_int_equal(total, 0x404);
	assert_int_equal(mamori_apdu_der_length(b, n, 0x403, &total), -1);
	n = unhex("3081F000", b, sizeof(b));
	assert_int_equal(mamori_apdu_der_length(b, n, 4096, &total), 0);
	assert_int_equal(total, 0xF3);
	n = unhex("30050000", b, sizeof(b));
	assert_int_equal(mamori_apdu_der_length(b, n, 4096, &total), 0);
	assert_int_equal(total, 7);
	n = unhex("31820400", b, sizeof(b));
	assert_int_equal(mamori_apdu_der_length(b, n, 4096, &total), -1);
	n = unhex("3083010000", b, sizeof(b));
	assert_int_equal(mamori_apdu_der_length(b, n, 1 << 20, &total), -1);
	n = unhex("30800000", b, sizeof(b));
	assert_int_equal(mamori_apdu_der_length(b, n, 4096, &total), -1);
	n = unhex("308204", b, sizeof(b));
	assert_int_equal(mamori_apdu_der_length(b, n, 4096, &total), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_word), cmocka_unit_test(test_tries),
		cmocka_unit_test(test_builders),    cmocka_unit_test(test_piv_auth_data),
		cmocka_unit_test(test_pkcs1_block), cmocka_unit_test(test_tlv),
		cmocka_unit_test(test_piv_cert),    cmocka_unit_test(test_piv_auth_response),
		cmocka_unit_test(test_der_length),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
