#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A card helper that breaks the protocol of authd/card/card.h, for
test-card-helper.sh: the daemon's side (client.c) must refuse each reply
and kill the helper.  The mode is the program's name after "fake-"
(a symlink per mode); the certificate of a well-formed reply is the file
named by the first line of ./fake-cert-path beside the program.  It writes
its pid to fake-MODE.pid beside itself.

Modes (the reply to the first request):
    ok              a well-formed wait reply
    extra-key       that reply with one more key
    tries-string    "tries" as a string
    tries-big       "tries": 1000
    cert-bad-b64    "cert" not base64
    cert-b64-nl     "cert" base64 with a line break in it
    cert-big        a certificate of 4097 bytes
    reader-ctrl     a reader name with a control character
    reader-long     a reader name of 128 bytes
    profile-other   "profile": "cac"
    ok-string       "ok": "true"
    unknown-error   {"ok":false,"error":"nope"}
    trailing        a well-formed reply, its NUL, then one more byte
    huge            40000 bytes without a NUL
    not-json        a NUL-terminated line that is not JSON
    duplicate-key   "tries" twice
    exit            exits without answering
    silent          reads the request and never answers
With --watch:
    watch-bad       three events that break the protocol, then "removed R 0"
    watch-huge      40000 bytes without a NUL
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
with open(os.path.join(here, "fake-cert-path")) as f:
    cert = open(f.readline().strip(), "rb").read()


def send(raw):
    os.write(1, raw)


if "--watch" in sys.argv:
    if mode == "watch-huge":
        send(b" " * 40000)
    elif mode == "watch-bad":
        send(b'{"event":"gone","reader":"R 0"}\0{"event":"present","reader":"R\\n0"}\0'
             b'{"event":"present","reader":"R 0","x":1}\0{"event":"removed","reader":"R 0"}\0')
    while os.read(0, 65536):
        pass
    sys.exit(0)

buf = b""
while b"\0" not in buf:
    chunk = os.read(0, 65536)
    if not chunk:
        sys.exit(0)
    buf += chunk

b64 = base64.b64encode(cert).decode()
good = {"ok": True, "reader": "Virtual PCD 00 00", "profile": "piv", "cert": b64, "tries": 3}


def reply(obj):
    send(json.dumps(obj, separators=(",", ":")).encode() + b"\0")


if mode == "ok":
    reply(good)
elif mode == "extra-key":
    reply(dict(good, x=1))
elif mode == "tries-string":
    reply(dict(good, tries="3"))
elif mode == "tries-big":
    reply(dict(good, tries=1000))
elif mode == "cert-bad-b64":
    reply(dict(good, cert="@@@@" + b64[4:]))
elif mode == "cert-b64-nl":
    reply(dict(good, cert=b64[:64] + "\n" + b64[64:]))
elif mode == "cert-big":
    reply(dict(good, cert=base64.b64encode(cert + bytes(4097 - len(cert))).decode()))
elif mode == "reader-ctrl":
    reply(dict(good, reader="Virtual\nPCD"))
elif mode == "reader-long":
    reply(dict(good, reader="R" * 128))
elif mode == "profile-other":
    reply(dict(good, profile="cac"))
elif mode == "ok-string":
    reply(dict(good, ok="true"))
elif mode == "unknown-error":
    reply({"ok": False, "error": "nope"})
elif mode == "trailing":
    send(json.dumps(good).encode() + b"\0x")
elif mode == "huge":
    send(b" " * 40000)
elif mode == "not-json":
    send(b"ok, here is your card\0")
elif mode == "duplicate-key":
    send(json.dumps(good)[:-1].encode() + b',"tries":2}\0')
elif mode == "exit":
    sys.exit(0)
# silent, and every mode after its reply: wait for EOF (or the kill).
while os.read(0, 65536):
    pass
time.sleep(30)
