#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Raw varlink client for the integration tests.

rawclient.py SOCKET [--hold SECONDS | --wait-close SECONDS] MESSAGE...

Each MESSAGE is sent as given followed by a NUL byte, except:
  @raw:HEX      bytes sent exactly as given (no NUL added)
  @big:N        a syntactically valid call padded to N bytes, then NUL
Replies are printed one per line; "CLOSED" when the daemon closed the
connection.  Exit status 0.

--wait-close SECONDS: after the messages, keep the connection open (no
half-close) and wait up to SECONDS for the daemon to close it; print
"CLOSED after N.N s" (counted from the last message) or "OPEN after N.N s".
"""
import socket
import sys
import time


def main():
    args = sys.argv[1:]
    path = args.pop(0)
    hold = 0.0
    wait_close = None
    if args and args[0] == "--hold":
        args.pop(0)
        hold = float(args.pop(0))
    elif args and args[0] == "--wait-close":
        args.pop(0)
        wait_close = float(args.pop(0))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    buf = b""
    closed = False
    for msg in args:
        if msg.startswith("@raw:"):
            data = bytes.fromhex(msg[5:])
        elif msg.startswith("@big:"):
            n = int(msg[5:])
            head = b'{"method":"io.mamori.Pam.Start","parameters":{"pad":"'
            tail = b'"}}'
            data = head + b"a" * max(0, n - len(head) - len(tail)) + tail + b"\0"
        else:
            data = msg.encode() + b"\0"
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            # The daemon may have answered (Busy, PermissionDenied) and
            # closed before reading: print what it sent first.
            try:
                d = buf + s.recv(65536)
            except OSError:
                d = buf
            for part in d.split(b"\0"):
                if part:
                    print(part.decode())
            print("CLOSED")
            closed = True
            break
        if data.endswith(b"\0"):
            while b"\0" not in buf:
                try:
                    d = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    d = b""
                if not d:
                    print("CLOSED")
                    closed = True
                    break
                buf += d
            if closed:
                break
            reply, buf = buf.split(b"\0", 1)
            print(reply.decode())
    if not closed and wait_close is not None:
        sent = time.monotonic()
        s.settimeout(wait_close)
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    print("CLOSED after %.1f s" % (time.monotonic() - sent))
                    break
                for part in d.split(b"\0"):
                    if part:
                        print(part.decode())
        except socket.timeout:
            print("OPEN after %.1f s" % (time.monotonic() - sent))
        except ConnectionResetError:
            print("CLOSED after %.1f s" % (time.monotonic() - sent))
    elif not closed:
        time.sleep(hold)
        try:
            s.shutdown(socket.SHUT_WR)
            d = s.recv(65536)
            if d:
                for part in d.split(b"\0"):
                    if part:
                        print(part.decode())
            print("CLOSED")
        except OSError:
            print("CLOSED")
    s.close()


if __name__ == "__main__":
    main()
