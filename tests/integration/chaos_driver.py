#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Crash-safety driver for test-chaos.sh.

Rounds of: start mamori-authd, check what the store kept, let concurrent
clients work for a random 50-500 ms, SIGKILL the daemon at that moment,
let the clients keep trying (they must only see connection errors), run
real PAM clients through pam_wrapper (they must only see failure codes),
and start again.

The clients talk varlink to pam.sock and admin.sock directly (one JSON
object and a NUL per message), so that the driver knows for every request
whether the daemon's final reply was received:

  failing   wrong passwords for accounts that never succeed (and a name
            without an account).  A failure whose auth_err was received
            must be counted; one whose reply was lost may be.  So, per
            name: received <= recorded <= sent, and the three records of
            one decision (lockouts.failures, logins.failures_since_success,
            the audit rows) always agree.
  totp      password+TOTP logins on a My Number service.  No (user, step)
            may get two success replies; every accepted code stays used
            after a restart (replayed, it is refused; the credential's counter is at
            least its step).
  pwchange  password changes.  After a restart the password is the last
            one whose change was confirmed or one sent after it, never an
            older one.
  admin     UserAdd: an account whose reply was received exists after a
            restart, and every account exists exactly when its audit row
            does.

After every restart: the daemon answers GetInfo on both sockets within
5 s, "PRAGMA integrity_check" says ok (sqlite3 -readonly, also on the
image the kill left), Status shows no fewer audit rows than before, and
"mamorictl audit verify" exits 0.  A quarter of the restarts are
themselves killed first, and before the rounds ten first starts on an
empty state directory are killed (creating the store, its schema and its
key) before one that must succeed.

SIGKILL ends the process, not the machine: what the kernel was given
survives, so this tests that every decision is one transaction committed
before its answer, not that it reached the disk (synchronous=FULL).

The verdicts go to --result as JSON; a summary goes to stdout.
"""
import argparse
import collections
import json
import os
import random
import re
import signal
import socket
import sqlite3
import string
import subprocess
import sys
import threading
import time

PERIOD = 30
WINDOW = 1  # [totp] window: accepted steps either side of the current one


class NoConn(Exception):
    """Could not connect: nothing was sent."""


class Cut(Exception):
    """The connection broke after something may have been sent."""


class Refused(Exception):
    """A varlink error reply."""

    def __init__(self, reply):
        super().__init__(reply.get("error"))
        self.reply = reply


# Set from the moment the killed daemon was reaped until the next start.
DOWN = threading.Event()
CONNECTED_WHILE_DOWN = []


class Conn:
    def __init__(self, path, timeout=10.0):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        was_down = DOWN.is_set()
        try:
            self.s.connect(path)
        except OSError as e:
            self.s.close()
            raise NoConn(str(e))
        if was_down:
            # Nothing may listen while the daemon is dead.
            CONNECTED_WHILE_DOWN.append(path)
        self.buf = b""

    def send(self, method, parameters):
        data = json.dumps({"method": method, "parameters": parameters}).encode() + b"\0"
        try:
            self.s.sendall(data)
        except OSError as e:
            raise Cut("send: %s" % e)

    def recv(self):
        while b"\0" not in self.buf:
            try:
                d = self.s.recv(65536)
            except OSError as e:
                raise Cut("recv: %s" % e)
            if not d:
                raise Cut("closed")
            self.buf += d
        msg, self.buf = self.buf.split(b"\0", 1)
        reply = json.loads(msg)
        if "error" in reply:
            raise Refused(reply)
        return reply.get("parameters", {})

    def call(self, method, parameters):
        self.send(method, parameters)
        return self.recv()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def totp_code(secret, step, cache={}, lock=threading.Lock()):
    """The code of one step, from oathtool (cached: a step is asked often)."""
    key = (secret, step)
    with lock:
        if key in cache:
            return cache[key]
    out = subprocess.run(["oathtool", "--totp", "-b", secret, "--now", "@%d" % (step * PERIOD)],
                         capture_output=True, text=True, check=True).stdout.strip()
    with lock:
        cache[key] = out
    return out


def ambiguous(secret, step, now_step):
    """Whether the code of step is also the code of another step the daemon
    would accept now: it could then be taken for that one."""
    code = totp_code(secret, step)
    return any(totp_code(secret, other) == code for other in range(now_step - WINDOW, now_step + WINDOW + 1)
               if other != step)


class Verdict:
    def __init__(self):
        self.checks = 0
        self.problems = []
        self.lock = threading.Lock()

    def check(self, ok, problem):
        with self.lock:
            self.checks += 1
            if not ok:
                self.problems.append(problem)
        return ok

    def problem(self, text):
        self.check(False, text)


class Chaos:
    def __init__(self, args):
        self.a = args
        self.T = args.dir
        self.pam_sock = os.path.join(self.T, "run", "pam.sock")
        self.admin_sock = os.path.join(self.T, "run", "admin.sock")
        self.db = os.path.join(self.T, "state", "mamori.db")
        self.clock_file = os.path.join(self.T, "clock")
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.v = {k: Verdict() for k in ("store_opens", "lockout_counts", "totp_once", "audit_chain",
                                         "pam_down", "password_atomic", "admin_atomic")}
        self.stats = collections.Counter()
        self.round = 0
        self.down = False
        self.proc = None
        self.stop = False
        self.go = threading.Event()
        self.pause_gen = 0
        self.parked = {}
        # accounts
        self.failing = {}
        self.totp = {}
        self.pw = {}
        self.probe = None
        for line in open(args.setup):
            f = line.split()
            if not f:
                continue
            if f[0] == "failing":
                self.failing[f[1]] = f[2] if len(f) > 2 else None
            elif f[0] == "totp":
                self.totp[f[1]] = {"password": f[2], "secret": f[3]}
            elif f[0] == "pwchange":
                self.pw[f[1]] = {"confirmed": f[2], "older": [], "pending": [], "changes_sent": 0,
                                 "changes_received": 0}
            elif f[0] == "probe":
                self.probe = (f[1], f[2])
        # failing: per name
        self.f_sent = collections.Counter()
        self.f_recv = collections.Counter()
        # totp
        self.t_success = collections.Counter()  # (user, step) -> success replies received
        self.t_sent = set()  # (user, step) whose code was sent
        self.t_replay_refused = 0
        self.t_replay_tried = 0
        # admin
        self.adm_next = 0
        self.adm_sent = set()
        self.adm_recv = set()
        # pam clients
        self.pam_codes_down = collections.Counter()
        self.pam_codes_race = collections.Counter()
        self.clock = int(open(self.clock_file).read().strip())
        self.audit_rows_seen = 0

    # ------------------------------------------------------------ clock

    def set_clock(self, t):
        tmp = self.clock_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % t)
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.clock_file)  # atomic: the daemon never reads half a number
        self.clock = t

    def step_now(self):
        return self.clock // PERIOD

    # ------------------------------------------------------------ daemon

    def spawn_daemon(self, conf):
        env = dict(os.environ, MAMORI_TEST_CLOCK_FILE=self.clock_file)
        log = open(os.path.join(self.T, "daemon.log"), "ab")
        self.proc = subprocess.Popen([self.a.authd, "--config", conf, "--foreground"], stdout=log, stderr=log,
                                     stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        log.close()
        # For lib.sh's cleanup, should the driver die.
        with open(os.path.join(self.T, "daemon.pid"), "w") as f:
            f.write("%d\n" % self.proc.pid)

    def start_daemon(self, conf=None, run_dir=None):
        """Start the daemon; ready when it answers GetInfo on both sockets
        (the store is open by then) within 5 s."""
        run_dir = run_dir or os.path.join(self.T, "run")
        t0 = time.monotonic()
        self.spawn_daemon(conf or os.path.join(self.T, "mamori.conf"))
        ready = {os.path.join(run_dir, "pam.sock"): False, os.path.join(run_dir, "admin.sock"): False}
        last = ""
        while time.monotonic() - t0 < 5.0:
            if self.proc.poll() is not None:
                return False, "the daemon exited with status %s at start" % self.proc.returncode
            for path in ready:
                if ready[path]:
                    continue
                try:
                    c = Conn(path, timeout=2.0)
                    try:
                        p = c.call("org.varlink.service.GetInfo", {})
                        ready[path] = p.get("product") == "mamori-authd"
                    finally:
                        c.close()
                except (NoConn, Cut, Refused) as e:
                    last = str(e)
            if all(ready.values()):
                ms = int((time.monotonic() - t0) * 1000)
                self.stats["starts"] += 1
                self.stats["start_ms_total"] += ms
                self.stats["start_ms_max"] = max(self.stats["start_ms_max"], ms)
                return True, ""
            time.sleep(0.01)
        return False, "no GetInfo answer within 5 s (%s)" % last

    def kill_during_startup(self, conf, longest):
        """SIGKILL a starting daemon (opening the store, recovering the WAL,
        creating the store and its key on a first start)."""
        self.spawn_daemon(conf)
        time.sleep(self.rng.uniform(0.0, longest))
        self.kill_daemon()
        self.stats["startup_kills"] += 1

    def kill_daemon(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        try:
            os.unlink(os.path.join(self.T, "daemon.pid"))
        except OSError:
            pass

    def stop_daemon(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.unlink(os.path.join(self.T, "daemon.pid"))
        except OSError:
            pass

    # ------------------------------------------------------------ conversations

    def pam_login(self, service, user, answers, on_final=None):
        """One authentication: the answers in order, one per prompt.  Returns
        the final result; raises NoConn, Cut, Refused.  on_final() runs just
        before the last answer is sent."""
        c = Conn(self.pam_sock)
        try:
            p = c.call("io.mamori.Pam.Start", {"op": "authenticate", "service": service, "user": user,
                                                "tty": "chaos"})
            for i, ans in enumerate(answers):
                if p.get("state") != "prompt":
                    return p.get("result"), i
                if i == len(answers) - 1 and on_final is not None:
                    on_final()
                p = c.call("io.mamori.Pam.Answer", {"answers": [ans]})
            if p.get("state") != "done":
                return "unexpected prompt: %s" % p.get("prompts"), len(answers)
            return p.get("result"), len(answers)
        finally:
            c.close()

    # ------------------------------------------------------------ workers

    def worker_loop(self, name, step):
        rng = random.Random("%s-%s" % (self.a.seed, name))
        while not self.stop:
            if not self.go.is_set():
                self.parked[name] = self.pause_gen
                self.go.wait(0.02)
                continue
            t0 = time.monotonic()
            try:
                step(rng)
                with self.lock:
                    self.stats["t_n_" + name] += 1
                    self.stats["t_ms_" + name] += int((time.monotonic() - t0) * 1000)
            except NoConn:
                with self.lock:
                    self.stats["noconn_down" if self.down else "noconn_up"] += 1
                time.sleep(0.003)
            except Cut as e:
                with self.lock:
                    self.stats["cut"] += 1
                    if "timed out" in str(e):
                        self.stats["timeouts"] += 1
            except Refused as e:
                with self.lock:
                    self.stats["error:" + str(e.reply.get("error"))] += 1
            except Exception as e:  # a bug in the driver must not pass silently
                with self.lock:
                    self.stats["driver_exception"] += 1
                    self.v["store_opens"].problem("driver exception in %s: %r" % (name, e))
                time.sleep(0.01)

    def step_failing(self, rng):
        user = rng.choice(sorted(self.failing))
        wrong = "wrong-" + "".join(rng.choice(string.ascii_letters) for _ in range(10))

        def final():
            with self.lock:
                self.f_sent[user] += 1
        result, _ = self.pam_login("mamori-test", user, [wrong], final)
        with self.lock:
            if result == "auth_err":
                self.f_recv[user] += 1
            else:
                self.v["lockout_counts"].problem("round %d: a wrong password for %s got %r" %
                                                 (self.round, user, result))

    def step_totp(self, rng):
        user = rng.choice(sorted(self.totp))
        info = self.totp[user]
        with self.lock:
            mine = [s for (u, s), n in self.t_success.items() if u == user and n > 0
                    and abs(s - self.step_now()) <= WINDOW]
        replay = bool(mine) and rng.random() < 0.2
        step = rng.choice(mine) if replay else self.step_now() + rng.randint(-WINDOW, WINDOW)
        if ambiguous(info["secret"], step, self.step_now()):
            return
        code = totp_code(info["secret"], step)

        def final():
            with self.lock:
                self.t_sent.add((user, step))
                self.stats["totp_codes_sent"] += 1
        result, _ = self.pam_login("mn-login", user, [info["password"], code], final)
        with self.lock:
            if result == "success":
                self.t_success[(user, step)] += 1
                self.stats["totp_accepted"] += 1
                if self.t_success[(user, step)] > 1:
                    self.v["totp_once"].problem(
                        "round %d: %s step %d (code %s) accepted %d times" %
                        (self.round, user, step, code, self.t_success[(user, step)]))
            elif result == "auth_err":
                self.stats["totp_refused"] += 1
                if self.t_success[(user, step)] > 0:
                    self.t_replay_refused += 1
                    self.t_replay_tried += 1
            else:
                self.v["totp_once"].problem("round %d: %s got %r" % (self.round, user, result))

    def new_password(self, rng):
        """A fresh password that passes the strength rules."""
        with self.lock:
            self.stats["pw_generated"] += 1
            n = self.stats["pw_generated"]
        letters = "".join(rng.choice(string.ascii_letters) for _ in range(8))
        return "Kq%s-%d-Vz%d" % (letters, n, rng.randint(10, 99))

    def step_pwchange(self, rng, user):
        st = self.pw[user]
        if st["pending"]:
            # The outcome of a change is unknown until the daemon is back.
            time.sleep(0.01)
            return
        new = self.new_password(rng)
        c = Conn(self.pam_sock)
        try:
            p = c.call("io.mamori.Pam.Start", {"op": "chauthtok", "service": "mamori-test", "user": user})
            if p.get("state") != "prompt":
                self.v["password_atomic"].problem("round %d: %s: chauthtok Start answered %r" %
                                                  (self.round, user, p))
                return
            p = c.call("io.mamori.Pam.Answer", {"answers": [st["confirmed"]]})
            if p.get("state") != "prompt":
                # The current password as the driver knows it was refused.
                self.v["password_atomic"].problem(
                    "round %d: %s: the confirmed password %r was refused as current: %r" %
                    (self.round, user, st["confirmed"], p))
                return
            p = c.call("io.mamori.Pam.Answer", {"answers": [new]})
            if p.get("state") != "prompt":
                with self.lock:
                    self.stats["pw_refused"] += 1
                return
            st["pending"].append(new)
            st["changes_sent"] += 1
            try:
                p = c.call("io.mamori.Pam.Answer", {"answers": [new]})
            except Refused:
                # An error reply (counted by worker_loop; none is expected):
                # the restart check finds out what was stored.
                raise
            if p.get("state") == "done" and p.get("result") == "success":
                st["older"].append(st["confirmed"])
                st["confirmed"] = new
                st["pending"] = []
                st["changes_received"] += 1
                with self.lock:
                    self.stats["pw_changed"] += 1
            elif p.get("state") == "done":
                # Refused (too weak...): the reply says nothing was stored.
                st["pending"] = []
                with self.lock:
                    self.stats["pw_refused"] += 1
            else:
                self.v["password_atomic"].problem("round %d: %s: unexpected %r" % (self.round, user, p))
        finally:
            c.close()

    def step_admin(self, rng):
        with self.lock:
            self.adm_next += 1
            name = "chaos-u%d" % self.adm_next
        time.sleep(0.02)  # leave the store to the logins most of the time
        c = Conn(self.admin_sock)
        try:
            if self.adm_recv and rng.random() < 0.3:
                # An account whose addition was answered is there.
                known = rng.choice(sorted(self.adm_recv))
                try:
                    p = c.call("io.mamori.Admin.UserShow", {"name": known})
                    self.v["admin_atomic"].check(p.get("user", {}).get("name") == known,
                                                 "round %d: UserShow %s: %r" % (self.round, known, p))
                except Refused as e:
                    if e.reply.get("error") == "io.mamori.Error.NotFound":
                        self.v["admin_atomic"].problem("round %d: %s, added with a reply, is not found" %
                                                       (self.round, known))
                    else:
                        raise
                return
            with self.lock:
                self.adm_sent.add(name)
            try:
                p = c.call("io.mamori.Admin.UserAdd", {"name": name, "kind": "staff"})
            except Refused as e:
                if e.reply.get("error") == "io.mamori.Error.Exists":
                    self.v["admin_atomic"].problem("round %d: %s exists before its only UserAdd" %
                                                   (self.round, name))
                    return
                raise
            with self.lock:
                if p.get("user", {}).get("name") == name:
                    self.adm_recv.add(name)
                    self.stats["admin_added"] += 1
                else:
                    self.v["admin_atomic"].problem("round %d: UserAdd %s answered %r" % (self.round, name, p))
        finally:
            c.close()

    def start_workers(self):
        specs = [("fail-a", self.step_failing), ("fail-b", self.step_failing),
                 ("totp-a", self.step_totp), ("totp-b", self.step_totp),
                 ("admin", self.step_admin)]
        for user in sorted(self.pw):
            specs.append(("pw-" + user, lambda rng, u=user: self.step_pwchange(rng, u)))
        self.threads = []
        for name, fn in specs:
            self.parked[name] = -1
            t = threading.Thread(target=self.worker_loop, args=(name, fn), daemon=True)
            t.start()
            self.threads.append(t)

    def resume(self):
        self.go.set()

    def pause(self):
        self.pause_gen += 1
        self.go.clear()
        deadline = time.monotonic() + 30
        while any(g != self.pause_gen for g in self.parked.values()):
            if time.monotonic() > deadline:
                stuck = [n for n, g in self.parked.items() if g != self.pause_gen]
                raise RuntimeError("workers did not pause: %s" % stuck)
            time.sleep(0.002)

    # ------------------------------------------------------------ real PAM clients

    def pam_client(self, *args):
        env = dict(os.environ, LD_PRELOAD=self.a.pam_wrapper, PAM_WRAPPER="1",
                   PAM_WRAPPER_SERVICE_DIR=os.path.join(self.T, "services"))
        return subprocess.Popen([self.a.pam_client] + list(args), env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    @staticmethod
    def pam_result(proc):
        try:
            out, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            return "TIMEOUT", out
        m = re.search(r"^op 1: (\S+)", out, re.M)
        return (m.group(1) if m else "NO-RESULT(exit %d)" % proc.returncode), out

    def probe_while_down(self):
        user, pw = self.probe
        kind = self.round % 3
        if kind == 0:
            proc = self.pam_client("-p", pw, "mamori-test", user, "auth=AUTHINFO_UNAVAIL")
        elif kind == 1:
            proc = self.pam_client("-p", pw, "-p", "Chaos-Never-Stored-2030", "-p", "Chaos-Never-Stored-2030",
                                   "mamori-test", user, "chauthtok=AUTHINFO_UNAVAIL")
        else:
            proc = self.pam_client("mamori-test", user, "acct=AUTHINFO_UNAVAIL")
        code, out = self.pam_result(proc)
        self.pam_codes_down[code] += 1
        self.v["pam_down"].check(code not in ("SUCCESS", "TIMEOUT") and not code.startswith("NO-RESULT"),
                                 "round %d: pam_client while the daemon was down returned %s: %s" %
                                 (self.round, code, out.strip().replace("\n", " | ")))

    # ------------------------------------------------------------ checks

    def sqlite_integrity(self, when):
        r = subprocess.run(["sqlite3", "-readonly", self.db, "PRAGMA integrity_check;"], capture_output=True,
                           text=True)
        self.v["store_opens"].check(r.returncode == 0 and r.stdout.strip() == "ok",
                                    "round %d (%s): integrity_check: exit %d: %s %s" %
                                    (self.round, when, r.returncode, r.stdout.strip(), r.stderr.strip()))

    def audit_verify(self):
        r = subprocess.run([self.a.ctl, "--socket", self.admin_sock, "audit", "verify"], capture_output=True,
                           text=True)
        self.v["audit_chain"].check(r.returncode == 0, "round %d: mamorictl audit verify: exit %d: %s %s" %
                                    (self.round, r.returncode, r.stdout.strip(), r.stderr.strip()))

    def query(self, db, sql, *args):
        return db.execute(sql, args).fetchall()

    def check_counts(self, db):
        for name in sorted(self.failing):
            lock = self.query(db, "SELECT failures FROM lockouts WHERE name = ?", name)
            lock = lock[0][0] if lock else 0
            audit = self.query(db, "SELECT count(*) FROM audit WHERE category = 'auth' AND user = ? "
                                   "AND result = 'auth_err'", name)[0][0]
            sent, recv = self.f_sent[name], self.f_recv[name]
            v = self.v["lockout_counts"]
            v.check(recv <= lock <= sent, "round %d: %s: failures received %d, recorded %d, sent %d%s" %
                    (self.round, name, recv, lock, sent,
                     " (LOST INCREMENTS)" if lock < recv else " (MORE THAN SENT)" if lock > sent else ""))
            v.check(audit == lock, "round %d: %s: lockouts.failures %d but %d auth_err audit rows" %
                    (self.round, name, lock, audit))
            if self.failing[name] is not None:
                login = self.query(db, "SELECT l.failures_since_success FROM logins l JOIN users u "
                                       "ON u.id = l.user_id WHERE u.name = ?", name)
                login = login[0][0] if login else 0
                v.check(login == lock, "round %d: %s: lockouts.failures %d but logins.failures_since_success %d" %
                        (self.round, name, lock, login))

    def check_totp(self, db):
        c = self.step_now()
        for user in sorted(self.totp):
            steps = [s for (u, s), n in self.t_success.items() if u == user and n > 0]
            if not steps:
                continue
            row = self.query(db, "SELECT t.counter FROM credentials t JOIN users u ON u.id = t.user_id "
                                 "WHERE u.name = ? AND t.factor = 'totp' AND t.state = 'active'", user)
            last = row[0][0] if row else None
            self.v["totp_once"].check(last is not None and last >= max(steps),
                                      "round %d: %s: TOTP counter %r below the accepted step %d" %
                                      (self.round, user, last, max(steps)))
        # Replay every accepted code the clock still allows: the kill must
        # not have forgotten that it was used.
        for (user, step), n in sorted(self.t_success.items()):
            info = self.totp[user]
            if n == 0 or abs(step - c) > WINDOW or ambiguous(info["secret"], step, c):
                continue
            try:
                result, _ = self.pam_login("mn-login", user, [info["password"], totp_code(info["secret"], step)])
            except (NoConn, Cut, Refused) as e:
                self.v["totp_once"].problem("round %d: replay of %s step %d: %s" % (self.round, user, step, e))
                continue
            self.t_replay_tried += 1
            if result == "success":
                self.t_success[(user, step)] += 1
                self.v["totp_once"].problem("round %d: %s step %d accepted again after a restart" %
                                            (self.round, user, step))
            else:
                self.t_replay_refused += 1
                self.v["totp_once"].check(result == "auth_err", "round %d: replay of %s step %d: %r" %
                                          (self.round, user, step, result))

    def check_passwords(self):
        for user in sorted(self.pw):
            st = self.pw[user]
            candidates = [st["confirmed"]] + st["pending"]
            works = []
            for pw in candidates:
                try:
                    result, _ = self.pam_login("mamori-test", user, [pw])
                except (NoConn, Cut, Refused) as e:
                    self.v["password_atomic"].problem("round %d: %s: login failed: %s" % (self.round, user, e))
                    return
                if result == "success":
                    works.append(pw)
            self.v["password_atomic"].check(
                len(works) == 1,
                "round %d: %s: %d of the possible passwords work (confirmed %r, sent after it %r, working %r)" %
                (self.round, user, len(works), st["confirmed"], st["pending"], works))
            # The password replaced by the last confirmed change is gone.
            if st["older"]:
                try:
                    result, _ = self.pam_login("mamori-test", user, [st["older"][-1]])
                except (NoConn, Cut, Refused) as e:
                    result = "no answer: %s" % e
                    self.v["password_atomic"].problem("round %d: %s: login failed: %s" % (self.round, user, e))
                self.v["password_atomic"].check(result != "success",
                                                "round %d: %s: the replaced password %r still works" %
                                                (self.round, user, st["older"][-1]))
            if works:
                if works[0] != st["confirmed"]:
                    self.stats["pw_lost_reply_but_stored"] += 1
                    st["older"].append(st["confirmed"])
                    st["confirmed"] = works[0]
                elif st["pending"]:
                    self.stats["pw_lost_reply_not_stored"] += 1
            st["pending"] = []

    def check_admin(self, db):
        users = {r[0] for r in self.query(db, "SELECT name FROM users WHERE name LIKE 'chaos-u%'")}
        audited = {r[0] for r in self.query(db, "SELECT user FROM audit WHERE category = 'admin' AND "
                                                "reason = 'user add' AND result = 'success' AND "
                                                "user LIKE 'chaos-u%'")}
        v = self.v["admin_atomic"]
        v.check(self.adm_recv <= users, "round %d: added with a reply but missing: %s" %
                (self.round, sorted(self.adm_recv - users)))
        v.check(users <= self.adm_sent, "round %d: accounts never asked for: %s" %
                (self.round, sorted(users - self.adm_sent)))
        v.check(users == audited, "round %d: accounts without their audit row %s, audit rows without the "
                "account %s" % (self.round, sorted(users - audited), sorted(audited - users)))

    def check_status(self):
        """The store answers through the daemon, and holds at least the audit
        rows it held at the last restart: rows are never lost."""
        c = Conn(self.admin_sock)
        try:
            p = c.call("io.mamori.Admin.Status", {})
        finally:
            c.close()
        rows = p.get("audit_rows", -1)
        self.v["store_opens"].check(p.get("store", {}).get("backend") == "sqlite" and rows >= self.audit_rows_seen,
                                    "round %d: Status after restart: %r (audit rows seen before: %d)" %
                                    (self.round, p, self.audit_rows_seen))
        self.audit_rows_seen = max(self.audit_rows_seen, rows)

    def checks_after_start(self):
        self.sqlite_integrity("after restart")
        self.check_status()
        self.audit_verify()
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            self.check_counts(db)
            self.check_admin(db)
            self.check_totp(db)
        finally:
            db.close()
        self.check_passwords()

    def check_log(self):
        """The store never failed: no "store:" error in the daemon's log."""
        bad = []
        with open(os.path.join(self.T, "daemon.log"), errors="replace") as f:
            for line in f:
                if "store:" in line and "migrated" not in line:
                    bad.append(line.strip())
        self.v["store_opens"].check(not bad, "the daemon logged %d store errors, first: %s" %
                                    (len(bad), bad[:5]))

    def final_checks(self):
        self.check_log()
        # While it ran, the daemon answered every request, and never with an
        # error: a kill only ever cuts connections.
        errors = {k: n for k, n in self.stats.items() if k.startswith("error:") or k == "timeouts"}
        self.v["store_opens"].check(not errors, "requests that got an error or no answer in 10 s: %s" % errors)
        db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            # Every received success left its audit row; and within one clock
            # value (one window of 2 * WINDOW + 1 steps) no user can have
            # more successes than steps, or a step was used twice unseen.
            for user in sorted(self.totp):
                rows = self.query(db, "SELECT ts, count(*) FROM audit WHERE category = 'auth' AND "
                                      "service = 'mn-login' AND user = ? AND result = 'success' GROUP BY ts",
                                  user)
                total = sum(n for _, n in rows)
                recv = sum(n for (u, _), n in self.t_success.items() if u == user)
                self.v["totp_once"].check(total >= recv, "%s: %d successes received, %d audited" %
                                          (user, recv, total))
                # Each success uses up a step of its own.
                steps = len({st for (u, st) in self.t_sent if u == user})
                self.v["totp_once"].check(total <= steps, "%s: %d successes audited, only %d distinct steps "
                                          "were ever sent" % (user, total, steps))
                for ts, n in rows:
                    self.v["totp_once"].check(n <= 2 * WINDOW + 1, "%s: %d successes at clock %d, more than "
                                              "the %d steps the window holds" % (user, n, ts, 2 * WINDOW + 1))
            # A PAM success a client saw while the daemon was being killed
            # was recorded.
            audited = self.query(db, "SELECT count(*) FROM audit WHERE category = 'auth' AND user = ? AND "
                                     "service = 'mamori-test' AND result = 'success' AND tty = 'chaos-race'",
                                 self.probe[0])[0][0]
            self.v["pam_down"].check(audited >= self.pam_codes_race["SUCCESS"],
                                     "%d racing PAM clients succeeded, %d successes audited" %
                                     (self.pam_codes_race["SUCCESS"], audited))
        finally:
            db.close()

    # ------------------------------------------------------------ rounds

    def cold_starts(self, kills=10):
        """Kills during the very first start, on an empty state directory,
        then a start that must open what they left."""
        cold = os.path.join(self.T, "cold")
        os.makedirs(cold, 0o755, exist_ok=True)
        text = open(os.path.join(self.T, "mamori.conf")).read()
        text = text.replace(self.T + "/run", cold + "/run").replace(self.T + "/state", cold + "/state")
        conf = os.path.join(cold, "mamori.conf")
        with open(conf, "w") as f:
            f.write(text)
        os.chmod(conf, 0o644)
        for _ in range(kills):
            self.kill_during_startup(conf, 0.12)
        ok, why = self.start_daemon(conf, os.path.join(cold, "run"))
        v = self.v["store_opens"]
        v.check(ok, "first start after %d kills during first starts: %s" % (kills, why))
        if not ok:
            return
        try:
            admin = os.path.join(cold, "run", "admin.sock")
            c = Conn(admin)
            try:
                p = c.call("io.mamori.Admin.UserAdd", {"name": "cold-start"})
                v.check(p.get("user", {}).get("name") == "cold-start", "cold start: UserAdd: %r" % p)
                p = c.call("io.mamori.Admin.TotpEnroll", {"name": "cold-start"})
                v.check(bool(p.get("secret")), "cold start: TotpEnroll (the store key): %r" % p)
            finally:
                c.close()
            r = subprocess.run([self.a.ctl, "--socket", admin, "audit", "verify"], capture_output=True, text=True)
            self.v["audit_chain"].check(r.returncode == 0, "cold start: audit verify: exit %d: %s %s" %
                                        (r.returncode, r.stdout.strip(), r.stderr.strip()))
        except (NoConn, Cut, Refused) as e:
            v.problem("cold start: %s" % e)
        finally:
            self.kill_daemon()
        r = subprocess.run(["sqlite3", "-readonly", os.path.join(cold, "state", "mamori.db"),
                            "PRAGMA integrity_check;"], capture_output=True, text=True)
        v.check(r.returncode == 0 and r.stdout.strip() == "ok", "cold start: integrity_check: %s %s" %
                (r.stdout.strip(), r.stderr.strip()))

    def one_round(self):
        if self.round > 0 and self.rng.random() < 0.25:
            # Sometimes the restart itself is killed.
            self.kill_during_startup(os.path.join(self.T, "mamori.conf"), 0.06)
        ok, why = self.start_daemon()
        self.v["store_opens"].check(ok, "round %d: %s" % (self.round, why))
        if not ok:
            raise RuntimeError("restart %d failed: %s" % (self.round, why))
        self.checks_after_start()
        if self.round == self.a.rounds:
            return
        # New steps for this round: three, so the replays above stay refused
        # and the window holds fresh codes.
        self.set_clock(self.clock + (2 * WINDOW + 1) * PERIOD)
        run = self.rng.uniform(0.05, 0.5)
        # A real PAM client takes some 30-100 ms: started this long before
        # the kill, it is cut mid-way in some rounds and done in others.
        race_at = run - self.rng.uniform(0.0, 0.15)
        self.down = False
        self.resume()
        t0 = time.monotonic()
        time.sleep(max(0.0, race_at))
        user, pw = self.probe
        race = self.pam_client("-t", "chaos-race", "-p", pw, "mamori-test", user, "auth=SUCCESS")
        time.sleep(max(0.0, run - (time.monotonic() - t0)))
        self.kill_daemon()
        self.down = True
        DOWN.set()
        self.stats["kills"] += 1
        self.stats["run_ms_total"] += int(run * 1000)
        code, _ = self.pam_result(race)
        self.pam_codes_race[code] += 1
        self.v["pam_down"].check(code != "TIMEOUT" and not code.startswith("NO-RESULT"),
                                 "round %d: a PAM client racing the kill returned %s" % (self.round, code))
        # The clients keep trying for a while: they must only fail.
        self.probe_while_down()
        time.sleep(0.05)
        self.pause()
        self.sqlite_integrity("after kill")
        self.v["pam_down"].check(not CONNECTED_WHILE_DOWN, "round %d: connections accepted while the daemon "
                                 "was dead: %s" % (self.round, CONNECTED_WHILE_DOWN))
        DOWN.clear()
        self.down = False

    def run(self):
        self.start_workers()
        t0 = time.monotonic()
        completed = False
        aborted = None
        try:
            self.cold_starts()
            for self.round in range(self.a.rounds + 1):
                self.one_round()
            self.final_checks()
            completed = True
        except Exception as e:
            aborted = "round %d: %r" % (self.round, e)
            print("ABORTED:", aborted)
        finally:
            self.stop = True
            self.go.set()
            for t in self.threads:
                t.join(5)
            self.stop_daemon()
        elapsed = time.monotonic() - t0
        self.report(elapsed, completed, aborted)
        return completed

    def report(self, elapsed, completed, aborted):
        s = self.stats
        f_sent = sum(self.f_sent.values())
        f_recv = sum(self.f_recv.values())
        recorded = {}
        try:
            db = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
            for name in self.failing:
                r = db.execute("SELECT failures FROM lockouts WHERE name = ?", (name,)).fetchall()
                recorded[name] = r[0][0] if r else 0
            audit_rows = db.execute("SELECT count(*) FROM audit").fetchone()[0]
            db.close()
        except sqlite3.Error as e:
            audit_rows = "unreadable: %s" % e
        lines = [
            "rounds: %d SIGKILLs while clients worked, %d more during start-up, %d starts, %.1f s (mean run "
            "before the kill %d ms, start-up mean %d ms, max %d ms)" %
            (s["kills"], s["startup_kills"], s["starts"], elapsed, s["run_ms_total"] // max(1, s["kills"]),
             s["start_ms_total"] // max(1, s["starts"]), s["start_ms_max"]),
            "failing logins: %d sent, %d answered, %d recorded (per name: %s)" %
            (f_sent, f_recv, sum(recorded.values()),
             ", ".join("%s %d/%d/%d" % (n, self.f_recv[n], recorded.get(n, 0), self.f_sent[n])
                       for n in sorted(self.failing))),
            "totp: %d codes sent, %d accepted, %d refused; %d distinct (user, step) accepted, max %d acceptances "
            "of one; replays refused %d of %d" %
            (s["totp_codes_sent"], s["totp_accepted"], s["totp_refused"],
             sum(1 for n in self.t_success.values() if n > 0), max(self.t_success.values(), default=0),
             self.t_replay_refused, self.t_replay_tried),
            "password changes: %d confirmed, %d refused, %d with the reply lost (stored %d, not stored %d)" %
            (s["pw_changed"], s["pw_refused"],
             s["pw_lost_reply_but_stored"] + s["pw_lost_reply_not_stored"], s["pw_lost_reply_but_stored"],
             s["pw_lost_reply_not_stored"]),
            "admin: %d UserAdd sent, %d answered" % (len(self.adm_sent), len(self.adm_recv)),
            "connections: %d refused while down, %d refused while up, %d cut, %d timeouts; errors %s" %
            (s["noconn_down"], s["noconn_up"], s["cut"], s["timeouts"],
             {k[6:]: n for k, n in s.items() if k.startswith("error:")} or "none"),
            "pam_client while down: %s; racing the kill: %s" % (dict(self.pam_codes_down),
                                                                 dict(self.pam_codes_race)),
            "audit rows: %s" % audit_rows,
            "mean ms per request: %s" % ", ".join(
                "%s %d (%d)" % (k[5:], s[k] // max(1, s["t_n_" + k[5:]]), s["t_n_" + k[5:]])
                for k in sorted(s) if k.startswith("t_ms_")),
        ]
        for name, v in self.v.items():
            lines.append("verdict %s: %d checks, %d problems" % (name, v.checks, len(v.problems)))
            for p in v.problems[:10]:
                lines.append("  " + p)
        print("\n".join(lines))
        result = {
            "completed": completed,
            "aborted": aborted,
            "elapsed": elapsed,
            "summary": lines,
            "verdicts": {k: {"checks": v.checks, "problems": v.problems} for k, v in self.v.items()},
        }
        with open(self.a.result, "w") as f:
            json.dump(result, f, indent=1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--authd", required=True)
    ap.add_argument("--ctl", required=True)
    ap.add_argument("--pam-client", required=True)
    ap.add_argument("--pam-wrapper", required=True)
    ap.add_argument("--setup", required=True)
    ap.add_argument("--result", required=True)
    args = ap.parse_args()
    ok = Chaos(args).run()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
