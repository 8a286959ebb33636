#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Drive a program on a pseudo-terminal, as a person at a terminal would.

pty_login.py TIMEOUT -- COMMAND...   (script on stdin)

The script has one step per line: "expect TEXT" waits until TEXT has been
shown, "send TEXT" types TEXT and Enter.  Everything the program showed is
printed at the end; the exit status is 0 when every expect was met.
"""
import os
import pty
import select
import sys
import time


def main():
    timeout = float(sys.argv[1])
    command = sys.argv[sys.argv.index("--") + 1:]
    steps = [line.rstrip("\n").split(" ", 1) for line in sys.stdin if line.strip()]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(command[0], command)
    seen = b""
    status = 0
    deadline = time.time() + timeout

    def read_some(wait):
        nonlocal seen
        r, _, _ = select.select([fd], [], [], wait)
        if r:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return False
            if not data:
                return False
            seen += data
        return True

    pos = 0
    for step in steps:
        verb, arg = step[0], step[1] if len(step) > 1 else ""
        if verb == "expect":
            want = arg.encode()
            while want not in seen[pos:]:
                if time.time() > deadline or not read_some(0.2):
                    if want not in seen[pos:]:
                        print("TIMEOUT waiting for: %s" % arg)
                        status = 1
                    break
            if status:
                break
            pos = seen.index(want, pos) + len(want)
        elif verb == "send":
            time.sleep(0.1)
            os.write(fd, arg.encode() + b"\r")
    end = time.time() + 2
    while time.time() < end and read_some(0.2):
        pass
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass
    os.waitpid(pid, 0)
    sys.stdout.write(seen.decode("utf-8", "replace").replace("\r", ""))
    print()
    sys.exit(status)


if __name__ == "__main__":
    main()
