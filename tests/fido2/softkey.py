#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""softkey.py: a CTAP2.0 authenticator for the test suite (issue #12).

This kernel has no hidraw, so no USB key can appear; libfido2 reaches this
key through mamori's test transport (authd/fido2/devsock.h): an AF_UNIX
stream socket carrying whole CTAPHID messages, each one command byte, a
4-byte big-endian length and the payload.  libfido2 does everything above
that (INIT's nonce, CBOR, the PIN protocol); this key answers it as a
CTAP2.0 key with real P-256 keys (python3-cryptography, python3-cbor2).

Command line:
  softkey.py --socket PATH [--pin PIN] [--pin-retries N] [--uv builtin]
             [--bio] [--no-counter] [--counter N] [--aaguid HEX32]
             [--latency-ms N] [--pid-file F] [--trace F]

  --pin PIN        a PIN is set (getInfo clientPin true); without it the
                   option is false (supported, not set)
  --pin-retries N  PIN retries left (default 8; a right PIN gives 8 back);
                   0: blocked
  --uv builtin     the key verifies its user itself (getInfo "uv": true):
                   an assertion or make_cred with option uv true gets the
                   UV flag without a PIN
  --bio            the built-in verification is a fingerprint (bioEnroll)
  --no-counter     the sign count stays 0 (keys that keep none)
  --counter N      the sign count to start from (default 0); every
                   signature of an assertion adds 1 first
  --aaguid HEX32   the AAGUID (default 6d616d6f726920736f66746b65790001)
  --latency-ms N   slept before every signature the user touched the key
                   for (not before a silent one, up false): a real key's
                   touch and signing time, for the benchmark
                   (tests/bench/fido2)
  --pid-file F     written once both sockets listen (readiness)
  --trace F        appends a line per message and signature: the wall
                   clock (time.time(), s), the connection, what
                   ("open", "close", "in CMD LEN [CBOR-COMMAND]", "out CMD
                   LEN [STATUS]", "sign MS"): where a login's time goes

What it answers (exactly what libfido2 1.12 sends):
  CTAPHID INIT (0x06): the 8-byte nonce echoed, a channel id, CTAPHID
    protocol 2, version 1.0.0, capabilities CBOR|NMSG;
  CTAPHID CBOR (0x10):
    authenticatorGetInfo (0x04): versions [FIDO_2_0], aaguid, options
      rk up plat clientPin [uv] [bioEnroll], maxMsgSize 1200,
      pinUvAuthProtocols [1];
    authenticatorMakeCredential (0x01): ES256 only, a fresh P-256 key per
      credential, a random credential id of 32 to 64 bytes, "packed" self
      attestation; excludeList, rk, uv and pinAuth honoured; a key with a
      PIN wants pinAuth (or built-in UV) first (CTAP2.0);
    authenticatorGetAssertion (0x02) and GetNextAssertion (0x08): allowList
      (or the resident credentials of the rp), options up/uv, pinAuth, the
      signature over authData||clientDataHash, the sign count;
    authenticatorClientPIN (0x06), PIN protocol 1: getRetries,
      getKeyAgreement, setPIN, getPINToken, getUVRetries;
  CTAPHID MSG (U2F) and anything else: CTAPHID ERROR invalid command.
  Errors are CTAP2 status bytes: CREDENTIAL_EXCLUDED 0x19, UNSUPPORTED
  _ALGORITHM 0x26, OPERATION_DENIED 0x27, UNSUPPORTED_OPTION 0x2B,
  INVALID_OPTION 0x2C, KEEPALIVE_CANCEL 0x2D, NO_CREDENTIALS 0x2E,
  USER_ACTION_TIMEOUT 0x2F, PIN_INVALID 0x31, PIN_BLOCKED 0x32,
  PIN_AUTH_INVALID 0x33, PIN_NOT_SET 0x35, PIN_REQUIRED 0x36.
  While it waits for a touch it sends CTAPHID KEEPALIVE (0x3b, status
  UPNEEDED) every 100 ms.  An assertion with up (the default) waits for the
  touch even when it holds none of the credentials asked for, then answers
  NO_CREDENTIALS: an unknown credential costs the same as a known one.

Control: a second socket PATH.ctl; one JSON object per connection, answered
with one JSON object:
  {"set":{"up":bool,"uv":bool,"counter":N,"mode":"normal"|"wrong_cdh"|
          "replay"|"wrong_rp","pin":"...","pin_retries":N,"latency_ms":N,
          "touch":bool}}                               -> {"ok":true}
    up: false clears the UP flag of every answer (a key that lies; true,
        the default, sets it when the user was asked and touched);
    uv: false never sets UV, true always sets it (a key that lies); unset
        (the default), UV is set only when the PIN or built-in UV verified;
    mode wrong_cdh: the signature is over another client-data hash; replay:
        the previous assertion answered again, byte for byte; wrong_rp:
        another rp id's hash in authData;
    touch: false, the user never touches: keepalives until the client gives
        up (closes, cancels) or 30 s, then USER_ACTION_TIMEOUT.
  {"get":"state"} -> {"counter":N,"pin_retries":N,"credentials":N,
          "signatures":N,"last_sign_ms":float,"sign_ms_total":float}
    (sign_ms: the key's own time per signature, latency included: the
    benchmark's baseline)
  Anything else -> {"ok":false,"error":"..."}
"""

import argparse
import hashlib
import hmac
import json
import os
import secrets
import select
import signal
import socket
import struct
import sys
import threading
import time

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CMD_MSG = 0x03
CMD_INIT = 0x06
CMD_CBOR = 0x10
CMD_CANCEL = 0x11
CMD_KEEPALIVE = 0x3B
CMD_ERROR = 0x3F
MSG_MAX = 7609

OK = 0x00
ERR_INVALID_COMMAND = 0x01
ERR_INVALID_PARAMETER = 0x02
ERR_INVALID_LENGTH = 0x03
ERR_INVALID_CBOR = 0x12
ERR_MISSING_PARAMETER = 0x14
ERR_CREDENTIAL_EXCLUDED = 0x19
ERR_UNSUPPORTED_ALGORITHM = 0x26
ERR_OPERATION_DENIED = 0x27
ERR_UNSUPPORTED_OPTION = 0x2B
ERR_INVALID_OPTION = 0x2C
ERR_KEEPALIVE_CANCEL = 0x2D
ERR_NO_CREDENTIALS = 0x2E
ERR_USER_ACTION_TIMEOUT = 0x2F
ERR_NOT_ALLOWED = 0x30
ERR_PIN_INVALID = 0x31
ERR_PIN_BLOCKED = 0x32
ERR_PIN_AUTH_INVALID = 0x33
ERR_PIN_NOT_SET = 0x35
ERR_PIN_REQUIRED = 0x36
ERR_PIN_POLICY_VIOLATION = 0x37
ERR_INVALID_SUBCOMMAND = 0x3E

FLAG_UP = 0x01
FLAG_UV = 0x04
FLAG_AT = 0x40

COSE_ES256 = -7
COSE_ECDH_ES_HKDF_256 = -25
TOUCH_WAIT_S = 30.0
KEEPALIVE_S = 0.1
STATUS_UPNEEDED = 2


class Fail(Exception):
    """A CTAP2 status to answer with."""

    def __init__(self, status):
        super().__init__(status)
        self.status = status


def now_ms():
    return time.monotonic() * 1000.0


TRACE = None
TRACE_LOCK = threading.Lock()


def trace(conn_id, what):
    if TRACE is None:
        return
    with TRACE_LOCK:
        TRACE.write("%.6f %d %s\n" % (time.time(), conn_id, what))
        TRACE.flush()


def cose_key(pub, alg):
    nums = pub.public_numbers()
    return {1: 2, 3: alg, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")}


def cose_to_public(item):
    if not isinstance(item, dict) or item.get(1) != 2 or item.get(-1) != 1:
        raise Fail(ERR_INVALID_PARAMETER)
    x, y = item.get(-2), item.get(-3)
    if not isinstance(x, bytes) or not isinstance(y, bytes) or len(x) != 32 or len(y) != 32:
        raise Fail(ERR_INVALID_PARAMETER)
    try:
        return ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()).public_key()
    except ValueError:
        raise Fail(ERR_INVALID_PARAMETER) from None


def aes_cbc(key, data, encrypt):
    if len(data) % 16 != 0:
        raise Fail(ERR_INVALID_LENGTH)
    c = Cipher(algorithms.AES(key), modes.CBC(b"\0" * 16))
    op = c.encryptor() if encrypt else c.decryptor()
    return op.update(data) + op.finalize()


class Credential:
    def __init__(self, cred_id, rp_id, user, rk):
        self.cred_id = cred_id
        self.rp_id = rp_id
        self.user = user
        self.rk = rk
        self.key = ec.generate_private_key(ec.SECP256R1())


class Key:
    """The authenticator's state; every field under self.lock."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.aaguid = bytes.fromhex(args.aaguid)
        self.pin = args.pin.encode() if args.pin is not None else None
        self.pin_retries = args.pin_retries
        self.pin_retries_max = 8
        self.uv_builtin = args.uv == "builtin"
        self.bio = args.bio
        self.keeps_counter = not args.no_counter
        self.counter = 0 if args.no_counter else args.counter
        self.latency_ms = args.latency_ms
        self.up_flag = True
        self.uv_flag = None
        self.mode = "normal"
        self.touch = True
        self.creds = {}
        self.signatures = 0
        self.last_sign_ms = 0.0
        self.sign_ms_total = 0.0
        self.last_assertion = None
        self.pending = []  # GetNextAssertion: (cdh, flags, creds)
        self.agreement = ec.generate_private_key(ec.SECP256R1())
        self.pin_token = secrets.token_bytes(32)
        self.next_cid = 1

    # ---- control
    def control(self, req):
        if req.get("get") == "state":
            with self.lock:
                return {"counter": self.counter, "pin_retries": self.pin_retries,
                        "credentials": len(self.creds), "signatures": self.signatures,
                        "last_sign_ms": self.last_sign_ms, "sign_ms_total": self.sign_ms_total}
        s = req.get("set")
        if not isinstance(s, dict):
            return {"ok": False, "error": "unknown request"}
        with self.lock:
            for k, v in s.items():
                if k == "up" and isinstance(v, bool):
                    self.up_flag = v
                elif k == "uv" and (isinstance(v, bool) or v is None):
                    self.uv_flag = v
                elif k == "counter" and isinstance(v, int) and 0 <= v < 2**32:
                    self.counter = v
                elif k == "mode" and v in ("normal", "wrong_cdh", "replay", "wrong_rp"):
                    self.mode = v
                elif k == "pin" and (isinstance(v, str) or v is None):
                    self.pin = v.encode() if v is not None else None
                elif k == "pin_retries" and isinstance(v, int) and 0 <= v <= 255:
                    self.pin_retries = v
                elif k == "latency_ms" and isinstance(v, (int, float)) and v >= 0:
                    self.latency_ms = v
                elif k == "touch" and isinstance(v, bool):
                    self.touch = v
                else:
                    return {"ok": False, "error": "bad setting: %s" % k}
        return {"ok": True}

    # ---- CTAP2
    def get_info(self, _req, _conn):
        options = {"rk": True, "up": True, "plat": False, "clientPin": self.pin is not None}
        if self.uv_builtin:
            options["uv"] = True
        if self.bio:
            options["bioEnroll"] = True
        return {1: ["FIDO_2_0"], 3: self.aaguid, 4: options, 5: 1200, 6: [1]}

    def check_pin_auth(self, req, auth_key, proto_key, cdh):
        """True when pinAuth is present and right (UV done)."""
        pin_auth = req.get(auth_key)
        if pin_auth is None:
            return False
        if req.get(proto_key) != 1:
            raise Fail(ERR_PIN_AUTH_INVALID)
        if self.pin is None:
            raise Fail(ERR_PIN_NOT_SET)
        want = hmac.new(self.pin_token, cdh, hashlib.sha256).digest()[:16]
        if not isinstance(pin_auth, bytes) or not hmac.compare_digest(pin_auth, want):
            raise Fail(ERR_PIN_AUTH_INVALID)
        return True

    def user_verified(self, req, options, auth_key, proto_key, cdh):
        with self.lock:
            done = self.check_pin_auth(req, auth_key, proto_key, cdh)
        if options.get("uv") is True:
            if not self.uv_builtin:
                raise Fail(ERR_UNSUPPORTED_OPTION)
            done = True
        return done

    def flags(self, up, uv):
        f = 0
        if up and self.up_flag:
            f |= FLAG_UP
        if self.uv_flag is True or (uv and self.uv_flag is None):
            f |= FLAG_UV
        return f

    def wait_touch(self, conn):
        """The user's touch: at once, or never (touch false): keepalives
        until the client goes away, cancels, or 30 s pass."""
        if self.touch:
            return
        deadline = time.monotonic() + TOUCH_WAIT_S
        while time.monotonic() < deadline:
            if not conn.send_msg(CMD_KEEPALIVE, bytes([STATUS_UPNEEDED])):
                raise Fail(ERR_USER_ACTION_TIMEOUT)
            r, _, _ = select.select([conn.sock], [], [], KEEPALIVE_S)
            if r:
                msg = conn.recv_msg()
                if msg is None:
                    raise Fail(ERR_USER_ACTION_TIMEOUT)
                if msg[0] == CMD_CANCEL:
                    raise Fail(ERR_KEEPALIVE_CANCEL)
            if self.touch:
                return
        raise Fail(ERR_USER_ACTION_TIMEOUT)

    def sign(self, priv, data, touched=True):
        """A signature, with the latency first when the user touched the key
        (a silent assertion, up false, signs at once); the key's own time
        counted."""
        t0 = now_ms()
        if touched and self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000.0)
        sig = priv.sign(data, ec.ECDSA(hashes.SHA256()))
        ms = now_ms() - t0
        trace(0, "sign %.3f" % ms)
        with self.lock:
            self.signatures += 1
            self.last_sign_ms = ms
            self.sign_ms_total += ms
        return sig

    def make_credential(self, req, conn):
        cdh, rp, user, params = req.get(1), req.get(2), req.get(3), req.get(4)
        if not isinstance(cdh, bytes) or not isinstance(rp, dict) or not isinstance(user, dict) \
                or not isinstance(params, list):
            raise Fail(ERR_MISSING_PARAMETER)
        rp_id = rp.get("id")
        if not isinstance(rp_id, str) or not isinstance(user.get("id"), bytes):
            raise Fail(ERR_MISSING_PARAMETER)
        if not any(isinstance(p, dict) and p.get("alg") == COSE_ES256 and p.get("type") == "public-key"
                   for p in params):
            raise Fail(ERR_UNSUPPORTED_ALGORITHM)
        options = req.get(7) or {}
        if not isinstance(options, dict) or "up" in options:
            raise Fail(ERR_INVALID_OPTION)
        uv = self.user_verified(req, options, 8, 9, cdh)
        if self.pin is not None and not uv:
            raise Fail(ERR_PIN_REQUIRED)
        excluded = False
        with self.lock:
            for d in req.get(5) or []:
                c = self.creds.get(d.get("id")) if isinstance(d, dict) else None
                if c is not None and c.rp_id == rp_id:
                    excluded = True
        self.wait_touch(conn)
        if excluded:
            raise Fail(ERR_CREDENTIAL_EXCLUDED)
        cred = Credential(secrets.token_bytes(32 + secrets.randbelow(33)), rp_id, user,
                          options.get("rk") is True)
        with self.lock:
            count = self.counter
            flags = self.flags(True, uv) | FLAG_AT
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + struct.pack(">I", count) +
                     self.aaguid + struct.pack(">H", len(cred.cred_id)) + cred.cred_id +
                     cbor2.dumps(cose_key(cred.key.public_key(), COSE_ES256), canonical=True))
        sig = self.sign(cred.key, auth_data + cdh)
        with self.lock:
            self.creds[cred.cred_id] = cred
        return {1: "packed", 2: auth_data, 3: {"alg": COSE_ES256, "sig": sig}}

    def assertion(self, cred, cdh, flags, count, rp_id):
        with self.lock:
            mode = self.mode
        rp_hash = hashlib.sha256((rp_id if mode != "wrong_rp" else "other." + rp_id).encode()).digest()
        auth_data = rp_hash + bytes([flags]) + struct.pack(">I", count)
        signed_cdh = cdh if mode != "wrong_cdh" else hashlib.sha256(b"another challenge" + cdh).digest()
        sig = self.sign(cred.key, auth_data + signed_cdh, touched=bool(flags & FLAG_UP))
        answer = {1: {"id": cred.cred_id, "type": "public-key"}, 2: auth_data, 3: sig}
        if cred.rk:
            answer[4] = {"id": cred.user["id"]}
        return answer

    def next_count(self):
        with self.lock:
            if self.keeps_counter:
                self.counter = (self.counter + 1) & 0xFFFFFFFF
            return self.counter

    def get_assertion(self, req, conn):
        rp_id, cdh = req.get(1), req.get(2)
        if not isinstance(rp_id, str) or not isinstance(cdh, bytes):
            raise Fail(ERR_MISSING_PARAMETER)
        options = req.get(5) or {}
        if not isinstance(options, dict) or "rk" in options:
            raise Fail(ERR_INVALID_OPTION)
        uv = self.user_verified(req, options, 6, 7, cdh)
        up = options.get("up", True) is not False
        with self.lock:
            if self.mode == "replay" and self.last_assertion is not None:
                replay = self.last_assertion
            else:
                replay = None
            allow = req.get(3)
            if allow:
                found = [self.creds[d["id"]] for d in allow
                         if isinstance(d, dict) and d.get("id") in self.creds
                         and self.creds[d["id"]].rp_id == rp_id]
            else:
                found = [c for c in self.creds.values() if c.rk and c.rp_id == rp_id]
        if up:
            self.wait_touch(conn)
        if replay is not None:
            return replay
        if not found:
            raise Fail(ERR_NO_CREDENTIALS)
        flags = self.flags(up, uv)
        answer = self.assertion(found[0], cdh, flags, self.next_count(), rp_id)
        if not allow and len(found) > 1:
            answer[5] = len(found)
            with self.lock:
                self.pending = [(cdh, flags, rp_id, found[1:])]
        answer = cbor2.dumps(answer, canonical=True)
        with self.lock:
            self.last_assertion = answer
        return answer

    def get_next_assertion(self, _req, _conn):
        with self.lock:
            if not self.pending or not self.pending[0][3]:
                raise Fail(ERR_NOT_ALLOWED)
            cdh, flags, rp_id, rest = self.pending[0]
            cred = rest.pop(0)
        return self.assertion(cred, cdh, flags, self.next_count(), rp_id)

    def shared_secret(self, platform_key):
        peer = cose_to_public(platform_key)
        z = self.agreement.exchange(ec.ECDH(), peer)
        return hashlib.sha256(z).digest()

    def client_pin(self, req, _conn):
        if req.get(1) != 1:
            raise Fail(ERR_INVALID_PARAMETER)
        sub = req.get(2)
        with self.lock:
            if sub == 1:  # getRetries
                return {3: self.pin_retries}
            if sub == 7:  # getUVRetries
                return {5: 8 if self.uv_builtin else 0}
            if sub == 2:  # getKeyAgreement
                return {1: cose_key(self.agreement.public_key(), COSE_ECDH_ES_HKDF_256)}
            if sub == 3:  # setPIN
                return self.set_pin(req)
            if sub == 5:  # getPINToken
                return self.get_pin_token(req)
        raise Fail(ERR_INVALID_SUBCOMMAND)

    def set_pin(self, req):
        if self.pin is not None:
            raise Fail(ERR_NOT_ALLOWED)
        new_enc, pin_auth = req.get(5), req.get(4)
        if not isinstance(new_enc, bytes) or not isinstance(pin_auth, bytes):
            raise Fail(ERR_MISSING_PARAMETER)
        shared = self.shared_secret(req.get(3))
        if not hmac.compare_digest(hmac.new(shared, new_enc, hashlib.sha256).digest()[:16], pin_auth):
            raise Fail(ERR_PIN_AUTH_INVALID)
        if len(new_enc) < 64:
            raise Fail(ERR_PIN_POLICY_VIOLATION)
        pin = aes_cbc(shared, new_enc, False).rstrip(b"\0")
        if len(pin) < 4 or len(pin) > 63:
            raise Fail(ERR_PIN_POLICY_VIOLATION)
        self.pin = pin
        self.pin_retries = self.pin_retries_max
        return {}

    def get_pin_token(self, req):
        if self.pin is None:
            raise Fail(ERR_PIN_NOT_SET)
        if self.pin_retries <= 0:
            raise Fail(ERR_PIN_BLOCKED)
        phe = req.get(6)
        if not isinstance(phe, bytes) or len(phe) != 16:
            raise Fail(ERR_MISSING_PARAMETER)
        shared = self.shared_secret(req.get(3))
        self.pin_retries -= 1
        got = aes_cbc(shared, phe, False)
        if not hmac.compare_digest(got, hashlib.sha256(self.pin).digest()[:16]):
            # CTAP2.0: a new key agreement after a wrong PIN.
            self.agreement = ec.generate_private_key(ec.SECP256R1())
            raise Fail(ERR_PIN_BLOCKED if self.pin_retries == 0 else ERR_PIN_INVALID)
        self.pin_retries = self.pin_retries_max
        return {2: aes_cbc(shared, self.pin_token, True)}

    def cbor(self, payload, conn):
        if not payload:
            return bytes([ERR_INVALID_LENGTH])
        handlers = {0x01: self.make_credential, 0x02: self.get_assertion, 0x04: self.get_info,
                    0x06: self.client_pin, 0x08: self.get_next_assertion}
        handler = handlers.get(payload[0])
        if handler is None:
            return bytes([ERR_INVALID_COMMAND])
        try:
            req = cbor2.loads(payload[1:]) if len(payload) > 1 else {}
        except Exception:  # noqa: BLE001 - any decoding failure is bad CBOR
            return bytes([ERR_INVALID_CBOR])
        if not isinstance(req, dict):
            return bytes([ERR_INVALID_CBOR])
        try:
            answer = handler(req, conn)
        except Fail as e:
            return bytes([e.status])
        if isinstance(answer, bytes):
            return bytes([OK]) + answer
        return bytes([OK]) + cbor2.dumps(answer, canonical=True)


class Conn:
    def __init__(self, sock, conn_id=0):
        self.sock = sock
        self.conn_id = conn_id

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            try:
                chunk = self.sock.recv(n - len(buf))
            except OSError:
                return None
            if not chunk:
                return None
            buf += chunk
        return buf

    def recv_msg(self):
        hdr = self.recv_exact(5)
        if hdr is None:
            return None
        cmd, length = hdr[0], struct.unpack(">I", hdr[1:])[0]
        if length > MSG_MAX:
            return None
        payload = self.recv_exact(length) if length else b""
        if payload is None:
            return None
        trace(self.conn_id, "in %#x %d%s" % (cmd, length, " %#x" % payload[0] if cmd == CMD_CBOR and payload else ""))
        return cmd, payload

    def send_msg(self, cmd, payload):
        trace(self.conn_id, "out %#x %d%s" % (cmd, len(payload), " %#x" % payload[0] if cmd == CMD_CBOR else ""))
        try:
            self.sock.sendall(bytes([cmd]) + struct.pack(">I", len(payload)) + payload)
            return True
        except OSError:
            return False


def serve_device(key, sock):
    with key.lock:
        cid = key.next_cid
        key.next_cid += 1
    conn = Conn(sock, cid)
    trace(cid, "open")
    try:
        while True:
            msg = conn.recv_msg()
            if msg is None:
                trace(cid, "close")
                return
            cmd, payload = msg
            if cmd == CMD_INIT:
                if len(payload) != 8:
                    conn.send_msg(CMD_ERROR, bytes([ERR_INVALID_LENGTH]))
                    continue
                conn.send_msg(CMD_INIT, payload + struct.pack(">I", cid) + bytes([2, 1, 0, 0, 0x04 | 0x08]))
            elif cmd == CMD_CBOR:
                conn.send_msg(CMD_CBOR, key.cbor(payload, conn))
            elif cmd == CMD_CANCEL:
                continue  # nothing pending: no answer
            else:
                conn.send_msg(CMD_ERROR, bytes([ERR_INVALID_COMMAND]))
    finally:
        sock.close()


def serve_control(key, sock):
    try:
        data = b""
        sock.settimeout(5)
        while not data.endswith(b"}") or _incomplete(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        try:
            req = json.loads(data.decode())
            answer = key.control(req) if isinstance(req, dict) else {"ok": False, "error": "not an object"}
        except ValueError as e:
            answer = {"ok": False, "error": "bad json: %s" % e}
        sock.sendall(json.dumps(answer).encode() + b"\n")
    except OSError:
        pass
    finally:
        sock.close()


def _incomplete(data):
    try:
        json.loads(data.decode())
        return False
    except ValueError:
        return True


def listen(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    os.chmod(path, 0o666)
    s.listen(16)
    return s


def accept_loop(lsock, serve, key):
    while True:
        try:
            sock, _ = lsock.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(key, sock), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description="a CTAP2.0 software authenticator for mamori's tests")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--pin")
    ap.add_argument("--pin-retries", type=int, default=8)
    ap.add_argument("--uv", choices=["builtin"])
    ap.add_argument("--bio", action="store_true")
    ap.add_argument("--no-counter", action="store_true")
    ap.add_argument("--counter", type=int, default=0)
    ap.add_argument("--aaguid", default="6d616d6f726920736f66746b65790001")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--pid-file")
    ap.add_argument("--trace")
    args = ap.parse_args()
    global TRACE  # noqa: PLW0603 - set once, before any thread
    if args.trace:
        TRACE = open(args.trace, "a", encoding="utf-8")  # noqa: SIM115 - open for the process's life
    if len(bytes.fromhex(args.aaguid)) != 16:
        ap.error("--aaguid wants 32 hex digits")
    if args.pin is not None and not 4 <= len(args.pin.encode()) <= 63:
        ap.error("--pin wants 4 to 63 bytes")
    key = Key(args)
    dev = listen(args.socket)
    ctl = listen(args.socket + ".ctl")

    def stop(_sig, _frame):
        for p in (args.socket, args.socket + ".ctl"):
            try:
                os.unlink(p)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threading.Thread(target=accept_loop, args=(ctl, serve_control, key), daemon=True).start()
    if args.pid_file:
        tmp = args.pid_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % os.getpid())
        os.rename(tmp, args.pid_file)
    accept_loop(dev, serve_device, key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
