#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A FIDO2 helper that breaks the protocol of authd/fido2/fido2.h, for
test-fido2-helper.sh: the daemon's side (authd/fido2/client.c) must refuse
each reply and kill the helper.  The mode is the program's name after
"fake-" (a symlink per mode).  It writes its pid to fake-MODE.pid beside
itself.

A mode "p-..." breaks the reply to the first request (the probe); "a-..."
and "m-..." answer the probe well and break the reply to the second (an
assert, a make_cred).  "...-ok" modes break nothing.
"""
import base64
import json
import os
import sys
import time

here = os.path.dirname(os.path.abspath(sys.argv[0]))
mode = os.path.basename(sys.argv[0])[len("fake-"):]
with open(os.path.join(here, "fake-%s.pid" % mode), "w") as f:
    f.write("%d\n" % os.getpid())


def b64(n, byte=0x41):
    return base64.b64encode(bytes([byte]) * n).decode()


KEY = {"path": "/dev/hidraw0", "product": "Key", "pin_set": False, "uv": False, "bio": False, "pin_retries": -1}
PROBE = {"ok": True, "keys": [KEY]}
ASSERT = {"ok": True, "path": "/dev/hidraw0", "cred_id": b64(32), "authdata": b64(37), "sig": b64(70),
          "pin_used": False}
MAKE = {"ok": True, "path": "/dev/hidraw0", "fmt": "none", "authdata": b64(164), "pin_used": False, "uv": False,
        "bio": False, "pin_set": False}


def without(d, k):
    d = dict(d)
    del d[k]
    return d


RAW = {
    "trailing": json.dumps(PROBE).encode() + b"\0x",
    "huge": b" " * 70000,
    "not-json": b"a key, a key\0",
    "duplicate-key": json.dumps(PROBE)[:-1].encode() + b',"ok":true}\0',
}
PROBES = {
    "ok": PROBE,
    "keys-empty": dict(PROBE, keys=[]),
    "keys-nine": dict(PROBE, keys=[dict(KEY, path="/dev/hidraw%d" % i) for i in range(9)]),
    "key-extra": dict(PROBE, keys=[dict(KEY, x=1)]),
    "key-missing": dict(PROBE, keys=[without(KEY, "bio")]),
    "path-ctrl": dict(PROBE, keys=[dict(KEY, path="/dev/\nhidraw0")]),
    "path-long": dict(PROBE, keys=[dict(KEY, path="/" * 256)]),
    "path-dup": dict(PROBE, keys=[KEY, KEY]),
    "product-long": dict(PROBE, keys=[dict(KEY, product="P" * 64)]),
    "retries-big": dict(PROBE, keys=[dict(KEY, pin_retries=256)]),
    "retries-string": dict(PROBE, keys=[dict(KEY, pin_retries="8")]),
    "uv-int": dict(PROBE, keys=[dict(KEY, uv=1)]),
    "ok-string": dict(PROBE, ok="true"),
    "extra": dict(PROBE, x=1),
    "unknown-error": {"ok": False, "error": "nope"},
    "error-extra": {"ok": False, "error": "timeout", "retries": 3},
    "wrong-pin-bare": {"ok": False, "error": "wrong_pin"},
}
ASSERTS = {
    "ok": ASSERT,
    "path-other": dict(ASSERT, path="/dev/hidraw1"),
    "cred-bad-b64": dict(ASSERT, cred_id="@@@@" + ASSERT["cred_id"][4:]),
    "cred-b64-nl": dict(ASSERT, cred_id=ASSERT["cred_id"][:8] + "\n" + ASSERT["cred_id"][8:]),
    "cred-big": dict(ASSERT, cred_id=b64(1025)),
    "authdata-big": dict(ASSERT, authdata=b64(4097)),
    "sig-empty": dict(ASSERT, sig=""),
    "sig-big": dict(ASSERT, sig=b64(513)),
    "pin-used": dict(ASSERT, pin_used=True),
    "no-sig": without(ASSERT, "sig"),
    "extra": dict(ASSERT, x=1),
    "wrong-pin-big": {"ok": False, "error": "wrong_pin", "retries": 256},
}
MAKES = {
    "ok": MAKE,
    "fmt-upper": dict(MAKE, fmt="Packed"),
    "fmt-long": dict(MAKE, fmt="p" * 16),
    "x5c-big": dict(MAKE, x5c=b64(4097)),
    "sig-int": dict(MAKE, sig=70),
    "no-uv": without(MAKE, "uv"),
    "extra": dict(MAKE, x=1),
    "path-other": dict(MAKE, path="/dev/hidraw7"),
}

buf = b""


def request():
    global buf
    while b"\0" not in buf:
        chunk = os.read(0, 65536)
        if not chunk:
            sys.exit(0)
        buf += chunk
    req, buf = buf.split(b"\0", 1)
    return req


def reply(obj):
    os.write(1, json.dumps(obj, separators=(",", ":")).encode() + b"\0")


kind, _, name = mode.partition("-")
request()
if kind == "p":
    if name in RAW:
        os.write(1, RAW[name])
    elif name == "exit":
        sys.exit(0)
    elif name != "silent":
        reply(PROBES[name])
else:
    reply(PROBE)
    request()
    reply((ASSERTS if kind == "a" else MAKES)[name])
# silent, and every mode after its reply: wait for EOF (or the kill).
while os.read(0, 65536):
    pass
time.sleep(30)
