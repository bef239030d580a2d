"""The runner's IGT cases: a binary's subtests listed, then run one process
each (igt_runner's single mode: exit status, a flaky subtest again) or
several in one process (igt_batch.py), and, after the guest died, what a
batch's stderr still tells. IgtCases is a mixin of runner.Runner.
"""
import json
import os
import signal
import subprocess
import threading
import time

from . import dmesg, igt, igt_batch, job
from .flakes import GOOD, attempt_line, note_attempts
from .results import duration


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


def _note(outcome, timeout):
    """The runner's line on how a process ended, unless it just exited."""
    if outcome.timed_out:
        return ("refgem-runner: " + outcome.killed(f"{timeout:g}s timeout")
                + "\n")
    if outcome.returncode < 0:
        sig = -outcome.returncode
        return (f"refgem-runner: killed by signal {sig} "
                f"({signal.strsignal(sig)})\n")
    return ""


class IgtCases:
    """runner.Runner's IGT side; uses its args, results, klog, allow,
    watch, _flaky() and _interrupted()."""

    def _listings(self):
        """[(subtests, failure)] of each --igt binary: from --subtests when
        it has the binary (listed on the host, where it takes
        milliseconds instead of libigt's ~0.7 s start-up under TCG), else
        listed here, side by side."""
        known = {}
        if self.args.subtests:
            with open(self.args.subtests) as f:
                known = json.load(f)
        out = [None] * len(self.args.igt)

        def one(i, binary):
            if binary in known:
                out[i] = (known[binary] or [None], None)
            else:
                out[i] = _list_subtests(binary, self.args.timeout)
        threads = [threading.Thread(target=one, args=(i, b))
                   for i, b in enumerate(self.args.igt)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return out

    def _batch(self, todo):
        """The cases at the head of todo that can share one IGT process:
        subtests of one binary, none of them listed as flaky (a flaky
        test is re-run alone)."""
        if self.args.one_process_per_subtest:
            return todo[:1]
        batch = []
        for case in todo:
            if case.kind != "igt" or len(case.argv) != 3 or \
                    self._flaky(case.name) or \
                    (batch and case.argv[0] != batch[0].argv[0]):
                break
            batch.append(case)
        return batch or todo[:1]

    def run_igt_batch(self, batch, progress):
        """(the subtests the process did not reach, go on with the run)."""
        return igt_batch.IgtBatch(
            batch[0].argv[0], [c.argv[2] for c in batch], self.results,
            self.klog, self.allow, progress, self.args.timeout,
            self.watch).run()

    def run_igt_case(self, case, progress):
        """Run an IGT test, again while it is flaky and did not pass;
        False if the run must stop after it."""
        flaky = self._flaky(case.name)
        attempts = []
        while True:
            result, go_on = self.run_igt(case.name, case.argv)
            test = self.results.tests[case.name]
            attempts.append({"result": result, "job": test["job"]})
            if not flaky or not go_on or result in GOOD or \
                    len(attempts) > self.args.flake_retries:
                break
            attempt_line(case.name, result, duration(test), len(attempts))
        note = ""
        if len(attempts) > 1:
            note_attempts(self.results, case.name, attempts)
            note = f" (flaky, attempt {len(attempts)})"
        test = self.results.tests[case.name]
        progress(case.name, test["result"], duration(test), note)
        return go_on

    def run_igt(self, name, argv):
        """Run one IGT job: (its result, False if the run must stop)."""
        res = self.results
        jobname = res.new_job()
        jobdir = res.job_dir(jobname)
        start = time.time()
        res.set(name, "incomplete", start=start, end=start, job=jobname)
        res.write()
        taint = self.klog.taint()
        state = self.watch.sample()
        self.klog.mark(f"refgem-runner: starting {name}")
        timeout = self.args.timeout
        outcome = job.run(argv, jobdir, lambda: timeout, self.klog,
                          env={**os.environ, **igt.SENTINEL_ENV})
        out = job.read_text(os.path.join(jobdir, "out.txt"))
        err = job.read_text(os.path.join(jobdir, "err.txt"))
        raw = igt.result_from_exit(outcome.returncode, outcome.timed_out)
        result = "warn" if raw == "pass" and igt.extra_stderr(err) else raw
        out += _note(outcome, timeout)
        result, warnings = dmesg.judge(result, outcome.records, self.allow,
                                       taint, self.klog.taint(), test=name)
        result, warnings, note, _ = self.watch.judge(
            result, warnings, outcome.records, state)
        out += note
        res.set(name, result, start=outcome.start, end=outcome.end, out=out,
                err=err, dmesg="".join(r.format() + "\n"
                                       for r in outcome.records),
                job=jobname, warnings=warnings)
        res.write()
        if raw == "abort":
            print(f"refgem-run-tests: {name} aborted; IGT says not to go on",
                  flush=True)
            return result, False
        if outcome.stuck:
            print(f"refgem-run-tests: {name} survived SIGKILL; stopping",
                  flush=True)
            return result, False
        return result, True

    def _settle_igt(self, name, err, as_result, console, boot, test):
        """A batch's stderr may show that its incomplete subtest had
        ended and the process had moved on before the guest died (the
        runner polls): then the subtests with a result get it from there,
        and the one that was running takes the blame. True if so."""
        parts = name.split("@", 2)
        if len(parts) < 3:
            return False        # a binary without subtests
        _, binary, sub = parts
        seen = igt_batch.sentinels(err)
        subs = [s for s, _ in seen]
        if sub not in subs or subs.index(sub) == len(subs) - 1:
            return False
        res = self.results
        start = end = test["time"]["start"]
        running = None
        for s, result in seen[subs.index(sub):]:
            n = f"igt@{binary}@{s}"
            if result is None:
                running = n
            elif res.tests.get(n, {}).get("result") in (
                    None, "incomplete", "notrun"):
                res.set(n, result, start=start, end=end, err="",
                        out="refgem-runner: result read from its IGT "
                        "process's stderr after the guest died; no kernel "
                        "log\n", job=test.get("job"))
        if running:
            res.set(running, "incomplete", start=start, end=end,
                    job=test.get("job"))
            self._interrupted(running, as_result, console, boot)
        return True
