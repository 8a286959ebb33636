#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# An incident hook for mamori-authd(8): mails each suspected incident to the
# security manager, or logs it when it cannot be mailed.
#
# mamori-authd runs the program named by "[incident] hook" in mamori.conf(5)
# once for every incident, one at a time, as root, with
#   argv[1]   the kind: lockout, lockout_storm, password_compromised,
#             totp_replay (later versions add kinds, so any other word is
#             handled the same way);
#   stdin     one JSON object on one line, for example
#             {"kind":"lockout","time":1795672800,
#              "time_iso":"2026-11-26T15:00:00+09:00","host":"term01",
#              "user":"yamada.taro","service":"login",
#              "detail":{"name":"yamada.taro","locked_until":1795674600}}
#   env       only PATH=/usr/sbin:/usr/bin:/sbin:/bin, LANG=C.UTF-8 and
#             MAMORI_INCIDENT=<kind>.
# Standard output is discarded.  When the hook exits with a status other than
# 0, the daemon logs that with the first line of its standard error.  A hook
# still running after 30 seconds is killed.  The daemon logs every incident
# itself as well (priority alert), hook or no hook.
#
# Install it where only root can change it, the file and every directory
# above it (the daemon refuses to run it otherwise):
#   install -m 0755 -o root -g root examples/incident-hook.sh /etc/mamori/incident-hook
# and name it in /etc/mamori/mamori.conf:
#   [incident]
#   hook = /etc/mamori/incident-hook
#
# Under the example systemd unit the hook runs in the daemon's sandbox (file
# system read-only, AF_UNIX sockets only): logger works there, while a mail
# program may need the unit loosened in a drop-in.

# Who is told: the security manager's address.  Edit to suit.
mailto=root

kind=${1:-unknown}
# The daemon only passes [a-z0-9_]; anything else is not trusted in a subject.
case $kind in
'' | *[!a-z0-9_]*) kind=unknown ;;
esac

# One line of JSON, at most a little over 64 KiB.
event=$(cat)
host=$(uname -n 2>/dev/null) || host=unknown

if command -v mail >/dev/null 2>&1; then
	if printf '%s\n' "$event" | mail -s "mamori incident on $host: $kind" "$mailto"; then
		exit 0
	fi
	mail_failed=yes
else
	mail_failed=no
fi

if ! logger -p authpriv.alert -t mamori-incident -- "$kind: $event"; then
	echo "incident-hook: cannot mail or log the $kind incident" >&2
	exit 1
fi
if [ "$mail_failed" = yes ]; then
	echo "incident-hook: mail to $mailto failed; the $kind incident was logged instead" >&2
	exit 1
fi
exit 0
