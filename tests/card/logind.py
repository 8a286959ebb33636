#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Drive python3-dbusmock's logind template on the test system bus
(DBUS_SYSTEM_BUS_ADDRESS), for tests/integration/card_lib.sh.

    logind.py wait-ready [SECONDS]
    logind.py add-session ID SEAT UID USER ACTIVE(0|1)   prints the object path
    logind.py calls [ID...]         every call the mock got on the manager and
                                    on the objects of sessions ID...: one line
                                    "TIME PATH METHOD ARG..." each
    logind.py wait-call METHOD ID [SECONDS]
        waits until the manager got METHOD(ID) (LockSession, TerminateSession)
        or session ID's object got METHOD without "Session" (Lock, Terminate);
        prints the seconds since the epoch of the call; exit 1 on timeout
    logind.py clear [ID...]         forget the calls recorded so far
"""

import sys
import time

import dbus

BUS_NAME = "org.freedesktop.login1"
MANAGER = "/org/freedesktop/login1"
MOCK_IFACE = "org.freedesktop.DBus.Mock"


def bus():
    return dbus.SystemBus()


def mock(path=MANAGER):
    return dbus.Interface(bus().get_object(BUS_NAME, path), MOCK_IFACE)


def session_path(sid):
    return MANAGER + "/session/" + sid  # as the template names them


def calls(paths):
    """The calls on these objects (asking for them is no call on the
    manager's interfaces: the mock does not record its own methods)."""
    out = []
    for p in paths:
        try:
            got = mock(p).GetCalls()
        except dbus.exceptions.DBusException:  # no such session (yet)
            continue
        for t, method, args in got:
            out.append((int(t), p, str(method), [str(a) for a in args]))
    out.sort(key=lambda c: c[0])
    return out


def find_call(method, sid):
    base = method[:-len("Session")] if method.endswith("Session") else method
    spath = session_path(sid)
    for t, p, m, args in calls([MANAGER, spath]):
        if p == MANAGER and m == method and args[:1] == [sid]:
            return t
        if p == spath and m == base:
            return t
    return None


def main(argv):
    if not argv:
        sys.exit(__doc__)
    cmd = argv[0]
    if cmd == "wait-ready":
        limit = time.monotonic() + float(argv[1] if len(argv) > 1 else 10)
        while True:
            try:
                if bus().name_has_owner(BUS_NAME):
                    mock().GetCalls()
                    return 0
            except dbus.exceptions.DBusException:
                pass
            if time.monotonic() > limit:
                print("logind mock did not come up", file=sys.stderr)
                return 1
            time.sleep(0.05)
    if cmd == "add-session":
        sid, seat, uid, user, active = argv[1:6]
        m = mock()
        print(m.AddSession(sid, seat, dbus.UInt32(int(uid)), user, active in ("1", "true", "yes")))
        return 0
    if cmd == "calls":
        paths = [MANAGER] + [session_path(a) for a in argv[1:]]
        for t, p, m, args in calls(paths):
            print(t, p, m, *args)
        return 0
    if cmd == "wait-call":
        method, sid = argv[1], argv[2]
        limit = time.monotonic() + float(argv[3] if len(argv) > 3 else 5)
        while True:
            t = find_call(method, sid)
            if t is not None:
                print(t)
                return 0
            if time.monotonic() > limit:
                return 1
            time.sleep(0.02)
    if cmd == "clear":
        for p in [MANAGER] + [session_path(a) for a in argv[1:]]:
            mock(p).ClearCalls()
        return 0
    sys.exit("logind.py: unknown command " + cmd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
