"""--shard I/N, refgem-merge, and the gate on a shard and on merged shards:
a sharded run, merged, must say what the unsharded run says."""
import contextlib
import io
import os
import subprocess
import unittest

from refgem import gate, merge, shard
from refgem import results as res

from .fixtures import expectations_dir
from .test_runner import FAKE_KSFT, FAKE_SIMPLE, RunnerBase

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MANY_IGT = r'''#!/usr/bin/python3
import sys
if sys.argv[1:] == ["--list-subtests"]:
    print("s5\ns1\ns4\ns2\ns3")
    sys.exit(0)
sys.exit(98 if sys.argv[2] == "s4" else 0)
'''


class ShardSyntaxTest(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(shard.parse("2/3"), (2, 3))
        for bad in ("0/2", "3/2", "1", "a/b", "", None):
            with self.assertRaises(shard.ShardError, msg=bad):
                shard.parse(bad)

    def test_select_is_sed_first_step(self):
        names = [f"t{i:02}" for i in range(1, 11)]
        # sed -n "2~3 p": lines 2, 5, 8.
        self.assertEqual(shard.select(reversed(names), 2, 3),
                         ["t02", "t05", "t08"])
        got = sorted(sum((shard.select(names, i, 3) for i in (1, 2, 3)), []))
        self.assertEqual(got, names)

    def test_case_of(self):
        self.assertEqual(shard.case_of("kselftest@refgem@bo.create"),
                         "kselftest@refgem")
        self.assertEqual(shard.case_of("igt@refgem_basic@mmap"),
                         "igt@refgem_basic@mmap")


class ShardRunTest(RunnerBase):
    def setUp(self):
        super().setUp()
        self.bins = ["--igt", self.fake("fake_many", MANY_IGT),
                     "--igt", self.fake("fake_simple", FAKE_SIMPLE),
                     "--kselftest", self.fake("ksft", FAKE_KSFT)]
        self.edir = expectations_dir(
            self.tmp, target="t",
            fails="fake_many@s4,Fail\nkselftest@ksft@bo.noisy,DmesgWarn\n")

    def run_shard(self, spec):
        out = os.path.join(self.tmp, "shard-" + spec.replace("/", "-of-"))
        _, _, doc = self.run_tests(*self.bins, "--shard", spec, results=out)
        return out, doc

    def gate(self, rdir, edir=None):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = gate.main(["--results", rdir, "--target", "t",
                              "--expectations", edir or self.edir])
        return code, out.getvalue()

    def merge(self, out, *dirs):
        text = io.StringIO()
        with contextlib.redirect_stdout(text), \
                contextlib.redirect_stderr(text):
            code = merge.main([out, *dirs, "--target", "t",
                               "--expectations", self.edir])
        return code, text.getvalue()

    def test_shards_merged_equal_the_unsharded_run(self):
        _, _, whole = self.run_tests(*self.bins)
        one, d1 = self.run_shard("1/2")
        two, d2 = self.run_shard("2/2")
        # Sorted cases: igt@fake_many@s1..s5, igt@fake_simple,
        # kselftest@ksft; shard 1 takes the 1st, 3rd, 5th and 7th.
        self.assertEqual(sorted(d1["tests"]), [
            "igt@fake_many@s1", "igt@fake_many@s3", "igt@fake_many@s5",
            "kselftest@ksft@bo.noisy", "kselftest@ksft@bo.quiet",
            "kselftest@ksft@bo.skipper"])
        self.assertEqual(sorted(d2["tests"]), [
            "igt@fake_many@s2", "igt@fake_many@s4", "igt@fake_simple"])
        self.assertEqual(d2["refgem"]["shard"]["cases"][-1], "kselftest@ksft")
        self.assertEqual(self.gate(one)[0], 0)
        # Shard 1 does not own fake_many@s4: not "missing" there.
        self.assertNotIn("missing", self.gate(one)[1])
        self.assertIn("shard 2/2", self.gate(two)[1])

        merged = os.path.join(self.tmp, "merged")
        code, out = self.merge(merged, two, one)
        self.assertEqual(code, 0, out)
        self.assertEqual(code, self.gate(self.results)[0])
        doc = res.load(os.path.join(merged, res.FILENAME))
        self.assertEqual({n: t["result"] for n, t in doc["tests"].items()},
                         {n: t["result"] for n, t in whole["tests"].items()})
        self.assertEqual(doc["refgem"]["merged"], 2)
        self.assertEqual(doc["refgem"]["boots"], 2)
        self.assertTrue(doc["refgem"]["complete"])
        self.assertNotIn("shard", doc["refgem"])
        # Job directories were renumbered and copied: shard 1's first.
        jobs = sorted(t["job"] for t in doc["tests"].values())
        self.assertEqual(len(set(jobs)), 7)     # ksft's tests share one
        s4 = doc["tests"]["igt@fake_many@s4"]
        self.assertTrue(os.path.exists(os.path.join(merged, s4["job"],
                                                    "out.txt")))
        self.assertGreaterEqual(int(s4["job"]), 4)
        self.assertIn("merged from 2 shards", out)
        self.assertIn("gate: passed", out.splitlines()[-1])

    def test_same_verdict_when_something_regresses(self):
        edir = expectations_dir(self.tmp, target="t")
        self.run_tests(*self.bins)
        one, _ = self.run_shard("1/2")
        two, _ = self.run_shard("2/2")
        merged = os.path.join(self.tmp, "merged")
        with contextlib.redirect_stdout(io.StringIO()):
            merge.merge(merged, [one, two])
        (code_a, out_a), (code_b, out_b) = (self.gate(self.results, edir),
                                            self.gate(merged, edir))
        self.assertEqual(code_a, 1)
        self.assertEqual(code_b, 1)
        self.assertEqual(out_a.splitlines()[:-1], out_b.splitlines()[:-1])

    def test_missing_shard_fails(self):
        one, _ = self.run_shard("1/2")
        merged = os.path.join(self.tmp, "merged")
        code, out = self.merge(merged, one)
        self.assertEqual(code, 1)
        self.assertIn("unexpected notrun: fake_many@s2", out)
        self.assertIn("the run was cut short: shard 2/2 missing", out)
        doc = res.load(os.path.join(merged, res.FILENAME))
        self.assertEqual(doc["tests"]["igt@fake_simple"]["result"], "notrun")

    def test_shard_cut_short_cuts_the_merge_short(self):
        one, _ = self.run_shard("1/2")
        two, _ = self.run_shard("2/2")
        with contextlib.redirect_stdout(io.StringIO()):
            from refgem import report
            report.write(two, "the guest was restarted 3 times")
        code, out = self.merge(os.path.join(self.tmp, "merged"), one, two)
        self.assertEqual(code, 1)
        self.assertIn("shard 2/2: the guest was restarted 3 times", out)

    def test_unmergeable(self):
        one, _ = self.run_shard("1/2")
        other = os.path.join(self.tmp, "three")
        self.run_tests(*self.bins, "--shard", "1/3", results=other)
        self.run_tests(*self.bins)     # not a shard at all
        for dirs in ([one, one], [one, other], [one, self.results]):
            code, out = self.merge(os.path.join(self.tmp, "m"), *dirs)
            self.assertEqual(code, 2, (dirs, out))
            self.assertIn("refgem-merge: ", out)

    def test_cli(self):
        one, _ = self.run_shard("1/2")
        two, _ = self.run_shard("2/2")
        p = subprocess.run([os.path.join(TOOLS, "refgem-merge"),
                            os.path.join(self.tmp, "m"), one, two,
                            "--target", "t", "--expectations", self.edir],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertTrue(p.stdout.splitlines()[-1].startswith("gate: passed"))
