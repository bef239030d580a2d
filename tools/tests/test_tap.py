import unittest

from refgem import tap
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

    def test_indented_lines_are_not_the_harness_s(self):
        """The harness does not nest: an indented "ok" or plan is output."""
        p = parse("1..1\n  1..5\n  ok 1 inner\n#  RUN           a.b ...\n"
                  "ok 1 a.b\n")
        self.assertEqual((p.plan, [(t.name, t.result) for t in p.tests]),
                         (1, [("a.b", "pass")]))
        self.assertIn("  ok 1 inner\n", p.tests[0].out)


class LineTest(unittest.TestCase):
    """The grammar TapParser and Ktap share."""

    def test_result_line(self):
        r = tap.parse_result("    not ok 12 - segments 4k # SKIP  no iommu")
        self.assertEqual((r.indent, r.ok, r.number, r.desc, r.directive,
                          r.reason, r.name, r.result),
                         ("    ", False, 12, "- segments 4k", "SKIP",
                          "no iommu", "segments 4k", "skip"))

    def test_directives(self):
        for line, directive, result in [
                ("ok 1 a # xfail known", "XFAIL", "pass"),
                ("not ok 1 a # TIMEOUT 45 seconds", "TIMEOUT", "fail"),
                ("not ok 1 a # error oops", "ERROR", "fail"),
                ("ok 1 a # skip", "SKIP", "skip"),
                ("ok 1 a # TODO later", "", "pass")]:
            r = tap.parse_result(line)
            self.assertEqual((r.directive, r.result), (directive, result),
                             line)
        self.assertEqual(tap.parse_result("ok 1 a # TODO later").desc,
                         "a # TODO later")

    def test_not_results(self):
        for line in ["ok", "ok one", "ok 1a", "OK 1 a", "# ok 1 a",
                     "nok 1 a"]:
            self.assertIsNone(tap.parse_result(line), line)
        self.assertEqual(tap.parse_result("ok 7").name, "")

    def test_plan_line(self):
        p = tap.parse_plan("1..0 # SKIP no refgem device")
        self.assertEqual((p.indent, p.count, p.skip_all),
                         ("", 0, "no refgem device"))
        p = tap.parse_plan("    1..4")
        self.assertEqual((p.indent, p.count, p.skip_all), ("    ", 4, None))
        self.assertIsNone(tap.parse_plan("1..4 tests"))


# Two suites in one kernel log, the first with a parameterised case.
KTAP_TWO = """\
KTAP version 1
1..2
    KTAP version 1
    # Subtest: first
    1..2
    ok 1 plain
        KTAP version 1
        # Subtest: params
        ok 1 params 4k
        not ok 2 params 1m
    # params: pass:1 fail:1 skip:0 total:2
    not ok 2 params
not ok 1 first
    KTAP version 1
    # Subtest: second
    1..1
    ok 1 - dashed # SKIP not here
ok 2 second
"""


class KtapTest(unittest.TestCase):
    def feed(self, ktap, text):
        got = []
        for line in text.splitlines():
            case = ktap.feed(line)
            if case:
                got.append((ktap.suite, case))
        return got

    def test_cases_one_level_in(self):
        ktap = tap.Ktap()
        got = self.feed(ktap, KTAP_TWO)
        self.assertEqual([(s, c.number, c.name, c.result, c.reason)
                          for s, c in got],
                         [("first", 1, "plain", "pass", ""),
                          ("first", 2, "params", "fail", ""),
                          ("second", 1, "dashed", "skip", "not here")])
        self.assertEqual((ktap.suite, ktap.ended, ktap.plan),
                         (None, True, 1))
        # A parameter's result stays in its case's out; the suite's header
        # is no case's.
        self.assertEqual(got[0][1].out, "    ok 1 plain\n")
        self.assertIn("        not ok 2 params 1m\n", got[1][1].out)
        self.assertTrue(got[1][1].out.endswith("    not ok 2 params\n"))

    def test_suite_end(self):
        ktap = tap.Ktap()
        lines = KTAP_TWO.splitlines()
        for line in lines[:lines.index("not ok 1 first")]:
            ktap.feed(line)
        self.assertEqual((ktap.suite, ktap.ended, ktap.plan),
                         ("first", False, 2))
        self.assertIsNone(ktap.feed("not ok 1 first"))
        self.assertEqual((ktap.suite, ktap.ended), (None, True))
        # Between suites nothing but "# Subtest:" counts.
        self.assertIsNone(ktap.feed("    ok 1 stray"))
        self.assertIsNone(ktap.feed("    # Subtest: second"))
        self.assertEqual((ktap.suite, ktap.ended, ktap.plan),
                         ("second", False, None))

    def test_plan_in_out(self):
        got = self.feed(tap.Ktap(plan_in_out=True), KTAP_TWO)
        self.assertEqual(got[0][1].out, "    1..2\n    ok 1 plain\n")
