#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Stands for the unit tests when configure did not find cmocka: one visible
# SKIP instead of tests silently left out.
echo "1..0 # SKIP cmocka not found by configure: the unit tests (tests/unit/test_*) were not built"
