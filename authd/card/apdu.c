/* SPDX-License-Identifier: BSD-2-Clause */
/* The APDUs of the PIV and JPKI profiles (card/apdu.h): pure functions. */
#include "config.h"

#include <string.h>

#include "card/apdu.h"

const uint8_t mamori_apdu_piv_aid[11] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00 };
const uint8_t mamori_apdu_jpki_aid[10] = { 0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01 };
const uint8_t mamori_apdu_sha256_prefix[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
	                                        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };

int
mamori_apdu_sw(const uint8_t *resp, size_t len, uint16_t *sw, size_t *datalen)
{
	if (resp == NULL || len < 2 || len > MAMORI_APDU_RESP_MAX)
		return -1;
	*sw = (uint16_t)((resp[len - 2] << 8) | resp[len - 1]);
	*datalen = len - 2;
	return 0;
}

int
mamori_apdu_tries(uint16_t sw)
{
	if ((sw & 0xFFF0) == 0x63C0)
		return sw & 0x0F;
	if (sw == MAMORI_SW_BLOCKED || sw == MAMORI_SW_BLOCKED_JPKI)
		return 0;
	if (sw == MAMORI_SW_OK)
		return -1;
	return -2;
}

static size_t
header(uint8_t *out, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2)
{
	out[0] = cla;
	out[1] = ins;
	out[2] = p1;
	out[3] = p2;
	return 4;
}

size_t
mamori_apdu_select_aid(uint8_t *out, const uint8_t *aid, size_t aid_len, int with_fci)
{
	size_t n;

	if (aid == NULL || aid_len < 5 || aid_len > 16)
		return 0;
	n = header(out, 0x00, 0xA4, 0x04, with_fci ? 0x00 : 0x0C);
	out[n++] = (uint8_t)aid_len;
	memcpy(out + n, aid, aid_len);
	n += aid_len;
	if (with_fci)
		out[n++] = 0x00;
	return n;
}

size_t
mamori_apdu_select_ef(uint8_t *out, uint16_t fid)
{
	size_t n = header(out, 0x00, 0xA4, 0x02, 0x0C);

	out[n++] = 2;
	out[n++] = (uint8_t)(fid >> 8);
	out[n++] = (uint8_t)fid;
	return n;
}

size_t
mamori_apdu_get_response(uint8_t *out, uint8_t le)
{
	size_t n = header(out, 0x00, 0xC0, 0x00, 0x00);

	out[n++] = le;
	return n;
}

size_t
mamori_apdu_piv_get_cert(uint8_t *out)
{
	static const uint8_t data[] = { 0x5C, 0x03, 0x5F, 0xC1, 0x05 };
	size_t n = header(out, 0x00, 0xCB, 0x3F, 0xFF);

	out[n++] = sizeof(data);
	memcpy(out + n, data, sizeof(data));
	n += sizeof(data);
	out[n++] = 0x00;
	return n;
}

size_t
mamori_apdu_verify(uint8_t *out, const char *pin, size_t pin_len, int piv)
{
	size_t n = header(out, 0x00, 0x20, 0x00, 0x80);

	if (pin == NULL)
		return n;
	if (pin_len == 0 || pin_len > 8 || (!piv && pin_len != 4))
		return 0;
	out[n++] = piv ? 8 : (uint8_t)pin_len;
	memcpy(out + n, pin, pin_len);
	if (piv)
		memset(out + n + pin_len, 0xFF, 8 - pin_len);
	return n + (piv ? 8 : pin_len);
}

size_t
mamori_apdu_read_binary(uint8_t *out, uint16_t offset, uint16_t le)
{
	size_t n;

	if (le == 0 || le > 256 || offset > 0x7FFF)
		return 0;
	n = header(out, 0x00, 0xB0, (uint8_t)(offset >> 8), (uint8_t)offset);
	out[n++] = (uint8_t)(le & 0xFF);
	return n;
}

size_t
mamori_apdu_jpki_sign(uint8_t *out, const uint8_t digestinfo[MAMORI_APDU_DIGESTINFO_LEN])
{
	size_t n = header(out, 0x80, 0x2A, 0x00, 0x80);

	out[n++] = MAMORI_APDU_DIGESTINFO_LEN;
	memcpy(out + n, digestinfo, MAMORI_APDU_DIGESTINFO_LEN);
	n += MAMORI_APDU_DIGESTINFO_LEN;
	out[n++] = 0x00;
	return n;
}

/* A BER length into out; returns its size. */
static size_t
put_length(uint8_t *out, size_t len)
{
	if (len < 0x80) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len < 0x100) {
		out[0] = 0x81;
		out[1] = (uint8_t)len;
		return 2;
	}
	out[0] = 0x82;
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	return 3;
}

size_t
mamori_apdu_piv_auth_data(uint8_t *out, size_t cap, const uint8_t *challenge, size_t challenge_len)
{
	uint8_t l81[3], l7c[3];
	size_t n81, inner, n7c, total;

	if (challenge == NULL || challenge_len == 0 || challenge_len > 512)
		return 0;
	n81 = put_length(l81, challenge_len);
	inner = 2 + 1 + n81 + challenge_len;
	n7c = put_length(l7c, inner);
	total = 1 + n7c + inner;
	if (total > cap)
		return 0;
	out[0] = 0x7C;
	memcpy(out + 1, l7c, n7c);
	out += 1 + n7c;
	out[0] = 0x82;
	out[1] = 0x00;
	out[2] = 0x81;
	memcpy(out + 3, l81, n81);
	memcpy(out + 3 + n81, challenge, challenge_len);
	return total;
}

void
mamori_apdu_digestinfo(uint8_t out[MAMORI_APDU_DIGESTINFO_LEN], const uint8_t digest[32])
{
	memcpy(out, mamori_apdu_sha256_prefix, sizeof(mamori_apdu_sha256_prefix));
	memcpy(out + sizeof(mamori_apdu_sha256_prefix), digest, 32);
}

int
mamori_apdu_pkcs1_block(uint8_t *out, size_t klen, const uint8_t digestinfo[MAMORI_APDU_DIGESTINFO_LEN])
{
	/* RFC 8017 9.2: at least 8 bytes of FF. */
	if (klen < MAMORI_APDU_DIGESTINFO_LEN + 11)
		return -1;
	out[0] = 0x00;
	out[1] = 0x01;
	memset(out + 2, 0xFF, klen - MAMORI_APDU_DIGESTINFO_LEN - 3);
	out[klen - MAMORI_APDU_DIGESTINFO_LEN - 1] = 0x00;
	memcpy(out + klen - MAMORI_APDU_DIGESTINFO_LEN, digestinfo, MAMORI_APDU_DIGESTINFO_LEN);
	return 0;
}

int
mamori_tlv_next(const uint8_t *in, size_t len, uint32_t *tag, const uint8_t **value, size_t *vlen, size_t *next)
{
	size_t i = 0, l;

	if (in == NULL || len < 2)
		return -1;
	*tag = in[i++];
	if ((*tag & 0x1F) == 0x1F) {
		/* Subsequent tag bytes: at most two, the last without bit 8. */
		do {
			if (i >= len || i >= 3)
				return -1;
			*tag = (*tag << 8) | in[i];
		} while (in[i++] & 0x80);
	}
	if (i >= len)
		return -1;
	l = in[i++];
	if (l == 0x81 || l == 0x82) {
		size_t bytes = l & 0x7F;
		if (len - i < bytes)
			return -1;
		l = bytes == 1 ? in[i] : ((size_t)in[i] << 8) | in[i + 1];
		i += bytes;
	} else if (l >= 0x80) {
		return -1;
	}
	if (len - i < l)
		return -1;
	*value = in + i;
	*vlen = l;
	*next = i + l;
	return 0;
}

int
mamori_apdu_piv_cert(const uint8_t *in, size_t len, size_t max, const uint8_t **cert, size_t *cert_len)
{
	const uint8_t *obj, *v, *c = NULL;
	size_t olen, vlen, next, clen = 0, off = 0;
	uint32_t tag;
	int have_info = 0;

	*cert = NULL;
	*cert_len = 0;
	if (mamori_tlv_next(in, len, &tag, &obj, &olen, &next) != 0 || tag != 0x53 || next != len)
		return -1;
	while (off < olen) {
		if (mamori_tlv_next(obj + off, olen - off, &tag, &v, &vlen, &next) != 0)
			return -1;
		off += next;
		if (tag == 0x70 && c == NULL) {
			c = v;
			clen = vlen;
		} else if (tag == 0x71 && !have_info) {
			/* CertInfo: bit 01 says the certificate is gzip'ed. */
			if (vlen != 1 || (v[0] & 0x01) != 0)
				return -1;
			have_info = 1;
		} else if (tag != 0xFE) {
			return -1;
		}
	}
	if (c == NULL || !have_info || clen == 0 || clen > max)
		return -1;
	*cert = c;
	*cert_len = clen;
	return 0;
}

int
mamori_apdu_piv_auth_response(const uint8_t *in, size_t len, size_t max, const uint8_t **sig, size_t *sig_len)
{
	const uint8_t *obj;
	size_t olen, next;
	uint32_t tag;

	*sig = NULL;
	*sig_len = 0;
	if (mamori_tlv_next(in, len, &tag, &obj, &olen, &next) != 0 || tag != 0x7C || next != len)
		return -1;
	if (mamori_tlv_next(obj, olen, &tag, sig, sig_len, &next) != 0 || tag != 0x82 || next != olen ||
	    *sig_len == 0 || *sig_len > max) {
		*sig = NULL;
		*sig_len = 0;
		return -1;
	}
	return 0;
}

int
mamori_apdu_der_length(const uint8_t *head, size_t len, size_t max, size_t *total)
{
	size_t l;

	if (head == NULL || len < 4 || head[0] != 0x30)
		return -1;
	if (head[1] < 0x80)
		l = 2 + (size_t)head[1];
	else if (head[1] == 0x81)
		l = 3 + (size_t)head[2];
	else if (head[1] == 0x82)
		l = 4 + (((size_t)head[2] << 8) | head[3]);
	else
		return -1;
	if (l > max)
		return -1;
	*total = l;
	return 0;
}
