import os
import tempfile
import unittest
from unittest import mock

from refgem import dmesg

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    ALLOW = dmesg.load_allowlist(os.path.join(TOOLS, "dmesg-allowlist.txt"))

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

    def test_scoped_entry_allows_for_its_tests_only(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("[^igt@a@full$] buffer is full \\(sz\n")
            f.flush()
            allow = dmesg.load_allowlist(f.name)
        r = [rec(4, "swiotlb buffer is full (sz: 4096 bytes)")]
        judge = lambda test: dmesg.judge("pass", r, allow, 0, 0, test=test)
        self.assertEqual(judge("igt@a@full"), ("pass", []))
        self.assertEqual(judge("igt@a@full-not")[0], "dmesg-warn")
        self.assertEqual(judge(None)[0], "dmesg-warn")
        self.assertFalse(dmesg.allowed(r[0].text, allow))

    def test_bad_allowlist(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write("# fine\nok\nbad(\n")
            f.flush()
            with self.assertRaisesRegex(ValueError, ":3: bad regex"):
                dmesg.load_allowlist(f.name)


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
