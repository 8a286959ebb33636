#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The suite's virtual card (tests/card/vcard.py) with one fault, for
test-card-helper.sh: a card whose responses break the rules the helper
must check (length, status word, TLV).

    card_faulty.py --fault NAME [vcard.py options]

Faults:
    cert-trailing   GET DATA 5FC105: a byte after the 53 object
    cert-compressed GET DATA 5FC105: CertInfo 71 01 (a gzip'ed certificate)
    cert-sw         GET DATA 5FC105: the last GET RESPONSE ends in 62 83, not 90 00
    tries-sw        VERIFY without data: 6F 00 rather than 63 Cx
    sig-short       GENERAL AUTHENTICATE: the 82 value one byte short of its length
    sig-length      GENERAL AUTHENTICATE (RSA): a 255-byte signature
    jpki-short-read READ BINARY: one byte less than asked for, with 90 00
    jpki-sig-length COMPUTE DIGITAL SIGNATURE: 255 bytes
"""
import importlib.util
import os
import sys

spec = importlib.util.spec_from_file_location(
    "vcard", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "card", "vcard.py"))
vcard = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vcard)

FAULT = None


class FaultyCard(vcard.Card):
    def _dispatch(self, a):
        data = super()._dispatch(a)
        f = FAULT
        if a.ins == 0xCB and f == "cert-trailing":
            return data + b"\x00"
        if a.ins == 0xCB and f == "cert-compressed":
            return data.replace(bytes.fromhex("710100FE00"), bytes.fromhex("710101FE00"))
        if a.ins == 0x87 and f == "sig-short":
            # 7C L 82 L' sig: claim one byte more than is there.
            return data[:-1]
        if a.ins == 0x87 and f == "sig-length" and len(data) > 200:
            sig = data[-256:]
            return vcard.tlv(0x7C, vcard.tlv(0x82, sig[1:]))
        if a.ins == 0xB0 and f == "jpki-short-read" and len(data) > 1:
            return data[:-1]
        if a.ins == 0x2A and f == "jpki-sig-length":
            return data[1:]
        return data

    def _get_response(self, a):
        r = super()._get_response(a)
        if FAULT == "cert-sw" and r.endswith(vcard.SW_OK):
            return r[:-2] + b"\x62\x83"
        return r

    def _piv_verify(self, a):
        if FAULT == "tries-sw" and not a.data:
            raise vcard.CardError(0x6F00)
        return super()._piv_verify(a)


def main():
    global FAULT
    argv = sys.argv[1:]
    if len(argv) < 2 or argv[0] != "--fault":
        sys.exit("usage: card_faulty.py --fault NAME [vcard.py options]")
    FAULT = argv[1]
    sys.argv = [sys.argv[0]] + argv[2:]
    vcard.Card = FaultyCard
    vcard.main()


if __name__ == "__main__":
    main()
