import contextlib
import io
import os
import subprocess
import tempfile
import unittest

from refgem import gate
from refgem.results import FILENAME

from .fixtures import expectations_dir, results_dir

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CLEAN = {
    "igt@refgem_basic@create-close": "pass",
    "igt@refgem_basic@mmap": "pass",
    "igt@refgem_basic@needs-iommu": "skip",
    "kselftest@refgem@bo.create": "pass",
}


class GateTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def gate(self, tests, **expectations):
        rdir = results_dir(self.tmp.name, tests)
        edir = expectations_dir(self.tmp.name, **expectations)
        out = io.StringIO()
        with contextlib.redirect_stdout(out), \
                contextlib.redirect_stderr(io.StringIO()):
            code = gate.main(["--results", rdir, "--target", "qemu",
                              "--expectations", edir])
        return code, out.getvalue()

    def test_clean_run_passes(self):
        code, out = self.gate(CLEAN)
        self.assertEqual(code, 0, out)
        self.assertIn("skip: refgem_basic@needs-iommu", out)
        self.assertTrue(out.splitlines()[-1].startswith("gate: passed"))

    def test_unexpected_fail(self):
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": "fail"})
        self.assertEqual(code, 1)
        self.assertIn("unexpected fail: refgem_basic@mmap", out)

    def test_expected_fail_passes(self):
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": "fail"},
                              fails="# known\nrefgem_basic@mmap,Fail\n")
        self.assertEqual(code, 0, out)

    def test_expected_fail_with_its_reason(self):
        tests = {**CLEAN, "igt@refgem_basic@mmap": {
            "result": "fail", "out": "# mapping of BO handle 1 leaked\n"}}
        code, out = self.gate(tests, fails="refgem_basic@mmap,Fail\n",
                              reasons="refgem_basic@,mapping of .* leaked\n")
        self.assertEqual(code, 0, out)

    def test_expected_fail_for_another_reason(self):
        tests = {**CLEAN, "igt@refgem_basic@mmap": {
            "result": "fail", "err": "# timed out\n"}}
        code, out = self.gate(tests, fails="refgem_basic@mmap,Fail\n",
                              reasons="refgem_basic@,mapping of .* leaked\n")
        self.assertEqual(code, 1)
        self.assertIn("unexpected reason: refgem_basic@mmap", out)

    def test_bad_reasons_line(self):
        code, out = self.gate(CLEAN, reasons="no comma here\n")
        self.assertEqual(code, 2, out)

    def test_unexpected_improvement(self):
        code, out = self.gate(CLEAN, fails="refgem_basic@mmap,Fail\n")
        self.assertEqual(code, 1)
        self.assertIn("unexpected improvement: refgem_basic@mmap", out)

    def test_listed_fail_with_other_result(self):
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": "crash"},
                              fails="refgem_basic@mmap,Fail\n")
        self.assertEqual(code, 1)
        self.assertIn("unexpected crash: refgem_basic@mmap (expected Fail)", out)

    def test_missing_expected_fail(self):
        code, out = self.gate(CLEAN, fails="refgem_basic@gone,Fail\n")
        self.assertEqual(code, 1)
        self.assertIn("missing: refgem_basic@gone", out)

    def test_dmesg_fail(self):
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": "dmesg-fail"})
        self.assertEqual(code, 1)
        self.assertIn("unexpected dmesg-fail: refgem_basic@mmap", out)

    def test_expected_dmesg_warn(self):
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": "dmesg-warn"},
                              fails="refgem_basic@mmap,DmesgWarn\n")
        self.assertEqual(code, 0, out)

    def test_either_of_two_results(self):
        fails = "refgem_basic@mmap,Fail|DmesgFail\n"
        for result in ("fail", "dmesg-fail"):
            code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": result},
                                  fails=fails)
            self.assertEqual(code, 0, out)
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": "crash"},
                              fails=fails)
        self.assertEqual(code, 1)
        self.assertIn("(expected Fail|DmesgFail)", out)
        code, out = self.gate(CLEAN, fails="refgem_basic@mmap,Fail|Bogus\n")
        self.assertEqual(code, 2, out)

    def test_notrun_fails(self):
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": "notrun"})
        self.assertEqual(code, 1)

    def test_flake_that_passed_after_attempts(self):
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": {
            "result": "pass", "attempts": [{"result": "fail", "job": "1"},
                                           {"result": "pass", "job": "2"}]}},
            flakes="refgem_basic@mm.*\n")
        self.assertEqual(code, 0, out)
        self.assertIn("flake: refgem_basic@mmap (Pass on attempt 2)", out)
        self.assertIn("1 flaky", out)

    def test_flake_that_never_passed_fails(self):
        never = {"result": "timeout", "attempts": [
            {"result": "timeout", "job": str(i)} for i in range(4)]}
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": never},
                              flakes="refgem_basic@mm.*\n")
        self.assertEqual(code, 1, out)
        self.assertIn("unexpected timeout: refgem_basic@mmap (flaky: never "
                      "passed in 4 attempts)", out)
        # ... unless that is its expected result.
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": never},
                              flakes="refgem_basic@mm.*\n",
                              fails="refgem_basic@mmap,Timeout\n")
        self.assertEqual(code, 0, out)

    def test_skip_listed_test_is_ignored(self):
        code, out = self.gate({**CLEAN, "igt@refgem_basic@mmap": "fail"},
                              skips="# not run\n^refgem_basic@mmap$\n")
        self.assertEqual(code, 0, out)
        self.assertIn("is in skips but ran", out)

    def test_kselftest_names_keep_their_prefix(self):
        tests = {**CLEAN, "kselftest@refgem@bo.create": "fail"}
        code, _ = self.gate(tests, fails="kselftest@refgem@bo.create,Fail\n")
        self.assertEqual(code, 0)
        code, _ = self.gate(tests, fails="refgem@bo.create,Fail\n")
        self.assertEqual(code, 1)

    def test_empty_run_fails(self):
        code, out = self.gate({})
        self.assertEqual(code, 1)
        self.assertIn("no tests at all", out)

    def test_malformed_results_never_pass(self):
        rdir = results_dir(self.tmp.name, CLEAN)
        with open(os.path.join(rdir, FILENAME), "w") as f:
            f.write('{"__type__": "TestrunResult", "tests": ')
        edir = expectations_dir(self.tmp.name)
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            code = gate.main(["--results", rdir, "--target", "qemu",
                              "--expectations", edir])
        self.assertEqual(code, 2)

    def test_missing_results_never_pass(self):
        edir = expectations_dir(self.tmp.name)
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            code = gate.main(["--results", os.path.join(self.tmp.name, "none"),
                              "--target", "qemu", "--expectations", edir])
        self.assertEqual(code, 2)

    def test_unknown_result_in_results_never_passes(self):
        rdir = results_dir(self.tmp.name, CLEAN)
        path = os.path.join(rdir, FILENAME)
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace('"skip"', '"maybe"'))
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            code = gate.main(["--results", rdir, "--target", "qemu",
                              "--expectations", expectations_dir(self.tmp.name)])
        self.assertEqual(code, 2)

    def test_malformed_fails_file(self):
        for bad in ("refgem_basic@mmap\n", "refgem_basic@mmap,Failed\n",
                    "a@b,Fail\na@b,Crash\n"):
            code, _ = self.gate(CLEAN, fails=bad)
            self.assertEqual(code, 2, bad)

    def test_bad_regex(self):
        code, _ = self.gate(CLEAN, flakes="refgem_basic@(\n")
        self.assertEqual(code, 2)

    def test_cli_fails_on_known_bad_results(self):
        """The real entry script, as CI runs it, must be able to say no."""
        rdir = results_dir(self.tmp.name,
                           {**CLEAN, "igt@refgem_basic@mmap": "fail"})
        edir = expectations_dir(self.tmp.name)
        p = subprocess.run([os.path.join(TOOLS, "refgem-gate"), "--results",
                            rdir, "--target", "qemu", "--expectations", edir],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("unexpected fail: refgem_basic@mmap", p.stdout)
        self.assertTrue(p.stdout.splitlines()[-1].startswith("gate: FAILED"))


class BadInputTest(unittest.TestCase):
    """Bad input to the gate: one clear error line and status 2, never a
    pass; or, where the input only looks odd, the same verdict as clean
    input would give."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def gate(self, tests, rdir=None, **expectations):
        rdir = rdir or results_dir(self.tmp.name, tests)
        edir = expectations_dir(self.tmp.name, **expectations)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = gate.main(["--results", rdir, "--target", "qemu",
                              "--expectations", edir])
        return code, out.getvalue(), err.getvalue()

    def assertUnusable(self, code, out, err, what):
        self.assertEqual(code, 2, what)
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertIn(what, err)
        self.assertEqual(out.splitlines()[-1], "gate: FAILED, inputs unusable")

    def test_crlf_reads_as_lf(self):
        failing = {**CLEAN, "igt@refgem_basic@mmap": "fail"}
        code, out, _ = self.gate(failing,
                                 fails="# known\r\nrefgem_basic@mmap,Fail\r\n",
                                 flakes="create-close\r\n")
        self.assertEqual(code, 0, out)

    def test_empty_file_expects_nothing(self):
        edir = expectations_dir(self.tmp.name)
        open(os.path.join(edir, "qemu-fails.txt"), "w").close()
        rdir = results_dir(self.tmp.name,
                           {**CLEAN, "igt@refgem_basic@mmap": "fail"})
        with contextlib.redirect_stdout(io.StringIO()):
            code = gate.main(["--results", rdir, "--target", "qemu",
                              "--expectations", edir])
        self.assertEqual(code, 1)

    def test_not_utf8(self):
        edir = expectations_dir(self.tmp.name)
        with open(os.path.join(edir, "qemu-fails.txt"), "wb") as f:
            f.write(b"refgem_basic@mmap,Fail\n\xff\xfe\n")
        rdir = results_dir(self.tmp.name, CLEAN)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = gate.main(["--results", rdir, "--target", "qemu",
                              "--expectations", edir])
        self.assertUnusable(code, out.getvalue(), err.getvalue(),
                            "qemu-fails.txt: not UTF-8 text")

    def test_missing_field(self):
        for bad, what in (("refgem_basic@mmap\n", "expected 'name,Result'"),
                          ("refgem_basic@mmap,\n", "unknown Result ''"),
                          (",Fail\n", "expected 'name,Result'")):
            self.assertUnusable(*self.gate(CLEAN, fails=bad), what)

    def test_bad_regexes(self):
        self.assertUnusable(*self.gate(CLEAN, skips="a[\n"), "bad regex")
        self.assertUnusable(*self.gate(CLEAN, reasons="a,(b\n"),
                            "bad regex")
        self.assertUnusable(*self.gate(CLEAN, reasons="just-a-name\n"),
                            "expected 'name regex,output regex'")

    def test_truncated_and_invalid_results(self):
        for text in ("", '{"__type__": "TestrunResult", "tests": {"igt@a',
                     "[1, 2]", "\x00\x01"):
            rdir = results_dir(self.tmp.name, CLEAN)
            with open(os.path.join(rdir, FILENAME), "w") as f:
                f.write(text)
            code, out, err = self.gate(None, rdir=rdir)
            self.assertUnusable(code, out, err, FILENAME)


class CompareTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def compare(self, old, new):
        a = os.path.join(results_dir(self.tmp.name, old), FILENAME)
        b = os.path.join(results_dir(self.tmp.name, new), FILENAME)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = gate.main(["--compare", a, b])
        return code, out.getvalue()

    def test_finds_regression(self):
        code, out = self.compare(CLEAN, {**CLEAN, "igt@refgem_basic@mmap": "crash"})
        self.assertEqual(code, 1)
        self.assertIn("regression: igt@refgem_basic@mmap (pass -> crash)", out)

    def test_fix_is_not_a_regression(self):
        code, out = self.compare({**CLEAN, "igt@refgem_basic@mmap": "fail"}, CLEAN)
        self.assertEqual(code, 0)
        self.assertIn("fix: igt@refgem_basic@mmap (fail -> pass)", out)
