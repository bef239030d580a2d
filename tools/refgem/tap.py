"""TAP from a kselftest_harness.h binary (Linux 6.1), parsed line by line.

What the 6.1 harness prints (stderr merged into stdout, as kselftest's own
runner does, so the order holds):

    TAP version 13
    1..3
    # Starting 3 tests from 2 test cases.
    #  RUN           fixture.variant.name ...
    # file.c:42:name:Expected 0 (0) == ret (-22)     <- TH_LOG / ASSERT_*
    #            FAIL  fixture.variant.name
    not ok 2 fixture.variant.name
    ok 3 # SKIP reason                               <- no name on skips

so a test's name comes from its "#  RUN" line; the "ok" line's description
is only used for TAP without RUN lines.
"""
import re
from dataclasses import dataclass

_RUN = re.compile(r"^#\s+RUN\s+(\S+) \.\.\.$")
_PLAN = re.compile(r"^1\.\.(\d+)(?:\s*#\s*SKIP\b\s*(.*))?$", re.I)
_RESULT = re.compile(r"^(not ok|ok) (\d+)\b\s*(.*)$")
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


class TapParser:
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
        m = _PLAN.match(line)
        if m:
            self.plan = int(m.group(1))
            if m.group(2) is not None:
                self.skip_all = m.group(2)
            return None
        m = _RESULT.match(line)
        if not m:
            return None
        ok, number, desc = m.group(1) == "ok", int(m.group(2)), m.group(3)
        directive, reason = "", ""
        d = _DIRECTIVE.match(desc)
        if d:
            desc, directive, reason = d.group(1), d.group(2).upper(), d.group(3)
        out = "\n".join(self._lines) + "\n"
        test = TapTest(number, self.running or desc or str(number),
                       _result(ok, directive, out), reason, out)
        self._lines = []
        self.running = None
        self.tests.append(test)
        return test

    def leftover(self):
        """Output after the last result line (a test that never finished)."""
        return "\n".join(self._lines) + "\n" if self._lines else ""


def _result(ok, directive, out):
    if directive == "SKIP":
        return "skip"
    if ok:
        return "pass"           # includes XFAIL: the test expected it
    if directive == "TIMEOUT" or _TIMED_OUT in out:
        return "timeout"
    if _SIGNALLED in out:
        return "crash"
    return "fail"
