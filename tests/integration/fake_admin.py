#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""A scripted stand-in for mamori-authd's admin socket, to test what
mamorictl sends and how it reads replies (good and malformed) without the
daemon deciding anything.

    fake_admin.py SOCKET SCRIPT CALLS

SCRIPT is a JSON object: method name -> list of replies, each a JSON value
sent as one message (or a string "raw:TEXT", sent as it is, NUL added).
Each call of a method takes the next reply of its list; the last one is
repeated.  A reply {"sleep": SECONDS, "then": REPLY} is REPLY sent after
that long.  A method not in the script gets MethodNotFound.  Every call
received is appended to CALLS as one JSON line.  Connections are served
at once, each in a thread, and a connection may carry several calls.
Runs until killed."""
import json
import os
import socket
import sys
import threading
import time


def answer(call, script, used, lock, calls_path):
    with lock:
        with open(calls_path, "a") as f:
            f.write(json.dumps(call, sort_keys=True) + "\n")
        method = call.get("method", "")
        replies = script.get(method)
        if not replies:
            return json.dumps({"error": "org.varlink.service.MethodNotFound",
                               "parameters": {"method": method}}).encode()
        n = used.get(method, 0)
        used[method] = n + 1
        reply = replies[min(n, len(replies) - 1)]
    if isinstance(reply, dict) and set(reply) == {"sleep", "then"}:
        time.sleep(reply["sleep"])
        reply = reply["then"]
    if isinstance(reply, str) and reply.startswith("raw:"):
        return reply[4:].encode()
    return json.dumps(reply).encode()


def connection(conn, script, used, lock, calls_path):
    with conn:
        buf = b""
        while True:
            while b"\0" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            msg, buf = buf.split(b"\0", 1)
            out = answer(json.loads(msg), script, used, lock, calls_path)
            try:
                conn.sendall(out + b"\0")
            except OSError:
                return


def serve(path, script, calls_path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)
    srv.listen(16)
    used = {}
    lock = threading.Lock()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=connection, args=(conn, script, used, lock, calls_path), daemon=True).start()


if __name__ == "__main__":
    with open(sys.argv[2]) as f:
        serve(sys.argv[1], json.load(f), sys.argv[3])
