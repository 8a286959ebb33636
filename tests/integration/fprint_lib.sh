# SPDX-License-Identifier: BSD-2-Clause
# Fingerprints in the integration tests: the real fprintd with libfprint's
# virtual device, and polkit as python3-dbusmock's template, on a private
# system bus.  Sourced after lib.sh (and card_lib.sh when cards are used
# too: the bus of logind_start is used when it runs):
#
#   fprint_require                  # Bail out! when a piece is missing
#   new_env
#   fprint_start                    # exports DBUS_SYSTEM_BUS_ADDRESS, FP_VIRTUAL_DEVICE
#   start_daemon                    # inherits them: the daemon reaches fprintd
#   fprint_enroll alice 1           # print 1 is alice's (fprintd's Enroll calls)
#   fprint_send "SCAN 1" &          # once the device wants a finger
#   fprint_unplug; fprint_restart   # a reader that disappears, and a new one
#   fprint_stop                     # before tap_done
#
# The virtual device reads one command per connection to $FP_VIRTUAL_DEVICE
# (SCAN id, RETRY n, ERROR n, UNPLUG); a command sent before the device
# wants a finger is dropped, so tests/fprint/fpctl.py polls the device's
# finger-needed property first.  Every client is wrapped in timeout.

FPCTL="/usr/bin/python3 $top_srcdir/tests/fprint/fpctl.py"
FPRINTD=${FPRINTD:-/usr/libexec/fprintd}
FP_DIR=""
FP_BUS_PID=""
FP_POLKIT_PID=""
FPRINTD_PID=""

fprint_bail() {
	echo "Bail out! $*"
	exit 1
}

fprint_require() {
	[ -x "$FPRINTD" ] || fprint_bail "fprintd is missing (package fprintd)"
	command -v dbus-daemon >/dev/null || fprint_bail "dbus-daemon is missing (package dbus)"
	command -v gdbus >/dev/null || fprint_bail "gdbus is missing (package libglib2.0-bin)"
	/usr/bin/python3 -c 'import dbusmock, dbus, gi' 2>/dev/null || fprint_bail "python3-dbusmock is missing"
}

# The private bus, unless card_lib.sh's logind_start made one.
fprint_bus() {
	local d=$FP_DIR
	if [ -n "${DBUS_PID:-}" ] && [ -n "${DBUS_SYSTEM_BUS_ADDRESS:-}" ]; then
		return 0
	fi
	cat >"$d/bus.conf" <<BUS
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
BUS
	dbus-daemon --config-file="$d/bus.conf" --fork --print-pid=3 --print-address=4 \
		3>"$d/bus.pid" 4>"$d/bus.addr" 2>>"$d/bus.log" || { cat "$d/bus.log" >&2; return 1; }
	FP_BUS_PID=$(head -n 1 "$d/bus.pid")
	export DBUS_SYSTEM_BUS_ADDRESS
	DBUS_SYSTEM_BUS_ADDRESS=$(head -n 1 "$d/bus.addr")
}

# fprintd_run: fprintd with the virtual device, its prints under $FP_DIR/state.
fprintd_run() {
	STATE_DIRECTORY="$FP_DIR/state" setsid "$FPRINTD" -t >>"$FP_DIR/fprintd.log" 2>&1 &
	FPRINTD_PID=$!
	timeout 15 $FPCTL wait-ready 10 || { cat "$FP_DIR/fprintd.log" >&2; return 1; }
}

fprint_start() {
	FP_DIR="$T/fprint"
	mkdir -p "$FP_DIR/state"
	chmod 755 "$FP_DIR"
	fprint_bus || return 1
	export FP_VIRTUAL_DEVICE="$FP_DIR/fp.sock"
	/usr/bin/python3 -m dbusmock --system --template polkitd >>"$FP_DIR/polkit.log" 2>&1 &
	FP_POLKIT_PID=$!
	local i
	for i in $(seq 1 100); do
		# The mock denies everything by default.
		timeout 5 gdbus call --system --dest org.freedesktop.PolicyKit1 \
			--object-path /org/freedesktop/PolicyKit1/Authority \
			--method org.freedesktop.DBus.Mock.AllowUnknown true >/dev/null 2>&1 && break
		sleep 0.05
	done
	[ "$i" -lt 100 ] || { cat "$FP_DIR/polkit.log" >&2; return 1; }
	fprintd_run
}

# fprint_enroll USER ID: print ID enrolled for USER.
fprint_enroll() {
	timeout 30 $FPCTL enroll "$1" "$2"
}

# fprint_send CMD...: each command once the device wants a finger.
fprint_send() {
	timeout 20 $FPCTL send "$@"
}

# fprint_unplug: the reader goes away while it waits for a finger.
fprint_unplug() {
	timeout 20 $FPCTL send UNPLUG
}

# fprint_restart: fprintd again (a reader plugged in anew), same prints.
fprint_restart() {
	fprintd_kill
	fprintd_run
}

fprintd_kill() {
	local i
	[ -n "$FPRINTD_PID" ] || return 0
	kill -TERM "$FPRINTD_PID" 2>/dev/null || true
	for i in $(seq 1 100); do
		kill -0 "$FPRINTD_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$FPRINTD_PID" 2>/dev/null || true
	wait "$FPRINTD_PID" 2>/dev/null || true
	FPRINTD_PID=""
}

fprint_stop() {
	local pid i
	fprintd_kill
	for pid in $FP_POLKIT_PID $FP_BUS_PID; do
		kill -TERM "$pid" 2>/dev/null || true
		for i in $(seq 1 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true # (dbus-daemon forked: not our child)
	done
	FP_POLKIT_PID=""
	FP_BUS_PID=""
}
