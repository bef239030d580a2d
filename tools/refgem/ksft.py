"""One kselftest binary: a single job whose TAP becomes one result per test.

Tests are named "kselftest@<binary>@<TAP name>", the way IGT's are named
"igt@<binary>@<subtest>": a binary called "refgem" gives "kselftest@refgem@
fixture.test", and two binaries may share fixture names. Each test is
recorded "incomplete" when its RUN line appears and gets its real result
when its "ok"/"not ok" line does, so a guest that dies mid-binary leaves an
honest results.json.

Kernel records: a test owns those logged after the previous test was
settled and before the next test's marker "refgem-ksft: starting <TAP name>"
(written by the tests to /dev/kmsg). Without markers the split falls where
the runner saw the next test start, which the harness's buffering makes
approximate. Taint, and the detectors' counters with --detectors, are
sampled as each test is settled.

The binary itself is "kselftest@<binary>": "incomplete" while it runs,
removed when its TAP is complete and agrees with its exit status, and
otherwise kept as timeout, crash, incomplete, fail or skip ("1..0 # SKIP")
so that a binary-level problem reaches the gate.

A re-run for flaky tests (only=...) records nothing but those tests: the
6.1 harness cannot run one test alone, and the other tests and the binary
keep the results of the first run.
"""
import os
import signal
import time

from . import detectors, dmesg, job
from .tap import TapParser

MARKER = "refgem-ksft: starting "
# A test running longer than this says so on the console once per period:
# refgem-vm takes a guest whose console stays silent for 300 s for stalled,
# and a soak is one test of many minutes that logs only to its own files.
HEARTBEAT = 60


def whole_name(binary):
    return "kselftest@" + os.path.basename(binary)


class KselftestRun:
    def __init__(self, binary, results, klog, allow, progress, only=None,
                 watch=None):
        self.binary = binary
        self.whole = whole_name(binary)
        self.prefix = self.whole + "@"
        self.results = results
        self.klog = klog
        self.allow = allow
        self.progress = progress
        self.tap = TapParser()
        self.job = None
        self.started = {}       # TAP name -> when its RUN line was seen
        self.done = []          # (TapTest, end) still waiting for records
        self.last_news = None   # when the binary last printed or logged
        self.records = []       # kernel records not given to a test yet
        self.taint = 0
        self.only = only        # None, or the only test names to record
        self.recorded = set()   # test names this run gave a result
        self.watch = watch or detectors.NoWatch()
        self.state = None       # the detectors' when the last test settled
        self.beat = None        # when the console last heard of this run

    def _mine(self, name):
        return self.only is None or name in self.only

    def run(self, budget):
        """Run the binary, killing it once it has printed nothing and the
        kernel has logged nothing for budget seconds (the harness prints
        each test's RUN line as the test starts and kills a test after its
        own timeout, so this catches a test or harness that cannot be
        stopped). False if it could not be killed, and the run should
        stop."""
        self.job = self.results.new_job()
        start = self.last_news = self.beat = time.time()
        if self._mine(self.whole):
            self.results.set(self.whole, "incomplete", start=start, end=start,
                             job=self.job)
            self.results.write()
        self.taint = self.klog.taint()
        self.state = self.watch.sample()
        self.klog.mark(f"refgem-runner: starting {self.whole}")
        outcome = job.run([self.binary], self.results.job_dir(self.job),
                          lambda: self.last_news - start + budget, self.klog,
                          merge_stderr=True, on_poll=self._poll)
        self._finish(outcome)
        return not outcome.stuck

    @property
    def quiet(self):
        """Seconds since the binary's last line or kernel record."""
        return time.time() - self.last_news

    def _heartbeat(self, now):
        name = self.tap.running
        if not name or now - max(self.beat, self.started[name]) < HEARTBEAT:
            return
        self.beat = now
        print(f"  {self.prefix}{name} running for "
              f"{now - self.started[name]:.0f}s, last line or kernel "
              f"record {self.quiet:.0f}s ago", flush=True)

    def _poll(self, lines, records):
        if lines or records:
            self.last_news = time.time()
        self.records += records
        for line in lines:
            before = self.tap.plan, self.tap.running
            test = self.tap.feed(line)
            if self.tap.plan is not None and before[0] is None:
                self.progress.expect(self.tap.plan)
            if self.tap.running and self.tap.running != before[1]:
                self._start(self.tap.running)
            if test:
                self.done.append((test, time.time()))
        self._settle(final=False)
        self._heartbeat(time.time())

    def _start(self, name):
        now = time.time()
        self.started[name] = now
        if not self._mine(self.prefix + name):
            return
        self.results.set(self.prefix + name, "incomplete", start=now, end=now,
                         job=self.job)
        self.results.write()

    def _settle(self, final):
        # A finished test is settled once the next one has started (or the
        # binary is gone): only then is its end in the kernel log known.
        while self.done and (final or len(self.done) > 1 or self.tap.running):
            test, end = self.done.pop(0)
            following = self.done[0][0].name if self.done else self.tap.running
            self._record(self.prefix + test.name, test.result, test.out,
                         self._take_records(following),
                         self.started.get(test.name, end), end)

    def _take_records(self, following):
        cut = len(self.records)
        if following:
            marker = MARKER + following
            cut = next((i for i, r in enumerate(self.records)
                        if r.text == marker), cut)
        mine, self.records = self.records[:cut], self.records[cut:]
        return mine

    def _record(self, name, result, out, records, start, end):
        taint = self.klog.taint()
        result, warnings = dmesg.judge(result, records, self.allow,
                                       self.taint, taint, test=name)
        self.taint = taint
        result, warnings, note, self.state = self.watch.judge(
            result, warnings, records, self.state, pending=self.records)
        out += note
        if not self._mine(name):
            return
        self.recorded.add(name)
        self.results.set(name, result, start=start, end=end, out=out,
                         dmesg=dmesg.format_records(records), job=self.job,
                         warnings=warnings)
        self.results.write()
        self.progress(name, result, end - start)

    def _finish(self, outcome):
        if self.tap.plan is None:
            self.progress.expect(0)     # it never will: stop showing "+"
        self._settle(final=True)
        running = self.tap.running
        # Where the tasks were goes with the test that hung, else with
        # the binary; not twice.
        problem = self._problem(outcome, where=not running)
        if running:
            # Started and never reported: the binary died or was killed.
            start = self.started[running]
            self._record(self.prefix + running,
                         "timeout" if outcome.timed_out else "incomplete",
                         self.tap.leftover() + f"refgem-runner: no TAP result;"
                         f" {self._problem(outcome)[1]}\n",
                         self._take_records(None), start,
                         max(start, outcome.end))
        if not self._mine(self.whole):
            return
        if problem:
            result, note = problem
            # Output after the last test (a Bail out!, an exec error) is the
            # binary's own unless an unfinished test has taken it already.
            out = "" if running else self.tap.leftover()
            self._record(self.whole, result, out + f"refgem-runner: {note}\n",
                         self._take_records(None), outcome.start, outcome.end)
        else:
            self.results.remove(self.whole)
            self.results.write()

    def _problem(self, outcome, where=True):
        """(result, why) for the binary as a whole, or None if it is fine."""
        rc, tap = outcome.returncode, self.tap
        if outcome.timed_out:
            return "timeout", outcome.killed(
                f"{outcome.end - outcome.start:.0f}s, {self.quiet:.0f}s "
                "after its last line", where)
        if rc < 0:
            return "crash", f"killed by signal {-rc} ({signal.strsignal(-rc)})"
        if tap.running:
            return "incomplete", (f"{tap.running} never reported a result; "
                                  f"exit status {rc}")
        if tap.skip_all is not None:
            return "skip", f"skipped: {tap.skip_all}"
        if tap.plan is None:
            return "incomplete", f"no TAP plan; exit status {rc}"
        if len(tap.tests) != tap.plan:
            return "incomplete", (f"{len(tap.tests)} of {tap.plan} planned "
                                  f"tests reported; exit status {rc}")
        failed = any(t.result not in ("pass", "skip") for t in tap.tests)
        if rc != (1 if failed else 0):
            return "fail", f"exit status {rc} does not match its TAP"
        return None
