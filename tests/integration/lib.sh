# SPDX-License-Identifier: BSD-2-Clause
# Shared helpers for the integration tests: a TAP producer, a real
# mamori-authd in a temporary directory, and PAM stacks through pam_wrapper.
# Sourced by each tests/integration/test-*.sh.

set -u
# A pipeline fails when any of its commands does: a test's command never
# hides behind a grep or a sed.
set -o pipefail

: "${top_builddir:?top_builddir must be set}"
: "${top_srcdir:?top_srcdir must be set}"

AUTHD="$top_builddir/authd/mamori-authd"
CTL="$top_builddir/cli/mamorictl"
BUILT_PAM_CLIENT="$top_builddir/tests/integration/pam_client"
# Raw protocol calls (rawclient.py) and a JSON field of their replies.
RAW="/usr/bin/python3 $top_srcdir/tests/integration/rawclient.py"
json() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
# totp_code SECRET [SECONDS]: the TOTP code at $T's test clock (plus
# SECONDS).  A test with several daemons on clocks of their own defines
# its own.
totp_code() {
	oathtool --totp -b "$1" --now "@$(($(cat "$T/clock") + ${2:-0}))"
}
# enroll_totp NAME: a TOTP factor enrolled and confirmed through $T's admin
# socket, with totp_code's code (which uses up the current step); prints
# the secret.
# Every step says what failed: none may end the test without a word.
enroll_totp() {
	local out secret code
	out=$($RAW "$T/run/admin.sock" "{\"method\":\"io.mamori.Admin.TotpEnroll\",\"parameters\":{\"name\":\"$1\"}}") ||
		{ echo "enroll_totp $1: TotpEnroll: rawclient failed: $out" >&2; return 1; }
	# The reply's first line, without a pipe (no writer to lose to SIGPIPE).
	secret=$(json 'd["parameters"]["secret"]' <<<"${out%%$'\n'*}") ||
		{ echo "enroll_totp $1: no secret in the reply: $out" >&2; return 1; }
	code=$(totp_code "$secret") || { echo "enroll_totp $1: no code for the secret" >&2; return 1; }
	out=$($RAW "$T/run/admin.sock" \
		"{\"method\":\"io.mamori.Admin.TotpConfirm\",\"parameters\":{\"name\":\"$1\",\"code\":\"$code\"}}") ||
		{ echo "enroll_totp $1: TotpConfirm: rawclient failed: $out" >&2; return 1; }
	grep -q '"totp"' <<<"$out" || { echo "enroll_totp $1: confirm failed: $out" >&2; return 1; }
	echo "$secret"
}
# MN_LOGIN_CONF: a My Number system "mn" and its local login service
# "mn-login" (password and TOTP), for a script's EXTRA_CONF (make_service
# mn-login after new_env).
MN_LOGIN_CONF="[system mn]
mynumber = yes

[service mn-login]
system = mn
require = password+totp
rhost_empty = local"
BUILT_MODULE="$top_builddir/pam/.libs/pam_mamori.so"
PAM_WRAPPER_LIB=${PAM_WRAPPER_LIB:-$(for d in /usr/lib/*-linux-gnu /usr/lib64 /usr/lib; do
	[ -e "$d/libpam_wrapper.so" ] && echo "$d/libpam_wrapper.so" && break; done)}

# ------------------------------------------------ sanitizers, valgrind
# Set by ./quickstart's sanitizer pass and valgrind check; unset in a plain
# make check, where none of this changes anything.
#
# MAMORI_SANITIZER_PRELOAD: the ASan runtime (libasan.so).  An ASan-built
# pam_client or pam_mamori.so under pam_wrapper needs it FIRST in LD_PRELOAD,
# so every pam_wrapper run preloads "$PAM_PRELOAD", never the wrapper alone.
# ASan and LeakSanitizer reports of every process of the script (daemon,
# mamorictl, pam_client, pamtester) then go to files in $SANITIZER_LOGS,
# which tap_done turns into a failing test: a report from a process whose
# exit status a test ignores still fails the run.  (UBSan in a combined
# ASan+UBSan build ignores log_path and writes to stderr; it aborts the
# process, and tap_done also scans the daemon logs for it.)
PAM_PRELOAD=$PAM_WRAPPER_LIB
SANITIZER_LOGS=""
if [ -n "${MAMORI_SANITIZER_PRELOAD:-}" ]; then
	PAM_PRELOAD="$MAMORI_SANITIZER_PRELOAD $PAM_WRAPPER_LIB"
	SANITIZER_LOGS=$(mktemp -d /tmp/mamori-sanitizer.XXXXXX)
	chmod 1777 "$SANITIZER_LOGS" # processes run as nobody write here too
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$SANITIZER_LOGS/asan"
fi
# MAMORI_PLAIN_MODULE: a pam_mamori.so built without sanitizers, for the real
# setuid su and sudo and for login in a mount namespace (ns_pam, test-su.sh,
# test-i18n.sh's sudo), where LD_PRELOAD cannot bring in the ASan runtime.
# NS_MODULE (set by new_env) is the module those stacks load.
#
# MAMORI_VALGRIND: run pam_client (the `pam` helper) under valgrind memcheck;
# an error or a definite leak makes pam_client exit 99, and tap_done fails
# the script if any valgrind log of it reports an error.
VALGRIND=()
VALGRIND_LOGS=""
VALGRIND_SUPP=""
if [ -n "${MAMORI_VALGRIND:-}" ]; then
	VALGRIND_LOGS=$(mktemp -d /tmp/mamori-valgrind.XXXXXX)
	chmod 1777 "$VALGRIND_LOGS"
	# A copy clients run as nobody can read, wherever the source tree is.
	VALGRIND_SUPP=$(mktemp /tmp/mamori-valgrind-supp.XXXXXX)
	cp "$top_srcdir/tests/integration/valgrind.supp" "$VALGRIND_SUPP"
	chmod 644 "$VALGRIND_SUPP"
	VALGRIND=(valgrind -q --tool=memcheck --error-exitcode=99 --leak-check=full
		--errors-for-leak-kinds=definite --show-leak-kinds=definite --track-origins=yes --keep-debuginfo=yes
		--suppressions="$VALGRIND_SUPP" --log-file="$VALGRIND_LOGS/vg.%p")
fi

# ------------------------------------------------------------ test hooks
# A build configured without --enable-test-hooks (the one people deploy)
# has no injectable clock: the daemon ignores MAMORI_TEST_CLOCK_FILE.  Tests
# that move the clock are then skipped, visibly (run_clock_test,
# require_test_hooks); set_clock and advance_clock fail there, so a test
# that moves the clock without saying so fails rather than passes.
TEST_HOOKS_SKIP="build configured without --enable-test-hooks"
if grep -q '^#define MAMORI_TEST_HOOKS 1' "$top_builddir/config.h" 2>/dev/null; then
	HAVE_TEST_HOOKS=1
else
	HAVE_TEST_HOOKS=0
fi

# ------------------------------------------------------------ the store
# The integration suite runs on both backends of the store.  Unset (or
# "sqlite"): the embedded SQLite file, as deployed by default.
# MAMORI_TEST_BACKEND=postgresql with MAMORI_TEST_PG_CONNINFO naming a
# throw-away cluster (tests/pg/cluster.sh, started by `make
# check-postgresql`): each environment (new_env) gets a database of its
# own, created here and dropped by cleanup_all, so that tests stay
# independent; `sql` runs psql on it with the output sqlite3 gives.
export MAMORI_TEST_BACKEND=${MAMORI_TEST_BACKEND:-sqlite}
case $MAMORI_TEST_BACKEND in
sqlite) ;;
postgresql)
	if [ -z "${MAMORI_TEST_PG_CONNINFO:-}" ] || ! command -v psql >/dev/null 2>&1; then
		echo "Bail out! MAMORI_TEST_BACKEND=postgresql needs psql and MAMORI_TEST_PG_CONNINFO (see tests/pg/cluster.sh)"
		exit 1
	fi
	PG_BINDIR=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
	;;
*)
	echo "Bail out! MAMORI_TEST_BACKEND: unknown backend '$MAMORI_TEST_BACKEND'"
	exit 1
	;;
esac
PG_DB_SEQ=0

# on_postgresql: the suite runs on the PostgreSQL backend.
on_postgresql() {
	[ "$MAMORI_TEST_BACKEND" = postgresql ]
}

# sqlite_only WHY: the whole script is about the SQLite file itself (its
# mode, schema upgrades of a file, crash consistency of the file): a
# visible SKIP in the PostgreSQL pass.  (Makefile.am keeps such scripts out
# of that pass; this guards a direct run.)
sqlite_only() {
	if on_postgresql; then
		echo "1..0 # SKIP $1: about the SQLite store only"
		exit 0
	fi
}

# psql_on DATABASE ARGS...: psql on a database of the test cluster,
# without ~/.psqlrc, stopping at the first error.
psql_on() {
	local db=$1
	shift
	psql -X -q -v ON_ERROR_STOP=1 -d "$MAMORI_TEST_PG_CONNINFO dbname=$db" "$@"
}

# pg_new_db: a database named after the test script, its pid and the
# environment's directory (a script may make several environments, some in
# the subshell of a test, whose counters the script never sees).  A
# database an environment cleaned up by a trap of its own leaves behind
# goes with the throw-away cluster.
pg_new_db() {
	local base db
	base=$(basename "$0" .sh | tr -c 'a-z0-9\n' '_')
	PG_DB_SEQ=$((PG_DB_SEQ + 1))
	db="mamori_${base:0:24}_$$_$(basename "$T" | tr -c 'a-zA-Z0-9\n' '_' | tr A-Z a-z)_$PG_DB_SEQ"
	psql_on postgres -c "CREATE DATABASE $db" >/dev/null || return 1
	echo "$db"
}

# store_conf: the [store] lines naming the backend (new_env).
store_conf() {
	if on_postgresql; then
		echo "backend = postgresql"
		echo "conninfo = $MAMORI_TEST_PG_CONNINFO dbname=$(cat "$T/pgdb")"
	fi
}

# Fragments of SQL for what SQLite and PostgreSQL spell differently, so
# that a test's query checks the same thing on both:
#   sql_hex EXPR          the bytes of a blob as upper-case hex
#   sql_json EXPR KEY     a text member of a JSON text
#   sql_json_int EXPR KEY an integer member of a JSON text
#   sql_group_concat EXPR the values joined by commas
# (A condition's value, 1 or 0 in SQLite and t or f in PostgreSQL, is
# written CASE WHEN ... THEN 1 ELSE 0 END; the audit's column "user" is
# quoted, a reserved word in PostgreSQL.)
sql_hex() {
	if on_postgresql; then echo "upper(encode($1, 'hex'))"; else echo "hex($1)"; fi
}
sql_json() {
	if on_postgresql; then echo "(($1)::json ->> '$2')"; else echo "json_extract($1, '\$.$2')"; fi
}
sql_json_int() {
	if on_postgresql; then echo "(($1)::json ->> '$2')::bigint"; else echo "json_extract($1, '\$.$2')"; fi
}
sql_group_concat() {
	if on_postgresql; then echo "string_agg(($1)::text, ',')"; else echo "group_concat($1)"; fi
}

TAP_COUNT=0
TAP_FAILED=0

# ---------------------------------------------------------------- TAP

tap_ok() {
	TAP_COUNT=$((TAP_COUNT + 1))
	echo "ok $TAP_COUNT - $1"
}

tap_not_ok() {
	TAP_COUNT=$((TAP_COUNT + 1))
	TAP_FAILED=$((TAP_FAILED + 1))
	echo "not ok $TAP_COUNT - $1"
}

tap_skip() {
	TAP_COUNT=$((TAP_COUNT + 1))
	echo "ok $TAP_COUNT - $1 # SKIP $2"
}

# run_clock_test NAME FUNCTION: run_test for a test that needs the test
# clock; a visible SKIP on a build without test hooks.
run_clock_test() {
	if [ "$HAVE_TEST_HOOKS" = 1 ]; then
		run_test "$@"
	else
		tap_skip "$1" "needs the test clock: $TEST_HOOKS_SKIP"
	fi
}

# wait_until TRIES CMD...: CMD run every 0.05 s until it succeeds, TRIES
# times at most; its status.
wait_until() {
	local tries=$1 i
	shift
	for i in $(seq 1 "$tries"); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# run_hooks_test NAME FUNCTION: run_test for a test that needs another
# test hook (the store's refusal, a pause); a visible SKIP without.
run_hooks_test() {
	if [ "$HAVE_TEST_HOOKS" = 1 ]; then
		run_test "$@"
	else
		tap_skip "$1" "needs a test hook: $TEST_HOOKS_SKIP"
	fi
}

# require_test_hooks WHY: the whole script needs a test hook (WHY: "needs
# the test clock"); without test hooks it is one visible SKIP.
require_test_hooks() {
	if [ "$HAVE_TEST_HOOKS" != 1 ]; then
		echo "1..0 # SKIP $1: $TEST_HOOKS_SKIP"
		exit 0
	fi
}

# run_test NAME FUNCTION: the test passes when every command of FUNCTION
# succeeds (it runs under set -e).  Its output is shown as TAP comments only
# when it fails.
run_test() {
	local name=$1 fn=$2 out rc
	out=$(mktemp)
	# Not inside an "if": bash ignores set -e in a condition, and every
	# command of a test must count.
	( set -e; "$fn" ) >"$out" 2>&1
	rc=$?
	if [ "$rc" -eq 0 ]; then
		tap_ok "$name"
	else
		tap_not_ok "$name"
		sed 's/^/# /' "$out"
		if [ -n "${T:-}" ] && [ -f "$T/daemon.log" ]; then
			echo "# --- daemon log (tail)"
			tail -n 20 "$T/daemon.log" | sed 's/^/# /'
		fi
	fi
	rm -f "$out"
}

tap_done() {
	sanitizer_check
	echo "1..$TAP_COUNT"
	cleanup_all
	[ "$TAP_FAILED" -eq 0 ]
}

# sanitizer_check: in the sanitizer pass or under valgrind, one more test
# that fails when any process of the script reported an error.  Daemons are
# stopped first: LeakSanitizer reports when the daemon exits.
SANITIZER_REPORT='ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: (Address|Undefined|Leak)Sanitizer'
sanitizer_check() {
	[ -n "$SANITIZER_LOGS$VALGRIND_LOGS" ] || return 0
	local e f reports=""
	for e in $ENVS; do
		T=$e
		stop_daemon
		# Sanitizer output that went to a daemon's stderr (UBSan).
		for f in "$e"/*.log; do
			[ -f "$f" ] && grep -qE "$SANITIZER_REPORT" "$f" && reports="$reports $f"
		done
	done
	# Report files: ASan and LeakSanitizer (log_path), valgrind (--log-file;
	# -q leaves them empty when there is nothing to say).
	for f in ${SANITIZER_LOGS:+"$SANITIZER_LOGS"/*} ${VALGRIND_LOGS:+"$VALGRIND_LOGS"/*}; do
		[ -s "$f" ] && reports="$reports $f"
	done
	local name="${SANITIZER_LOGS:+sanitizers}${VALGRIND_LOGS:+valgrind}: no process of this script reported an error"
	if [ -z "$reports" ]; then
		tap_ok "$name"
	else
		tap_not_ok "$name"
		for f in $reports; do
			echo "# --- $f"
			case $f in
			*.log) grep -E -A 30 "$SANITIZER_REPORT" "$f" | sed 's/^/# /' ;;
			*) sed 's/^/# /' "$f" ;;
			esac
		done
	fi
	rm -rf "$SANITIZER_LOGS" "$VALGRIND_LOGS" "$VALGRIND_SUPP"
}

# Tests need root (pam_wrapper as other users, mount namespaces); a missing
# prerequisite is a failure, not a skip, unless MAMORI_ALLOW_SKIP is set.
require() {
	local what=$1
	shift
	if ! "$@" >/dev/null 2>&1; then
		if [ -n "${MAMORI_ALLOW_SKIP:-}" ]; then
			echo "1..0 # SKIP $what"
			exit 0
		fi
		echo "Bail out! missing prerequisite: $what"
		exit 1
	fi
}

fail() {
	echo "FAIL: $*" >&2
	return 1
}

# expect_eq ACTUAL EXPECTED [WHAT]
expect_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: got '$1', expected '$2'"
}

# expect_match TEXT REGEX [WHAT]
expect_match() {
	grep -Eq -- "$2" <<<"$1" || fail "${3:-text} does not match /$2/: $1"
}

# ------------------------------------------------------------- daemon

# new_env: a fresh directory $T with a configuration, a pam_wrapper service
# directory, and clock file.  Fast Argon2 parameters unless ARGON2_M is set.
new_env() {
	# ctl sets the login uid of mamorictl (CAP_AUDIT_CONTROL, a kernel
	# with audit support, no immutable login uids).
	if ! (echo 0 >/proc/self/loginuid) 2>/dev/null; then
		echo "Bail out! cannot set a login uid (/proc/self/loginuid): ctl needs one"
		exit 1
	fi
	T=$(mktemp -d /tmp/mamori-test.XXXXXX)
	chmod 755 "$T"
	mkdir -p "$T/run" "$T/services"
	chmod 755 "$T/run" "$T/services"
	# Copies that other users can reach whatever the build directory's mode
	# (a clone under /root, mode 0700): run mamorictl as another user
	# through $RUNAS_CTL, never $CTL.
	cp "$BUILT_MODULE" "$T/pam_mamori.so"
	cp "$BUILT_PAM_CLIENT" "$T/pam_client"
	cp "$CTL" "$T/mamorictl"
	chmod 755 "$T/pam_mamori.so" "$T/pam_client" "$T/mamorictl"
	RUNAS_CTL="$T/mamorictl"
	MODULE="$T/pam_mamori.so"
	NS_MODULE=$MODULE
	if [ -n "${MAMORI_PLAIN_MODULE:-}" ]; then # see MAMORI_PLAIN_MODULE above
		cp "$MAMORI_PLAIN_MODULE" "$T/pam_mamori-plain.so"
		chmod 755 "$T/pam_mamori-plain.so"
		NS_MODULE="$T/pam_mamori-plain.so"
	fi
	PAM_CLIENT="$T/pam_client"
	echo "$(date +%s)" >"$T/clock"
	chmod 644 "$T/clock"
	ENVS="$ENVS $T"
	if on_postgresql; then
		# MAMORI_TEST_SHARE_DB: the database of another environment, for a
		# second daemon on the same store (test-fleet.sh); cleanup_all drops
		# only the database an environment made.
		if [ -n "${MAMORI_TEST_SHARE_DB:-}" ]; then
			echo "$MAMORI_TEST_SHARE_DB" >"$T/pgdb"
		else
			pg_new_db >"$T/pgdb" || {
				echo "Bail out! cannot create a database in the test cluster"
				exit 1
			}
			touch "$T/pgdb-owned"
		fi
	fi
	cat >"$T/mamori.conf" <<CONF
[daemon]
runtime_dir = $T/run
state_dir = $T/state
idle_timeout = ${IDLE_TIMEOUT:-30}

[store]
$(store_conf)
key = $T/state/store.key
audit_key = $T/state/audit.key

[password]
argon2_t = ${ARGON2_T:-1}
argon2_m_kib = ${ARGON2_M:-8192}
argon2_p = 1

[service mamori-test]
system = default

[service mamori-mn]
system = mynumber

[service mamori-priv]
system = default
privileged = yes
${EXTRA_CONF:-}
CONF
	make_service mamori-test
	make_service mamori-mn
	make_service mamori-priv
	cat >"$T/services/other" <<SVC
auth required pam_deny.so
account required pam_deny.so
password required pam_deny.so
session required pam_deny.so
SVC
}
ENVS=""

# make_service NAME [MODULE OPTIONS]: a pam_wrapper service using pam_mamori
# for every module type.
make_service() {
	local name=$1
	shift
	local opts="socket=$T/run/pam.sock $*"
	cat >"$T/services/$name" <<SVC
auth required $MODULE $opts
account required $MODULE $opts
password required $MODULE $opts
session required $MODULE $opts
SVC
	chmod 644 "$T/services/$name"
}

start_daemon() {
	chmod 644 "$T/mamori.conf"
	# In a session of its own, as under systemd: the daemon never signals
	# its own process group, where the tests' processes would otherwise be.
	MAMORI_TEST_CLOCK_FILE="$T/clock" setsid "$AUTHD" --config "$T/mamori.conf" --foreground --debug \
		>>"$T/daemon.log" 2>&1 &
	DAEMON_PID=$!
	echo "$DAEMON_PID" >"$T/daemon.pid"
	local i
	for i in $(seq 1 100); do
		[ -S "$T/run/admin.sock" ] && [ -S "$T/run/pam.sock" ] && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$T/daemon.log" >&2; return 1; }
		sleep 0.05
	done
	echo "daemon did not start" >&2
	return 1
}

stop_daemon() {
	local pid
	pid=$(cat "$T/daemon.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true # it may have exited: stopped either way
	local i
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true # likewise
	wait "$pid" 2>/dev/null || true       # its status is not what stopping judges
	rm -f "$T/daemon.pid"
}

cleanup_all() {
	local e
	# Every daemon first: two of them may share a store.
	for e in $ENVS; do
		T=$e
		stop_daemon
	done
	for e in $ENVS; do
		T=$e
		# Users and groups a test made on the host, removed even when it failed.
		if [ -f "$e/cleanup-users" ]; then
			while read -r u; do userdel "$u" 2>/dev/null || true; done <"$e/cleanup-users"
		fi
		if [ -f "$e/cleanup-groups" ]; then
			# (a group a test already removed is not an error here)
			while read -r g; do groupdel "$g" 2>/dev/null || true; done <"$e/cleanup-groups"
		fi
		# The environment's own database, once every daemon on it stopped
		# (FORCE: a second daemon of the test may still hold connections).
		if [ -f "$e/pgdb-owned" ]; then
			psql_on postgres -c "DROP DATABASE IF EXISTS $(cat "$e/pgdb") WITH (FORCE)" >/dev/null ||
				echo "# could not drop the database $(cat "$e/pgdb")"
		fi
		rm -rf "$e"
	done
	ENVS=""
}

# set_clock EPOCH / advance_clock SECONDS (only in a test hooks build:
# see run_clock_test)
clock_needed() {
	[ "$HAVE_TEST_HOOKS" = 1 ] || fail "the test clock is not compiled in: use run_clock_test"
}
set_clock() {
	clock_needed || return 1
	echo "$1" >"$T/clock"
}
advance_clock() {
	clock_needed || return 1
	echo $(($(cat "$T/clock") + $1)) >"$T/clock"
}

# ctl ARGS...: mamorictl as root with root's login uid, so that the acting
# administrator is a known person: with no login uid, privileged IDs may
# not be administered (P-PRIV-CONTRACTOR).  new_env checks that a login uid
# can be set here.
ctl() {
	(
		echo 0 >/proc/self/loginuid
		exec "$CTL" --socket "$T/run/admin.sock" "$@"
	)
}

# ctl_as NAME ARGS...: mamorictl run by the local user NAME, whose login
# uid it is, as after NAME logged in.
ctl_as() {
	local name=$1
	shift
	(
		echo "$(id -u "$name")" >/proc/self/loginuid
		exec runuser -u "$name" -- "$RUNAS_CTL" --socket "$T/run/admin.sock" "$@"
	)
}

# ctl_nologin ARGS...: mamorictl as root with no login uid (as from a
# service or a container): the acting person is unknown.
ctl_nologin() {
	(
		echo 4294967295 >/proc/self/loginuid
		exec "$CTL" --socket "$T/run/admin.sock" "$@"
	)
}

# pam [-u USER_TO_RUN_AS] ARGS...: pam_client under pam_wrapper.
# pam_wrapper picks its private directory /tmp/pam.X with lstat() then
# mkdir(): two clients starting at the same moment can pick the same one
# (one then says "Failed to create pam_wrapper config dir"), and the one
# whose directory the other removes fails.  pwrap_retry runs a client again
# only when it both hit that race and did not get what the test expected;
# a client that got its expected result is never run twice, so nothing is
# counted twice.  Every other outcome stands.
PWRAP_RACE='pwrap_init: Failed to create pam_wrapper config dir'

pwrap_retry() {
	local out rc try
	out=$(mktemp)
	for try in 1 2 3 4 5; do
		rc=0
		"$@" >"$out" 2>&1 || rc=$?
		[ "$rc" -ne 0 ] && grep -q "$PWRAP_RACE" "$out" || break
		sleep "0.$((RANDOM % 5 + 1))"
	done
	# pam_wrapper's own diagnostics ("PWRAP_ERROR[...]", printed by the
	# library whatever PAM_WRAPPER_DEBUGLEVEL says when its checks of other
	# clients' /tmp/pam.X directories race with them) are not the client's
	# output: they go to stderr, so that a test comparing the client's
	# lines sees only those.
	grep -v '^PWRAP_' "$out" || true
	grep '^PWRAP_' "$out" >&2 || true
	rm -f "$out"
	return "$rc"
}

pam() {
	local runas=""
	if [ "$1" = "-u" ]; then
		runas=$2
		shift 2
	fi
	# "${VALGRIND[@]}" is empty unless MAMORI_VALGRIND is set.
	if [ -n "$runas" ]; then
		# From $T: the other user may not reach the working directory (a
		# clone under /root), and valgrind refuses to start without it.
		(cd "$T" && pwrap_retry runuser -u "$runas" -- env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 \
			PAM_WRAPPER_SERVICE_DIR="$T/services" "${VALGRIND[@]}" "$PAM_CLIENT" "$@")
	else
		pwrap_retry env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR="$T/services" \
			"${VALGRIND[@]}" "$PAM_CLIENT" "$@"
	fi
}

# pamtester_run SERVICE USER OPS... with answers on stdin.
pamtester_run() {
	local input rc=0
	input=$(mktemp)
	cat >"$input"
	pwrap_retry sh -c 'exec "$@" <"$0"' "$input" env LD_PRELOAD="$PAM_PRELOAD" PAM_WRAPPER=1 \
		PAM_WRAPPER_SERVICE_DIR="$T/services" pamtester "$@" || rc=$?
	rm -f "$input"
	return "$rc"
}

# add_user NAME PASSWORD [ARGS...]: an active account whose password is
# PASSWORD and needs no change (temporary password, then a change).
add_user() {
	local name=$1 pw=$2 temp="Temp-$RANDOM-$RANDOM-x"
	shift 2
	ctl user add "$name" "$@" >/dev/null
	printf '%s\n' "$temp" | ctl password temp "$name" --password-stdin >/dev/null
	local out
	out=$(pam -p "$temp" -p "$pw" -p "$pw" mamori-test "$name" auth=SUCCESS chauthtok=SUCCESS) || {
		echo "add_user $name: $out" >&2
		return 1
	}
}

# expect_not_in_store WHAT NEEDLE...: fails unless every NEEDLE is absent
# from the whole store: every file of the state directory, read raw (the
# database, its -wal and -shm, the key, anything else), and every table of
# the database as `sqlite3 .dump` shows it (on PostgreSQL: pg_dump's plain
# format of the test's database, bytea as hex).  A NEEDLE is text, or hex:HEX
# for bytes; each is also looked for as hex text, and letters in any case.
# A dump that fails or holds no table fails too.
expect_not_in_store() {
	local what=$1 dump rc=0
	shift
	dump=$(mktemp)
	sql .dump >"$dump" || rc=$?
	if [ "$rc" -ne 0 ] || ! grep -q '^CREATE TABLE' "$dump"; then
		rm -f "$dump"
		fail "the store could not be dumped (status $rc)"
		return 1
	fi
	/usr/bin/python3 - "$MAMORI_TEST_BACKEND" "$T/state" "$dump" "$@" <<'PY' || rc=$?
import os, sys
backend, state, dump, needles = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
pats = set()
for n in needles:
    b = bytes.fromhex(n[4:]) if n.startswith("hex:") else n.encode()
    assert len(b) >= 8, "needle too short to mean anything: %r" % n
    pats |= {b.lower(), b.hex().encode()}
files = [dump] + [os.path.join(d, f) for d, _, fs in os.walk(state) for f in fs]
# (On PostgreSQL the database is the dump; the state directory keeps the
# keys and the audit checkpoint.)
assert backend != "sqlite" or any(f.endswith("/mamori.db") for f in files), "no database in %s" % state
found = [f for f in files for p in pats if p in open(f, "rb").read().lower()]
for f in sorted(set(found)):
    print("found in %s" % f)
print("%d files and the dump searched" % (len(files) - 1))
sys.exit(1 if found else 0)
PY
	rm -f "$dump"
	[ "$rc" -eq 0 ] || fail "$what found in the store, or the search failed"
}

# pids_by_cmdline REGEX: the pids whose command line (its arguments joined
# by spaces) matches the extended REGEX, as `pgrep -f` would find them,
# read from /proc: procps is not on a minimal image.
# No process is started per entry (a scan stays well under 0.1 s with
# hundreds of processes on a busy machine).
pids_by_cmdline() {
	local d cmd a
	for d in /proc/[0-9]*; do
		# (the process may have gone: its cmdline cannot be opened)
		{
			cmd=""
			# (a is emptied before each read: a read that fails without
			# assigning must end the loop, not see the last word again)
			while a="" && { IFS= read -r -d '' a || [ -n "$a" ]; }; do cmd+="$a "; done
		} <"$d/cmdline" 2>/dev/null || continue
		[[ ${cmd% } =~ $1 ]] && echo "${d#/proc/}"
	done
	return 0
}

# sql QUERY: run a query on the test store: sqlite3 on the file, or psql
# on the environment's database with the same output (no header, columns
# joined by "|", NULL as nothing, every statement's rows).  sql .dump: the
# whole database as SQL text (sqlite3 .dump, pg_dump's plain format).
sql() {
	if ! on_postgresql; then
		# Waits for the daemon's write transaction as the daemon waits for
		# another's (busy timeout): without it, a write here (a test's DDL)
		# that meets one fails at once, "database is locked".
		sqlite3 -cmd ".timeout 10000" "$T/state/mamori.db" "$@"
		return
	fi
	[ $# -eq 1 ] || fail "sql: one query at a time on PostgreSQL" || return 1
	if [ "$1" = .dump ]; then
		"${PG_BINDIR:+$PG_BINDIR/}pg_dump" --format=plain --no-owner -d "$MAMORI_TEST_PG_CONNINFO dbname=$(cat "$T/pgdb")"
		return
	fi
	printf '%s\n' "$1" | psql_on "$(cat "$T/pgdb")" -A -t -F'|' -f -
}

# store_integrity: "ok" when the store's own check finds nothing wrong:
# SQLite's integrity_check, or amcheck over every B-tree index of the
# PostgreSQL database (each index against its table's rows).
store_integrity() {
	if ! on_postgresql; then
		sql 'PRAGMA integrity_check'
		return
	fi
	psql_on "$(cat "$T/pgdb")" -A -t -c "CREATE EXTENSION IF NOT EXISTS amcheck" \
		-c "SELECT bt_index_check(c.oid, true) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		    JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
		    WHERE a.amname = 'btree' AND n.nspname = 'public'" >/dev/null || return 1
	echo ok
}

# use_env DIR: make the environment DIR (made by new_env) the one that
# ctl, pam, sql and the daemon helpers act on (a test with two daemons).
use_env() {
	T=$1
	RUNAS_CTL="$T/mamorictl"
	MODULE="$T/pam_mamori.so"
	NS_MODULE=$MODULE
	[ -f "$T/pam_mamori-plain.so" ] && NS_MODULE="$T/pam_mamori-plain.so"
	PAM_CLIENT="$T/pam_client"
	DAEMON_PID=$(cat "$T/daemon.pid" 2>/dev/null || true)
}

# ------------------------------------------------------ mount namespace

# ns_setup: a private copy of /etc/pam.d, passwd, shadow, group and sudoers
# under $T/etc, with the local test account mamori-ns (uid 40001) added.
# Real su, sudo and login run against them inside ns_run; the host's files
# are never touched.
ns_setup() {
	mkdir -p "$T/etc/pam.d" "$T/var"
	cp -a /etc/pam.d/. "$T/etc/pam.d/"
	for f in passwd shadow group; do cp "/etc/$f" "$T/etc/$f"; done
	echo "mamori-ns:x:40001:40001:mamori test account:$T/home:/bin/sh" >>"$T/etc/passwd"
	echo "mamori-ns:!:20000:0:99999:7:::" >>"$T/etc/shadow"
	echo "mamori-ns:x:40001:" >>"$T/etc/group"
	mkdir -p "$T/home" && chown 40001:40001 "$T/home"
	printf 'Defaults !lecture, !fqdn, passwd_tries=1, timestamp_timeout=0\nroot ALL=(ALL) ALL\nmamori-ns ALL=(ALL) ALL\n' >"$T/etc/sudoers"
	chmod 440 "$T/etc/sudoers"
	: >"$T/var/wtmp"
	: >"$T/var/btmp"
	: >"$T/var/lastlog"
	mkdir -p "$T/var/sudo-ts"
}

# ns_pam SERVICE [TYPES...]: /etc/pam.d/SERVICE in the namespace uses only
# the built module (auth, account, password and session); NS_MODULE, the
# one without sanitizers in the sanitizer pass.
ns_pam() {
	local svc=$1
	cat >"$T/etc/pam.d/$svc" <<SVC
auth     required $NS_MODULE socket=$T/run/pam.sock
account  required $NS_MODULE socket=$T/run/pam.sock
password required $NS_MODULE socket=$T/run/pam.sock
session  required $NS_MODULE socket=$T/run/pam.sock
SVC
}

# ns_run SCRIPT [ARGS...]: run a bash script in a private mount namespace
# where the files above are bound over the real ones.
ns_run() {
	local script=$1
	shift
	cat >"$T/ns-wrapper.sh" <<IN
set -e
for f in pam.d passwd shadow group sudoers; do mount --bind "$T/etc/\$f" "/etc/\$f"; done
for f in wtmp btmp lastlog; do [ -e "/var/log/\$f" ] && mount --bind "$T/var/\$f" "/var/log/\$f"; done
[ -d /var/lib/sudo/ts ] && mount --bind "$T/var/sudo-ts" /var/lib/sudo/ts
set +e
exec bash "$script" "\$@"
IN
	unshare -m --propagation private bash "$T/ns-wrapper.sh" "$@"
}
