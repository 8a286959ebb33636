#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# Crash safety: rounds of SIGKILL at random moments while concurrent
# clients log in, fail, change passwords, use TOTP codes and add accounts,
# each followed by a restart and checks of what the store kept.  The work
# is done by chaos_driver.py (varlink on the sockets directly, plus real
# pam_client runs through pam_wrapper); this script prepares the accounts
# and turns the driver's verdicts into TAP.
#
# CHAOS_ROUNDS (default 100) and CHAOS_SEED (default: random, printed)
# repeat a run's kill schedule (the clients' interleaving is left to chance).
. "$(dirname "$0")/lib.sh"

require "root" test "$(id -u)" = 0
require "pam_client" test -x "$BUILT_PAM_CLIENT"
require "pam_wrapper" test -n "$PAM_WRAPPER_LIB"
require "python3" test -x /usr/bin/python3
require "oathtool" command -v oathtool
require "sqlite3" command -v sqlite3
# The driver moves the test clock (lockouts, TOTP steps).
require_test_hooks "needs the test clock"

DRIVER="$top_srcdir/tests/integration/chaos_driver.py"

# lockout_threshold = 0 never locks but still counts every failure, so the
# failing accounts can fail thousands of times and every increment stays
# visible; the window is a year, so no count starts again from zero.
EXTRA_CONF="$MN_LOGIN_CONF

[password]
history = 2

[policy staff]
min_age_days = 0
lockout_threshold = 0
lockout_window = 31536000"
new_env
make_service mn-login
start_daemon || { echo "Bail out! daemon did not start"; cat "$T/daemon.log"; exit 1; }

# The accounts: three that only ever fail (plus a name without an
# account), four that log in with password+TOTP, two whose passwords keep
# changing, and one for the real PAM clients.  One line each for the
# driver: KIND NAME [PASSWORD [TOTP-SECRET]].
setup() {
	local u i=0 pw secret
	: >"$T/chaos-setup.txt"
	for u in fail1 fail2 fail3; do
		i=$((i + 1))
		pw="Kestrel-Harbour-$i-Mizu"
		add_user "$u" "$pw" || return 1
		echo "failing $u $pw" >>"$T/chaos-setup.txt"
	done
	echo "failing ghost.nobody" >>"$T/chaos-setup.txt"
	for u in tot1 tot2 tot3 tot4; do
		i=$((i + 1))
		pw="Lantern-Orchard-$i-Kaze"
		add_user "$u" "$pw" || return 1
		secret=$(enroll_totp "$u") && [ -n "$secret" ] || return 1
		echo "totp $u $pw $secret" >>"$T/chaos-setup.txt"
	done
	for u in pwc1 pwc2; do
		i=$((i + 1))
		pw="Meadow-Pilgrim-$i-Yuki"
		add_user "$u" "$pw" || return 1
		echo "pwchange $u $pw" >>"$T/chaos-setup.txt"
	done
	add_user probe "Nectar-Quarry-Hoshi-42" || return 1
	echo "probe probe Nectar-Quarry-Hoshi-42" >>"$T/chaos-setup.txt"
}
setup || { echo "Bail out! setup failed"; tail -n 30 "$T/daemon.log"; exit 1; }
# The driver starts and kills the daemon itself from here on.
stop_daemon

ROUNDS=${CHAOS_ROUNDS:-100}
SEED=${CHAOS_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}
echo "# chaos: $ROUNDS rounds, seed $SEED (CHAOS_SEED=$SEED repeats the kill schedule)"
start=$(date +%s)
/usr/bin/python3 "$DRIVER" --dir "$T" --rounds "$ROUNDS" --seed "$SEED" --authd "$AUTHD" --ctl "$CTL" \
	--pam-client "$PAM_CLIENT" --pam-wrapper "${PAM_PRELOAD:-$PAM_WRAPPER_LIB}" --setup "$T/chaos-setup.txt" \
	--result "$T/chaos-result.json" >"$T/chaos-driver.out" 2>&1
driver_rc=$?
sed 's/^/# /' "$T/chaos-driver.out"
echo "# chaos: driver exit $driver_rc after $(($(date +%s) - start)) s"

# verdict NAME: the driver's verdict on one property; its details on failure.
verdict() {
	[ -f "$T/chaos-result.json" ] || fail "the driver wrote no result (exit $driver_rc)"
	/usr/bin/python3 - "$T/chaos-result.json" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
v = r["verdicts"].get(sys.argv[2])
if v is None:
    print("no verdict for", sys.argv[2]); sys.exit(1)
if not r.get("completed"):
    print("the driver stopped early:", r.get("aborted"))
for line in v["problems"][:40]:
    print(line)
if len(v["problems"]) > 40:
    print("... and", len(v["problems"]) - 40, "more")
print("checks:", v["checks"])
sys.exit(0 if v["checks"] > 0 and not v["problems"] and r.get("completed") else 1)
PY
}

t_store_opens() { verdict store_opens; }
t_no_lost_increment() { verdict lockout_counts; }
t_no_double_totp() { verdict totp_once; }
t_audit_chain() { verdict audit_chain; }
t_pam_down() { verdict pam_down; }
t_password_atomic() { verdict password_atomic; }
t_admin_atomic() { verdict admin_atomic; }

run_test "store opens cleanly after every SIGKILL (GetInfo within 5 s, integrity_check ok)" t_store_opens
run_test "P-CRED-STORE no lockout increment lost across $ROUNDS SIGKILLs" t_no_lost_increment
run_test "P-CRED-STORE no TOTP code accepted twice across SIGKILLs" t_no_double_totp
run_test "P-AUDIT the audit chain verifies after every SIGKILL" t_audit_chain
run_test "PAM clients saw only failure codes while the daemon was down" t_pam_down
run_test "password changes are atomic across SIGKILLs" t_password_atomic
run_test "account additions are atomic with their audit rows across SIGKILLs" t_admin_atomic
tap_done
