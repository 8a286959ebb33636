#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Equal-timing checks on paired, interleaved samples (python3 standard
library only).

A timing check compares two ways of asking the daemon something (a known
and an unknown name; a right and a wrong password) that must take the same
time.  Comparing the medians of two separate series flakes on a busy
machine: a burst of other work lands on a few samples of one series and
moves its median.  Here the samples are taken in pairs, A then B or B then
A in turn (ABBA), so that both members of a pair see the same load, and
only the paired ratios r = a/b are tested.

The test is a two-sided sign test against an equivalence margin m (5 %
unless said): with n pairs, let hi be the number of ratios above 1 + m and
lo the number below 1 / (1 + m).  If the true median paired ratio lies
within [1 / (1 + m), 1 + m], each ratio falls above 1 + m (or below
1 / (1 + m)) with probability at most 1/2, so

    P(hi >= k) <= P(Binomial(n, 1/2) >= k)

and the same for lo.  The check fails when hi or lo reaches the smallest k
whose binomial tail is at most alpha / 2: its false-alarm rate is at most
alpha (0.1 % by default) whatever the load, for any daemon whose median
paired ratio lies within the margin, and far lower for one whose times are
really equal (the ratios then scatter on both sides of 1).  Load that
slows one member of a pair at random is as likely to slow A as B, so it
cannot push one count up on its own.  A daemon that leaks by more than the
margin puts most pairs beyond it and fails: with n = 41, 32 pairs beyond
the margin on one side are enough.

    import timing
    pairs = timing.collect(measure_a, measure_b, n)   # [(a, b), ...]
    ok, lines = timing.sign_test(pairs, margin=0.05, alpha=0.001)
"""
import math


def binom_tail(n, k):
    """P(Binomial(n, 1/2) >= k)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2.0 ** n


def critical(n, alpha):
    """The smallest k with P(Binomial(n, 1/2) >= k) <= alpha / 2, or n + 1
    when even n is not enough (too few pairs to ever fail)."""
    for k in range(0, n + 1):
        if binom_tail(n, k) <= alpha / 2.0:
            return k
    return n + 1


def collect(measure_a, measure_b, n):
    """n pairs (a, b) of seconds, interleaved: A B, B A, A B, ..."""
    pairs = []
    for i in range(n):
        if i % 2 == 0:
            a = measure_a()
            b = measure_b()
        else:
            b = measure_b()
            a = measure_a()
        pairs.append((a, b))
    return pairs


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def sign_test(pairs, margin=0.05, alpha=0.001, names=("A", "B")):
    """(ok, lines): ok is False when the paired ratios show A and B apart by
    more than margin (see above); lines describe the figures."""
    n = len(pairs)
    ratios = [a / b for a, b in pairs]
    hi = sum(1 for r in ratios if r > 1.0 + margin)
    lo = sum(1 for r in ratios if r < 1.0 / (1.0 + margin))
    k = critical(n, alpha)
    ok = hi < k and lo < k
    ta = [a for a, _ in pairs]
    tb = [b for _, b in pairs]
    lines = [
        "%s: median %.1f ms [min %.1f, max %.1f]; %s: median %.1f ms [min %.1f, max %.1f]"
        % (names[0], median(ta) * 1000, min(ta) * 1000, max(ta) * 1000, names[1], median(tb) * 1000,
           min(tb) * 1000, max(tb) * 1000),
        "%d pairs, interleaved ABBA; median paired ratio %s/%s %.4f (ratio of the medians %.4f, not tested)"
        % (n, names[0], names[1], median(ratios), median(ta) / median(tb)),
        "sign test against a %.0f%% margin: %d ratios above %.4f, %d below %.4f; fails at %d on either side "
        "(false-alarm rate <= %.3g%% while the median paired ratio is within the margin): %s"
        % (margin * 100, hi, 1.0 + margin, lo, 1.0 / (1.0 + margin), k, 2 * binom_tail(n, k) * 100,
           "pass" if ok else "FAIL"),
    ]
    return ok, lines


if __name__ == "__main__":
    # Self-check of the statistic: equal samples pass, a 10 % leak fails.
    import random
    rnd = random.Random(20261205)
    same = [(rnd.gauss(0.4, 0.05), rnd.gauss(0.4, 0.05)) for _ in range(41)]
    leak = [(rnd.gauss(0.44, 0.005), rnd.gauss(0.4, 0.005)) for _ in range(41)]
    ok1, l1 = sign_test(same)
    ok2, l2 = sign_test(leak)
    print("\n".join(l1 + l2))
    raise SystemExit(0 if ok1 and not ok2 else 1)
