"""TAP and KTAP, parsed line by line: the one grammar of the kselftests'
TAP (TapParser, for ksft.py and the runner's resume) and KUnit's KTAP
(Ktap, for kunit.py).

What a kselftest_harness.h binary (Linux 6.1) prints (stderr merged into
stdout, as kselftest's own runner does, so the order holds):

    TAP version 13
    1..3
    # Starting 3 tests from 2 test cases.
    #  RUN           fixture.variant.name ...
    # file.c:42:name:Expected 0 (0) == ret (-22)     <- TH_LOG / ASSERT_*
    #            FAIL  fixture.variant.name
    not ok 2 fixture.variant.name
    ok 3 # SKIP reason                               <- no name on skips

so a test's name comes from its "#  RUN" line; the "ok" line's description
is only used for TAP without RUN lines. The harness does not nest: only
lines at the left margin count.

KUnit's KTAP nests by indentation: a suite is a "# Subtest: <suite>" line
followed by its plan and its cases' results one level in, and ends with
its own result line further out; a parameterised case nests its
parameters' results one level further in:

    KTAP version 1
    1..1
        KTAP version 1
        # Subtest: refgem_sgt
        1..2
        ok 1 wrong_device_twice
            # Subtest: segments_within_max
            ok 1 segments_within_max 4k
        ok 2 segments_within_max # SKIP reason
    ok 1 refgem_sgt
"""
import re
from dataclasses import dataclass

_RUN = re.compile(r"^#\s+RUN\s+(\S+) \.\.\.$")
_SUBTEST = re.compile(r"^(\s*)# Subtest: (\S+)")
_PLAN = re.compile(r"^(\s*)1\.\.(\d+)(?:\s*#\s*SKIP\b\s*(.*))?$", re.I)
_RESULT = re.compile(r"^(\s*)(not ok|ok) (\d+)\b\s*(.*)$")
_DIRECTIVE = re.compile(r"^(.*?)\s*#\s*(SKIP|XFAIL|TIMEOUT|error)\b\s*(.*)$",
                        re.I)
# The harness's own words when its per-test alarm or a signal ended a test.
_TIMED_OUT = "Test terminated by timeout"
_SIGNALLED = "Test terminated unexpectedly by signal"


@dataclass
class TapTest:
    number: int
    name: str
    result: str         # an igt_runner result: pass, fail, skip, ...
    reason: str         # the SKIP/XFAIL/... text, if any
    out: str            # this test's slice of the output


@dataclass
class Plan:
    indent: str
    count: int
    skip_all: str       # reason from "1..0 # SKIP reason", else None


@dataclass
class Result:
    """One "ok N desc # DIRECTIVE reason" line."""
    indent: str
    ok: bool
    number: int
    desc: str           # without the directive, as printed
    directive: str      # SKIP, XFAIL, TIMEOUT, ERROR or ""
    reason: str

    @property
    def name(self):
        """The description without KTAP's optional "- " before it."""
        desc = self.desc[2:] if self.desc.startswith("- ") else self.desc
        return desc.strip()

    @property
    def result(self):
        """pass, fail or skip, by the line alone; XFAIL passes (the test
        expected it)."""
        if self.directive == "SKIP":
            return "skip"
        return "pass" if self.ok else "fail"


def parse_plan(line):
    m = _PLAN.match(line)
    return m and Plan(m.group(1), int(m.group(2)), m.group(3))


def parse_result(line):
    m = _RESULT.match(line)
    if not m:
        return None
    desc, directive, reason = m.group(4), "", ""
    d = _DIRECTIVE.match(desc)
    if d:
        desc, directive, reason = d.group(1), d.group(2).upper(), d.group(3)
    return Result(m.group(1), m.group(2) == "ok", int(m.group(3)), desc,
                  directive, reason)


class TapParser:
    """A kselftest binary's TAP, fed as it comes."""

    def __init__(self):
        self.plan = None            # N from "1..N"
        self.skip_all = None        # reason from "1..0 # SKIP reason"
        self.running = None         # name from the last unanswered RUN line
        self.tests = []
        self._lines = []

    def feed(self, line):
        """Take one output line; return the TapTest it completes, or None."""
        self._lines.append(line)
        m = _RUN.match(line)
        if m:
            self.running = m.group(1)
            return None
        p = parse_plan(line)
        if p and not p.indent:
            self.plan = p.count
            if p.skip_all is not None:
                self.skip_all = p.skip_all
            return None
        r = parse_result(line)
        if not r or r.indent:
            return None
        out = "\n".join(self._lines) + "\n"
        test = TapTest(r.number, self.running or r.desc or str(r.number),
                       _result(r, out), r.reason, out)
        self._lines = []
        self.running = None
        self.tests.append(test)
        return test

    def leftover(self):
        """Output after the last result line (a test that never finished)."""
        return "\n".join(self._lines) + "\n" if self._lines else ""


def _result(r, out):
    """The harness also says in its output why a test failed."""
    if r.result != "fail":
        return r.result
    if r.directive == "TIMEOUT" or _TIMED_OUT in out:
        return "timeout"
    if _SIGNALLED in out:
        return "crash"
    return "fail"


class Ktap:
    """KTAP's suites, fed line by line: a suite's cases are the results
    one level in from its "# Subtest:" line; deeper ones (parameters) stay
    in their case's out, and a result further out is the suite's own and
    ends it; the next "# Subtest:" line after that starts the next
    suite."""

    def __init__(self, plan_in_out=False):
        # The suite's plan line goes into its first case's out, as the
        # kernel log's reader has always had it (debugfs's has not).
        self.plan_in_out = plan_in_out
        self.suite = None       # the current suite's name, None between
        self.plan = None        # N from the current (or last) suite's plan
        self.ended = False      # the last suite's own result was seen
        self._indent = None
        self._lines = []

    def feed(self, line):
        """Take one line; return the TapTest of the case it completes, or
        None. Between suites only a "# Subtest:" line counts."""
        if self.suite is None:
            m = _SUBTEST.match(line)
            if m:
                self.suite, self._indent = m.group(2), m.group(1)
                self.plan, self.ended, self._lines = None, False, []
            return None
        p = parse_plan(line)
        if p and p.indent == self._indent and self.plan is None:
            self.plan = p.count
            if not self.plan_in_out:
                return None
        r = parse_result(line)
        if r and len(r.indent) < len(self._indent):
            self.suite, self.ended = None, True
            return None
        self._lines.append(line)
        if not r or r.indent != self._indent:
            return None
        case = TapTest(r.number, r.name or str(r.number), r.result, r.reason,
                       "\n".join(self._lines) + "\n")
        self._lines = []
        return case
