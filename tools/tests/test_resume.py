"""--resume: a run whose guest died continues in a fresh one, igt_resume
style; and refgem-report's --is-complete/--cut-short that drive it."""
import contextlib
import io
import json
import os
import subprocess
import xml.etree.ElementTree as ET

from refgem import results as res
from refgem import runner

from .test_runner import FAKE_KSFT, IGT_PRELUDE, FakeKernelLog, RunnerBase

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Every run appends its subtest to FAKE_STATE/ran; "die" logs a panic, as
# the guest's last words before it goes.
RESUME_IGT = IGT_PRELUDE + r'''
def body(name):
    with open(os.path.join(os.environ["FAKE_STATE"], "ran"), "a") as f:
        f.write(name + "\n")
    time.sleep(0.3)     # several of the runner's polls: it sees each end
    if name == "die":
        print("about to die", flush=True)
        kmsg("0,9,1000,-;Kernel panic - not syncing: sysrq triggered crash")
        time.sleep(0.5)
        os._exit(0)     # a dead guest runs nothing more
igt_main(["a", "b", "die", "c", "d"], body)
'''

# The guest dies while the runner has not yet seen subtest a's result nor
# b's start (it polls every 50 ms): a's result is in the process's stderr.
RACE_IGT = IGT_PRELUDE + r'''
def body(name):
    if name == "b":
        kmsg("0,9,1000,-;Kernel panic - not syncing: sysrq triggered crash")
        time.sleep(0.5)
        os._exit(0)
igt_main(["a", "b", "c"], body)
'''


class GuestDied(Exception):
    pass


class DyingKernelLog(FakeKernelLog):
    """The guest dies (the runner stops dead) once a panic is logged."""

    def drain(self):
        records = super().drain()
        if any("Kernel panic" in r.text for r in records):
            raise GuestDied
        return records


class ResumeTest(RunnerBase):
    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.state)
        self.env(FAKE_STATE=self.state)

    def ran(self):
        with open(os.path.join(self.state, "ran")) as f:
            return f.read().split()

    def test_igt_resumes_after_the_test_that_killed_the_guest(self):
        igt = self.fake("fake_resume", RESUME_IGT)
        with self.assertRaises(GuestDied):
            self.run_tests("--igt", igt, klog=DyingKernelLog(self.kmsg,
                                                             self.tainted))
        doc = res.load(os.path.join(self.results, res.FILENAME))
        self.assertTrue(res.pending(doc))
        self.assertEqual({n: t["result"] for n, t in doc["tests"].items()},
                         {"igt@fake_resume@a": "pass",
                          "igt@fake_resume@b": "pass",
                          "igt@fake_resume@die": "incomplete",
                          "igt@fake_resume@c": "notrun",
                          "igt@fake_resume@d": "notrun"})
        open(self.kmsg, "w").close()    # a fresh guest's kernel log
        # boot.py has started the next boot's part already.
        console = self.fake("serial.log", "==== boot 1 (t) ====\nboot noise\n"
                            "Kernel panic - not syncing: sysrq triggered "
                            "crash\n==== boot 2 (t) ====\n")
        code, out, doc = self.run_tests("--igt", igt, "--resume", "crash",
                                        "--console", console)
        self.assertEqual(code, 0)
        self.assertFalse(res.pending(doc))
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got["igt@fake_resume@die"], "crash")
        self.assertEqual([got[f"igt@fake_resume@{s}"] for s in "abcd"],
                         ["pass"] * 4)
        self.assertEqual(self.ran(), ["a", "b", "die", "c", "d"])
        die = doc["tests"]["igt@fake_resume@die"]
        self.assertIn("about to die\n", die["out"])
        self.assertIn("refgem-runner: the guest died while this test ran",
                      die["out"])
        self.assertIn("resumed after it in a fresh guest (boot 2)", die["out"])
        self.assertIn("Kernel panic - not syncing", die["dmesg"])
        self.assertIn("boot noise", die["dmesg"])
        self.assertNotIn("boot 2", die["dmesg"])
        self.assertIn(os.path.join(self.results, die["job"]),
                      [os.path.join(self.results, n)
                       for n in os.listdir(self.results)])
        meta = doc["refgem"]
        self.assertEqual((meta["boots"], meta["complete"]), (2, True))
        self.assertEqual(meta["resumed"], [{"boot": 2, "as": "crash",
                                            "interrupted":
                                                ["igt@fake_resume@die"]}])
        self.assertIn("resuming the run in boot 2; igt@fake_resume@die: crash",
                      out)
        self.assertIn("[2/2] igt@fake_resume@d pass", out)
        with open(os.path.join(self.results, "summary.txt")) as f:
            summary = f.read()
        self.assertIn("guest boots: 2", summary)
        self.assertIn("left igt@fake_resume@die -> crash", summary)

    def test_batch_death_between_polls_blames_the_running_subtest(self):
        igt = self.fake("fake_race", RACE_IGT)
        with self.assertRaises(GuestDied):
            self.run_tests("--igt", igt, klog=DyingKernelLog(self.kmsg,
                                                             self.tainted))
        doc = res.load(os.path.join(self.results, res.FILENAME))
        # The runner never saw a's result: a is still the one running.
        self.assertEqual(doc["tests"]["igt@fake_race@a"]["result"],
                         "incomplete")
        open(self.kmsg, "w").close()
        _, out, doc = self.run_tests("--igt", igt, "--resume", "crash")
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"igt@fake_race@a": "pass",
                               "igt@fake_race@b": "crash",
                               "igt@fake_race@c": "pass"})
        self.assertIn("read from its IGT process's stderr",
                      doc["tests"]["igt@fake_race@a"]["out"])
        self.assertEqual(doc["refgem"]["resumed"][0]["interrupted"],
                         ["igt@fake_race@b"])

    def test_running_kselftest_binary_is_not_run_again(self):
        # What a guest whose watchdog fired in the middle of kselftest@ksft
        # leaves behind.
        r = res.Results.create(self.results, "t")
        r.set("kselftest@ksft@bo.noisy", "pass", start=1, end=2, job="0")
        job = r.new_job()
        with open(os.path.join(r.job_dir(job), "out.txt"), "w") as f:
            f.write("TAP version 13\n1..3\n#  RUN           bo.noisy ...\n"
                    "#            OK  bo.noisy\nok 1 bo.noisy\n"
                    "#  RUN           bo.quiet ...\n# stuck here\n")
        r.set("kselftest@ksft", "incomplete", start=1, end=1, job=job)
        r.set("kselftest@ksft@bo.quiet", "incomplete", start=2, end=2, job=job)
        r.set("kselftest@ksft2", "notrun", start=1, end=1)
        r.write()
        ksft = self.fake("ksft", "#!/bin/sh\necho ran >>$FAKE_STATE/ran\n")
        code, _, doc = self.run_tests(
            "--kselftest", ksft, "--kselftest", self.fake("ksft2", FAKE_KSFT),
            "--resume", "timeout")
        self.assertEqual(code, 0)
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"kselftest@ksft@bo.noisy": "pass",
                               "kselftest@ksft@bo.quiet": "timeout",
                               "kselftest@ksft": "timeout",
                               "kselftest@ksft2@bo.noisy": "dmesg-warn",
                               "kselftest@ksft2@bo.quiet": "pass",
                               "kselftest@ksft2@bo.skipper": "skip"})
        self.assertFalse(os.path.exists(os.path.join(self.state, "ran")))
        quiet = doc["tests"]["kselftest@ksft@bo.quiet"]["out"]
        self.assertTrue(quiet.startswith("#  RUN           bo.quiet ...\n"
                                         "# stuck here\n"), quiet)
        self.assertIn(runner.DIED["timeout"], quiet)
        self.assertIn("while this binary ran; it is not run again",
                      doc["tests"]["kselftest@ksft"]["out"])

    def test_kselftest_output_the_runner_never_saw(self):
        # The kernel died right after the binary's output reached its file,
        # before the runner read it: the output is all there is.
        r = res.Results.create(self.results, "t")
        job = r.new_job()
        with open(os.path.join(r.job_dir(job), "out.txt"), "w") as f:
            f.write("TAP version 13\n1..3\n#  RUN           g.before ...\n"
                    "#            OK  g.before\nok 1 g.before\n"
                    "#  RUN           g.crash ...\n# crashing\n")
        r.set("kselftest@ksft", "incomplete", start=1, end=1, job=job)
        r.write()
        ksft = self.fake("ksft", "#!/bin/sh\necho ran >>$FAKE_STATE/ran\n")
        _, out, doc = self.run_tests("--kselftest", ksft, "--resume", "crash")
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"kselftest@ksft@g.before": "pass",
                               "kselftest@ksft@g.crash": "crash",
                               "kselftest@ksft": "crash"})
        self.assertFalse(os.path.exists(os.path.join(self.state, "ran")))
        crash = doc["tests"]["kselftest@ksft@g.crash"]
        self.assertTrue(crash["out"].startswith(
            "#  RUN           g.crash ...\n# crashing\n"), crash["out"])
        self.assertEqual(crash["job"], job)
        self.assertIn("read from its output after the guest died",
                      doc["tests"]["kselftest@ksft@g.before"]["out"])
        self.assertEqual(doc["refgem"]["resumed"][0]["interrupted"],
                         ["kselftest@ksft", "kselftest@ksft@g.crash"])

    def test_nothing_to_resume(self):
        with contextlib.redirect_stderr(io.StringIO()):
            code = runner.main(["--results", self.results, "--name", "t",
                                "--resume", "crash"],
                               klog=FakeKernelLog(self.kmsg, self.tainted))
        self.assertEqual(code, 2)

    def test_resume_keeps_the_shard(self):
        igt = self.fake("fake_resume", RESUME_IGT)
        self.run_tests("--igt", igt, "--shard", "2/3")
        with contextlib.redirect_stderr(io.StringIO()):
            for other in (["--shard", "1/3"], []):
                code = runner.main(["--results", self.results, "--name", "t",
                                    "--igt", igt, "--resume", "crash",
                                    *other],
                                   klog=FakeKernelLog(self.kmsg, self.tainted))
                self.assertEqual(code, 2, other)


class ReportCliTest(RunnerBase):
    def report(self, *args):
        return subprocess.run([os.path.join(TOOLS, "refgem-report"), *args],
                              capture_output=True, text=True)

    def test_is_complete_and_cut_short(self):
        self.assertEqual(self.report("--is-complete", self.results).returncode,
                         2)
        r = res.Results.create(self.results, "t")
        r.set("igt@a@b", "pass", start=1, end=2)
        r.set("igt@a@c", "notrun", start=1, end=1)
        job = r.new_job()
        with open(os.path.join(r.job_dir(job), "out.txt"), "w") as f:
            f.write("Starting subtest: d\n")
        r.set("igt@a@d", "incomplete", start=1, end=1, job=job)
        r.write()
        self.assertEqual(self.report("--is-complete", self.results).returncode,
                         1)
        p = self.report("--cut-short", "overall timeout (RUN_TIMEOUT=60s)",
                        self.results)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("the run was cut short: overall timeout", p.stdout)
        self.assertIn("verdict: FAIL: the run was cut short", p.stdout)
        with open(os.path.join(self.results, res.FILENAME)) as f:
            doc = json.load(f)
        self.assertEqual(doc["refgem"]["cut_short"],
                         "overall timeout (RUN_TIMEOUT=60s)")
        d = doc["tests"]["igt@a@d"]
        self.assertEqual(d["result"], "incomplete")
        self.assertEqual(d["out"], "Starting subtest: d\nrefgem-runner: the "
                         "run was cut short while this test ran: overall "
                         "timeout (RUN_TIMEOUT=60s)\n")
        self.assertEqual(doc["tests"]["igt@a@c"]["result"], "notrun")
        top = ET.parse(os.path.join(self.results, "junit.xml")).getroot()
        run = [s for s in top if s.get("name") == "refgem@run"][0]
        self.assertIn("cut short", run.find("testcase/failure").get("message"))
        r = res.Results.open(self.results)
        r.meta["complete"] = True
        r.write()
        self.assertEqual(self.report("--is-complete", self.results).returncode,
                         0)
