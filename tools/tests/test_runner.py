"""refgem-run-tests end to end, with fake IGT and kselftest binaries and a
fake kernel log (a file the fakes append kmsg-format records to)."""
import contextlib
import io
import json
import os
import tempfile
import textwrap
import unittest

from refgem import dmesg, runner

# What the fake IGT binaries share: IGT's subtest loop as igt_core runs it,
# for --list-subtests and for --run-subtest with a comma-separated list
# (the runner's batches): sentinels on stdout (and stderr with
# IGT_SENTINEL_ON_STDERR), the kernel-log record before each subtest, and
# the exit status of the worst result. body(name) returns 0, 77 or 98, or
# exits the process itself, as a crash or an abort would.
IGT_PRELUDE = r'''#!/usr/bin/python3
import os, signal, sys, time
def kmsg(line):
    with open(os.environ["FAKE_KMSG"], "a") as f:
        f.write(line + "\n")
def sentinel(text):
    print(text, flush=True)
    if os.environ.get("IGT_SENTINEL_ON_STDERR"):
        print(text, file=sys.stderr, flush=True)
def igt_main(subtests, body):
    if sys.argv[1:] == ["--list-subtests"]:
        print("\n".join(subtests))
        sys.exit(0)
    assert sys.argv[1] == "--run-subtest"
    wanted = sys.argv[2].split(",")
    binary = os.path.basename(sys.argv[0])
    codes = []
    for name in subtests:
        if name not in wanted:
            continue
        sentinel(f"Starting subtest: {name}")
        kmsg(f"14,0,0,-;[IGT] {binary}: starting subtest {name}")
        code = body(name) or 0
        codes.append(code)
        word = {0: "SUCCESS", 77: "SKIP", 98: "FAIL"}[code]
        sentinel(f"Subtest {name}: {word} (0.000s)")
        if code == 98:
            time.sleep(1)   # the runner's time to stop a failed batch
    sys.exit(98 if 98 in codes else 77 if codes and
             all(c == 77 for c in codes) else 0)
'''

FAKE_IGT = IGT_PRELUDE + r'''
def body(name):
    with open(os.environ.get("FAKE_RAN", os.devnull), "a") as f:
        f.write(name + "\n")
    if name == "fail":
        print("(fake:1) CRITICAL: Failed assertion: 0 == 1", file=sys.stderr)
        return 98
    if name == "skip":
        print("Test requirement not met in function x, file y.c:1:")
        return 77
    if name == "warn":
        print("(fake:1) WARNING: something odd", file=sys.stderr)
    if name == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    if name == "hang":
        time.sleep(60)
    if name == "dmesg":
        kmsg("4,1,1000,-;WARNING: CPU: 0 PID: 1 at refgem.c:1")
        kmsg("4,2,1001,-;refgem: loading out-of-tree module taints kernel.")
    if name == "taint":
        with open(os.environ["FAKE_TAINT"], "w") as f:
            f.write(str(0x3000 | 0x200))
igt_main(["pass", "fail", "skip", "warn", "crash", "hang", "dmesg", "taint"],
         body)
'''

FAKE_SIMPLE = r'''#!/usr/bin/python3
import sys
if sys.argv[1:] == ["--list-subtests"]:
    sys.exit(79)
print("simple test ran")
'''

FAKE_ABORT = IGT_PRELUDE + r'''
def body(name):
    if name == "a":
        sys.exit(112)   # igt_abort_on_f(): no result line, straight out
igt_main(["a", "b"], body)
'''

# Follows kselftest_harness.h 6.1: RUN line flushed before each test, result
# lines buffered until the next flush; tests write their own markers.
FAKE_KSFT = r'''#!/usr/bin/python3
import os, signal, sys, time
def kmsg(line):
    with open(os.environ["FAKE_KMSG"], "a") as f:
        f.write(line + "\n")
MODE = os.path.basename(sys.argv[0])
print("TAP version 13\n1..3\n# Starting 3 tests from 1 test cases.")
pending = ""
for n, name in enumerate(["bo.noisy", "bo.quiet", "bo.skipper"], 1):
    sys.stdout.write(pending + f"#  RUN           {name} ...\n")
    sys.stdout.flush()
    kmsg(f"14,0,0,-;refgem-ksft: starting {name}")
    if name == "bo.noisy":
        kmsg("3,5,2000,-;refgem: DMA mapping leaked")
    if name == "bo.quiet" and MODE == "ksft_crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if name == "bo.quiet" and MODE == "ksft_hang":
        time.sleep(60)
    if MODE == "ksft_slow":
        time.sleep(0.5)
    time.sleep(0.15)
    if name == "bo.skipper":
        pending = f"#      SKIP      no iommu\n#            OK  {name}\nok {n} # SKIP no iommu\n"
    else:
        pending = f"#            OK  {name}\nok {n} {name}\n"
sys.stdout.write(pending + "# PASSED: 3 / 3 tests passed.\n")
'''


class FakeKernelLog:
    """dmesg.KernelLog's interface over files the fake binaries write."""

    def __init__(self, kmsg, tainted):
        self.kmsg = kmsg
        self.tainted = tainted
        self.pos = os.path.getsize(kmsg)     # from now on, like /dev/kmsg

    def drain(self):
        with open(self.kmsg) as f:
            f.seek(self.pos)
            data = f.read()
        complete = data[:data.rfind("\n") + 1]
        self.pos += len(complete)
        return [dmesg.parse_record(l) for l in complete.splitlines()]

    def mark(self, text):
        with open(self.kmsg, "a") as f:
            f.write(f"14,0,0,-;{text}\n")

    def taint(self):
        with open(self.tainted) as f:
            return int(f.read())


class RunnerBase(unittest.TestCase):
    """A temporary directory, the fake kernel log, run_tests()."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.kmsg = os.path.join(self.tmp, "kmsg")
        self.tainted = os.path.join(self.tmp, "tainted")
        open(self.kmsg, "w").close()
        with open(self.tainted, "w") as f:
            f.write(str(0x3000))
        self.env(FAKE_KMSG=self.kmsg, FAKE_TAINT=self.tainted)
        self.results = os.path.join(self.tmp, "results")

    def env(self, **env):
        for k, v in env.items():
            self.addCleanup(os.environ.pop, k, None)
            os.environ[k] = v

    def fake(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(textwrap.dedent(text))
        os.chmod(path, 0o755)
        return path

    def run_tests(self, *args, klog=None, results=None, **main_kw):
        out = io.StringIO()
        results = results or self.results
        with contextlib.redirect_stdout(out):
            code = runner.main(["--results", results, "--name", "t", *args],
                               klog=klog or FakeKernelLog(self.kmsg,
                                                          self.tainted),
                               **main_kw)
        with open(os.path.join(results, "results.json")) as f:
            doc = json.load(f)
        return code, out.getvalue(), doc


class RunnerTest(RunnerBase):

    def test_igt(self):
        code, out, doc = self.run_tests(
            "--igt", self.fake("fake_igt", FAKE_IGT),
            "--igt", self.fake("fake_simple", FAKE_SIMPLE), "--timeout", "1")
        self.assertEqual(code, 0)
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {
            "igt@fake_igt@pass": "pass", "igt@fake_igt@fail": "fail",
            "igt@fake_igt@skip": "skip", "igt@fake_igt@warn": "warn",
            "igt@fake_igt@crash": "crash", "igt@fake_igt@hang": "timeout",
            "igt@fake_igt@dmesg": "dmesg-warn", "igt@fake_igt@taint": "dmesg-fail",
            "igt@fake_simple": "pass"})
        dm = doc["tests"]["igt@fake_igt@dmesg"]
        self.assertIn("refgem-runner: starting igt@fake_igt@dmesg", dm["dmesg"])
        self.assertEqual(dm["dmesg-warnings"],
                         "<4> [0.001000] WARNING: CPU: 0 PID: 1 at refgem.c:1\n")
        job = os.path.join(self.results, dm["job"])
        self.assertEqual(sorted(os.listdir(job)), ["dmesg.txt", "err.txt", "out.txt"])
        self.assertIn("killed after 1s timeout",
                      doc["tests"]["igt@fake_igt@hang"]["out"])
        self.assertIn("killed by signal 11 (Segmentation fault)",
                      doc["tests"]["igt@fake_igt@crash"]["out"])
        self.assertIn("[1/9] igt@fake_igt@pass pass", out)
        self.assertIn("verdict: FAIL", out.splitlines()[-1])
        for f in ("junit.xml", "summary.txt"):
            self.assertTrue(os.path.exists(os.path.join(self.results, f)))

    def test_batch_is_single_mode_in_one_process(self):
        """Subtests share a process until one fails; the rest run alone;
        the results are those of one process per subtest."""
        fake = self.fake("fake_igt", FAKE_IGT)
        ran = os.path.join(self.tmp, "ran")
        self.env(FAKE_RAN=ran)
        _, _, batch = self.run_tests("--igt", fake, "--timeout", "1")
        with open(ran) as f:
            # The batch stopped at the failure: each of the rest ran once,
            # alone.
            self.assertEqual(f.read().split(), [
                "pass", "fail", "skip", "warn", "crash", "hang", "dmesg",
                "taint"])
        os.unlink(ran)
        with open(self.tainted, "w") as f:
            f.write(str(0x3000))    # what subtest "taint" left
        _, _, single = self.run_tests(
            "--igt", fake, "--timeout", "1", "--one-process-per-subtest",
            results=os.path.join(self.tmp, "single"))
        strip = ("time", "job", "out", "err", "dmesg")
        self.assertEqual(
            {n: {k: v for k, v in t.items() if k not in strip}
             for n, t in batch["tests"].items()},
            {n: {k: v for k, v in t.items() if k not in strip}
             for n, t in single["tests"].items()})
        tests = batch["tests"]
        jobs = {n.split("@")[-1]: t["job"] for n, t in tests.items()}
        # pass and fail ran in one process; after the failure, one each.
        self.assertEqual(jobs["pass"], jobs["fail"])
        self.assertEqual(len({jobs[s] for s in ("fail", "skip", "warn",
                                                "crash")}), 4)
        self.assertIn("Subtest pass: SUCCESS", tests["igt@fake_igt@pass"]
                      ["out"])
        self.assertNotIn("Subtest fail", tests["igt@fake_igt@pass"]["out"])
        self.assertIn("Failed assertion", tests["igt@fake_igt@fail"]["err"])
        self.assertNotIn("Failed assertion", tests["igt@fake_igt@pass"]
                         ["err"])
        self.assertIn("[IGT] fake_igt: starting subtest fail",
                      tests["igt@fake_igt@fail"]["dmesg"])
        self.assertNotIn("starting subtest fail",
                         tests["igt@fake_igt@pass"]["dmesg"])

    def test_batch_splits_the_kernel_log(self):
        """A warning logged by one subtest of a passing batch is that
        subtest's only."""
        fake = self.fake("fake_igt", FAKE_IGT)
        lst = self.fake("list.txt", "fake_igt@pass\nfake_igt@dmesg\n"
                                    "fake_igt@skip\n")
        _, _, doc = self.run_tests("--igt", fake, "--list", lst)
        tests = doc["tests"]
        self.assertEqual(len({t["job"] for t in tests.values()}), 1)
        self.assertEqual({n: t["result"] for n, t in tests.items()},
                         {"igt@fake_igt@pass": "pass",
                          "igt@fake_igt@skip": "skip",
                          "igt@fake_igt@dmesg": "dmesg-warn"})
        self.assertNotIn("WARNING", tests["igt@fake_igt@skip"]["dmesg"])

    def test_list_and_skips(self):
        fake = self.fake("fake_igt", FAKE_IGT)
        lst = self.fake("list.txt", "# two\nfake_igt@pass\nigt@fake_igt@skip\n"
                                    "fake_igt@nonexistent\n")
        skips = self.fake("skips.txt", "fake_igt@sk\n")
        _, _, doc = self.run_tests("--igt", fake, "--list", lst, "--skips", skips)
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"igt@fake_igt@pass": "pass",
                               "igt@fake_igt@nonexistent": "notrun"})

    def test_abort_stops_the_run(self):
        _, out, doc = self.run_tests("--igt", self.fake("fake_abort", FAKE_ABORT))
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"igt@fake_abort@a": "abort",
                               "igt@fake_abort@b": "notrun"})

    def test_kselftest(self):
        _, out, doc = self.run_tests("--kselftest", self.fake("ksft", FAKE_KSFT))
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"kselftest@ksft@bo.noisy": "dmesg-warn",
                               "kselftest@ksft@bo.quiet": "pass",
                               "kselftest@ksft@bo.skipper": "skip"})
        noisy = doc["tests"]["kselftest@ksft@bo.noisy"]
        self.assertIn("DMA mapping leaked", noisy["dmesg-warnings"])
        self.assertTrue(noisy["out"].startswith("TAP version 13\n"))
        self.assertNotIn("DMA mapping",
                         doc["tests"]["kselftest@ksft@bo.quiet"]["dmesg"])
        self.assertIn("[3/3] kselftest@ksft@bo.skipper skip", out)

    def test_kselftest_crash(self):
        """Also: a second binary with the same fixture names keeps its own."""
        _, _, doc = self.run_tests("--kselftest", self.fake("ksft", FAKE_KSFT),
                                   "--kselftest", self.fake("ksft_crash", FAKE_KSFT))
        got = {n: t["result"] for n, t in doc["tests"].items()
               if n.startswith("kselftest@ksft_crash")}
        self.assertEqual(len(doc["tests"]), 6)
        self.assertEqual(got, {"kselftest@ksft_crash@bo.noisy": "dmesg-warn",
                               "kselftest@ksft_crash@bo.quiet": "incomplete",
                               "kselftest@ksft_crash": "crash"})
        self.assertIn("no TAP result; killed by signal 9",
                      doc["tests"]["kselftest@ksft_crash@bo.quiet"]["out"])

    def test_kselftest_timeout(self):
        _, _, doc = self.run_tests("--kselftest", self.fake("ksft_hang", FAKE_KSFT),
                                   "--kselftest-timeout", "1")
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"kselftest@ksft_hang@bo.noisy": "dmesg-warn",
                               "kselftest@ksft_hang@bo.quiet": "timeout",
                               "kselftest@ksft_hang": "timeout"})
        # Where it hung is recorded before the kill.
        out = doc["tests"]["kselftest@ksft_hang@bo.quiet"]["out"]
        self.assertIn("after its last line\nwhere its tasks were:\n", out)
        self.assertRegex(out, r"task \d+/\d+ \(ksft_hang\) state S wchan ")
        # Once: the binary's record says how it ended, not where again.
        whole = doc["tests"]["kselftest@ksft_hang"]["out"]
        self.assertIn("after its last line", whole)
        self.assertNotIn("where its tasks were", whole)

    def test_kselftest_budget_is_per_quiet_spell(self):
        """A binary that goes on printing outlives its budget."""
        _, _, doc = self.run_tests("--kselftest", self.fake("ksft_slow", FAKE_KSFT),
                                   "--kselftest-timeout", "1.5")
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"kselftest@ksft_slow@bo.noisy": "dmesg-warn",
                               "kselftest@ksft_slow@bo.quiet": "pass",
                               "kselftest@ksft_slow@bo.skipper": "skip"})

    def test_missing_binaries_are_results(self):
        missing = os.path.join(self.tmp, "nope")
        _, _, doc = self.run_tests("--igt", missing, "--kselftest", missing)
        got = {n: t["result"] for n, t in doc["tests"].items()}
        self.assertEqual(got, {"igt@nope": "fail", "kselftest@nope":
                               "incomplete"})

    def test_existing_results_refused(self):
        self.run_tests()
        with contextlib.redirect_stderr(io.StringIO()):
            code = runner.main(["--results", self.results, "--name", "t"],
                               klog=FakeKernelLog(self.kmsg, self.tainted))
        self.assertEqual(code, 2)
