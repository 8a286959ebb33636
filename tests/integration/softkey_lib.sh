# SPDX-License-Identifier: BSD-2-Clause
# The suite's software FIDO2 authenticator (tests/fido2/softkey.py) for the
# integration tests and benchmarks: source after lib.sh.
#
#   softkey_start NAME [softkey.py options...]   start one, wait until it listens
#   softkey_sock NAME                            its socket (for
#                                                MAMORI_TEST_FIDO2_DEVICES)
#   softkey_ctl NAME JSON                        one control request, the answer
#   softkey_set NAME JSON-OBJECT                 {"set":...}; fails unless ok
#   softkey_state NAME FIELD                     one field of {"get":"state"}
#   softkey_stop NAME / softkey_cleanup          stop one / all
SOFTKEY_PY="$top_srcdir/tests/fido2/softkey.py"
SOFTKEY_DIR=${SOFTKEY_DIR:-}
SOFTKEY_NAMES=""

softkey_start() {
	local name=$1
	shift
	if [ -z "$SOFTKEY_DIR" ]; then
		SOFTKEY_DIR=$(mktemp -d /tmp/mamori-softkey.XXXXXX)
		chmod 755 "$SOFTKEY_DIR"
	fi
	rm -f "$SOFTKEY_DIR/$name.pid"
	/usr/bin/python3 "$SOFTKEY_PY" --socket "$SOFTKEY_DIR/$name" --pid-file "$SOFTKEY_DIR/$name.pid" "$@" \
		>"$SOFTKEY_DIR/$name.log" 2>&1 &
	SOFTKEY_NAMES="$SOFTKEY_NAMES $name"
	for _ in $(seq 100); do
		[ -s "$SOFTKEY_DIR/$name.pid" ] && return 0
		sleep 0.05
	done
	cat "$SOFTKEY_DIR/$name.log" >&2
	return 1
}

softkey_sock() {
	echo "$SOFTKEY_DIR/$1"
}

softkey_ctl() {
	/usr/bin/python3 - "$SOFTKEY_DIR/$1.ctl" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode())
s.shutdown(socket.SHUT_WR)
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode())
PY
}

softkey_set() {
	local out
	out=$(softkey_ctl "$1" "{\"set\":$2}")
	case $out in
	*'"ok": true'*) return 0 ;;
	*) echo "softkey_set $1 $2: $out" >&2; return 1 ;;
	esac
}

softkey_state() {
	softkey_ctl "$1" '{"get":"state"}' | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

softkey_stop() {
	local pid
	pid=$(cat "$SOFTKEY_DIR/$1.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null || true
	rm -f "$SOFTKEY_DIR/$1.pid"
}

softkey_cleanup() {
	local n
	[ -n "$SOFTKEY_DIR" ] || return 0
	for n in $SOFTKEY_NAMES; do
		softkey_stop "$n"
	done
	rm -rf "$SOFTKEY_DIR"
	SOFTKEY_DIR=""
	SOFTKEY_NAMES=""
}
