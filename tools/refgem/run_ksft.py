"""The runner's kselftest cases: a binary runs whole (ksft.py), again for
its flaky tests, and, after the guest died, its output settles the tests
the runner had not read yet. KselftestCases is a mixin of runner.Runner.
"""
from .flakes import GOOD, AttemptProgress, note_attempts
from .ksft import KselftestRun
from .tap import TapParser


class KselftestCases:
    """runner.Runner's kselftest side; uses its args, results, klog,
    allow, watch, _flaky() and _interrupted()."""

    def _ksft_budget(self):
        # Twice the per-test time: the harness's own per-test timeout
        # (kselftests/'s RK_TIMEOUT is the runner's default) must get to
        # report first.
        return self.args.kselftest_timeout or 2 * self.args.timeout

    def run_ksft_case(self, case, progress):
        """Run a kselftest binary, again while flaky tests of it did not
        pass; False if the run must stop after it."""
        binary = case.argv[0]
        tests = self.results.tests
        ks = KselftestRun(binary, self.results, self.klog, self.allow,
                          progress, watch=self.watch)
        stuck = not ks.run(self._ksft_budget())
        flaky = sorted(n for n in ks.recorded if n != ks.whole and
                       self._flaky(n) and tests[n]["result"] not in GOOD)
        attempts = {n: [{"result": tests[n]["result"], "job": ks.job}]
                    for n in flaky}
        for attempt in range(2, self.args.flake_retries + 2):
            if stuck or not flaky:
                break
            ks = KselftestRun(binary, self.results, self.klog, self.allow,
                              AttemptProgress(attempt), only=set(flaky),
                              watch=self.watch)
            stuck = not ks.run(self._ksft_budget())
            for n in flaky:
                attempts[n].append({"result": tests[n]["result"]
                                    if n in ks.recorded else "notrun",
                                    "job": ks.job})
            flaky = [n for n in flaky if tests[n]["result"] not in GOOD]
        for name, tried in attempts.items():
            if len(tried) > 1:
                note_attempts(self.results, name, tried)
                print(f"  {name} {tests[name]['result']} after "
                      f"{len(tried)} attempts (flaky)", flush=True)
        if stuck:
            print(f"refgem-run-tests: {binary} survived SIGKILL; stopping",
                  flush=True)
        return not stuck

    def _settle_tap(self, whole, out, as_result, console, boot, jobname,
                    start, end):
        """What a dead guest's kselftest binary printed is all there is:
        its tests with a TAP result that the runner had not seen yet get
        that result, the one it was running becomes as_result."""
        res = self.results
        tap = TapParser()
        for line in out.splitlines():
            test = tap.feed(line)
            name = test and f"{whole}@{test.name}"
            if test and res.tests.get(name, {}).get("result") in (
                    None, "incomplete", "notrun"):
                res.set(name, test.result, start=start, end=end,
                        out=test.out + "refgem-runner: result read from its "
                        "output after the guest died; no kernel log\n",
                        job=jobname)
        if tap.running:
            name = f"{whole}@{tap.running}"
            res.set(name, "incomplete", start=start, end=end, job=jobname)
            self._interrupted(name, as_result, console, boot)
