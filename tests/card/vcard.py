#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A virtual IC card for the tests: a PIV applet or a JPKI applet (the My
Number card's user-authentication key) with a software key, in a vpcd
reader of a real pcscd (../shared/TESTING.md, "IC cards").

    vcard.py --port 35963 --profile piv --key rsa2048 \
             --cert card.pem --key-file card.key --pin 123456 \
             [--tries 3] [--state FILE] [--log FILE] [--control SOCK] \
             [--latency-ms 20] [--sign-latency-ms 300] [--removed]

vpcd (the reader driver) listens on 127.0.0.1:35963 (reader 0) and 35964
(reader 1); the card connects to it, which inserts it.  Frames are a 2-byte
big-endian length and a body: a 1-byte body is a control code (0 power
off, 1 power on, 2 reset, 4 "send your ATR"), anything longer a C-APDU,
answered with the R-APDU (data + SW1 SW2).

Control socket (--control PATH): one command a line, one answer a line.
    insert              connect to vpcd (the card is in the reader)
    remove              disconnect (the reader is empty); "ok" once closed
    tries               PIN tries left, e.g. "3"
    set-tries N         set the PIN tries left (0: blocked)
    latency MS [SIGNMS] set the added latency per APDU and per signature
    state               a JSON object: inserted, connected, powered,
                        verified, tries, profile, apdus
    load CERT KEYFILE   another certificate and key (of the same type), PIN
                        counters back to full: a new card; only while removed
    stats               a JSON object: apdus (C-APDUs answered) and busy_ms,
                        the card's own time on them (from a C-APDU's
                        arrival to its answer sent, latency included)
    stats-reset         both back to 0
    quit                exit

APDU log (--log PATH): one line per C-APDU, "<C-APDU hex> <SW hex>"
(upper case, no spaces inside), and "# on", "# off", "# reset", "# atr",
"# connected", "# removed" for the rest, so a test can check what was sent
(e.g. that no VERIFY with data reached a blocked card).

The PIN counter is kept in --state (JSON) when given, so it survives a
restart of this process, as a real card's does.  Every malformed command
gets a status word (67 00 wrong length, 6A 82 not found, 6D 00 INS not
supported, 6E 00 CLA not supported, ...), never an exception.
"""

import argparse
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa, utils
from cryptography.hazmat.primitives.serialization import Encoding

PIV_AID = bytes.fromhex("A000000308000010000100")
PIV_PIX = bytes.fromhex("000010000100")
JPKI_AID = bytes.fromhex("D392F000260100000001")

# JPKI elementary files.
EF_AUTH_CERT = 0x000A
EF_AUTH_CA = 0x000B
EF_SIGN_CERT = 0x0001
EF_SIGN_CA = 0x0002
EF_AUTH_PIN = 0x0018
EF_SIGN_PIN = 0x001B
EF_AUTH_KEY = 0x0017
EF_SIGN_KEY = 0x001A

# T=1; the historical bytes carry the PIV AID (compact TLV tag F), as
# SP 800-73 allows: no driver takes it for a card of known quirks.
ATR_PIV = bytes.fromhex("3B8D800180FBA000000308000010000100CD")
ATR_JPKI = bytes.fromhex("3BE000FF8131FE4514")  # as a My Number card's

SW_OK = b"\x90\x00"


def sw(code):
    return struct.pack(">H", code)


class CardError(Exception):
    """A command that ends in a status word other than 90 00."""

    def __init__(self, code):
        super().__init__("%04X" % code)
        self.code = code


def tlv(tag, value):
    """BER-TLV with a one- or two-byte tag and a definite length."""
    t = tag.to_bytes(2, "big") if tag > 0xFF else bytes([tag])
    n = len(value)
    if n < 0x80:
        ln = bytes([n])
    elif n < 0x100:
        ln = bytes([0x81, n])
    else:
        ln = bytes([0x82]) + n.to_bytes(2, "big")
    return t + ln + value


def parse_tlvs(data):
    """Parse a sequence of BER-TLVs (one-byte tags, except xF/x1F forms).
    Returns [(tag, value)]; raises CardError(6A80) on anything malformed."""
    out = []
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            if i >= len(data):
                raise CardError(0x6A80)
            tag = (tag << 8) | data[i]
            i += 1
        if i >= len(data):
            raise CardError(0x6A80)
        n = data[i]
        i += 1
        if n == 0x81 or n == 0x82:
            k = n - 0x80
            if i + k > len(data):
                raise CardError(0x6A80)
            n = int.from_bytes(data[i:i + k], "big")
            i += k
        elif n > 0x80:
            raise CardError(0x6A80)
        if i + n > len(data):
            raise CardError(0x6A80)
        out.append((tag, data[i:i + n]))
        i += n
    return out


class Apdu:
    """A parsed C-APDU (ISO 7816-4 cases 1-4, short and extended)."""

    def __init__(self, raw):
        if len(raw) < 4:
            raise CardError(0x6700)
        self.cla, self.ins, self.p1, self.p2 = raw[0], raw[1], raw[2], raw[3]
        self.data = b""
        self.ne = None  # None: no Le field
        self.extended = False
        body = raw[4:]
        if len(body) == 0:
            return
        if len(body) == 1:
            self.ne = body[0] or 256
            return
        if body[0] != 0:
            lc = body[0]
            if len(body) == 1 + lc:
                self.data = bytes(body[1:])
            elif len(body) == 2 + lc:
                self.data = bytes(body[1:1 + lc])
                self.ne = body[-1] or 256
            else:
                raise CardError(0x6700)
            return
        self.extended = True
        if len(body) == 3:
            self.ne = int.from_bytes(body[1:3], "big") or 65536
            return
        lc = int.from_bytes(body[1:3], "big")
        if lc == 0:
            raise CardError(0x6700)
        if len(body) == 3 + lc:
            self.data = bytes(body[3:])
        elif len(body) == 5 + lc:
            self.data = bytes(body[3:3 + lc])
            self.ne = int.from_bytes(body[-2:], "big") or 65536
        else:
            raise CardError(0x6700)


class Pins:
    """PIN counters, persisted in a JSON state file when one is given."""

    def __init__(self, path, defaults):
        self.path = path
        self.tries = dict(defaults)
        if path and os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            for k in self.tries:
                if isinstance(saved.get(k), int):
                    self.tries[k] = saved[k]

    def save(self):
        if not self.path:
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.tries, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def set(self, name, n):
        self.tries[name] = n
        self.save()


class Card:
    def __init__(self, args):
        self.profile = args.profile
        self.keytype = args.key if args.profile == "piv" else "rsa2048"
        try:
            self.load(args.cert, args.key_file)
        except ValueError as e:
            sys.exit("vcard: %s" % e)
        self.ca_der = b""
        if args.ca:
            with open(args.ca, "rb") as f:
                ca = f.read()
            c = x509.load_pem_x509_certificate(ca) if b"-----BEGIN" in ca else x509.load_der_x509_certificate(ca)
            self.ca_der = c.public_bytes(Encoding.DER)
        self.pin = args.pin.encode()
        self.sign_pin = args.sign_pin.encode()
        if self.profile == "piv":
            if not 6 <= len(self.pin) <= 8:
                sys.exit("vcard: a PIV PIN has 6 to 8 characters")
            self.max_tries = args.tries if args.tries is not None else 3
        else:
            if len(self.pin) != 4 or not self.pin.isdigit():
                sys.exit("vcard: the JPKI user-authentication PIN has 4 digits")
            self.max_tries = args.tries if args.tries is not None else 3
        self.max_sign_tries = 5
        self.pins = Pins(args.state, {"pin": self.max_tries, "sign_pin": self.max_sign_tries})
        self.latency = args.latency_ms / 1000.0
        self.sign_latency = args.sign_latency_ms / 1000.0
        self.reset()

    def load(self, cert_path, key_path):
        """The card's certificate and key (a new card in the same process:
        the control command "load"); raises ValueError when they do not fit."""
        with open(cert_path, "rb") as f:
            pem = f.read()
        cert = x509.load_pem_x509_certificate(pem) if b"-----BEGIN" in pem else x509.load_der_x509_certificate(pem)
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        if self.keytype == "rsa2048":
            if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != 2048:
                raise ValueError("--key rsa2048 needs an RSA-2048 key")
        elif not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError("--key p256 needs a P-256 key")
        if key.public_key().public_numbers() != cert.public_key().public_numbers():
            raise ValueError("the certificate does not match the key")
        self.cert, self.key = cert, key
        self.cert_der = cert.public_bytes(Encoding.DER)

    # ------------------------------------------------------------ state
    def reset(self):
        """Power on, power off and reset: every volatile state goes."""
        self.applet = None
        self.verified = False  # PIV PIN, JPKI user-authentication PIN
        self.sign_verified = False  # JPKI signature PIN
        self.current_ef = None
        self.pending = b""  # response data left for GET RESPONSE
        self.chain = None  # (ins, p1, p2, data) of a command chain

    def atr(self):
        return ATR_PIV if self.profile == "piv" else ATR_JPKI

    def tries(self):
        return self.pins.tries["pin"]

    # ------------------------------------------------------------ APDUs
    def process(self, raw):
        """One C-APDU in, one R-APDU out; never raises."""
        try:
            return self._process(raw)
        except _Partial as p:
            return p.data + sw(0x6282)
        except CardError as e:
            self.pending = b""
            return sw(e.code)
        except Exception as e:  # a bug here must not look like a card
            print("vcard: internal error on %s: %r" % (raw.hex(), e), file=sys.stderr)
            self.pending = b""
            return sw(0x6F00)

    def _process(self, raw):
        a = Apdu(raw)
        if a.cla & 0xE0 and a.cla != 0x80:
            raise CardError(0x6E00)
        if a.ins == 0xC0 and a.cla & 0x7F == 0:
            return self._get_response(a)
        self.pending = b""
        if a.cla & 0x10:  # command chaining: keep the data, answer 90 00
            if self.chain and self.chain[:3] != (a.ins, a.p1, a.p2):
                self.chain = None
                raise CardError(0x6883)
            prev = self.chain[3] if self.chain else b""
            if len(prev) + len(a.data) > 65536:
                self.chain = None
                raise CardError(0x6700)
            self.chain = (a.ins, a.p1, a.p2, prev + a.data)
            return SW_OK
        if self.chain:
            if self.chain[:3] == (a.ins, a.p1, a.p2):
                a.data = self.chain[3] + a.data
            self.chain = None
        if a.cla not in (0x00, 0x80):
            raise CardError(0x6E00)
        data = self._dispatch(a)
        return self._respond(a, data)

    def _respond(self, a, data):
        limit = a.ne if a.ne is not None else (65536 if a.extended else 256)
        if len(data) <= limit:
            return data + SW_OK
        self.pending = data[limit:]
        return data[:limit] + sw(0x6100 | (min(len(self.pending), 256) & 0xFF))

    def _get_response(self, a):
        if a.p1 or a.p2:
            raise CardError(0x6A86)
        if not self.pending:
            raise CardError(0x6985)
        limit = a.ne if a.ne is not None else 256
        data, self.pending = self.pending[:limit], self.pending[limit:]
        if self.pending:
            return data + sw(0x6100 | (min(len(self.pending), 256) & 0xFF))
        return data + SW_OK

    def _dispatch(self, a):
        if a.ins == 0xA4:
            return self._select(a)
        if self.applet == "piv" and a.cla == 0x00:
            if a.ins == 0xCB:
                return self._piv_get_data(a)
            if a.ins == 0x20:
                return self._piv_verify(a)
            if a.ins == 0x87:
                return self._piv_general_authenticate(a)
        if self.applet == "jpki":
            if a.ins == 0xB0 and a.cla == 0x00:
                return self._jpki_read_binary(a)
            if a.ins == 0x20 and a.cla == 0x00:
                return self._jpki_verify(a)
            if a.ins == 0x2A and a.cla == 0x80:
                return self._jpki_sign(a)
        if a.ins in (0xCB, 0x20, 0x87, 0xB0, 0x2A):
            raise CardError(0x6985 if self.applet is None else 0x6E00)
        raise CardError(0x6D00)

    def _select(self, a):
        if a.cla != 0x00:
            raise CardError(0x6E00)
        if a.p1 == 0x04:
            if not a.data:
                raise CardError(0x6700)
            if self.profile == "piv" and 5 <= len(a.data) <= len(PIV_AID) and PIV_AID.startswith(a.data):
                self.applet = "piv"
                self.current_ef = None
                if a.p2 & 0x0C == 0x0C:
                    return b""
                return tlv(0x61, tlv(0x4F, PIV_PIX) + tlv(0x79, tlv(0x4F, PIV_AID[:5])) +
                           tlv(0x50, b"Mamori virtual PIV") + tlv(0xAC, tlv(0x80, bytes([0x07 if self.keytype == "rsa2048" else 0x11])) + tlv(0x06, b"\x00")))
            if self.profile == "jpki" and a.data == JPKI_AID:
                self.applet = "jpki"
                self.current_ef = None
                return b""
            raise CardError(0x6A82)
        if a.p1 == 0x00 and a.data in (b"", b"\x3f\x00"):  # the MF
            if self.profile == "piv":
                raise CardError(0x6A82)
            self.applet = None
            self.current_ef = None
            return b""
        if a.p1 == 0x02 or (a.p1 == 0x00 and len(a.data) == 2):
            if len(a.data) != 2:
                raise CardError(0x6700)
            if self.applet != "jpki":
                raise CardError(0x6A82)
            fid = int.from_bytes(a.data, "big")
            if fid not in (EF_AUTH_CERT, EF_AUTH_CA, EF_SIGN_CERT, EF_SIGN_CA, EF_AUTH_PIN, EF_SIGN_PIN,
                           EF_AUTH_KEY, EF_SIGN_KEY):
                raise CardError(0x6A82)
            if fid in (EF_AUTH_CA, EF_SIGN_CA) and not self.ca_der:
                raise CardError(0x6A82)
            self.current_ef = fid
            return b""
        raise CardError(0x6A86)

    # ------------------------------------------------------------ PIV
    def _piv_get_data(self, a):
        if (a.p1, a.p2) != (0x3F, 0xFF):
            raise CardError(0x6A86)
        tlvs = parse_tlvs(a.data)
        if len(tlvs) != 1 or tlvs[0][0] != 0x5C:
            raise CardError(0x6A80)
        tag = tlvs[0][1]
        if tag == bytes.fromhex("5FC105"):  # X.509 certificate for PIV Authentication (9A)
            return tlv(0x53, tlv(0x70, self.cert_der) + tlv(0x71, b"\x00") + tlv(0xFE, b""))
        raise CardError(0x6A82)

    def _piv_verify(self, a):
        if a.p1 == 0xFF and a.p2 == 0x80 and not a.data:  # reset the security status
            self.verified = False
            return b""
        if a.p1 != 0x00:
            raise CardError(0x6A86)
        if a.p2 != 0x80:
            raise CardError(0x6A88)
        left = self.tries()
        if not a.data:
            if self.verified:
                return b""
            raise CardError(0x6983 if left == 0 else 0x63C0 | min(left, 15))
        if len(a.data) != 8:
            raise CardError(0x6700)
        if left == 0:
            raise CardError(0x6983)
        if a.data == self.pin.ljust(8, b"\xff"):
            self.pins.set("pin", self.max_tries)
            self.verified = True
            return b""
        self.verified = False
        left -= 1
        self.pins.set("pin", left)
        raise CardError(0x6983 if left == 0 else 0x63C0 | min(left, 15))

    def _piv_general_authenticate(self, a):
        alg = 0x07 if self.keytype == "rsa2048" else 0x11
        if a.p1 not in (0x07, 0x11, 0x14, 0x06, 0x05):
            raise CardError(0x6A86)
        if a.p2 != 0x9A:
            raise CardError(0x6A88)
        if a.p1 != alg:
            raise CardError(0x6A80)
        outer = parse_tlvs(a.data)
        if len(outer) != 1 or outer[0][0] != 0x7C:
            raise CardError(0x6A80)
        inner = dict()
        for tag, value in parse_tlvs(outer[0][1]):
            inner[tag] = value
        if inner.get(0x82) != b"" or 0x81 not in inner:
            raise CardError(0x6A80)
        if not self.verified:
            raise CardError(0x6982)
        challenge = inner[0x81]
        if alg == 0x07:
            if len(challenge) != 256:
                raise CardError(0x6A80)
            sig = self._rsa_raw(challenge)
        else:
            if len(challenge) != 32:
                raise CardError(0x6A80)
            sig = self.key.sign(challenge, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
        self._sleep(self.sign_latency)
        return tlv(0x7C, tlv(0x82, sig))

    def _rsa_raw(self, block):
        priv = self.key.private_numbers()
        n = priv.public_numbers.n
        c = int.from_bytes(block, "big")
        if c >= n:
            raise CardError(0x6A80)
        # CRT
        m1 = pow(c, priv.dmp1, priv.p)
        m2 = pow(c, priv.dmq1, priv.q)
        h = (priv.iqmp * (m1 - m2)) % priv.p
        m = m2 + h * priv.q
        return m.to_bytes(256, "big")

    # ------------------------------------------------------------ JPKI
    def _jpki_read_binary(self, a):
        if a.p1 & 0x80:
            raise CardError(0x6A86)  # no short EF identifiers here
        files = {EF_AUTH_CERT: self.cert_der, EF_SIGN_CERT: self.cert_der,
                 EF_AUTH_CA: self.ca_der, EF_SIGN_CA: self.ca_der}
        if self.current_ef is None:
            raise CardError(0x6986)
        if self.current_ef not in files:
            raise CardError(0x6981)  # not a transparent EF one may read
        if self.current_ef == EF_SIGN_CERT and not self.sign_verified:
            raise CardError(0x6982)
        content = files[self.current_ef]
        off = (a.p1 << 8) | a.p2
        if off > len(content):
            raise CardError(0x6B00)
        ne = a.ne if a.ne is not None else 256
        data = content[off:off + ne]
        if len(data) < ne:
            if not data:
                raise CardError(0x6282)
            self.pending = b""
            # End of file before Ne bytes: the data, with 62 82.
            raise _Partial(data)
        return data

    def _jpki_verify(self, a):
        if (a.p1, a.p2) != (0x00, 0x80):
            raise CardError(0x6A86)
        if self.current_ef not in (EF_AUTH_PIN, EF_SIGN_PIN):
            raise CardError(0x6986)
        name = "pin" if self.current_ef == EF_AUTH_PIN else "sign_pin"
        left = self.pins.tries[name]
        if not a.data:
            if left == 0:
                raise CardError(0x6984)
            raise CardError(0x63C0 | min(left, 15))
        if left == 0:
            raise CardError(0x6984)
        if name == "pin":
            right = a.data == self.pin
            maxn = self.max_tries
        else:
            right = a.data == self.sign_pin
            maxn = self.max_sign_tries
        if len(a.data) > 16:
            raise CardError(0x6700)
        if right:
            self.pins.set(name, maxn)
            if name == "pin":
                self.verified = True
            else:
                self.sign_verified = True
            return b""
        left -= 1
        self.pins.set(name, left)
        if name == "pin":
            self.verified = False
        else:
            self.sign_verified = False
        raise CardError(0x6984 if left == 0 else 0x63C0 | min(left, 15))

    def _jpki_sign(self, a):
        if (a.p1, a.p2) != (0x00, 0x80):
            raise CardError(0x6A86)
        if self.current_ef not in (EF_AUTH_KEY, EF_SIGN_KEY):
            raise CardError(0x6986)
        if not (self.verified if self.current_ef == EF_AUTH_KEY else self.sign_verified):
            raise CardError(0x6982)
        k = 256
        if not a.data or len(a.data) > k - 11:
            raise CardError(0x6700)
        block = b"\x00\x01" + b"\xff" * (k - 3 - len(a.data)) + b"\x00" + a.data
        sig = self._rsa_raw(block)
        self._sleep(self.sign_latency)
        return sig

    @staticmethod
    def _sleep(s):
        if s > 0:
            time.sleep(s)


class _Partial(CardError):
    """Data followed by 62 82 (end of file reached before Ne bytes)."""

    def __init__(self, data):
        super().__init__(0x6282)
        self.data = data


class Runner:
    """The card's process: the vpcd connection, the control socket."""

    def __init__(self, args, card):
        self.args = args
        self.card = card
        self.inserted = not args.removed
        self.sock = None
        self.buf = b""
        self.powered = False
        self.apdus = 0
        self.stat_apdus = 0
        self.stat_busy_ns = 0
        self.log = open(args.log, "a", buffering=1) if args.log else None
        self.ctl = None
        self.clients = {}
        if args.control:
            try:
                os.unlink(args.control)
            except FileNotFoundError:
                pass
            self.ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.ctl.bind(args.control)
            self.ctl.listen(8)
        self.next_connect = 0.0

    def logline(self, s):
        if self.log:
            self.log.write(s + "\n")

    # ------------------------------------------------------------ vpcd
    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s.connect((self.args.host, self.args.port))
        except OSError:
            s.close()
            return False
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        self.sock = s
        self.buf = b""
        self.card.reset()
        self.powered = False
        self.logline("# connected")
        return True

    def disconnect(self, why):
        if self.sock:
            self.sock.close()
            self.sock = None
            self.card.reset()
            self.powered = False
            self.logline("# " + why)

    def send_frame(self, body):
        self.sock.sendall(struct.pack(">H", len(body)) + body)

    def on_vpcd(self):
        try:
            chunk = self.sock.recv(65536 + 2)
        except OSError:
            chunk = b""
        if not chunk:
            self.disconnect("vpcd closed")
            self.next_connect = time.monotonic() + 0.2
            return
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        self.buf += chunk
        while len(self.buf) >= 2:
            n = struct.unpack(">H", self.buf[:2])[0]
            if len(self.buf) < 2 + n:
                break
            body, self.buf = self.buf[2:2 + n], self.buf[2 + n:]
            self.on_frame(body)
            if not self.sock:
                return

    def on_frame(self, body):
        if len(body) == 0:
            return
        if len(body) == 1:
            code = body[0]
            if code == 0:
                self.card.reset()
                self.powered = False
                self.logline("# off")
            elif code == 1:
                self.card.reset()
                self.powered = True
                self.logline("# on")
            elif code == 2:
                self.card.reset()
                self.powered = True
                self.logline("# reset")
            elif code == 4:
                self.logline("# atr")
                self.send_frame(self.card.atr())
            return
        t0 = time.monotonic_ns()
        self.apdus += 1
        if self.card.latency > 0:
            time.sleep(self.card.latency)
        resp = self.card.process(body)
        # Logged before the answer goes: whoever got the answer finds the line.
        self.logline("%s %s" % (body.hex().upper(), resp[-2:].hex().upper()))
        try:
            self.send_frame(resp)
        except OSError:
            self.disconnect("vpcd closed")
        self.stat_apdus += 1
        self.stat_busy_ns += time.monotonic_ns() - t0

    # ------------------------------------------------------------ control
    def on_control(self, c):
        try:
            chunk = c.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:
            self.clients.pop(c, None)
            c.close()
            return
        self.clients[c] += chunk
        while b"\n" in self.clients.get(c, b""):
            line, rest = self.clients[c].split(b"\n", 1)
            self.clients[c] = rest
            answer = self.command(line.decode(errors="replace").split())
            try:
                c.sendall((answer + "\n").encode())
            except OSError:
                pass
            if answer == "bye":
                raise SystemExit(0)

    def command(self, words):
        if not words:
            return "error empty command"
        cmd, rest = words[0], words[1:]
        try:
            if cmd == "insert":
                self.inserted = True
                if not self.sock and not self.connect():
                    self.next_connect = time.monotonic() + 0.1
                    return "ok (vpcd not reachable yet)"
                return "ok"
            if cmd == "remove":
                self.inserted = False
                self.disconnect("removed")
                return "ok"
            if cmd == "tries":
                return str(self.card.tries())
            if cmd == "set-tries":
                self.card.pins.set("pin", int(rest[0]))
                return "ok"
            if cmd == "latency":
                self.card.latency = int(rest[0]) / 1000.0
                if len(rest) > 1:
                    self.card.sign_latency = int(rest[1]) / 1000.0
                return "ok"
            if cmd == "state":
                return json.dumps({"inserted": self.inserted, "connected": self.sock is not None,
                                   "powered": self.powered, "verified": self.card.verified,
                                   "tries": self.card.tries(), "profile": self.card.profile,
                                   "apdus": self.apdus})
            if cmd == "load":
                if self.sock:
                    return "error remove the card first"
                try:
                    self.card.load(rest[0], rest[1])
                except (OSError, ValueError) as e:
                    return "error %s" % e
                self.card.pins.set("pin", self.card.max_tries)
                self.card.pins.set("sign_pin", self.card.max_sign_tries)
                return "ok"
            if cmd == "stats":
                return json.dumps({"apdus": self.stat_apdus, "busy_ms": self.stat_busy_ns / 1e6})
            if cmd == "stats-reset":
                self.stat_apdus = 0
                self.stat_busy_ns = 0
                return "ok"
            if cmd == "quit":
                return "bye"
        except (IndexError, ValueError):
            return "error bad arguments"
        return "error unknown command"

    # ------------------------------------------------------------ loop
    def run(self):
        while True:
            if self.inserted and not self.sock and time.monotonic() >= self.next_connect:
                if not self.connect():
                    self.next_connect = time.monotonic() + 0.1
            rlist = list(self.clients)
            if self.sock:
                rlist.append(self.sock)
            if self.ctl:
                rlist.append(self.ctl)
            timeout = None if (self.sock or not self.inserted) else 0.1
            try:
                ready, _, _ = select.select(rlist, [], [], timeout)
            except InterruptedError:
                continue
            for r in ready:
                if r is self.sock:
                    self.on_vpcd()
                elif r is self.ctl:
                    c, _ = self.ctl.accept()
                    self.clients[c] = b""
                elif r in self.clients:
                    self.on_control(r)


def main():
    p = argparse.ArgumentParser(description="a virtual PIV / JPKI card for vpcd")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=35963, help="35963: reader 0, 35964: reader 1")
    p.add_argument("--profile", choices=["piv", "jpki"], default="piv")
    p.add_argument("--key", choices=["rsa2048", "p256"], default="rsa2048", help="PIV key type (JPKI: RSA-2048)")
    p.add_argument("--cert", required=True, help="the card certificate (PEM or DER)")
    p.add_argument("--key-file", required=True, help="its private key (PEM)")
    p.add_argument("--ca", help="JPKI: the CA certificate in EF 000B/0002")
    p.add_argument("--pin", default=None, help="PIV: 6-8 characters (123456); JPKI: 4 digits (1234)")
    p.add_argument("--sign-pin", default="SIGN1234", help="JPKI: the signature PIN (EF 001B)")
    p.add_argument("--tries", type=int, default=None, help="PIN tries (default 3)")
    p.add_argument("--state", help="JSON file keeping the PIN counters across restarts")
    p.add_argument("--log", help="APDU log")
    p.add_argument("--control", help="unix socket for control commands")
    p.add_argument("--latency-ms", type=int, default=0, help="added to every APDU")
    p.add_argument("--sign-latency-ms", type=int, default=0, help="added to every signature")
    p.add_argument("--removed", action="store_true", help="start out of the reader (insert later)")
    p.add_argument("--pidfile")
    args = p.parse_args()
    if args.pin is None:
        args.pin = "123456" if args.profile == "piv" else "1234"
    card = Card(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    if args.pidfile:
        with open(args.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    runner = Runner(args, card)
    try:
        runner.run()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        runner.disconnect("quit")
        if args.control:
            try:
                os.unlink(args.control)
            except OSError:
                pass


if __name__ == "__main__":
    main()
