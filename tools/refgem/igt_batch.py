"""Several subtests of one IGT binary in one process, igt_runner's multiple
mode: BIN --run-subtest a,b,c.

Starting an IGT binary costs ~0.3 s under TCG (loading libigt and its
set-up), more than most subtests take, so the runner runs a binary's
planned subtests in one process. Each subtest is still its own test with
its own result, out, err and kernel log, cut at IGT's own markers: the
sentinel lines it writes to stderr around each subtest
(IGT_SENTINEL_ON_STDERR; stderr is unbuffered, so they are seen as they
happen) and the record "[IGT] <binary>: starting subtest <name>" it logs
before each. stdout reaches its file in blocks, so a subtest's out is cut
from it once the process has ended.

A subtest that ends neither pass nor skip ends the batch: the process is
killed at once and the subtests it did not reach run one process each
(the runner's single mode), so that whatever a failure left behind in the
process cannot change their results. So does a process that dies, hangs
(the time limit restarts at each subtest) or exits early.

Bookkeeping follows a kselftest binary's (ksft.py): a subtest is recorded
incomplete when its start sentinel appears and settled once the next one
has started (or the process is gone), when its kernel records are known;
taint and the detectors' counters are sampled as each is settled, so a
counter that moves at the very end of one subtest may be seen in the
next one's instead; its records are not.
"""
import os
import re
import time

from . import detectors, dmesg, igt, job

START = re.compile(r"^Starting subtest: (.+)$")
END = re.compile(r"^Subtest (.+): ([A-Z]+)(?: \(.*\))?$")
# IGT's word for a subtest's result -> the runner's.
RESULTS = {"SUCCESS": "pass", "SKIP": "skip", "FAIL": "fail",
           "CRASH": "crash", "TIMEOUT": "timeout"}
GOOD = ("pass", "skip")


def kmsg_marker(binary, subtest):
    return f"[IGT] {os.path.basename(binary)}: starting subtest {subtest}"


def split_output(text):
    """{subtest: its part of a batch's out or err}: from its start line
    (or, for one IGT skipped without starting it, its result line) to the
    next subtest's; what comes before the first goes with every one."""
    parts, pre, cur = {}, [], None
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\n")
        m = START.match(bare) or END.match(bare)
        if m and (START.match(bare) or m.group(1) not in parts):
            cur = m.group(1)
            parts[cur] = list(pre)
        (pre if cur is None else parts[cur]).append(line)
    return {k: "".join(v) for k, v in parts.items()}


def sentinels(err):
    """[(subtest, result or None)] in the order IGT started them, from a
    batch's stderr: None for one that never reported."""
    seen = []
    for line in err.splitlines():
        m = START.match(line)
        if m:
            seen.append([m.group(1), None])
            continue
        m = END.match(line)
        if m and seen and seen[-1][0] == m.group(1):
            seen[-1][1] = RESULTS.get(m.group(2), "fail")
    return [tuple(s) for s in seen]


class IgtBatch:
    def __init__(self, binary, subtests, results, klog, allow, progress,
                 timeout, watch=None):
        self.binary = binary
        self.subtests = list(subtests)      # in IGT's order
        self.results = results
        self.klog = klog
        self.allow = allow
        self.progress = progress
        self.timeout = timeout
        self.watch = watch or detectors.NoWatch()
        self.job = None
        self.started = {}       # subtest -> when its start sentinel came
        self.running = None     # started, no result yet
        self.done = []          # (subtest, result, end) waiting for records
        self.settled = {}       # subtest -> its result
        self.failed = False     # a subtest ended neither pass nor skip
        self.records = []
        self.taint = 0
        self.state = None
        self.boundary = 0.0     # when the last sentinel came
        self.dirty = False

    def name(self, sub):
        return igt.test_name(self.binary, sub)

    def run(self):
        """Run the batch: (subtests it did not reach, go on with the run)."""
        res = self.results
        self.job = res.new_job()
        start = self.boundary = time.time()
        # Until IGT says which subtest runs, the first one is responsible.
        res.set(self.name(self.subtests[0]), "incomplete", start=start,
                end=start, job=self.job)
        res.write()
        self.taint = self.klog.taint()
        self.state = self.watch.sample()
        self.klog.mark(f"refgem-runner: starting {igt.test_name(self.binary)}"
                       f" ({len(self.subtests)} subtests in one process)")
        argv = [self.binary, "--run-subtest", ",".join(self.subtests)]
        outcome = job.run(argv, res.job_dir(self.job),
                          lambda: self.boundary - start + self.timeout,
                          self.klog, env={**os.environ, **igt.SENTINEL_ENV},
                          on_poll=self._poll, lines_from="err.txt")
        go_on = self._finish(outcome)
        unreached = [s for s in self.subtests if s not in self.settled]
        return unreached, go_on

    def _poll(self, lines, records):
        self.records += records
        for line in lines:
            if self.failed:
                break       # the process is being killed
            m = START.match(line)
            if m and m.group(1) in self.subtests:
                self._start(m.group(1))
                continue
            m = END.match(line)
            if m and m.group(1) in self.subtests and \
                    m.group(1) not in self.started:
                self._start(m.group(1))     # skipped without starting
            if m and m.group(1) == self.running:
                result = RESULTS.get(m.group(2), "fail")
                self.done.append((self.running, result, time.time()))
                self.running = None
                self.boundary = time.time()
                self.failed = result not in GOOD
        self._settle(final=False)
        if self.dirty:
            self.results.write()
            self.dirty = False
        return self.failed

    def _start(self, sub):
        now = self.boundary = time.time()
        self.started[sub] = now
        self.running = sub
        first = self.name(self.subtests[0])
        if sub != self.subtests[0] and \
                self.results.tests[first]["result"] == "incomplete" and \
                self.subtests[0] not in self.settled:
            # IGT skipped over the first one: it is simply not reached.
            self.results.set(first, "notrun", start=now, end=now)
        self.results.set(self.name(sub), "incomplete", start=now, end=now,
                         job=self.job)
        self.dirty = True

    def _settle(self, final):
        # A finished subtest is settled once the next has started (or the
        # process is gone): only then is its end in the kernel log known.
        while self.done and (final or len(self.done) > 1 or self.running):
            sub, result, end = self.done.pop(0)
            self._record(sub, result, self._take_records(sub),
                         self.started.get(sub, end), end)

    def _take_records(self, sub):
        """sub's records: up to the next subtest's start marker."""
        own = kmsg_marker(self.binary, sub)
        prefix = kmsg_marker(self.binary, "")
        seen_own = not any(r.text == own for r in self.records)
        cut = len(self.records)
        for i, r in enumerate(self.records):
            if r.text == own:
                seen_own = True
            elif seen_own and r.text.startswith(prefix):
                cut = i
                break
        mine, self.records = self.records[:cut], self.records[cut:]
        return mine

    def _record(self, sub, result, records, start, end, note=""):
        err = split_output(job.read_text(os.path.join(
            self.results.job_dir(self.job), "err.txt"))).get(sub, "")
        if result == "pass" and igt.extra_stderr(err):
            result = "warn"
        taint = self.klog.taint()
        result, warnings = dmesg.judge(result, records, self.allow,
                                       self.taint, taint, test=self.name(sub))
        self.taint = taint
        result, warnings, dnote, self.state = self.watch.judge(
            result, warnings, records, self.state, pending=self.records)
        self.settled[sub] = result
        self.results.set(self.name(sub), result, start=start, end=end,
                         out=note + dnote, err=err, dmesg=dmesg.format_records(records),
                         job=self.job, warnings=warnings)
        self.dirty = True
        self.progress(self.name(sub), result, end - start)

    def _finish(self, outcome):
        """Settle what is left; False if the run must stop."""
        self._settle(final=True)
        raw = igt.result_from_exit(outcome.returncode, outcome.timed_out)
        why = _ended(outcome, self.timeout)
        died_under = self.running if not self.failed else None
        if died_under:
            # Started and never reported: the process died under it.
            start = self.started[died_under]
            self._record(died_under, raw if raw not in GOOD else
                         "incomplete", self._take_records(died_under), start,
                         max(start, outcome.end),
                         note=f"refgem-runner: no result from IGT; {why}\n")
        last = max(self.settled, key=lambda s: self.started.get(s, 0),
                   default=None)
        rest, self.records = self.records, []
        if last and rest:
            test = self.results.tests[self.name(last)]
            if self.failed:
                # Logged by subtests the process went on to before it was
                # stopped; each runs again alone, judged there. Kept, not
                # judged, so that the failure keeps its own result.
                test["dmesg"] += ("refgem-runner: logged after this "
                                  "subtest's result, by subtests that run "
                                  "again alone:\n" + dmesg.format_records(rest))
            else:
                # The process's exit: the last subtest owns it, as it
                # would own its own process's exit in single mode.
                result, warnings = dmesg.judge(
                    test["result"], rest, self.allow, self.taint,
                    self.klog.taint(), test=self.name(last))
                test["result"] = result
                if warnings:
                    test["dmesg-warnings"] = test.get("dmesg-warnings", "") \
                        + "".join(w + "\n" for w in warnings)
                test["dmesg"] += dmesg.format_records(rest)
        if last and not died_under and not self.failed and \
                raw not in GOOD and raw != "fail":
            # Every subtest reported, then the process crashed, hung or
            # aborted: as in single mode, that is the last one's result.
            test = self.results.tests[self.name(last)]
            test["result"] = raw
            test["out"] += f"refgem-runner: after its result, {why}\n"
            self.settled[last] = raw
        self._cut_output()
        self.results.write()
        if raw == "abort" and not self.failed:
            print(f"refgem-run-tests: {igt.test_name(self.binary)} aborted; "
                  "IGT says not to go on", flush=True)
            return False
        if outcome.stuck:
            print(f"refgem-run-tests: {igt.test_name(self.binary)} survived "
                  "SIGKILL; stopping", flush=True)
            return False
        return True

    def _cut_output(self):
        """Each settled subtest's own part of the batch's out (stdout
        reaches its file in blocks: only now is all of it there)."""
        outs = split_output(job.read_text(os.path.join(
            self.results.job_dir(self.job), "out.txt")))
        for sub in self.settled:
            test = self.results.tests[self.name(sub)]
            test["out"] = outs.get(sub, "") + test["out"]


def _ended(outcome, timeout):
    if outcome.timed_out:
        return outcome.killed(f"{timeout:g}s without a subtest ending")
    if outcome.returncode < 0:
        return f"killed by signal {-outcome.returncode}"
    return f"the process exited with status {outcome.returncode}"
