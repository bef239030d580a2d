"""refgem-run-tests: run IGT and kselftest binaries in the guest, as root.

igt_runner's model: every IGT subtest is its own job (BIN --run-subtest S),
every kselftest binary one job (see ksft.py); each job gets a numbered
directory with out.txt, err.txt and dmesg.txt, and results.json is
rewritten after every test. Every planned test is first recorded "notrun",
so a run that dies early still names what it never reached.

The run's verdict is refgem-gate's job: this exits 0 whenever the run
itself completed, 2 on usage or setup errors.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

from . import dmesg, expectations, igt, job, report
from .ksft import KselftestRun, whole_name
from .results import Results, ResultsError

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_ALLOWLIST = os.path.join(TOOLS, "dmesg-allowlist.txt")


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="refgem-run-tests",
        description="Run IGT subtests and kselftest binaries; write an "
                    "igt_runner-style results directory.")
    p.add_argument("--results", required=True, metavar="DIR",
                   help="results directory (must not hold a results.json)")
    p.add_argument("--name", required=True, help="name of this run")
    p.add_argument("--igt", action="append", default=[], metavar="BIN",
                   help="IGT binary; each subtest runs as its own job")
    p.add_argument("--kselftest", action="append", default=[], metavar="BIN",
                   help="kselftest_harness binary; runs whole, one job")
    p.add_argument("--timeout", type=float, default=60, metavar="SEC",
                   help="per test (default 60)")
    p.add_argument("--kselftest-timeout", type=float, metavar="SEC",
                   help="per kselftest binary (default: --timeout times "
                        "its planned tests)")
    p.add_argument("--list", metavar="FILE",
                   help="run only these IGT tests: one name per line "
                        "(igt@bin@sub or bin@sub), # comments")
    p.add_argument("--skips", metavar="FILE",
                   help="drm-ci skips file: IGT tests matching it are not "
                        "run (kselftest binaries cannot be split)")
    p.add_argument("--dmesg-allowlist", default=DEFAULT_ALLOWLIST,
                   metavar="FILE", help="default: %(default)s")
    return p.parse_args(argv)


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

    def __call__(self, name, result, seconds):
        self.done += 1
        more = "+" if self.unplanned > 0 else ""
        print(f"[{self.done}/{self.known}{more}] {name} {result} "
              f"{seconds:.2f}s", flush=True)


def _list_subtests(binary, timeout):
    """(subtests, None) — [None] for a binary without subtests — or
    (None, (result, out, err)) when the listing itself failed."""
    try:
        p = subprocess.run([binary, "--list-subtests"], capture_output=True,
                           encoding="utf-8", errors="replace",
                           timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, ("timeout", "", "refgem-runner: --list-subtests timed out\n")
    except OSError as e:
        return None, ("fail", "", f"refgem-runner: cannot execute {binary}: {e}\n")
    subtests = igt.parse_subtest_list(p.stdout)
    if p.returncode in (igt.EXIT_SUCCESS, igt.EXIT_INVALID) and not subtests:
        return [None], None
    if p.returncode == igt.EXIT_SUCCESS:
        return subtests, None
    note = f"refgem-runner: --list-subtests exited with {p.returncode}\n"
    return None, ("crash" if p.returncode < 0 else "fail", p.stdout,
                  p.stderr + note)


class Runner:
    def __init__(self, args, results, klog, allow, skips):
        self.args = args
        self.results = results
        self.klog = klog
        self.allow = allow
        self.skips = skips

    def plan_igt(self, wanted):
        """Record every test to run as notrun; return the IGT [(name, argv)]."""
        jobs = []
        provided = set()
        now = time.time()
        for binary in self.args.igt:
            subtests, failure = _list_subtests(binary, self.args.timeout)
            if failure:
                result, out, err = failure
                self.results.set(igt.test_name(binary), result, start=now,
                                 end=now, out=out, err=err)
                continue
            for sub in subtests:
                name = igt.test_name(binary, sub)
                provided.add(name)
                if wanted is not None and name not in wanted:
                    continue
                if expectations.matches(self.skips, expectations.key(name)):
                    continue
                jobs.append((name, [binary] + (["--run-subtest", sub] if sub
                                               else [])))
        for name, _ in jobs:
            self.results.set(name, "notrun", start=now, end=now)
        for name in set(wanted or ()) - provided - set(self.results.tests):
            self.results.set(name, "notrun", start=now, end=now,
                             out="refgem-runner: listed, but no --igt binary "
                                 "lists this test\n")
        for binary in self.args.kselftest:
            self.results.set(whole_name(binary), "notrun", start=now, end=now)
        self.results.write()
        return jobs

    def run_igt(self, name, argv, progress):
        """Run one IGT job; False if the run must stop after it."""
        res = self.results
        jobname = res.new_job()
        jobdir = res.job_dir(jobname)
        start = time.time()
        res.set(name, "incomplete", start=start, end=start, job=jobname)
        res.write()
        taint = self.klog.taint()
        self.klog.mark(f"refgem-runner: starting {name}")
        timeout = self.args.timeout
        outcome = job.run(argv, jobdir, lambda: timeout, self.klog,
                          env={**os.environ, **igt.SENTINEL_ENV})
        out = _read(os.path.join(jobdir, "out.txt"))
        err = _read(os.path.join(jobdir, "err.txt"))
        raw = igt.result_from_exit(outcome.returncode, outcome.timed_out)
        result = "warn" if raw == "pass" and igt.extra_stderr(err) else raw
        out += _note(outcome, timeout)
        result, warnings = dmesg.judge(result, outcome.records, self.allow,
                                       taint, self.klog.taint())
        res.set(name, result, start=outcome.start, end=outcome.end, out=out,
                err=err, dmesg="".join(r.format() + "\n"
                                       for r in outcome.records),
                job=jobname, warnings=warnings)
        res.write()
        progress(name, result, outcome.end - outcome.start)
        if raw == "abort":
            print(f"refgem-run-tests: {name} aborted; IGT says not to go on",
                  flush=True)
            return False
        if outcome.stuck:
            print(f"refgem-run-tests: {name} survived SIGKILL; stopping",
                  flush=True)
            return False
        return True

    def run(self, wanted):
        jobs = self.plan_igt(wanted)
        progress = Progress(len(jobs), len(self.args.kselftest))

        def ksft_limit(plan):
            return (self.args.kselftest_timeout
                    or self.args.timeout * max(1, plan or 1))

        for name, argv in jobs:
            if not self.run_igt(name, argv, progress):
                return
        for binary in self.args.kselftest:
            ks = KselftestRun(binary, self.results, self.klog, self.allow,
                              progress)
            if not ks.run(ksft_limit):
                print(f"refgem-run-tests: {binary} survived SIGKILL; "
                      "stopping", flush=True)
                return


def _note(outcome, timeout):
    """The runner's line on how a process ended, unless it just exited."""
    if outcome.timed_out:
        stuck = ", and it did not die" if outcome.stuck else ""
        return f"refgem-runner: killed after {timeout:g}s timeout{stuck}\n"
    if outcome.returncode < 0:
        sig = -outcome.returncode
        return (f"refgem-runner: killed by signal {sig} "
                f"({signal.strsignal(sig)})\n")
    return ""


def _read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def main(argv=None, klog=None):
    """klog: a dmesg.KernelLog, or a stand-in for self-tests."""
    args = parse_args(argv)
    try:
        allow = dmesg.load_allowlist(args.dmesg_allowlist)
        skips = []
        if args.skips:
            if not os.path.isfile(args.skips):
                raise OSError(f"no skips file {args.skips}")
            skips = expectations.read_patterns(args.skips)
        wanted = read_list(args.list) if args.list else None
        klog = klog or dmesg.KernelLog()
        results = Results.create(args.results, args.name)
    except (OSError, ValueError, ResultsError,
            expectations.ExpectationError) as e:
        print(f"refgem-run-tests: {e}", file=sys.stderr)
        return 2
    Runner(args, results, klog, allow, skips).run(wanted)
    results.write()
    print(report.write(args.results), end="", flush=True)
    return 0
