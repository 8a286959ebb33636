# SPDX-License-Identifier: BSD-2-Clause
# Shell helpers of the benchmark scripts (sourced).

# random_secret TAG: a throw-away secret for a throw-away account, never on
# a command line.  It passes the strength rules of a default mamori.conf:
# upper and lower case, digits and punctuation; no account name of the
# benchmarks (bench, bench00…) in it; and no two neighbouring characters
# that are ASCII neighbours, such as "ab" or "21", which cracklib counts
# and refuses beyond four as "too simplistic/systematic" (a suffix the
# caller adds, "-12" say, brings at most one).
random_secret() {
	local alphabet=acegikmoqsuwy02468 body="" byte
	for byte in $(od -An -N20 -tu1 /dev/urandom); do
		body+=${alphabet:byte % ${#alphabet}:1}
	done
	printf 'Zq.%s.%s' "$body" "$1"
}
