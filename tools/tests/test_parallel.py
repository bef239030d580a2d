"""parallel.run: at most n jobs at once, longest first, every line of a
job prefixed and in its log, a job's exception is its failure only; and
times.py's record and table."""
import io
import os
import tempfile
import threading
import time
import unittest

from refgem import parallel, times


class ParallelTest(unittest.TestCase):
    def test_at_most_n_at_once_and_statuses_kept(self):
        lock = threading.Lock()
        state = {"now": 0, "max": 0}

        def job(rc):
            def fn(out):
                with lock:
                    state["now"] += 1
                    state["max"] = max(state["max"], state["now"])
                time.sleep(0.05)
                out(f"done {rc}")
                with lock:
                    state["now"] -= 1
                return rc
            return fn
        jobs = [parallel.Job(f"j{i}", job(i % 2)) for i in range(6)]
        stream = io.StringIO()
        done = parallel.run(jobs, 2, parallel.Printer(stream))
        self.assertEqual(state["max"], 2)
        self.assertEqual([d.rc for d in done], [0, 1, 0, 1, 0, 1])
        self.assertEqual([d.name for d in done], [j.name for j in jobs])
        for line in stream.getvalue().splitlines():
            self.assertRegex(line, r"^j\d\| done [01]$")

    def test_longest_first(self):
        started = []

        def fn(name):
            return lambda out: started.append(name) or 0
        jobs = [parallel.Job("short", fn("short"), estimate=1),
                parallel.Job("long", fn("long"), estimate=100),
                parallel.Job("new", fn("new"))]
        parallel.run(jobs, 1, parallel.Printer(io.StringIO()))
        self.assertEqual(started, ["long", "short", "new"])

    def test_one_job_is_not_prefixed_and_logs(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "a.log")
            stream = io.StringIO()
            parallel.run([parallel.Job("a", lambda out: out("x") or 0, log)],
                         2, parallel.Printer(stream))
            self.assertEqual(stream.getvalue(), "x\n")
            self.assertEqual(open(log).read(), "x\n")

    def test_a_crashing_job_fails_alone(self):
        def boom(out):
            raise RuntimeError("bug")
        stream = io.StringIO()
        done = parallel.run([parallel.Job("a", boom),
                             parallel.Job("b", lambda out: 0)], 2,
                            parallel.Printer(stream))
        self.assertEqual([d.rc for d in done], [2, 0])
        self.assertIn("internal error: RuntimeError: bug", stream.getvalue())


class TimesTest(unittest.TestCase):
    def test_record_then_compare(self):
        with tempfile.TemporaryDirectory() as d:
            self.assertEqual(times.load(d, "run"), {})
            done = [parallel.Done("a", 0, 10.0), parallel.Done("b", 1, 5.0)]
            times.record(d, "run", done, 12.0, 2)
            prev = times.load(d, "run")
            self.assertEqual(times.estimates(prev), {"a": 10.0, "b": 5.0})
            lines = times.table("run", done, 11.0, 2, prev)
            self.assertIn("(previous run 10s)", lines[0])
            self.assertIn("FAIL (status 1)", lines[1])
            self.assertIn("total 11s wall, 2 at a time", lines[-1])
            self.assertIn("(previous run 12s)", lines[-1])
            # Another set of stages: their totals do not compare.
            other = times.table("run", done[:1], 3.0, 1, prev)
            self.assertNotIn("previous", other[-1])

    def test_unusable_record_is_ignored(self):
        with tempfile.TemporaryDirectory() as d:
            with open(times.path(d, "run"), "w") as f:
                f.write("{not json")
            self.assertEqual(times.load(d, "run"), {})
