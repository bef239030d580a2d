import os
import tempfile
import unittest
import xml.etree.ElementTree as ET

from refgem import report

from .fixtures import results_dir

IGT_FAIL_ERR = """\
Starting subtest: mmap
(refgem_basic:77) CRITICAL: Test assertion failure function test_mmap, file refgem_basic.c:88:
(refgem_basic:77) CRITICAL: Failed assertion: ptr != MAP_FAILED
Subtest mmap: FAIL (0.010s)
"""


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.root = results_dir(self.tmp.name, {
            "igt@refgem_basic@create-close": "pass",
            "igt@refgem_basic@mmap": {"result": "fail", "err": IGT_FAIL_ERR,
                                      "job": "1"},
            "igt@refgem_basic@iommu": {
                "result": "skip",
                "out": "Test requirement not met in function x, file y.c:3:\n"
                       "Test requirement: has_iommu()\n"},
            "igt@refgem_basic@huge": {"result": "dmesg-warn", "job": "2",
                                      "out": "x" * 50000,
                                      "warnings": ["<4> [3.000000] WARNING: at z"]},
            "kselftest@refgem@bo.create": {
                "result": "timeout",
                "out": "#  RUN  bo.create ...\n# create: Test terminated by timeout\n"},
            "kselftest@refgem@bo.assert": {
                "result": "fail",
                "out": "#  RUN  bo.assert ...\n# t.c:8:assert:hello\n"
                       "# t.c:10:assert:Expected 1 (1) == x (2)\n"
                       "# assert: Test terminated by assertion\n"},
        }, name="smoke")
        self.summary = report.write(self.root)

    def test_summary(self):
        lines = self.summary.splitlines()
        self.assertIn("totals: 6 tests: pass 1, fail 2, skip 1, timeout 1, "
                      "dmesg-warn 1", lines)
        mmap = [l for l in lines if "igt@refgem_basic@mmap" in l][0]
        self.assertIn("Failed assertion: ptr != MAP_FAILED", mmap)
        self.assertIn(os.path.join(self.root, "1"), mmap)
        self.assertIn("WARNING: at z", [l for l in lines if "@huge" in l][0])
        self.assertIn("Test terminated by timeout",
                      [l for l in lines if "bo.create" in l][0])
        self.assertIn("Expected 1 (1) == x (2)",
                      [l for l in lines if "bo.assert" in l][0])
        self.assertTrue(lines[-1].startswith("verdict: FAIL: 4 of 6 tests failed"))
        with open(os.path.join(self.root, "summary.txt")) as f:
            self.assertEqual(f.read(), self.summary)

    def test_junit(self):
        top = ET.parse(os.path.join(self.root, "junit.xml")).getroot()
        self.assertEqual((top.tag, top.get("tests"), top.get("failures"),
                          top.get("skipped")), ("testsuites", "6", "4", "1"))
        suites = {s.get("name"): s for s in top}
        self.assertEqual(set(suites), {"igt@refgem_basic", "kselftest@refgem"})
        cases = {c.get("name"): c for c in suites["igt@refgem_basic"]}
        self.assertEqual(cases["mmap"].get("classname"), "refgem_basic")
        self.assertIsNone(cases["create-close"].find("system-out"))
        self.assertEqual(cases["mmap"].find("failure").get("type"), "fail")
        self.assertIsNotNone(cases["iommu"].find("skipped"))
        huge = cases["huge"].find("system-out").text
        self.assertIn("characters cut", huge)
        self.assertLess(len(huge), 20000)

    def test_clean_verdict(self):
        root = results_dir(self.tmp.name, {"igt@a@b": "pass", "igt@a@c": "skip"})
        self.assertIn("verdict: PASS: 1 of 2 tests passed, 1 skipped",
                      report.write(root))
