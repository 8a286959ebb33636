#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# The protocol's names (interfaces, methods, errors, conversation states,
# prompt styles, results) are spelled in common/protocol.h only: the PAM
# module, mamorictl, mamori-authd and the rest of common/ use its MAMORI_*
# macros.  A
# string literal holding one of them, or any "io.mamori..." or
# "org.varlink..." literal, outside protocol.h fails this check.
: "${top_srcdir:?top_srcdir must be set}"
cd "$top_srcdir" || exit 1

CPP=${CPP:-cpp}
failed=0
n=0

# expand GROUPS: the value of each MAMORI_<GROUP>_* macro, as the
# preprocessor expands it, its string literals joined.
expand() {
	local macros
	macros=$(sed -n "s/^#define \(MAMORI_\($1\)_[A-Z0-9_]*\) .*/\1/p" common/protocol.h)
	{ echo '#include "protocol.h"'; for m in $macros; do echo "$m"; done; } |
		"$CPP" -P -I common - | sed -n 's/^"\(.*\)"$/\1/p' | sed 's/" *"//g'
}
# Interfaces, methods and errors are dotted names (a macro of these groups
# without a dot, such as a factor's name, is not one of them); states,
# styles and results are words.
names=$(
	expand 'IF\|PAM\|ADMIN\|VARLINK\|ERROR' | grep '\.'
	expand 'STATE\|STYLE\|RESULT'
)
[ -n "$names" ] || { echo "Bail out! no names read from common/protocol.h"; exit 1; }

# check DESCRIPTION FILES...: no literal of a name in FILES.
check() {
	local what=$1 hits name
	shift
	# Comment lines (" * ...", "/* ...") may quote a name.
	hits=$(
		grep -HnE '"(io\.mamori|org\.varlink)[^"]*"' "$@"
		for name in $names; do
			grep -HnF "\"$name\"" "$@"
		done
	)
	hits=$(echo "$hits" | grep -v '^[^:]*:[0-9]*:[[:space:]]*\(/\*\|\*\)' | grep -v '^$')
	n=$((n + 1))
	if [ -z "$hits" ]; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		echo "$hits" | sed 's/^/# /'
		failed=1
	fi
}

check "pam/: protocol names only from protocol.h" pam/*.c
check "cli/: protocol names only from protocol.h" cli/*.c cli/*.h
# common/ also holds the envelope's "error" member and strerror's
# "success": only the dotted names there.
names=$(echo "$names" | grep '\.')
check "authd/: protocol names only from protocol.h" $(find authd -name '*.[ch]' | sort)
check "common/: protocol names only from protocol.h" $(ls common/*.c common/*.h | grep -v '^common/protocol\.h$')
echo "1..$n"
exit $failed
