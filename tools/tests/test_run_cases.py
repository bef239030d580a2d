"""The runner's suite parts on their own: IGT listing and batching
(run_igt.py) and the flaky attempts' record (flakes.py); test_runner.py
and test_flakes.py run them end to end."""
import contextlib
import io
import os
import shutil
import tempfile
import types
import unittest

from refgem import flakes, run_igt
from refgem.results import Results
from refgem.runner import Case


class ListSubtestsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)

    def fake(self, body):
        path = os.path.join(self.tmp, "fake_igt")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + body + "\n")
        os.chmod(path, 0o755)
        return path

    def test_listed(self):
        fake = self.fake('echo a; echo b; echo a')
        self.assertEqual(run_igt._list_subtests(fake, 5), (["a", "b"], None))

    def test_no_subtests(self):
        """IGT's binaries without subtests print nothing; some exit 79."""
        for body in ("exit 0", "exit 79"):
            self.assertEqual(run_igt._list_subtests(self.fake(body), 5),
                             ([None], None), body)

    def test_failures(self):
        for body, result, note in [
                ("echo out; echo err >&2; exit 98", "fail",
                 "--list-subtests exited with 98"),
                ("kill -SEGV $$", "crash", "exited with -11"),
                ("exec sleep 5", "timeout", "--list-subtests timed out")]:
            subtests, failure = run_igt._list_subtests(self.fake(body), 0.5)
            self.assertIsNone(subtests)
            self.assertEqual(failure[0], result, body)
            self.assertIn(note, failure[2])
        _, failure = run_igt._list_subtests(
            self.fake("echo out; echo err >&2; exit 98"), 5)
        self.assertEqual(failure, ("fail", "out\n", "err\nrefgem-runner: "
                                   "--list-subtests exited with 98\n"))
        _, failure = run_igt._list_subtests(os.path.join(self.tmp, "none"), 5)
        self.assertEqual(failure[0], "fail")
        self.assertIn("cannot execute", failure[2])


class BatchTest(unittest.TestCase):
    """Which cases at the head of the list share one IGT process."""

    def batch(self, todo, flaky=(), one_each=False):
        runner = types.SimpleNamespace(
            args=types.SimpleNamespace(one_process_per_subtest=one_each),
            _flaky=lambda name: name in flaky)
        got = run_igt.IgtCases._batch(runner, todo)
        return [c.name for c in got]

    @staticmethod
    def igt(binary, sub=None):
        return Case(f"igt@{binary}@{sub}" if sub else f"igt@{binary}", "igt",
                    [binary] + (["--run-subtest", sub] if sub else []))

    def test_one_binary_s_subtests(self):
        todo = [self.igt("a", "x"), self.igt("a", "y"), self.igt("b", "x"),
                Case("kselftest@k", "kselftest", ["k"])]
        self.assertEqual(self.batch(todo), ["igt@a@x", "igt@a@y"])
        self.assertEqual(self.batch(todo[2:]), ["igt@b@x"])
        self.assertEqual(self.batch(todo[3:]), ["kselftest@k"])
        self.assertEqual(self.batch(todo, one_each=True), ["igt@a@x"])

    def test_flaky_and_whole_binaries_run_alone(self):
        todo = [self.igt("a", "x"), self.igt("a", "y"), self.igt("a", "z")]
        self.assertEqual(self.batch(todo, flaky={"igt@a@y"}), ["igt@a@x"])
        self.assertEqual(self.batch(todo[1:], flaky={"igt@a@y"}),
                         ["igt@a@y"])
        self.assertEqual(self.batch([self.igt("w"), self.igt("a", "x")]),
                         ["igt@w"])


class FlakesTest(unittest.TestCase):
    def test_attempts_recorded(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        res = Results.create(os.path.join(tmp, "r"), "t")
        res.set("igt@a@x", "pass", start=1, end=2, out="hello\n", job="3")
        attempts = [{"result": "fail", "job": "2"},
                    {"result": "pass", "job": "3"}]
        flakes.note_attempts(res, "igt@a@x", attempts)
        test = Results.open(res.root).tests["igt@a@x"]
        self.assertEqual(test["attempts"], attempts)
        self.assertEqual(test["out"], "hello\nrefgem-runner: listed as "
                         "flaky; 2 attempts: 1 fail (job 2), 2 pass (job 3)\n")

    def test_attempt_lines_are_not_counted(self):
        out = io.StringIO()
        progress = flakes.AttemptProgress(2)
        with contextlib.redirect_stdout(out):
            progress.expect(5)
            progress("kselftest@k@a.b", "fail", 0.5)
        self.assertEqual(out.getvalue(),
                         "  kselftest@k@a.b fail 0.50s (flaky, attempt 2)\n")


class HeartbeatTest(unittest.TestCase):
    """A long kselftest (the soak) keeps the console alive: refgem-vm
    takes 300 s of console silence for a stalled guest."""

    def run_at(self, ks, now):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            ks._heartbeat(now)
        return out.getvalue()

    def test_once_a_period_while_a_test_runs(self):
        from refgem import ksft
        ks = ksft.KselftestRun.__new__(ksft.KselftestRun)
        ks.prefix = "kselftest@soak@"
        ks.tap = types.SimpleNamespace(running=None)
        ks.started = {"soak.cycles": 1000.0}
        ks.beat = ks.last_news = 1000.0
        self.assertEqual(self.run_at(ks, 1000.0 + 2 * ksft.HEARTBEAT), "")
        ks.tap.running = "soak.cycles"
        self.assertEqual(self.run_at(ks, 1000.0 + ksft.HEARTBEAT - 1), "")
        line = self.run_at(ks, 1000.0 + ksft.HEARTBEAT)
        self.assertIn("kselftest@soak@soak.cycles running for 60s", line)
        self.assertEqual(self.run_at(ks, 1000.0 + ksft.HEARTBEAT + 1), "")
        self.assertIn("running for 120s",
                      self.run_at(ks, 1000.0 + 2 * ksft.HEARTBEAT))
