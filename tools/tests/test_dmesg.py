import os
import re
import shutil
import subprocess
import tempfile
import unittest
from unittest import mock

from refgem import dmesg

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.dirname(HERE)


def rec(level, text, facility=0):
    return dmesg.Record(level, facility, 1, 2500000, text)


class ParseTest(unittest.TestCase):
    def test_record(self):
        r = dmesg.parse_record(
            "4,812,5123456,-,caller=T42;WARNING: CPU: 0 PID: 42 at "
            "refgem_gem.c:10\\x0a more\n SUBSYSTEM=pci\n DEVICE=+pci:0000:00:03.0\n")
        self.assertEqual((r.level, r.facility, r.seq, r.usec), (4, 0, 812, 5123456))
        self.assertEqual(r.text, "WARNING: CPU: 0 PID: 42 at refgem_gem.c:10\n more")
        self.assertEqual(r.format().split(" ", 2)[:2], ["<4>", "[5.123456]"])

    def test_userspace_record(self):
        r = dmesg.parse_record("14,9,100,-;refgem-runner: starting igt@a@b\n")
        self.assertEqual((r.level, r.facility), (6, 1))

    def test_garbage(self):
        self.assertIsNone(dmesg.parse_record(" SUBSYSTEM=pci\n"))
        self.assertIsNone(dmesg.parse_record("x,y,z;text"))


class JudgeTest(unittest.TestCase):
    ALLOW = dmesg.RULES.allow

    def judge(self, result, records, before=0x3000, after=0x3000):
        return dmesg.judge(result, records, self.ALLOW, before, after)

    def test_quiet_log_keeps_result(self):
        self.assertEqual(self.judge("pass", [rec(6, "refgem: probed")]), ("pass", []))

    def test_warning_turns_pass_into_dmesg_warn(self):
        result, lines = self.judge("pass", [rec(4, "WARNING: at refgem_gem.c:10")])
        self.assertEqual(result, "dmesg-warn")
        self.assertEqual(lines, ["<4> [2.500000] WARNING: at refgem_gem.c:10"])

    def test_error_turns_fail_into_dmesg_fail(self):
        self.assertEqual(self.judge("fail", [rec(3, "BUG: KASAN")])[0], "dmesg-fail")

    def test_warn_becomes_dmesg_warn(self):
        self.assertEqual(self.judge("warn", [rec(2, "oops")])[0], "dmesg-warn")

    def test_skip_stays_skip(self):
        self.assertEqual(self.judge("skip", [rec(4, "WARNING")])[0], "skip")

    def test_allowlisted(self):
        r = rec(4, "refgem: loading out-of-tree module taints kernel.")
        self.assertEqual(self.judge("pass", [r]), ("pass", []))

    def test_userspace_warning_level_is_not_judged(self):
        self.assertEqual(self.judge("pass", [rec(4, "marker", facility=1)])[0], "pass")

    def test_new_taint_fails_whatever_the_result(self):
        for result in ("pass", "skip", "timeout"):
            got, lines = self.judge(result, [], before=0x3000, after=0x3200)
            self.assertEqual(got, "dmesg-fail")
            self.assertIn("gained W", lines[-1])

    def test_out_of_tree_and_unsigned_taint_ignored(self):
        self.assertEqual(self.judge("pass", [], before=0, after=0x3000)[0], "pass")

    def test_old_taint_ignored(self):
        self.assertEqual(self.judge("pass", [], before=0x200, after=0x200)[0], "pass")

    def rules(self, text):
        with tempfile.NamedTemporaryFile("w", suffix=".rules") as f:
            f.write(text)
            f.flush()
            return dmesg.load_rules(f.name)

    def test_scoped_entry_allows_for_its_tests_only(self):
        allow = self.rules("allow [^igt@a@full$] buffer is full \\(sz\n").allow
        r = [rec(4, "swiotlb buffer is full (sz: 4096 bytes)")]
        judge = lambda test: dmesg.judge("pass", r, allow, 0, 0, test=test)
        self.assertEqual(judge("igt@a@full"), ("pass", []))
        self.assertEqual(judge("igt@a@full-not")[0], "dmesg-warn")
        self.assertEqual(judge(None)[0], "dmesg-warn")
        self.assertFalse(dmesg.allowed(r[0].text, allow))

    def test_rules_file(self):
        rules = self.rules("# c\n\nallow ok\nreport KASAN ^BUG: KASAN:\n"
                           "taint-ignore OW\n")
        self.assertEqual([p.pattern for p in rules.allow], ["ok"])
        self.assertEqual([(n, p.pattern) for n, p in rules.reports],
                         [("KASAN", "^BUG: KASAN:")])
        self.assertEqual(rules.ignored_taint, 4096 | 512)

    def test_bad_rules(self):
        for text, why in (("# fine\nallow ok\nallow bad(\n", ":3: bad regex"),
                          ("ok\n", ":1: not a rule"),
                          ("report KASAN\n", ":1: not a rule"),
                          ("taint-ignore Z\n", ":1: no taint letter")):
            with self.assertRaisesRegex(ValueError, why):
                self.rules(text)

    def test_project_rules_are_portable(self):
        """The kselftests read the same regexes as POSIX EREs (regcomp):
        nothing whose meaning differs between the two may appear."""
        pythonic = re.compile(r"\\[dswbDSWBAZ]|\(\?|[*+?}]\?|\)\{")
        patterns = [p for p in dmesg.RULES.allow if not isinstance(p, dmesg.Scoped)]
        patterns += [p.test for p in dmesg.RULES.allow if isinstance(p, dmesg.Scoped)]
        patterns += [p.record for p in dmesg.RULES.allow if isinstance(p, dmesg.Scoped)]
        patterns += [p for _, p in dmesg.RULES.reports]
        self.assertTrue(dmesg.RULES.reports and dmesg.RULES.allow)
        for p in patterns:
            self.assertIsNone(pythonic.search(p.pattern), p.pattern)
        self.assertEqual(dmesg.IGNORED_TAINT, 4096 | 8192)


class CJudgeTest(unittest.TestCase):
    """lib/kmsg.c judges records by the same file: for every record of a
    corpus, in and out of a scoped test, it must agree with the runner."""

    CORPUS = [
        (4, "refgem: loading out-of-tree module taints kernel."),
        (4, "swiotlb buffer is full (sz: 4096 bytes)"),
        (4, "hrtimer: interrupt took 123456 ns"),
        (4, "hrtimer: interrupt took many ns"),
        (4, "WARNING: CPU: 1 PID: 2 at drivers/gpu/drm/refgem.c:10"),
        (3, "DMA-API: refgem 0000:01:00.0: device driver has pending DMA"),
        (3, "BUG: KASAN: slab-use-after-free in refgem_bo_free"),
        (5, "module verification failed: signature and/or required key "
            "missing - tainting kernel"),
        (6, "refgem 0000:01:00.0: probed"),
        (0, "Kernel panic - not syncing: x"),
    ]

    def setUp(self):
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            self.skipTest("no C compiler")
        self.tmp = tempfile.TemporaryDirectory()
        self.exe = os.path.join(self.tmp.name, "klog_judge")
        lib = os.path.join(os.path.dirname(TOOLS), "lib")
        subprocess.run([cc, "-Wall", "-Wextra", "-Werror", "-I", lib,
                        os.path.join(HERE, "c", "klog_judge.c"),
                        os.path.join(lib, "kmsg.c"), "-o", self.exe],
                       check=True)

    def tearDown(self):
        self.tmp.cleanup()

    def c_judge(self, rules, test=None):
        stdin = "".join(f"{level}\t{text}\n" for level, text in self.CORPUS)
        p = subprocess.run([self.exe, rules] + ([test] if test else []),
                           input=stdin, capture_output=True, text=True)
        return p.returncode, p.stdout.split("\n"), p.stderr

    def test_agrees_with_the_runner(self):
        rules = dmesg.load_rules()
        for test in (None, "igt@refgem_sgt@swiotlb-full",
                     "kselftest@refgem_unbind_test@unbind.held.bo"):
            code, out, err = self.c_judge(dmesg.RULES_PATH, test)
            self.assertEqual(code, 0, err)
            python = [str(int(bool(dmesg.warnings(
                [dmesg.Record(level, 0, 1, 1, text)], rules.allow, test))))
                for level, text in self.CORPUS]
            self.assertEqual(out[:len(self.CORPUS)], python, test)
            self.assertEqual(out[len(self.CORPUS)],
                             f"taint {rules.ignored_taint:#x}")
        # The corpus shows both verdicts in and out of the scoped test.
        self.assertIn("0", python)
        self.assertIn("1", python)

    def test_bad_rules_refused(self):
        with tempfile.NamedTemporaryFile("w", suffix=".rules") as f:
            f.write("allow fine\nallow bad(\n")
            f.flush()
            code, _, err = self.c_judge(f.name)
        self.assertEqual(code, 2)
        self.assertIn("line 2: bad regex", err)


class KernelLogTest(unittest.TestCase):
    """drain()'s read loop, on a stand-in file with os.read scripted."""

    def test_drain_handles_overrun_and_end(self):
        with tempfile.NamedTemporaryFile() as kmsg, \
                tempfile.NamedTemporaryFile("w") as tainted:
            tainted.write("12288\n")
            tainted.flush()
            log = dmesg.KernelLog(kmsg.name, tainted.name)
            reads = [b"6,1,10,-;first\n", BrokenPipeError(),
                     b"3,9,20,-;second\n SUBSYSTEM=pci\n", BlockingIOError()]
            with mock.patch("os.read", side_effect=reads):
                records = log.drain()
            self.assertEqual([(r.level, r.text) for r in records],
                             [(6, "first"), (4, dmesg.LOST), (3, "second")])
            self.assertEqual(log.taint(), 12288)
            log.mark("refgem-runner: starting x")
            self.assertEqual(open(kmsg.name).read(),
                             "<6>refgem-runner: starting x\n")
