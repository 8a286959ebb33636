#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""LDIF of synthetic people for the HR directory tests (P-TESTDATA).

Every person is made up: "Test Person 000123", uid "t000123", employee
number "E000123", a department from a short list, employeeType staff or
contractor.  The output depends only on the arguments (the seed picks the
departments, types and start dates), so a test or a benchmark run twice
sees the same directory.  100,000 people take well under a second or two;
load them offline with slapadd -q.

  people.py --count 40 [--first 1] [--seed 13] [--hr] [--base DN]
            [--prefix t] [--contractors PERCENT] [--department D]
"""

import argparse
import random
import sys

DEPARTMENTS = (
    "Citizen Services",
    "Finance",
    "Health and Welfare",
    "Education",
    "Urban Planning",
    "Waterworks",
    "Fire and Rescue",
    "Information Systems",
)


def person(i, rng, args):
    """The LDIF of person number i."""
    num = "%06d" % i
    uid = "%s%s" % (args.prefix, num)
    dept = args.department or rng.choice(DEPARTMENTS)
    etype = "contractor" if rng.randrange(100) < args.contractors else "staff"
    lines = [
        "dn: uid=%s,%s" % (uid, args.base),
        "objectClass: top",
        "objectClass: person",
        "objectClass: organizationalPerson",
        "objectClass: inetOrgPerson",
    ]
    if args.hr:
        lines.append("objectClass: mamoriHrPerson")
    lines += [
        "uid: %s" % uid,
        "cn: Test Person %s" % num,
        "sn: Person %s" % num,
        "givenName: Test",
        "displayName: Test Person %s" % num,
        "employeeNumber: E%s" % num,
        "departmentNumber: %s" % dept,
        "employeeType: %s" % etype,
        "mail: %s@example.test" % uid,
    ]
    if args.hr:
        year = 2000 + rng.randrange(25)
        month = 1 + rng.randrange(12)
        lines.append("hrStartDate: %04d%02d01000000Z" % (year, month))
    return "\n".join(lines) + "\n\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10, help="how many people (default 10)")
    ap.add_argument("--first", type=int, default=1, help="number of the first person (default 1)")
    ap.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    ap.add_argument("--hr", action="store_true", help="add objectClass mamoriHrPerson and hrStartDate")
    ap.add_argument("--base", default="ou=people,dc=example,dc=test", help="parent DN")
    ap.add_argument("--prefix", default="t", help="uid prefix (default t)")
    ap.add_argument("--contractors", type=int, default=10, help="percent of contractors (default 10)")
    ap.add_argument("--department", default="", help="one department for everyone")
    args = ap.parse_args()
    if args.count < 0 or args.first < 0 or args.first + args.count > 1000000:
        ap.error("people are numbered 0..999999")
    if not args.prefix.isalnum() or not args.prefix.islower():
        ap.error("--prefix: lower-case letters and digits only")
    rng = random.Random(args.seed)
    out = sys.stdout
    chunk = []
    for i in range(args.first, args.first + args.count):
        chunk.append(person(i, rng, args))
        if len(chunk) >= 4096:
            out.write("".join(chunk))
            chunk = []
    out.write("".join(chunk))
    out.flush()


if __name__ == "__main__":
    main()
