#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Malformed and mutated C-APDUs against the virtual card's applets, in
process: every answer must be a status word of the card's own (at least
two bytes, never 6F 00, the answer of an internal error), whatever comes.

    vcard_fuzz.py N PROFILE:KEY:CERT:KEYFILE...   e.g. piv:p256:c.pem:c.key
"""
import importlib.util
import os
import random
import sys
import types

spec = importlib.util.spec_from_file_location("vcard", os.path.join(os.path.dirname(__file__), "vcard.py"))
vcard = importlib.util.module_from_spec(spec)
spec.loader.exec_module(vcard)

SEEDS = [bytes.fromhex(x) for x in (
    "00A4040009A00000030800001000", "00A404000BA000000308000010000100", "00A4040C0AD392F000260100000001",
    "00A4020C02000A", "00A4020C020018", "00A4020C020017", "00CB3FFF055C035FC105", "00CB3FFF035C017E",
    "00B0000004", "00B0010000", "0020008008313233343536FFFF", "00200080", "002000800431323334",
    "0087079A0A7C0882008104DEADBEEF", "0087119A267C248200812000", "802A0080333031300D0609608648016503040201050004",
    "00C0000000", "1087079A05", "00", "FFFFFFFF", "0000000000000000")]


def main():
    n = int(sys.argv[1])
    bad = 0
    for spec_ in sys.argv[2:]:
        profile, key, cert, keyfile = spec_.split(":")
        args = types.SimpleNamespace(profile=profile, key=key, cert=cert, key_file=keyfile, ca=None,
                                     pin="123456" if profile == "piv" else "1234", sign_pin="SIGN1234",
                                     tries=1 << 30, state=None, latency_ms=0, sign_latency_ms=0)
        card = vcard.Card(args)
        rng = random.Random(profile + key)
        for _ in range(n):
            s = bytearray(rng.choice(SEEDS))
            for _ in range(rng.randint(0, 4)):
                op = rng.randint(0, 3)
                if op == 0 and s:
                    s[rng.randrange(len(s))] = rng.randrange(256)
                elif op == 1:
                    s += bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
                elif op == 2 and s:
                    del s[rng.randrange(len(s)):]
                else:
                    s.insert(rng.randint(0, len(s)), rng.randrange(256))
            if rng.random() < 0.02:
                card.reset()
            r = card.process(bytes(s))
            if len(r) < 2 or r[-2:] == b"\x6f\x00":
                bad += 1
                print("bad answer %s to %s" % (r.hex(), bytes(s).hex()))
        print("%s/%s: %d APDUs" % (profile, key, n))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
