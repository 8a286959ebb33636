#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""fprintd and libfprint's virtual device, for the integration tests and
tests/bench/fingerprint.

    fpctl.py wait-ready SECONDS          fprintd is on the bus with a device
    fpctl.py enroll USER ID              enrol print ID for USER (D-Bus Enroll calls)
    fpctl.py send [--delay MS] CMD...    send each command ("SCAN id", "RETRY n",
                                         "ERROR n"; or "CMD|CMD") MS ms (0)
                                         after the device wants a finger
                                         (finger-needed true)
    fpctl.py verify-time USER ID N [MS]  N verifications by a direct D-Bus
                                         client, the finger placed MS ms (20)
                                         after the device wants it; prints
                                         VerifyStart->VerifyStatus in ms, one
                                         a line

Environment: DBUS_SYSTEM_BUS_ADDRESS (the private bus), FP_VIRTUAL_DEVICE
(the virtual device's socket).  Every wait is bounded."""
import os
import socket
import sys
import time

import dbus
import dbus.mainloop.glib
from gi.repository import GLib

BUS = "net.reactivated.Fprint"
MANAGER = "/net/reactivated/Fprint/Manager"
DEVICE = BUS + ".Device"


def bus():
    return dbus.SystemBus()


def device(b):
    mgr = dbus.Interface(b.get_object(BUS, MANAGER), BUS + ".Manager")
    path = mgr.GetDefaultDevice()
    return path, dbus.Interface(b.get_object(BUS, path), DEVICE)


def finger_needed(b, path):
    props = dbus.Interface(b.get_object(BUS, path), "org.freedesktop.DBus.Properties")
    return bool(props.Get(DEVICE, "finger-needed"))


def wait_finger_needed(b, path, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if finger_needed(b, path):
            return
        time.sleep(0.005)
    raise SystemExit("fpctl: the device never wanted a finger")


def raw_send(cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(os.environ["FP_VIRTUAL_DEVICE"])
    s.sendall(cmd.encode())
    s.close()


def send(b, cmds, timeout=10.0, delay=0.0):
    path, _ = device(b)
    for cmd in cmds:
        wait_finger_needed(b, path, timeout)
        time.sleep(delay)
        raw_send(cmd)
        # A retry leaves finger-needed true: let the device take it first.
        time.sleep(0.05)


def wait_ready(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            device(bus())
            return 0
        except dbus.DBusException:
            time.sleep(0.05)
    print("fpctl: fprintd has no device", file=sys.stderr)
    return 1


def send_when_needed(b, path, cmd, delay=0.02):
    """From the main loop: send cmd once finger-needed is true."""
    def poll():
        if not finger_needed(b, path):
            return True
        time.sleep(delay)
        raw_send(cmd)
        return False
    GLib.timeout_add(5, poll)


def run_loop_until(b, path, signal, on_signal, action, timeout):
    """Connect to signal, run action, loop until on_signal(args) is true."""
    loop = GLib.MainLoop()
    seen = []

    def handler(*args):
        seen.append((time.monotonic(), args))
        if on_signal(args):
            loop.quit()

    m = b.add_signal_receiver(handler, signal_name=signal, dbus_interface=DEVICE, path=path)
    GLib.timeout_add(int(timeout * 1000), loop.quit)
    GLib.idle_add(lambda: (action(), False)[1])
    loop.run()
    m.remove()
    return seen


def enroll(user, pid):
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    b = bus()
    path, dev = device(b)
    dev.Claim(user)

    def action():
        dev.EnrollStart("right-index-finger")
        send_when_needed(b, path, "SCAN %s" % pid)

    def on_signal(args):
        if bool(args[1]):
            return True
        send_when_needed(b, path, "SCAN %s" % pid, 0.05)
        return False

    seen = run_loop_until(b, path, "EnrollStatus", on_signal, action, 20)
    try:
        dev.EnrollStop()
    finally:
        dev.Release()
    last = seen[-1][1][0] if seen else "none"
    if last != "enroll-completed":
        print("fpctl: enrolment ended with %s" % last, file=sys.stderr)
        return 1
    return 0


def verify_time(user, pid, n, delay):
    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    b = bus()
    path, dev = device(b)
    for _ in range(n):
        dev.Claim(user)
        t0 = [0.0]

        def action():
            t0[0] = time.monotonic()
            dev.VerifyStart("any")
            send_when_needed(b, path, "SCAN %s" % pid, delay)

        seen = run_loop_until(b, path, "VerifyStatus", lambda a: bool(a[1]), action, 20)
        dev.VerifyStop()
        dev.Release()
        if not seen or seen[-1][1][0] != "verify-match":
            print("fpctl: verification ended with %s" % (seen[-1][1][0] if seen else "none"), file=sys.stderr)
            return 1
        print("%.3f" % ((seen[-1][0] - t0[0]) * 1000), flush=True)
    return 0


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd = argv[1]
    if cmd == "wait-ready":
        return wait_ready(float(argv[2]))
    if cmd == "enroll":
        return enroll(argv[2], argv[3])
    if cmd == "send":
        delay, args = 0.0, argv[2:]
        if args[:1] == ["--delay"]:
            delay, args = float(args[1]) / 1000.0, args[2:]
        send(bus(), [c for a in args for c in a.split("|")], 20.0, delay)
        return 0
    if cmd == "verify-time":
        delay = float(argv[5]) / 1000.0 if len(argv) > 5 else 0.02
        return verify_time(argv[2], argv[3], int(argv[4]), delay)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
