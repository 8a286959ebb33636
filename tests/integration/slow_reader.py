#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A client that reads its replies slowly, for the send deadline test.

slow_reader.py SOCKET COUNT CHUNK INTERVAL LIMIT

Sends COUNT io.mamori.Admin.AuditShow calls at once (each answered with a
page of up to 60000 bytes), gives the daemon half a second to fill the
socket, then reads CHUNK bytes every INTERVAL seconds.  Prints one line:
  CUT SECONDS BYTES   the daemon hung up SECONDS after the reading began
  HELD SECONDS BYTES  it still held the connection after LIMIT seconds
  DONE SECONDS BYTES  every reply was read
"""
import select
import socket
import sys
import time


def main():
    path, count, chunk, interval, limit = sys.argv[1:6]
    count, chunk = int(count), int(chunk)
    interval, limit = float(interval), float(limit)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    call = b'{"method":"io.mamori.Admin.AuditShow","parameters":{"after_id":1}}\0'
    s.sendall(call * count)
    time.sleep(0.5)
    p = select.poll()
    p.register(s, select.POLLIN | select.POLLRDHUP)
    start = time.monotonic()
    total = 0
    replies = 0
    while True:
        elapsed = time.monotonic() - start
        if elapsed > limit:
            print("HELD %.1f %d" % (elapsed, total))
            return
        # A hang-up shows at once, even with replies still queued.
        for _, ev in p.poll(0):
            if ev & (select.POLLHUP | select.POLLRDHUP | select.POLLERR):
                print("CUT %.1f %d" % (elapsed, total))
                return
        try:
            data = s.recv(chunk)
        except ConnectionResetError:
            print("CUT %.1f %d" % (elapsed, total))
            return
        if not data:
            print("CUT %.1f %d" % (elapsed, total))
            return
        total += len(data)
        replies += data.count(b"\0")
        if replies == count:
            print("DONE %.1f %d" % (elapsed, total))
            return
        time.sleep(interval)


main()
