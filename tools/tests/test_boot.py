"""The boot/resume/cut-short decisions of boot.decide(), and boot.run()
driving them with a stand-in for refgem-vm: no guest needed."""
import json
import os
import shutil
import stat
import tempfile
import unittest
from unittest import mock

from refgem import boot, targets
from refgem.results import FILENAME, load

from .test_targets import MINIMAL


def decide(progress, rc, boot_no=1, timeout=100, out_of_time=False):
    return boot.decide(progress, rc, boot_no, timeout, vm_timeout=100,
                       max_restarts=3, run_timeout=3600,
                       out_of_time=out_of_time)


class DecideTest(unittest.TestCase):
    def test_complete_run_is_done_whatever_the_guest_said(self):
        for rc in (0, 1, 124, 125):
            self.assertEqual(decide("complete", rc).action, "done")

    def test_no_results_at_all(self):
        d = decide("none", 125)
        self.assertEqual(d.action, "no-results")
        self.assertIn("status 125", d.why)

    def test_crash_resumes_as_crash(self):
        d = decide("pending", 125)
        self.assertEqual((d.action, d.resume_as), ("resume", "crash"))

    def test_watchdog_resumes_as_timeout(self):
        d = decide("pending", 124)
        self.assertEqual((d.action, d.resume_as), ("resume", "timeout"))

    def test_runner_stopped_early_resumes_as_crash(self):
        d = decide("pending", 0)
        self.assertEqual((d.action, d.resume_as), ("resume", "crash"))

    def test_job_failure_cuts_short(self):
        d = decide("pending", 3)
        self.assertEqual(d.action, "cut")
        self.assertIn("status 3", d.why)

    def test_restarts_are_capped(self):
        self.assertEqual(decide("pending", 125, boot_no=3).action, "resume")
        d = decide("pending", 125, boot_no=4)
        self.assertEqual(d.action, "cut")
        self.assertIn("MAX_RESTARTS=3", d.why)

    def test_out_of_time_cuts_short(self):
        d = decide("pending", 125, out_of_time=True)
        self.assertEqual(d.action, "cut")
        self.assertIn("RUN_TIMEOUT=3600s", d.why)

    def test_watchdog_on_a_shortened_last_boot_cuts_short(self):
        # The last boot got only what was left of the run's time.
        d = decide("pending", 124, timeout=40)
        self.assertEqual(d.action, "cut")


# A stand-in for tools/refgem-vm: it plays the guest by writing the results
# the runner would have written, as the script in FAKE_PLAN says for each
# boot ("complete", "pending" or "none"), and exits with its status.
FAKE_VM = r'''#!/usr/bin/python3
import json, os, sys
argv = sys.argv[1:]
results = argv[argv.index("--rw") + 1]
plan = json.load(open(os.environ["FAKE_PLAN"]))
calls = os.path.join(os.environ["FAKE_DIR"], "calls")
n = sum(1 for _ in open(calls)) if os.path.exists(calls) else 0
with open(calls, "a") as f:
    f.write(json.dumps(argv) + "\n")
progress, rc = plan[n]
sys.path.insert(0, os.environ["TOOLS"])
from refgem.results import Results, FILENAME
if progress != "none":
    r = (Results.open(results) if os.path.exists(os.path.join(results,
         FILENAME)) else Results.create(results, "t"))
    r.set(f"igt@x@boot{n}", "pass", start=1, end=2)
    r.meta["complete"] = progress == "complete"
    r.write()
print(f"guest {n}: {progress}, status {rc}")
sys.exit(rc)
'''


class RunTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        top = os.path.join(self.tmp, "top")
        for d in ("tools", "expectations", "ks", "d", "build"):
            os.makedirs(os.path.join(top, d))
        with open(os.path.join(top, "c.mk"), "w") as f:
            f.write("KERNEL_IMAGE := /k\nMODDIR := /m\nKVER := 1\n")
        for name in ("ks/t1", "d/refgem.ko"):
            with open(os.path.join(top, name), "w") as f:
                f.write("#!/bin/sh\n")
            os.chmod(os.path.join(top, name), 0o755)
        vm = os.path.join(top, "tools", "refgem-vm")
        with open(vm, "w") as f:
            f.write(FAKE_VM)
        os.chmod(vm, os.stat(vm).st_mode | stat.S_IXUSR)
        real_gate = os.path.join(boot.TOOLS, "refgem-gate")
        self.top = top
        self.target = targets.parse(MINIMAL)["a"]
        self.env = mock.patch.dict(os.environ, {
            "FAKE_DIR": self.tmp, "TOOLS": boot.TOOLS,
            "FAKE_PLAN": os.path.join(self.tmp, "plan.json")})
        self.env.start()
        self.addCleanup(self.env.stop)
        self.tools = mock.patch.object(boot, "TOOLS", os.path.join(top,
                                                                   "tools"))
        self.tools.start()
        self.addCleanup(self.tools.stop)
        os.symlink(real_gate, os.path.join(top, "tools", "refgem-gate"))

    def run_plan(self, plan, **opts):
        with open(os.environ["FAKE_PLAN"], "w") as f:
            json.dump(plan, f)
        lines = []
        o = boot.Options(results_root=os.path.join(self.tmp, "results"),
                         **opts)
        rc = boot.run(self.target, o, lines.append, top=self.top)
        calls = []
        if os.path.exists(os.path.join(self.tmp, "calls")):
            with open(os.path.join(self.tmp, "calls")) as f:
                calls = [json.loads(l) for l in f]
        return rc, lines, calls

    def test_one_boot_complete(self):
        rc, lines, calls = self.run_plan([["complete", 0]])
        self.assertEqual(len(calls), 1)
        self.assertNotIn("--resume", calls[0])
        self.assertEqual(rc, 0, lines)

    def test_crash_then_resume(self):
        rc, lines, calls = self.run_plan([["pending", 125], ["complete", 0]])
        self.assertEqual(len(calls), 2)
        self.assertIn("--resume", calls[1])
        self.assertEqual(calls[1][calls[1].index("--resume") + 1], "crash")
        self.assertEqual(rc, 0, lines)

    def test_restarts_exhausted_cut_short_and_fail(self):
        rc, lines, calls = self.run_plan([["pending", 125]] * 3,
                                         max_restarts=2)
        self.assertEqual(len(calls), 3)
        self.assertEqual(rc, 1)
        doc = load(os.path.join(self.tmp, "results", "a", FILENAME))
        self.assertIn("MAX_RESTARTS=2", doc["refgem"]["cut_short"])
        self.assertTrue(any("cut short" in l for l in lines), lines)

    def test_death_after_the_last_test_fails(self):
        rc, lines, _ = self.run_plan([["complete", 125]])
        self.assertEqual(rc, 1)
        self.assertTrue(any("after the run completed" in l for l in lines))

    def test_no_results_fails_as_unusable(self):
        rc, lines, calls = self.run_plan([["none", 125]])
        self.assertEqual(len(calls), 1)
        self.assertEqual(rc, 2)

    def test_guest_arguments_come_from_the_target(self):
        _, _, calls = self.run_plan([["complete", 0]], shard="1/2")
        argv = calls[0]
        self.assertEqual(argv[argv.index("--profile") + 1], "swiotlb")
        self.assertEqual(argv[argv.index("--kernel") + 1], "/k")
        self.assertIn("A=1", argv)
        self.assertIn(f"REFGEM_KO={self.top}/d/refgem.ko", argv)
        self.assertIn("--kselftest", argv)
        self.assertEqual(argv[argv.index("--shard") + 1], "1/2")
        self.assertTrue(os.path.isdir(os.path.join(
            self.tmp, "results", "a-shard-1-of-2")))

    def test_missing_kernel_config_is_one_clear_error(self):
        os.unlink(os.path.join(self.top, "c.mk"))
        rc, lines, calls = self.run_plan([["complete", 0]])
        self.assertEqual(calls, [])
        self.assertEqual(rc, 2)
        self.assertTrue(any("make build" in l for l in lines), lines)


class BinariesTest(unittest.TestCase):
    def test_kselftest_only_keeps_the_names_it_matches(self):
        import dataclasses
        with tempfile.TemporaryDirectory() as top:
            os.mkdir(os.path.join(top, "ks"))
            for n in ("gem_takeaway_test", "refgem_unbind_test"):
                p = os.path.join(top, "ks", n)
                with open(p, "w") as f:
                    f.write("#!/bin/sh\n")
                os.chmod(p, 0o755)
            t = targets.parse(MINIMAL)["a"]
            opts = boot.Options(results_root=top)
            self.assertEqual(
                [os.path.basename(a) for a in
                 boot.binaries(t, opts, top)[1::2]],
                ["gem_takeaway_test", "refgem_unbind_test"])
            t = dataclasses.replace(t, kselftest_only="^gem_takeaway_test$")
            self.assertEqual(boot.binaries(t, opts, top),
                             ["--kselftest",
                              os.path.join(top, "ks", "gem_takeaway_test")])
