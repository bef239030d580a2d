"""Flaky tests: re-run in the same run until they pass, at most
--flake-retries more times; only listed tests are re-run."""
import os

from .test_runner import RunnerBase

# Fails until it has run PASS_ON times (a count kept in FAKE_STATE).
FLAKY_IGT = r'''#!/usr/bin/python3
import os, sys
if sys.argv[1:] == ["--list-subtests"]:
    print("flaky\nsolid")
    sys.exit(0)
name = sys.argv[2]
count = os.path.join(os.environ["FAKE_STATE"], name)
n = int(open(count).read()) + 1 if os.path.exists(count) else 1
open(count, "w").write(str(n))
print(f"run {n}")
sys.exit(0 if name == "solid" or n >= int(os.environ["PASS_ON"]) else 98)
'''

# bo.flaky fails until the binary has run PASS_ON times.
FLAKY_KSFT = r'''#!/usr/bin/python3
import os, sys
count = os.path.join(os.environ["FAKE_STATE"], "ksft")
n = int(open(count).read()) + 1 if os.path.exists(count) else 1
open(count, "w").write(str(n))
ok = n >= int(os.environ["PASS_ON"])
print("TAP version 13\n1..2")
print("#  RUN           bo.solid ...\n#            OK  bo.solid\nok 1 bo.solid")
print("#  RUN           bo.flaky ...")
print(f"ok 2 bo.flaky" if ok else "#     FAIL  bo.flaky\nnot ok 2 bo.flaky")
sys.exit(0 if ok else 1)
'''


class FlakeTest(RunnerBase):
    def setUp(self):
        super().setUp()
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.state)
        self.env(FAKE_STATE=self.state)
        self.flakes = self.fake("flakes.txt", "# flaky\nfake_flaky@flaky\n"
                                              "kselftest@ksft@bo.flaky\n")

    def runs(self, name):
        with open(os.path.join(self.state, name)) as f:
            return int(f.read())

    def test_igt_flake_passes_on_third_attempt(self):
        self.env(PASS_ON="3")
        _, out, doc = self.run_tests("--igt", self.fake("fake_flaky", FLAKY_IGT),
                                     "--flakes", self.flakes)
        flaky = doc["tests"]["igt@fake_flaky@flaky"]
        self.assertEqual(flaky["result"], "pass")
        self.assertEqual([a["result"] for a in flaky["attempts"]],
                         ["fail", "fail", "pass"])
        self.assertEqual(flaky["job"], flaky["attempts"][-1]["job"])
        self.assertIn("listed as flaky; 3 attempts: 1 fail (job 0), "
                      "2 fail (job 1), 3 pass (job 2)", flaky["out"])
        self.assertIn("[1/2] igt@fake_flaky@flaky pass", out)
        self.assertIn("(flaky, attempt 3)", out)
        self.assertEqual(self.runs("solid"), 1)
        self.assertNotIn("attempts", doc["tests"]["igt@fake_flaky@solid"])

    def test_igt_flake_that_never_passes(self):
        self.env(PASS_ON="99")
        _, _, doc = self.run_tests("--igt", self.fake("fake_flaky", FLAKY_IGT),
                                   "--flakes", self.flakes,
                                   "--flake-retries", "2")
        flaky = doc["tests"]["igt@fake_flaky@flaky"]
        self.assertEqual(flaky["result"], "fail")
        self.assertEqual(len(flaky["attempts"]), 3)
        self.assertEqual(self.runs("flaky"), 3)

    def test_unlisted_failure_is_not_rerun(self):
        self.env(PASS_ON="2")
        _, _, doc = self.run_tests("--igt", self.fake("fake_flaky", FLAKY_IGT))
        self.assertEqual(doc["tests"]["igt@fake_flaky@flaky"]["result"], "fail")
        self.assertEqual(self.runs("flaky"), 1)

    def test_kselftest_flake_reruns_the_binary(self):
        self.env(PASS_ON="2")
        _, out, doc = self.run_tests("--kselftest", self.fake("ksft", FLAKY_KSFT),
                                     "--flakes", self.flakes)
        got = {n: t["result"] for n, t in doc["tests"].items()}
        # The binary's failed exit status belongs to the first run; the
        # re-run only settles the flaky test.
        self.assertEqual(got, {"kselftest@ksft@bo.solid": "pass",
                               "kselftest@ksft@bo.flaky": "pass"})
        flaky = doc["tests"]["kselftest@ksft@bo.flaky"]
        self.assertEqual([a["result"] for a in flaky["attempts"]],
                         ["fail", "pass"])
        self.assertNotIn("attempts", doc["tests"]["kselftest@ksft@bo.solid"])
        self.assertEqual(self.runs("ksft"), 2)
        self.assertIn("kselftest@ksft@bo.flaky pass after 2 attempts", out)
