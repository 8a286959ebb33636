# SPDX-License-Identifier: BSD-2-Clause
# IC cards in the integration tests: a real pcscd with the vpcd reader driver,
# virtual cards of the suite's own (tests/card/vcard.py: PIV and JPKI applets,
# software keys, real PIN counters), and logind as python3-dbusmock's
# template on a private system bus.  Sourced after lib.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   . "$(dirname "$0")/card_lib.sh"
#   card_require                      # Bail out! when a piece is missing
#   new_env                           # ($T: card files go under $T/card)
#   pcscd_start                       # exports PCSCLITE_CSOCK_NAME
#   logind_start                      # exports DBUS_SYSTEM_BUS_ADDRESS
#   start_daemon                      # inherits both
#   card_start alice --profile piv --key p256 --pin 123456
#   card_remove alice; card_insert alice; card_tries alice
#   logind_add_session c1 seat0 40001 mamori-ns 1
#   logind_wait_call TerminateSession c1
#   card_cleanup                      # before tap_done (tap_done does not know it)
#
# Isolation.  vpcd listens on fixed TCP ports (35963: reader 0, 35964:
# reader 1).  pcscd runs in a mount namespace of its own (its socket
# directory bound over /run/pcscd; pcscd 1.9.9 ignores PCSCLITE_CSOCK_NAME,
# its clients honour it) and a network namespace of its own, and every card
# joins that network namespace: two card tests at the same time each have
# their own ports, and no host pcscd or reader is ever touched.  So card
# tests need no lock between them.
#
# Missing pcscd, vpcd, python3-cryptography or dbusmock is a failure (Bail
# out!), never a skip: CI installs all of them.

CARD_SRC="$top_srcdir/tests/card"
VCARD="/usr/bin/python3 $CARD_SRC/vcard.py"
MKCARD="$CARD_SRC/mkcard"
LOGIND_PY="/usr/bin/python3 $CARD_SRC/logind.py"
VPCD_DRIVER=${VPCD_DRIVER:-/usr/lib/pcsc/drivers/serial/libifdvpcd.so}
VPCD_PORT0=35963 # reader 0 ("Virtual PCD 00 00"); reader 1 is VPCD_PORT0 + 1
OPENSC_PKCS11=${OPENSC_PKCS11:-/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so}

CARD_DIR=""
CARD_PKI=""
PCSCD_PID=""
CARD_NAMES=""
DBUS_PID=""
LOGIND_PID=""

card_bail() {
	echo "Bail out! $*"
	exit 1
}

# card_require [dbus]: every program the card tests use; with "dbus", the
# private bus and the logind mock too.
card_require() {
	[ "$(id -u)" = 0 ] || card_bail "card tests need root (namespaces)"
	command -v pcscd >/dev/null || card_bail "pcscd is missing (package pcscd)"
	[ -f "$VPCD_DRIVER" ] || card_bail "vpcd is missing (package vsmartcard-vpcd)"
	command -v unshare >/dev/null && command -v nsenter >/dev/null || card_bail "unshare/nsenter are missing"
	command -v openssl >/dev/null || card_bail "openssl is missing"
	command -v opensc-tool >/dev/null || card_bail "opensc-tool is missing (package opensc)"
	/usr/bin/python3 -c 'import cryptography' 2>/dev/null || card_bail "python3-cryptography is missing"
	if [ "${1:-}" = dbus ]; then
		command -v dbus-daemon >/dev/null || card_bail "dbus-daemon is missing (package dbus)"
		/usr/bin/python3 -c 'import dbusmock, dbus' 2>/dev/null || card_bail "python3-dbusmock is missing"
	fi
}

# card_dir: $T/card in a test environment (removed with it), else a
# temporary directory of its own.
card_dir() {
	if [ -z "$CARD_DIR" ]; then
		if [ -n "${T:-}" ] && [ -d "$T" ]; then
			CARD_DIR="$T/card"
			mkdir -p "$CARD_DIR"
		else
			CARD_DIR=$(mktemp -d /tmp/mamori-card.XXXXXX)
		fi
		chmod 755 "$CARD_DIR"
		CARD_PKI="$CARD_DIR/pki"
	fi
}

# ----------------------------------------------------------------- pcscd

# pcscd_start: pcscd with vpcd (two readers) in namespaces of its own.
# Exports PCSCLITE_CSOCK_NAME for every client started afterwards (the
# daemon and its card helper included).
pcscd_start() {
	card_dir
	[ -z "$PCSCD_PID" ] || return 0
	local d=$CARD_DIR
	mkdir -p "$d/pcscd-conf" "$d/pcscd-sock" /run/pcscd
	chmod 755 "$d/pcscd-sock"
	printf 'FRIENDLYNAME "Virtual PCD"\nDEVICENAME /dev/null:0x%X\nLIBPATH %s\nCHANNELID 0x%X\n' \
		"$VPCD_PORT0" "$VPCD_DRIVER" "$VPCD_PORT0" >"$d/pcscd-conf/vpcd"
	local dbg=""
	[ -z "${CARD_PCSCD_DEBUG:-}" ] || dbg="-d -a"
	# unshare and sh exec: $! is pcscd's own pid.  The loopback interface
	# comes up through an ioctl (no iproute2 needed).
	unshare -m -n --propagation private sh -c "
		/usr/bin/python3 -c 'import socket,fcntl,struct
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)
f=struct.unpack(\"16sh\",fcntl.ioctl(s,0x8913,struct.pack(\"16sh\",b\"lo\",0)))[1]
fcntl.ioctl(s,0x8914,struct.pack(\"16sh\",b\"lo\",f|1))' &&
		mount --bind '$d/pcscd-sock' /run/pcscd &&
		exec pcscd -f $dbg -c '$d/pcscd-conf'" >>"$d/pcscd.log" 2>&1 &
	PCSCD_PID=$!
	echo "$PCSCD_PID" >"$d/pcscd.pid"
	export PCSCLITE_CSOCK_NAME="$d/pcscd-sock/pcscd.comm"
	local i
	for i in $(seq 1 100); do
		if [ -S "$PCSCLITE_CSOCK_NAME" ] && [ "$(readlink /proc/$PCSCD_PID/exe 2>/dev/null)" != "" ] &&
			grep -q ":$(printf '%04X' "$VPCD_PORT0") " "/proc/$PCSCD_PID/net/tcp" 2>/dev/null; then
			return 0
		fi
		kill -0 "$PCSCD_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "pcscd did not start:" >&2
	cat "$d/pcscd.log" >&2
	pcscd_stop
	return 1
}

pcscd_stop() {
	[ -n "$PCSCD_PID" ] || return 0
	kill -TERM "$PCSCD_PID" 2>/dev/null || true # it may have exited: stopped either way
	local i
	for i in $(seq 1 100); do
		kill -0 "$PCSCD_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$PCSCD_PID" 2>/dev/null || true
	wait "$PCSCD_PID" 2>/dev/null || true
	PCSCD_PID=""
}

# ------------------------------------------------------------ certificates

# card_pki: the test CA of this test ($CARD_PKI: ca.pem, crl.pem), made once.
card_pki() {
	card_dir
	[ -f "$CARD_PKI/ca.pem" ] || "$MKCARD" "$CARD_PKI" ca >/dev/null
}

# card_make NAME [mkcard card options: --key rsa2048|p256 --cn CN --expired
# --not-yet-valid]: NAME's key and certificate, signed by the test CA;
# prints the serial number (hex).
card_make() {
	card_pki
	"$MKCARD" "$CARD_PKI" card "$@"
}

# card_make_self NAME [--key ...]: a self-signed one (an unknown issuer).
card_make_self() {
	card_pki
	"$MKCARD" "$CARD_PKI" self "$@" >/dev/null
}

# card_revoke_crl NAME: NAME on the test CA's CRL ($CARD_PKI/crl.pem).
card_revoke_crl() {
	"$MKCARD" "$CARD_PKI" revoke "$1"
}

# card_cert NAME: the certificate's path (PEM); card_cert_der NAME (DER);
# card_fingerprint NAME: its SHA-256 fingerprint, lower-case hex.
card_cert() { echo "$CARD_PKI/$1.pem"; }
card_cert_der() { echo "$CARD_PKI/$1.der"; }
card_fingerprint() {
	openssl x509 -in "$CARD_PKI/$1.pem" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}
card_serial() {
	openssl x509 -in "$CARD_PKI/$1.pem" -noout -serial | sed 's/^serial=//'
}

# ------------------------------------------------------------------- cards

# card_start NAME [--reader 0|1] [vcard.py options]: a card in a reader of
# our pcscd (reader 0 unless told), waiting until pcscd sees it (unless
# --removed).  Without --cert/--key-file it uses $CARD_PKI/NAME.pem
# and NAME.key, made on the spot (card_make) when missing, of the --key type
# given (rsa2048 by default; JPKI cards are RSA-2048).  Files: $CARD_DIR/
# NAME.log (APDU log), NAME.ctl (control socket), NAME.state (PIN counter),
# NAME.out (stderr).
card_start() {
	local name=$1
	shift
	[ -n "$PCSCD_PID" ] || { echo "card_start: pcscd_start first" >&2; return 1; }
	local reader=0 key=rsa2048 have_cert="" removed="" a
	local args=()
	while [ $# -gt 0 ]; do
		a=$1
		case $a in
		--reader) reader=$2; shift 2; continue ;;
		--key) key=$2 ;;
		--cert | --key-file) have_cert=1 ;;
		--removed) removed=1 ;;
		esac
		args+=("$a")
		shift
	done
	if [ -z "$have_cert" ]; then
		[ -f "$CARD_PKI/$name.pem" ] || card_make "$name" --key "$key" >/dev/null
		args+=(--cert "$CARD_PKI/$name.pem" --key-file "$CARD_PKI/$name.key")
	fi
	case $reader in 0 | 1) ;; *) echo "card_start: reader 0 or 1" >&2; return 1 ;; esac
	local d=$CARD_DIR
	rm -f "$d/$name.ctl"
	nsenter --net="/proc/$PCSCD_PID/ns/net" $VCARD --port $((VPCD_PORT0 + reader)) \
		--log "$d/$name.log" --control "$d/$name.ctl" --state "$d/$name.state" "${args[@]}" \
		>>"$d/$name.out" 2>&1 &
	echo $! >"$d/$name.pid"
	echo "$reader" >"$d/$name.reader"
	case " $CARD_NAMES " in *" $name "*) ;; *) CARD_NAMES="$CARD_NAMES $name" ;; esac
	local i
	for i in $(seq 1 100); do
		[ -S "$d/$name.ctl" ] && break
		kill -0 "$(cat "$d/$name.pid")" 2>/dev/null || { cat "$d/$name.out" >&2; return 1; }
		sleep 0.05
	done
	[ -S "$d/$name.ctl" ] || { echo "card $name did not start" >&2; return 1; }
	[ -n "$removed" ] || card_wait_reader "$reader" Yes
}

# card_ctl NAME COMMAND...: one control command; prints the card's answer.
card_ctl() {
	local name=$1
	shift
	/usr/bin/python3 - "$CARD_DIR/$name.ctl" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n")
buf = b""
while not buf.endswith(b"\n"):
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
answer = buf.decode().strip()
print(answer)
sys.exit(0 if answer and not answer.startswith("error") else 1)
PY
}

# card_state NAME [KEY]: the card's state (JSON), or one key of it.
card_state() {
	local s
	s=$(card_ctl "$1" state) || return 1
	if [ $# -gt 1 ]; then
		/usr/bin/python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(json.dumps(v))' "$s" "$2"
	else
		echo "$s"
	fi
}

# card_reader_present R: "Yes" or "No", whether pcscd sees a card in reader
# R (0 or 1) now (opensc-tool -l: a PC/SC client nobody here wrote).
card_reader_present() {
	timeout 10 opensc-tool -l 2>/dev/null | sed -n "s/^$1 \+\(Yes\|No\) .*Virtual PCD 00 0$1\$/\1/p"
}

# card_wait_reader R Yes|No: until pcscd sees reader R so (5 s at most).
card_wait_reader() {
	local i
	for i in $(seq 1 100); do
		[ "$(card_reader_present "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	echo "reader $1: pcscd does not see '$2' for a card there" >&2
	return 1
}

# card_insert NAME: back into its reader; card_remove NAME: out of it.  Both
# return once pcscd has seen the change (a remove and an insert faster than
# pcscd polls would otherwise be no change at all).
card_insert() {
	card_ctl "$1" insert >/dev/null && card_wait_reader "$(cat "$CARD_DIR/$1.reader")" Yes
}
card_remove() {
	card_ctl "$1" remove >/dev/null && card_wait_reader "$(cat "$CARD_DIR/$1.reader")" No
}

# card_tries NAME: PIN tries left; card_set_tries NAME N (0: blocked).
card_tries() { card_ctl "$1" tries; }
card_set_tries() { card_ctl "$1" set-tries "$2" >/dev/null; }

# card_latency NAME MS [SIGN_MS]: added to every APDU (and every signature).
card_latency() {
	local name=$1
	shift
	card_ctl "$name" latency "$@" >/dev/null
}

# card_stats NAME [KEY]: the card's counters since the last card_stats_reset
# (JSON: apdus, busy_ms: its own time on them, latency included), or one.
card_stats() {
	local s
	s=$(card_ctl "$1" stats) || return 1
	if [ $# -gt 1 ]; then
		/usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$s" "$2"
	else
		echo "$s"
	fi
}
card_stats_reset() { card_ctl "$1" stats-reset >/dev/null; }

# card_apdus NAME: the C-APDUs the card got so far, one a line: "CAPDU SW"
# (hex, upper case); card_log_clear NAME forgets them.
card_apdus() { grep -v '^#' "$CARD_DIR/$1.log" 2>/dev/null || true; }
card_log_clear() { : >"$CARD_DIR/$1.log"; }

# card_count NAME REGEX: how many C-APDUs (hex, upper case) match REGEX,
# e.g. card_count c '^00200080..' counts the VERIFYs that carried a PIN.
card_count() {
	card_apdus "$1" | cut -d' ' -f1 | grep -cE -- "$2" || true
}

# card_verify_with_data NAME: the number of VERIFY commands that carried
# data (a PIN), PIV or JPKI.
card_verify_with_data() { card_count "$1" '^00200080..'; }

card_stop() {
	local name=$1 pid
	pid=$(cat "$CARD_DIR/$name.pid" 2>/dev/null) || return 0
	kill -TERM "$pid" 2>/dev/null || true
	local i
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	rm -f "$CARD_DIR/$name.pid"
}

# ------------------------------------------------------------------ logind

# logind_start: a private system bus (dbus-daemon) and logind as
# python3-dbusmock's template on it.  Exports DBUS_SYSTEM_BUS_ADDRESS.
logind_start() {
	card_dir
	[ -z "$DBUS_PID" ] || return 0
	local d=$CARD_DIR
	cat >"$d/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$d/bus.sock</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
EOF
	dbus-daemon --config-file="$d/bus.conf" --fork --print-pid=3 --print-address=4 \
		3>"$d/bus.pid" 4>"$d/bus.addr" 2>>"$d/bus.log" || { cat "$d/bus.log" >&2; return 1; }
	DBUS_PID=$(head -n 1 "$d/bus.pid")
	export DBUS_SYSTEM_BUS_ADDRESS
	DBUS_SYSTEM_BUS_ADDRESS=$(head -n 1 "$d/bus.addr")
	/usr/bin/python3 -m dbusmock --system --template logind >>"$d/logind.log" 2>&1 &
	LOGIND_PID=$!
	$LOGIND_PY wait-ready 10 || { cat "$d/logind.log" >&2; logind_stop; return 1; }
}

logind_stop() {
	local pid
	for pid in $LOGIND_PID $DBUS_PID; do
		kill -TERM "$pid" 2>/dev/null || true
		local i
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true # (dbus-daemon forked: not our child)
	done
	LOGIND_PID=""
	DBUS_PID=""
}

# logind_add_session ID SEAT UID USER ACTIVE(0|1): a session in the mock
# (Manager.GetSession(ID) finds it); prints its object path.
logind_add_session() {
	$LOGIND_PY add-session "$@" && echo "$1" >>"$CARD_DIR/logind.sessions"
}

# logind_calls: every call the mock got, on the manager and on the session
# objects ("EPOCH PATH METHOD ARGS...", oldest first).
logind_calls() {
	# shellcheck disable=SC2046 # session ids have no spaces
	$LOGIND_PY calls $(cat "$CARD_DIR/logind.sessions" 2>/dev/null)
}
logind_clear_calls() {
	# shellcheck disable=SC2046
	$LOGIND_PY clear $(cat "$CARD_DIR/logind.sessions" 2>/dev/null)
}

# logind_wait_call METHOD ID [SECONDS]: until Manager.METHOD(ID) was called
# (LockSession, TerminateSession; or Lock/Terminate on the session object);
# prints the call's time (epoch seconds); fails after SECONDS (default 5).
logind_wait_call() { $LOGIND_PY wait-call "$@"; }

# logind_called METHOD ID: was it called already (no waiting)?
logind_called() { $LOGIND_PY wait-call "$1" "$2" 0 >/dev/null; }

# ----------------------------------------------------------------- cleanup

# card_cleanup: every card, pcscd and the bus of this script; call it before
# tap_done (and from an EXIT trap).
card_cleanup() {
	local n
	for n in $CARD_NAMES; do card_stop "$n"; done
	CARD_NAMES=""
	pcscd_stop
	logind_stop
	case $CARD_DIR in /tmp/mamori-card.*) rm -rf "$CARD_DIR" ;; esac
	CARD_DIR=""
}
