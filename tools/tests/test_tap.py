import unittest

from refgem.tap import TapParser

# Real output of a kselftest_harness.h (Linux 6.1) binary, stderr merged.
HARNESS_6_1 = """\
TAP version 13
1..8
# Starting 8 tests from 3 test cases.
#  RUN           global.plain_pass ...
# t.c:12:plain_pass:hello
#            OK  global.plain_pass
ok 1 global.plain_pass
#  RUN           global.segv ...
# segv: Test terminated unexpectedly by signal 11
#          FAIL  global.segv
not ok 2 global.segv
#  RUN           bo.small.create ...
#            OK  bo.small.create
ok 3 bo.small.create
#  RUN           bo.small.skipper ...
#      SKIP      no iommu here
#            OK  bo.small.skipper
ok 4 # SKIP no iommu here
#  RUN           bo.small.slow ...
# slow: Test terminated by timeout
#          FAIL  bo.small.slow
not ok 5 bo.small.slow
#  RUN           bo.big.create ...
# t.c:10:create:Expected 1 (1) == self->x (2)
# create: Test terminated by assertion
#          FAIL  bo.big.create
not ok 6 bo.big.create
#  RUN           bo.big.skipper ...
#      SKIP      no iommu here
#            OK  bo.big.skipper
ok 7 # SKIP no iommu here
#  RUN           bo.big.slow ...
"""


def parse(text):
    p = TapParser()
    for line in text.splitlines():
        p.feed(line)
    return p


class TapTest(unittest.TestCase):
    def test_results_and_names(self):
        p = parse(HARNESS_6_1)
        self.assertEqual(p.plan, 8)
        self.assertEqual([(t.number, t.name, t.result) for t in p.tests], [
            (1, "global.plain_pass", "pass"),
            (2, "global.segv", "crash"),
            (3, "bo.small.create", "pass"),
            (4, "bo.small.skipper", "skip"),
            (5, "bo.small.slow", "timeout"),
            (6, "bo.big.create", "fail"),
            (7, "bo.big.skipper", "skip"),
        ])
        self.assertEqual(p.tests[3].reason, "no iommu here")

    def test_output_slices(self):
        p = parse(HARNESS_6_1)
        first = p.tests[0].out
        self.assertTrue(first.startswith("TAP version 13\n"))
        self.assertTrue(first.endswith("ok 1 global.plain_pass\n"))
        self.assertEqual(p.tests[5].out.splitlines()[1],
                         "# t.c:10:create:Expected 1 (1) == self->x (2)")

    def test_unfinished_test(self):
        p = parse(HARNESS_6_1)
        self.assertEqual(p.running, "bo.big.slow")
        self.assertEqual(p.leftover(), "#  RUN           bo.big.slow ...\n")

    def test_skip_all(self):
        p = parse("TAP version 13\n1..0 # SKIP no refgem device\n")
        self.assertEqual((p.plan, p.skip_all, p.tests), (0, "no refgem device", []))

    def test_plain_tap_without_run_lines(self):
        p = parse("1..3\nok 1 first\nnot ok 2 second # TIMEOUT 45 seconds\n"
                  "ok 3 third # XFAIL known\n")
        self.assertEqual([(t.name, t.result) for t in p.tests],
                         [("first", "pass"), ("second", "timeout"),
                          ("third", "pass")])
        self.assertIsNone(p.running)
