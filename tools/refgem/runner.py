"""refgem-run-tests: run IGT and kselftest binaries in the guest, as root.

igt_runner's model: every IGT subtest is its own job (BIN --run-subtest S),
every kselftest binary one job (see ksft.py); each job gets a numbered
directory with out.txt, err.txt and dmesg.txt, and results.json is
rewritten after every test. Every planned test is first recorded "notrun",
so a run that dies early still names what it never reached.

Cases are what the runner plans: an IGT subtest, an IGT binary without
subtests, a kselftest binary (which cannot be split). --shard I/N keeps
lines I, I+N, ... of the sorted case list (drm-ci's `sed -n "I~N p"`), and
results.json records the whole list so that refgem-merge can check that
the shards cover it.

Flakes (--flakes): a matching test that ends neither pass nor skip runs
again in the same guest, up to --flake-retries times, until it passes; it
keeps its last attempt's result, and its out and "attempts" list every
attempt. For flaky kselftest tests the binary runs again and only those
tests take the new results.

--detectors (the debug kernel, see detectors.py) adds detectors@live
first and detectors@leak-check last, and judges every test by the bug
detectors' counters as well as by its kernel log. --kunit MODULE loads a
KUnit module after the suites and records its cases (kunit.py).

Resume (--resume RESULT), in the spirit of igt_resume: continue the run in
--results in a fresh guest after the last one died. What that guest left
"incomplete" becomes RESULT (crash when it died, timeout when its watchdog
fired) with a note and the tail of its console (--console) as kernel log;
a kselftest binary that was running is not run again. Tests with a result
are not re-run; the others run as planned.

Here: the arguments, the plan, resume and the main loop; each suite's
cases run in a part of Runner of its own (run_igt.py, run_ksft.py,
run_kunit.py), and what flaky tests of both IGT and kselftests share is
flakes.py.

The run's verdict is refgem-gate's job: this exits 0 whenever the run
itself could be carried out (results.json says in "refgem"/"complete"
whether it reached the end: an IGT abort or an unkillable test stop it
early), 2 on usage or setup errors.
"""
import argparse
import os
import sys
import time
from dataclasses import dataclass

from . import detectors, dmesg, expectations, igt, job, kunit, report, shard
from .ksft import whole_name
from .results import Results, ResultsError
from .run_igt import IgtCases
from .run_ksft import KselftestCases
from .run_kunit import KunitCases
from .tap import TapParser

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What --resume says happened to a test the dead guest left incomplete.
DIED = {
    "crash": "the guest died while this test ran (no exit status: kernel "
             "panic, reboot or QEMU exit)",
    "timeout": "the guest watchdog or the stall check (a silent console) "
               "ended the guest while this test ran",
    "incomplete": "the guest ended while this test ran",
}
# refgem/boot.py starts each boot's part of the console log with this.
BOOT_HEADER = "==== boot "
CONSOLE_TAIL = 60       # lines of a dead guest's console kept per test
LISTED_ONLY = "refgem-runner: listed, but no --igt binary lists this test\n"
LIVE = "detectors@live"
LEAK_CHECK = "detectors@leak-check"


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="refgem-run-tests",
        description="Run IGT subtests and kselftest binaries; write an "
                    "igt_runner-style results directory.")
    p.add_argument("--results", required=True, metavar="DIR",
                   help="results directory (must not hold a results.json, "
                        "unless --resume)")
    p.add_argument("--name", required=True, help="name of this run")
    p.add_argument("--igt", action="append", default=[], metavar="BIN",
                   help="IGT binary; its subtests run in one process, each "
                        "its own test (igt_batch.py)")
    p.add_argument("--one-process-per-subtest", action="store_true",
                   help="run every IGT subtest in a process of its own")
    p.add_argument("--subtests", metavar="FILE",
                   help="JSON {binary: [subtest, ...]} listed elsewhere "
                        "(the host; [] for a binary without subtests); "
                        "binaries it lacks are listed here")
    p.add_argument("--kselftest", action="append", default=[], metavar="BIN",
                   help="kselftest_harness binary; runs whole, one job")
    p.add_argument("--timeout", type=float, default=60, metavar="SEC",
                   help="per test (default 60)")
    p.add_argument("--kselftest-timeout", type=float, metavar="SEC",
                   help="a kselftest binary is killed after this long "
                        "without a line or a kernel record (default: twice "
                        "--timeout)")
    p.add_argument("--list", metavar="FILE",
                   help="run only these IGT tests: one name per line "
                        "(igt@bin@sub or bin@sub), # comments")
    p.add_argument("--skips", metavar="FILE",
                   help="drm-ci skips file: matching IGT tests, and "
                        "kselftest binaries whose kselftest@BIN matches, "
                        "are not run")
    p.add_argument("--flakes", metavar="FILE",
                   help="drm-ci flakes file: a matching test that does not "
                        "pass is run again")
    p.add_argument("--flake-retries", type=int, default=3, metavar="N",
                   help="how often a flaky test runs again (default 3)")
    p.add_argument("--shard", metavar="I/N",
                   help="run shard I of N (1-based): cases I, I+N, ... of "
                        "the sorted case list")
    p.add_argument("--resume", choices=sorted(DIED), metavar="RESULT",
                   help="continue the run in --results in a fresh guest; "
                        "what the last guest left incomplete becomes RESULT "
                        "(crash, timeout or incomplete)")
    p.add_argument("--console", metavar="FILE",
                   help="with --resume: the console log of the guest that "
                        "died; its last boot's tail goes into the kernel log "
                        "of the tests it left incomplete")
    p.add_argument("--kernel-log-rules", default=dmesg.RULES_PATH,
                   metavar="FILE", help="which kernel records and taint "
                   "count against a test (default: %(default)s)")
    p.add_argument("--detectors", action="store_true",
                   help="a debug kernel: check that its bug detectors are "
                        "live first (detectors@live), judge every test by "
                        "them too, end with a kmemleak scan "
                        "(detectors@leak-check)")
    p.add_argument("--kunit", action="append", default=[], metavar="MODULE",
                   help="KUnit module (.ko) to load after the suites; one "
                        "result per case, kunit@<suite>@<case>")
    args = p.parse_args(argv)
    if args.shard and (args.detectors or args.kunit):
        p.error("--detectors and --kunit judge a whole run: no --shard")
    if args.console and not args.resume:
        p.error("--console needs --resume")
    if args.flake_retries < 0:
        p.error("--flake-retries must be >= 0")
    return args


def read_list(path):
    """IGT test names to run, normalised to "igt@bin@sub"."""
    names = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                names.append(line if line.startswith("igt@") else "igt@" + line)
    return names


class Progress:
    """Prints "[3/12] igt@refgem_basic@create-close pass 0.21s". The total
    ends in "+" while kselftest binaries have not announced their plan."""

    def __init__(self, known, unplanned):
        self.done = 0
        self.known = known
        self.unplanned = unplanned

    def expect(self, n):
        self.known += n
        self.unplanned -= 1

    def __call__(self, name, result, seconds, note=""):
        self.done += 1
        more = "+" if self.unplanned > 0 else ""
        print(f"[{self.done}/{self.known}{more}] {name} {result} "
              f"{seconds:.2f}s{note}", flush=True)


@dataclass
class Case:
    """What the runner plans and a shard runs whole."""
    name: str
    kind: str               # "igt", "kselftest", or "fixed": known unrun
    argv: list = None
    fixed: tuple = None     # (result, out, err) of a "fixed" case


class Runner(IgtCases, KselftestCases, KunitCases):
    """The run. Each suite's part is a mixin rather than functions: the
    parts share the run's state (arguments, results, kernel log,
    detectors) and resume calls back into them."""

    def __init__(self, args, results, klog, allow, skips, flakes,
                 watch=None, root="/"):
        self.args = args
        self.results = results
        self.klog = klog
        self.allow = allow
        self.skips = skips
        self.flakes = flakes
        # detectors.Detectors with --detectors
        self.watch = watch or detectors.NoWatch()
        self.root = root        # where /sys is (stand-ins in self-tests)
        self.last_end = time.time()

    def _skipped(self, name):
        return expectations.matches(self.skips, expectations.key(name))

    def _flaky(self, name):
        return expectations.matches(self.flakes, expectations.key(name))

    def plan(self, wanted):
        """Every case to run (or to record without running), in run order:
        detectors@live, IGT binaries as given, kselftest binaries, KUnit
        modules, detectors@leak-check."""
        cases = []
        provided = set()
        if self.args.detectors:
            cases.append(Case(LIVE, "live"))
        listings = self._listings()
        for binary, (subtests, failure) in zip(self.args.igt, listings):
            if failure:
                cases.append(Case(igt.test_name(binary), "fixed",
                                  fixed=failure))
                continue
            for sub in subtests:
                name = igt.test_name(binary, sub)
                provided.add(name)
                if wanted is not None and name not in wanted:
                    continue
                if self._skipped(name):
                    continue
                cases.append(Case(name, "igt", [binary] + (
                    ["--run-subtest", sub] if sub else [])))
        known = {c.name for c in cases}
        for name in sorted(set(wanted or ()) - provided - known):
            cases.append(Case(name, "fixed", fixed=("notrun", LISTED_ONLY,
                                                     "")))
        for binary in self.args.kselftest:
            name = whole_name(binary)
            if not self._skipped(name):
                cases.append(Case(name, "kselftest", [binary]))
        for module in self.args.kunit:
            cases.append(Case(kunit.whole_name(module), "kunit", [module]))
        if self.args.detectors:
            cases.append(Case(LEAK_CHECK, "leak-check"))
        return cases

    def shard(self, cases):
        """(this shard's cases, the "shard" record), or (cases, None)."""
        if not self.args.shard:
            return cases, None
        index, total = shard.parse(self.args.shard)
        names = sorted({c.name for c in cases})
        mine = set(shard.select(names, index, total))
        return ([c for c in cases if c.name in mine],
                {"index": index, "total": total, "cases": names})

    def prepare(self, wanted):
        """Plan, record what is planned, and return the cases to run."""
        cases, shard_info = self.shard(self.plan(wanted))
        if self.args.resume:
            return self.resume(cases, shard_info)
        res = self.results
        if shard_info:
            res.meta["shard"] = shard_info
        now = time.time()
        for case in cases:
            if case.kind == "fixed":
                result, out, err = case.fixed
                res.set(case.name, result, start=now, end=now, out=out,
                        err=err)
            else:
                res.set(case.name, "notrun", start=now, end=now)
        res.write()
        return [c for c in cases if c.kind != "fixed"]

    def resume(self, cases, shard_info):
        res = self.results
        meta = res.meta
        was = meta.get("shard")
        if (was and (was["index"], was["total"])) != \
                (shard_info and (shard_info["index"], shard_info["total"])):
            raise ResultsError(f"{res.root} is not a run of shard "
                               f"{self.args.shard or '(none)'}")
        console = _console_tail(self.args.console, meta.get("boots", 1))
        meta["boots"] = meta.get("boots", 1) + 1
        meta["complete"] = False
        as_result = self.args.resume
        self.interrupted = []
        # Binaries first: their output may settle tests of theirs.
        for name in sorted((n for n, t in res.tests.items()
                            if t["result"] == "incomplete"),
                           key=lambda n: (n != shard.case_of(n), n)):
            if res.tests[name]["result"] == "incomplete":
                self._interrupted(name, as_result, console, meta["boots"])
        interrupted = sorted(self.interrupted)
        meta.setdefault("resumed", []).append(
            {"boot": meta["boots"], "interrupted": interrupted,
             "as": as_result})
        print(f"refgem-run-tests: resuming the run in boot {meta['boots']}"
              + "".join(f"; {n}: {as_result}" for n in interrupted),
              flush=True)
        now = time.time()
        todo = []
        for case in cases:
            test = res.tests.get(case.name)
            if case.kind == "fixed":
                if test is None:
                    result, out, err = case.fixed
                    res.set(case.name, result, start=now, end=now, out=out,
                            err=err)
                continue
            if case.kind == "live":
                todo.append(case)   # every boot has its own detectors
                continue
            if test is None:
                if case.kind == "kselftest" and any(
                        n.startswith(case.name + "@") for n in res.tests):
                    continue    # ran to its end: a healthy binary has no entry
                if case.name in meta.get("kunit", ()):
                    continue    # a healthy module has no entry either
                res.set(case.name, "notrun", start=now, end=now)
            elif test["result"] != "notrun":
                continue
            todo.append(case)
        res.write()
        return todo

    def _interrupted(self, name, as_result, console, boot):
        """A test the dead guest left incomplete becomes as_result."""
        res = self.results
        test = res.tests[name]
        start = end = test["time"]["start"]
        out = err = dm = ""
        jobdir = res.job_dir(test["job"]) if "job" in test else None
        if jobdir and os.path.isdir(jobdir):
            out_path = os.path.join(jobdir, "out.txt")
            out, err, dm = (job.read_text(os.path.join(jobdir, f)) for f in
                            ("out.txt", "err.txt", "dmesg.txt"))
            if os.path.exists(out_path):
                end = max(start, os.path.getmtime(out_path))
        what = DIED[as_result]
        case = shard.case_of(name)
        if name.startswith("igt@") and \
                self._settle_igt(name, err, as_result, console, boot, test):
            return
        if case.startswith("kselftest@"):
            if name == case:
                what = what.replace("this test", "this binary") + \
                    "; it is not run again"
                self._settle_tap(name, out, as_result, console, boot,
                                 test.get("job"), start, end)
            else:
                # Its own part of the binary's output: since the last result.
                tap = TapParser()
                for line in out.splitlines():
                    tap.feed(line)
                out = tap.leftover()
        out += (f"refgem-runner: {what}; the run resumed after it in a fresh "
                f"guest (boot {boot})\n")
        if console:
            dm += "refgem-runner: the end of that guest's console:\n" + console
        res.set(name, as_result, start=start, end=end, out=out, err=err,
                dmesg=dm, job=test.get("job"))
        self.interrupted.append(name)

    def run(self, todo):
        """Run the cases; False if the run had to stop early."""
        progress = Progress(
            sum(c.kind in ("igt", "live", "leak-check") for c in todo),
            sum(c.kind in ("kselftest", "kunit") for c in todo))
        run = {"igt": self.run_igt_case, "kselftest": self.run_ksft_case,
               "kunit": self.run_kunit_case, "live": self.run_live,
               "leak-check": self.run_leak_check}
        todo = list(todo)
        while todo:
            batch = self._batch(todo)
            del todo[:len(batch)]
            if len(batch) > 1:
                unreached, go_on = self.run_igt_batch(batch, progress)
                # Whatever a failure left in the process: one process
                # each for the rest.
                for case in batch:
                    if go_on and case.argv[2] in unreached:
                        go_on = self.run_igt_case(case, progress)
            else:
                go_on = run[batch[0].kind](batch[0], progress)
            self.last_end = time.time()
            if not go_on:
                return False
        return True

    def run_live(self, case, progress):
        """detectors@live: every detector is on in this boot. Checked in
        every boot; a later boot's result replaces an earlier pass."""
        res = self.results
        start = time.time()
        ok, out = self.watch.live()
        end = time.time()
        boot = res.meta.get("boots", 1)
        old = res.tests.get(case.name, {})
        if not ok:
            print(f"refgem-run-tests: THE DETECTORS ARE NOT ALL LIVE in boot "
                  f"{boot}: this run proves nothing they should find\n"
                  + out, end="", flush=True)
        if ok and old.get("result") not in (None, "notrun", "incomplete"):
            old["out"] += f"refgem-runner: boot {boot}: live again\n"
            res.write()
            return True
        res.set(case.name, "pass" if ok else "fail", start=start, end=end,
                out=f"refgem-runner: boot {boot}:\n" + out)
        res.write()
        progress(case.name, res.tests[case.name]["result"], end - start)
        return True

    def run_leak_check(self, case, progress):
        """detectors@leak-check: kmemleak, once the last test's
        allocations are old enough to be reported."""
        res = self.results
        start = time.time()
        res.set(case.name, "incomplete", start=start, end=start)
        res.write()
        state = self.watch.sample()
        ok, out = self.watch.leak_check(self.last_end)
        records = self.klog.drain()
        result, warnings = dmesg.judge("pass" if ok else "fail", records,
                                       self.allow, 0, 0, test=case.name)
        result, warnings, note, _ = self.watch.judge(result, warnings,
                                                     records, state)
        end = time.time()
        res.set(case.name, result, start=start, end=end, out=out + note,
                dmesg=dmesg.format_records(records),
                warnings=warnings)
        res.write()
        progress(case.name, result, end - start)
        return True

def _uptime():
    """Seconds since the kernel started, as a string ("?" if unknown)."""
    try:
        with open("/proc/uptime") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def _console_tail(path, boot):
    """The end of boot's part of a console log (all of it if the log has
    no BOOT_HEADER lines)."""
    if not path:
        return ""
    text = "\n" + job.read_text(path)
    start = text.find(f"\n{BOOT_HEADER}{boot} ")
    if start >= 0:
        end = text.find("\n" + BOOT_HEADER, start + 1)
        text = text[start:end if end >= 0 else len(text)]
    return "".join(l + "\n" for l in text.splitlines()[-CONSOLE_TAIL:])


def _patterns(path, what):
    if not path:
        return []
    if not os.path.isfile(path):
        raise OSError(f"no {what} file {path}")
    return expectations.read_patterns(path)


def main(argv=None, klog=None, detector_root="/", boot_log=None):
    """klog: a dmesg.KernelLog, or a stand-in for self-tests; with
    --detectors, detector_root holds the /sys and /proc files they read and
    boot_log gives the whole kernel log (stand-ins in self-tests)."""
    args = parse_args(argv)
    try:
        rules = dmesg.load_rules(args.kernel_log_rules)
        dmesg.use_rules(rules)
        allow = rules.allow
        skips = _patterns(args.skips, "skips")
        flakes = _patterns(args.flakes, "flakes")
        if args.shard:
            shard.parse(args.shard)
        wanted = read_list(args.list) if args.list else None
        klog = klog or dmesg.KernelLog()
        if args.resume:
            results = Results.open(args.results)
        else:
            results = Results.create(args.results, args.name)
        watch = detectors.Detectors(allow, detector_root, boot_log) \
            if args.detectors else None
        runner = Runner(args, results, klog, allow, skips, flakes, watch,
                        detector_root)
        todo = runner.prepare(wanted)
    except (OSError, ValueError, ResultsError,
            expectations.ExpectationError) as e:
        print(f"refgem-run-tests: {e}", file=sys.stderr)
        return 2
    print(f"refgem-run-tests: {len(todo)} cases to run, from "
          f"{_uptime()} s after the kernel started", flush=True)
    results.meta["complete"] = runner.run(todo)
    results.write()
    print(report.write(args.results), end="", flush=True)
    return 0
