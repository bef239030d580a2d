"""Flaky tests (--flakes): a listed test that ends neither pass nor skip
runs again in the same guest, up to --flake-retries times, and keeps its
last attempt's result. What the IGT and kselftest cases (run_igt.py,
run_ksft.py) share: when to stop, the line each earlier attempt prints,
and the record of all of them.
"""
GOOD = ("pass", "skip")     # results a flaky test is not run again after


def attempt_line(name, result, seconds, attempt):
    print(f"  {name} {result} {seconds:.2f}s (flaky, attempt {attempt})",
          flush=True)


class AttemptProgress:
    """Progress of a flaky kselftest re-run: shown, but not counted."""

    def __init__(self, attempt):
        self.attempt = attempt

    def expect(self, n):
        pass

    def __call__(self, name, result, seconds):
        attempt_line(name, result, seconds, self.attempt)


def note_attempts(results, name, attempts):
    """The test's out and results.json name every attempt."""
    test = results.tests[name]
    listed = ", ".join(f"{i} {a['result']} (job {a['job']})"
                       for i, a in enumerate(attempts, 1))
    test["out"] += (f"refgem-runner: listed as flaky; {len(attempts)} "
                    f"attempts: {listed}\n")
    test["attempts"] = attempts
    results.write()
