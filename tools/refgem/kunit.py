"""One KUnit module: loading it runs its suites; each suite's KTAP is read
from debugfs (CONFIG_KUNIT_DEBUGFS), one result per case named
"kunit@<suite>@<case>", and the module is unloaded again.

The module is one job: insmod's output is its out.txt and every kernel
record of the load its dmesg.txt. 6.1 keeps at most 512 bytes of each
case's log for debugfs (KUNIT_LOG_SIZE), so a case with a long failure
report loses its own result line there: such a case's result is read from
the KTAP that KUnit also writes to the kernel log. A case owns the kernel
records up to its own "ok"/"not ok" line (KUnit runs the cases one after
another inside insmod and logs each result at once), and is judged by
them. Taint and
the detectors' counters are read only before and after the whole load, so
they are judged on the module's own entry "kunit@<module>", which is
removed when the load, the KTAP and the unload were all fine and nothing
was gained (like a healthy kselftest binary's). Loading any KUnit module
sets taint N (TAINT_TEST): that bit is expected here, and only here.
"""
import os
import subprocess
import time

from . import dmesg, job, tap

DEBUGFS = "/sys/kernel/debug/kunit"
TAINT_TEST = 1 << 18


def module_name(path):
    name = os.path.basename(path)
    return name[:-3] if name.endswith(".ko") else name


def whole_name(path):
    return "kunit@" + module_name(path)


def parse_suite(text):
    """(plan, [tap.TapTest]) from a suite's debugfs results: the cases of
    the one suite they hold (tap.Ktap)."""
    ktap = tap.Ktap()
    cases = []
    for line in text.splitlines():
        case = ktap.feed(line)
        if ktap.ended:
            break
        if case:
            cases.append(case)
    return ktap.plan, cases


def parse_log(records):
    """{suite: [tap.TapTest]} from the KTAP among kernel records."""
    suites = {}
    ktap = tap.Ktap(plan_in_out=True)
    for r in records:
        suite = ktap.suite
        case = ktap.feed(r.text)
        if suite is None and ktap.suite is not None:
            suites[ktap.suite] = []
        elif case:
            suites[suite].append(case)
    return suites


def split_records(records, cases, complete=True):
    """[records of each case]: up to and including its result line; what
    is left after the last case goes to it too when every planned case
    reported, else to nobody: it belongs to a case that never reported
    (one that crashed), and the module's entry is judged by it."""
    parts = []
    rest = list(records)
    for case in cases:
        end = next((i for i, r in enumerate(rest)
                    if (line := tap.parse_result(r.text)) and
                    line.number == case.number and line.name == case.name),
                   None)
        cut = len(rest) if end is None else end + 1
        parts.append(rest[:cut])
        rest = rest[cut:]
    if parts and complete:
        parts[-1] += rest
    return parts


class KunitRun:
    def __init__(self, module, results, klog, allow, watch, progress,
                 timeout, debugfs=DEBUGFS):
        self.module = module
        self.whole = whole_name(module)
        self.results = results
        self.klog = klog
        self.allow = allow
        self.watch = watch
        self.progress = progress
        self.timeout = timeout
        self.debugfs = debugfs

    def _suites(self):
        try:
            return set(os.listdir(self.debugfs))
        except OSError:
            return set()

    def run(self):
        """Load, judge, unload; False if insmod could not be killed."""
        res = self.results
        jobname = res.new_job()
        jobdir = res.job_dir(jobname)
        start = time.time()
        res.set(self.whole, "incomplete", start=start, end=start, job=jobname)
        res.write()
        taint = self.klog.taint()
        state = self.watch.sample()
        before = self._suites()
        self.klog.mark(f"refgem-runner: starting {self.whole}")
        outcome = job.run(["insmod", self.module], jobdir,
                          lambda: self.timeout, self.klog)
        problems = []
        if outcome.timed_out:
            problems.append(("timeout", f"insmod killed after "
                             f"{self.timeout:g}s"))
        elif outcome.returncode != 0:
            problems.append(("fail", f"insmod exited with "
                             f"{outcome.returncode}"))
        suites = sorted(self._suites() - before)
        logged = parse_log(outcome.records)
        cases = []
        complete = True
        for suite in suites:
            text = ""
            try:
                with open(os.path.join(self.debugfs, suite, "results"),
                          encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except OSError as e:
                problems.append(("fail", f"suite {suite}: no results: {e}"))
            plan, found = parse_suite(text)
            have = {c.number for c in found}
            for case in logged.get(suite, ()):
                if case.number not in have:
                    case.out += ("refgem-runner: result read from the kernel "
                                 "log: debugfs lost it (a case's log is cut "
                                 "at 512 bytes)\n")
                    found.append(case)
            found.sort(key=lambda c: c.number)
            if plan is None or len(found) != plan:
                complete = False
                problems.append(("incomplete", f"suite {suite}: "
                                 f"{len(found)} of {plan} planned cases "
                                 f"reported; its debugfs results:\n"
                                 + text))
            cases += [(suite, c) for c in found]
        if not suites and not problems:
            problems.append(("fail", f"no KUnit suite appeared in "
                             f"{self.debugfs}"))
        self.progress.expect(len(cases))
        records = list(outcome.records)
        parts = split_records(records, [c for _, c in cases], complete)
        for (suite, case), recs in zip(cases, parts):
            name = f"kunit@{suite}@{case.name}"
            result, warnings = dmesg.judge(case.result, recs, self.allow,
                                           0, 0, test=name)
            result, warnings, note, _ = self.watch.judge(
                result, warnings, recs, None, counters=False)
            res.set(name, result, start=outcome.start, end=outcome.end,
                    out=case.out + note, dmesg=dmesg.format_records(recs), job=jobname,
                    warnings=warnings)
            res.write()
            self.progress(name, result, outcome.end - outcome.start)
        leftover = records[sum(len(p) for p in parts):]
        if outcome.returncode == 0 and not outcome.timed_out:
            leftover += self._unload(problems)
        end = time.time()
        result, warnings = dmesg.judge(
            "pass", leftover, self.allow, taint, self.klog.taint(),
            ignored=dmesg.IGNORED_TAINT | TAINT_TEST)
        result, warnings, note, _ = self.watch.judge(result, warnings,
                                                     leftover, state)
        out = job.read_text(os.path.join(jobdir, "out.txt")) + \
            job.read_text(os.path.join(jobdir, "err.txt"))
        for what, why in problems:
            out += f"refgem-runner: {why}\n"
        if problems:
            result = "dmesg-fail" if result == "dmesg-fail" \
                else problems[0][0]
        if result == "pass":
            res.remove(self.whole)
        else:
            res.set(self.whole, result, start=start, end=end, out=out + note,
                    dmesg=dmesg.format_records(leftover), job=jobname, warnings=warnings)
            self.progress(self.whole, result, end - start)
        res.meta.setdefault("kunit", []).append(self.whole)
        res.write()
        return not outcome.stuck

    def _unload(self, problems):
        """rmmod the module; its kernel records."""
        try:
            p = subprocess.run(["rmmod", module_name(self.module)],
                               capture_output=True, encoding="utf-8",
                               errors="replace", timeout=self.timeout,
                               stdin=subprocess.DEVNULL)
            if p.returncode != 0:
                problems.append(("fail", f"rmmod exited with {p.returncode}:"
                                 f" {p.stderr.strip()}"))
        except (OSError, subprocess.TimeoutExpired) as e:
            problems.append(("fail", f"rmmod failed: {e}"))
        return self.klog.drain()
