"""--detectors and --kunit: the debug kernel's bug detectors and KUnit
modules as results, against stand-in /sys, /proc and kernel logs."""
import os
import stat
import textwrap
import unittest
from unittest import mock

from refgem import detectors, dmesg, kunit

from .test_resume import DyingKernelLog, GuestDied
from .test_runner import RunnerBase

BOOT_LOG = [dmesg.Record(6, 0, 1, 100, "kasan: KernelAddressSanitizer "
                         "initialized"),
            dmesg.Record(6, 0, 2, 200, "DMA-API: debugging enabled by "
                         "kernel config")]
DUMP = ("0000:01:00.0 refgem scather-gather idx 3712 P=9e6d000 N=9e6d "
        "D=69d00000 L=1000 DMA_BIDIRECTIONAL dma map error check not "
        "applicable\n"
        "0000:00:03.0 virtio-pci coherent idx 1 P=1000 N=1 D=1000 L=1000 "
        "DMA_BIDIRECTIONAL dma map error check not applicable\n"
        "0000:02:00.0 pci scather-gather idx 7 P=1000 N=1 D=2000 L=1000 "
        "DMA_BIDIRECTIONAL dma map error check not applicable\n")
FILES = {
    "sys/kernel/debug/dma-api/error_count": "0\n",
    "sys/kernel/debug/dma-api/disabled": "N\n",
    "sys/kernel/debug/dma-api/all_errors": "0\n",
    "sys/kernel/debug/dma-api/dump": DUMP,
    "sys/kernel/debug/kmemleak": "",
    "sys/kernel/debug/failslab/probability": "0\n",
    "sys/kernel/debug/fail_page_alloc/probability": "0\n",
    "sys/kernel/debug/kunit/.keep": "",
    "proc/lockdep_stats": " lock-classes:         1234 [max: 8192]\n"
                          " debug_locks:                             1\n",
    "proc/cmdline": "console=ttyS0 swiotlb=force kasan_multi_shot\n",
    "proc/self/fail-nth": "0\n",
    "sys/bus/pci/devices/0000:01:00.0/vendor": "0x1234\n",
    "sys/bus/pci/devices/0000:01:00.0/device": "0x11e8\n",
    "sys/bus/pci/devices/0000:02:00.0/vendor": "0x1234\n",
    "sys/bus/pci/devices/0000:02:00.0/device": "0x11e8\n",
    "sys/bus/pci/devices/0000:00:03.0/vendor": "0x1af4\n",
    "sys/bus/pci/devices/0000:00:03.0/device": "0x1009\n",
}


def make_root(parent):
    root = os.path.join(parent, "root")
    for rel, text in FILES.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return root


def put(root, rel, text):
    with open(os.path.join(root, rel), "w") as f:
        f.write(text)


def get(root, rel):
    with open(os.path.join(root, rel)) as f:
        return f.read()


class LeakDetectors(detectors.Detectors):
    """kmemleak's file takes commands and shows the leaks it found."""

    def __init__(self, *args, leaks="", refuse=None, **kw):
        super().__init__(*args, **kw)
        self.leaks = leaks
        self.refuse = refuse
        self.commands = []

    def _write(self, rel, text):
        if rel != detectors.KMEMLEAK:
            return super()._write(rel, text)
        self.commands.append(text)
        if self.refuse:
            return self.refuse
        put(self.root, rel, self.leaks)
        return None


class DetectorsTest(unittest.TestCase):
    def setUp(self):
        import tempfile
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.root = make_root(tmp.name)
        self.det = detectors.Detectors([], self.root, lambda: BOOT_LOG)

    def test_live(self):
        ok, out = self.det.live()
        self.assertTrue(ok, out)
        self.assertEqual(out.count(": live ("), 6)
        self.assertEqual(get(self.root, detectors.DMA_API + "/all_errors"),
                         "1")
        self.assertEqual(self.det.bdfs, {"0000:01:00.0", "0000:02:00.0"})

    def assert_not_live(self, detector, why):
        ok, out = self.det.live()
        self.assertFalse(ok)
        line = [l for l in out.splitlines() if "NOT LIVE" in l]
        self.assertEqual(len(line), 1, out)
        self.assertIn(f"{detector}: NOT LIVE", line[0])
        self.assertIn(why, line[0])

    def test_dma_api_off(self):
        put(self.root, detectors.DMA_API + "/disabled", "Y\n")
        self.assert_not_live("DMA-API debug", "disabled is not N")

    def test_dma_api_not_in_the_log(self):
        self.det.boot_log = lambda: BOOT_LOG[:1]
        self.assert_not_live("DMA-API debug", "DMA-API: debugging enabled")

    def test_kasan_single_shot(self):
        put(self.root, "proc/cmdline", "console=ttyS0\n")
        self.assert_not_live("KASAN", "kasan_multi_shot")

    def test_kasan_missing(self):
        self.det.boot_log = lambda: BOOT_LOG[1:]
        self.assert_not_live("KASAN", "KernelAddressSanitizer initialized")

    def test_lockdep_off(self):
        put(self.root, detectors.LOCKDEP_STATS, " debug_locks:   0\n")
        self.assert_not_live("lockdep", "debug_locks is 0")

    def test_kmemleak_off(self):
        self.det = LeakDetectors([], self.root, lambda: BOOT_LOG,
                                 refuse="Operation not permitted")
        self.assert_not_live("kmemleak", "refuses commands")

    def test_no_fault_injection(self):
        os.remove(os.path.join(self.root, "proc/self/fail-nth"))
        self.assert_not_live("fault injection", "fail-nth")

    def test_no_kunit(self):
        os.remove(os.path.join(self.root, "sys/kernel/debug/kunit/.keep"))
        os.rmdir(os.path.join(self.root, "sys/kernel/debug/kunit"))
        self.assert_not_live("KUnit", "kunit")

    def judge(self, records=(), result="pass", counters=True):
        before = self.det.sample()
        change = getattr(self, "change", None)
        if change:
            change()
        return self.det.judge(result, [], list(records), before, counters)

    def test_quiet(self):
        self.assertEqual(self.judge(), ("pass", [], "",
                                        detectors.State(0, False, 1)))

    def test_dma_error_count_rise(self):
        self.det.live()
        self.change = lambda: put(self.root, detectors.DMA_API +
                                  "/error_count", "2\n")
        result, warnings, note, after = self.judge(result="skip")
        self.assertEqual(result, "dmesg-fail")
        self.assertEqual(warnings, ["refgem-runner: DMA-API debug found 2 "
                                    "error(s) during this test (error_count "
                                    "0 -> 2)"])
        self.assertEqual(after.dma_errors, 2)
        head, dump = note.split("dma-api/dump): ")[1].split("\n", 1)
        self.assertEqual(head, "0000:01:00.0: 1 entries, 4 KiB, "
                               "0000:02:00.0: 1 entries, 4 KiB")
        self.assertEqual([l.split()[0] for l in dump.splitlines()],
                         ["0000:01:00.0", "0000:02:00.0"])

    def test_lockdep_turned_off(self):
        self.change = lambda: put(self.root, detectors.LOCKDEP_STATS,
                                  " debug_locks:  0\n")
        result, warnings, note, _ = self.judge()
        self.assertEqual(result, "dmesg-fail")
        self.assertIn("lockdep switched itself off", warnings[0])
        # Later tests are told that lockdep no longer checks them.
        result, warnings, note, _ = self.judge()
        self.assertEqual((result, warnings), ("pass", []))
        self.assertIn("lockdep was off", note)

    def test_dma_api_turned_off(self):
        self.change = lambda: put(self.root, detectors.DMA_API + "/disabled",
                                  "Y\n")
        result, warnings, _, _ = self.judge()
        self.assertEqual(result, "dmesg-fail")
        self.assertIn("DMA-API debug switched itself off", warnings[0])

    def test_reports_fail_even_without_new_taint(self):
        for text in ("BUG: KASAN: slab-use-after-free in refgem_bo_free",
                     "WARNING: possible circular locking dependency detected",
                     "DMA-API: refgem 0000:01:00.0: device driver has pending "
                     "DMA allocations while released from device [count=1]",
                     "BUG: sleeping function called from invalid context at "
                     "mm/slab.h:1"):
            level = 3 if text.startswith("BUG") else 4
            # dmesg.judge alone only makes such a pass dmesg-warn.
            records = [dmesg.Record(level, 0, 1, 1, text)]
            self.assertEqual(dmesg.judge("pass", records, [], 0, 0)[0],
                             "dmesg-warn")
            result, warnings, _, _ = self.judge(records, counters=False)
            self.assertEqual(result, "dmesg-fail", text)
            self.assertEqual(len(warnings), 1)

    def test_reports_respect_level_userspace_and_allowlist(self):
        records = [dmesg.Record(6, 0, 1, 1, "DMA-API: preallocated 65536 "
                                "debug entries"),
                   dmesg.Record(3, 1, 2, 1, "BUG: KASAN: written by a test")]
        self.assertEqual(self.judge(records)[0], "pass")
        self.det.allow = [dmesg.re.compile("BUG: KASAN: harmless")]
        records = [dmesg.Record(3, 0, 1, 1, "BUG: KASAN: harmless")]
        self.assertEqual(self.judge(records)[0], "pass")

    def test_counters_off(self):
        self.change = lambda: put(self.root, detectors.DMA_API +
                                  "/error_count", "1\n")
        self.assertEqual(self.judge(counters=False)[0], "pass")

    def leak_check(self, **kw):
        det = LeakDetectors([], self.root, lambda: BOOT_LOG, **kw)
        with mock.patch.object(detectors, "KMEMLEAK_MIN_AGE", -1.0):
            return det.leak_check(0.0), det.commands

    def test_no_leaks(self):
        (ok, out), commands = self.leak_check()
        self.assertTrue(ok)
        self.assertEqual(commands, ["scan", "scan"])

    def test_leaks(self):
        leak = textwrap.dedent("""\
            unreferenced object 0xffff888004a3c000 (size 64):
              comm "insmod", pid 97, jiffies 4294901760 (age 30.1s)
              backtrace:
                [<ffffffffc0200123>] refgem_bo_map+0x123/0x456 [refgem]
            unreferenced object 0xffff888004a3d000 (size 32):
              comm "swapper/0", pid 1, jiffies 4294900000 (age 60.0s)
              backtrace:
                [<ffffffff81234567>] kmalloc_trace+0x27/0x60
            """)
        (ok, out), _ = self.leak_check(leaks=leak)
        self.assertFalse(ok)
        self.assertIn("2 unreferenced object(s), 1 with refgem", out)
        self.assertIn("refgem_bo_map+0x123", out)

    def test_kmemleak_refuses(self):
        (ok, out), _ = self.leak_check(refuse="Operation not permitted")
        self.assertFalse(ok)
        self.assertIn("refused to scan", out)

    def test_waits_for_min_age(self):
        det = LeakDetectors([], self.root, lambda: BOOT_LOG)
        with mock.patch.object(detectors.time, "sleep") as sleep, \
                mock.patch.object(detectors.time, "time", return_value=100.0):
            det.leak_check(98.0)
        sleep.assert_called_once_with(98.0 + detectors.KMEMLEAK_MIN_AGE + 1
                                      - 100.0)


KTAP = """\
KTAP version 1
1..1
    KTAP version 1
    # Subtest: refgem_sgt
    1..4
    ok 1 wrong_device_twice
        # map_once: EXPECTATION FAILED at refgem_kunit.c:120
Expected first == second, but
    first == ff11000009dd0ee0
    not ok 2 map_once
        KTAP version 1
        # Subtest: segments_within_max
        ok 1 segments_within_max 4k
        ok 2 segments_within_max 1m
    ok 3 segments_within_max
    ok 4 revoke_then_free # SKIP needs two bound refgem devices
# refgem_sgt: pass:2 fail:1 skip:1 total:4
# Totals: pass:2 fail:1 skip:1 total:4
not ok 1 refgem_sgt
"""


class KtapTest(unittest.TestCase):
    def test_parse_suite(self):
        plan, cases = kunit.parse_suite(KTAP)
        self.assertEqual(plan, 4)
        self.assertEqual([(c.number, c.name, c.result, c.reason)
                          for c in cases],
                         [(1, "wrong_device_twice", "pass", ""),
                          (2, "map_once", "fail", ""),
                          (3, "segments_within_max", "pass", ""),
                          (4, "revoke_then_free", "skip",
                           "needs two bound refgem devices")])
        self.assertIn("EXPECTATION FAILED", cases[1].out)
        self.assertNotIn("EXPECTATION FAILED", cases[2].out)
        self.assertIn("segments_within_max 1m", cases[2].out)

    def test_split_records(self):
        _, cases = kunit.parse_suite(KTAP)
        texts = ["    KTAP version 1", "    ok 1 wrong_device_twice",
                 "    # map_once: EXPECTATION FAILED", "    not ok 2 map_once",
                 "        ok 2 segments_within_max 1m",
                 "    ok 3 segments_within_max",
                 "    ok 4 revoke_then_free # SKIP needs two bound refgem "
                 "devices", "ok 1 refgem_sgt"]
        records = [dmesg.Record(6, 0, i, i, t) for i, t in enumerate(texts)]
        parts = kunit.split_records(records, cases)
        self.assertEqual([len(p) for p in parts], [2, 2, 2, 2])

    def test_crashed_case_blames_no_earlier_one(self):
        """A case that oopses never reports: the records after the last
        reported case are not the last reported case's."""
        _, cases = kunit.parse_suite(KTAP)
        texts = ["    KTAP version 1", "    ok 1 wrong_device_twice",
                 "    not ok 2 map_once", "    ok 3 segments_within_max",
                 "BUG: kernel NULL pointer dereference, address: 0"]
        records = [dmesg.Record(6, 0, i, i, t) for i, t in enumerate(texts)]
        parts = kunit.split_records(records, cases[:3], complete=False)
        self.assertEqual([len(p) for p in parts], [2, 1, 1])
        self.assertNotIn("BUG", "".join(r.text for r in parts[-1]))

    def test_cut_debugfs_log(self):
        """6.1 cuts a case's debugfs log at 512 bytes: a long failure
        report loses the case's own result line, which the kernel log
        still has."""
        cut = ("KTAP version 1\n1..1\n    KTAP version 1\n"
               "    # Subtest: refgem_sgt\n    1..2\n    ok 1 map_once\n"
               "    # revoke_then_free: EXPECTATION FAILED at /work/r"
               "# refgem_sgt: pass:1 fail:1 skip:0 total:2\n"
               "not ok 1 refgem_sgt\n")
        plan, cases = kunit.parse_suite(cut)
        self.assertEqual((plan, [c.name for c in cases]), (2, ["map_once"]))
        texts = ["    KTAP version 1", "    # Subtest: refgem_sgt", "    1..2",
                 "    ok 1 map_once", "------------[ cut here ]------------",
                 "    # revoke_then_free: EXPECTATION FAILED at /work/x.c:1",
                 "    not ok 2 revoke_then_free", "not ok 1 refgem_sgt",
                 "    ok 3 unrelated"]
        logged = kunit.parse_log([dmesg.Record(6, 0, i, i, t)
                                  for i, t in enumerate(texts)])
        self.assertEqual([(c.number, c.name, c.result)
                          for c in logged["refgem_sgt"]],
                         [(1, "map_once", "pass"),
                          (2, "revoke_then_free", "fail")])
        self.assertIn("EXPECTATION FAILED", logged["refgem_sgt"][1].out)

    def test_names(self):
        self.assertEqual(kunit.whole_name("/x/refgem_kunit.ko"),
                         "kunit@refgem_kunit")


# Loading the module runs its suite: the results appear in debugfs, the
# KTAP in the kernel log, and the kernel gains taint N.
FAKE_INSMOD = r'''#!/usr/bin/python3
import os, sys
root = os.environ["FAKE_ROOT"]
mode = os.environ.get("FAKE_KUNIT", "")
if mode == "refuse":
    print("insmod: ERROR: could not insert module: Unknown symbol",
          file=sys.stderr)
    sys.exit(1)
def kmsg(level, text):
    with open(os.environ["FAKE_KMSG"], "a") as f:
        f.write(f"{level},0,0,-;{text}\n")
suite = os.path.join(root, "sys/kernel/debug/kunit/refgem_sgt")
os.makedirs(suite)
ktap = """KTAP version 1
1..1
    KTAP version 1
    # Subtest: refgem_sgt
    1..2
    ok 1 map_once
        # revoke_then_free: EXPECTATION FAILED at refgem_kunit.c:177
    not ok 2 revoke_then_free
# refgem_sgt: pass:1 fail:1 skip:0 total:2
not ok 1 refgem_sgt
"""
if mode == "short":
    ktap = ktap.replace("    not ok 2 revoke_then_free\n", "")
if mode == "cut":   # 6.1's 512-byte per-case log, full
    ktap = ktap.replace("177\n    not ok 2 revoke_then_free\n", "1")
with open(os.path.join(suite, "results"), "w") as f:
    f.write(ktap)
kmsg(6, "    KTAP version 1")
kmsg(6, "    # Subtest: refgem_sgt")
kmsg(6, "    1..2")
kmsg(6, "    ok 1 map_once")
if mode == "dma":
    kmsg(4, "DMA-API: refgem 0000:01:00.0: device driver has pending DMA "
         "allocations while released from device [count=256]")
    with open(os.path.join(root, "sys/kernel/debug/dma-api/error_count"),
              "w") as f:
        f.write("1\n")
kmsg(3, "    # revoke_then_free: EXPECTATION FAILED at refgem_kunit.c:177")
if mode != "short":
    kmsg(6, "    not ok 2 revoke_then_free")
kmsg(6, "not ok 1 refgem_sgt")
with open(os.environ["FAKE_TAINT"], "r+") as f:
    taint = int(f.read()) | (1 << 18)
    f.seek(0)
    f.write(str(taint))
'''

FAKE_RMMOD = r'''#!/usr/bin/python3
import os, shutil
shutil.rmtree(os.path.join(os.environ["FAKE_ROOT"],
                           "sys/kernel/debug/kunit/refgem_sgt"))
'''

# An IGT binary whose subtests upset the detectors.
DETECTED_IGT = r'''#!/usr/bin/python3
import os, sys
root = os.environ["FAKE_ROOT"]
if sys.argv[1:] == ["--list-subtests"]:
    print("clean\nunbind-held\nlock-inversion")
    sys.exit(0)
name = sys.argv[2]
def kmsg(level, text):
    with open(os.environ["FAKE_KMSG"], "a") as f:
        f.write(f"{level},0,0,-;{text}\n")
if name == "unbind-held":
    kmsg(4, "DMA-API: refgem 0000:01:00.0: device driver has pending DMA "
         "allocations while released from device [count=256]")
    with open(os.path.join(root, "sys/kernel/debug/dma-api/error_count"),
              "w") as f:
        f.write("1\n")
if name == "lock-inversion":
    with open(os.path.join(root, "proc/lockdep_stats"), "w") as f:
        f.write(" debug_locks:  0\n")
'''


class DetectorRunTest(RunnerBase):
    """refgem-run-tests --detectors and --kunit end to end."""

    def setUp(self):
        super().setUp()
        self.root = make_root(self.tmp)
        bindir = os.path.join(self.tmp, "bin")
        os.mkdir(bindir)
        for name, text in (("insmod", FAKE_INSMOD), ("rmmod", FAKE_RMMOD)):
            path = os.path.join(bindir, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        self.env(FAKE_ROOT=self.root)
        path = mock.patch.dict(os.environ, PATH=bindir + os.pathsep +
                               os.environ.get("PATH", os.defpath))
        path.start()
        self.addCleanup(path.stop)
        patch = mock.patch.object(detectors, "KMEMLEAK_MIN_AGE", -1.0)
        patch.start()
        self.addCleanup(patch.stop)

    def run_detected(self, *args, **kw):
        return self.run_tests("--detectors", *args, detector_root=self.root,
                              boot_log=lambda: BOOT_LOG, **kw)

    def got(self, doc):
        return {n: t["result"] for n, t in doc["tests"].items()}

    def test_detectors_judge_every_test(self):
        code, out, doc = self.run_detected(
            "--igt", self.fake("detected", DETECTED_IGT))
        self.assertEqual(code, 0)
        self.assertEqual(self.got(doc), {
            "detectors@live": "pass",
            "igt@detected@clean": "pass",
            "igt@detected@unbind-held": "dmesg-fail",
            "igt@detected@lock-inversion": "dmesg-fail",
            "detectors@leak-check": "pass"})
        held = doc["tests"]["igt@detected@unbind-held"]
        self.assertIn("error_count 0 -> 1", held["out"])
        self.assertIn("0000:01:00.0 refgem scather-gather", held["out"])
        self.assertIn("lockdep switched itself off",
                      doc["tests"]["igt@detected@lock-inversion"]["out"])
        self.assertIn("lockdep was off",
                      doc["tests"]["detectors@leak-check"]["out"])
        lines = out.splitlines()
        self.assertIn("cases to run", lines[0])
        self.assertIn("detectors@live pass", lines[1])
        self.assertIn("[5/5] detectors@leak-check pass", out)

    def test_dead_detector_fails_live_loudly(self):
        put(self.root, "proc/cmdline", "console=ttyS0\n")
        _, out, doc = self.run_detected(
            "--igt", self.fake("detected", DETECTED_IGT))
        self.assertEqual(doc["tests"]["detectors@live"]["result"], "fail")
        self.assertIn("KASAN: NOT LIVE", doc["tests"]["detectors@live"]["out"])
        self.assertIn("THE DETECTORS ARE NOT ALL LIVE in boot 1", out)

    def test_kselftest_tests_are_judged(self):
        ksft = self.fake("ksft", """\
            #!/bin/sh
            echo "TAP version 13"; echo "1..2"
            echo "#  RUN           a.first ..."
            echo "ok 1 a.first"
            echo "#  RUN           a.second ..."
            echo "14,0,0,-;refgem-ksft: starting a.second" >>"$FAKE_KMSG"
            echo "4,0,0,-;DMA-API: refgem 0000:01:00.0: device driver has" \
                "pending DMA allocations while released from device" \
                >>"$FAKE_KMSG"
            echo "1" > "$FAKE_ROOT/sys/kernel/debug/dma-api/error_count"
            echo "ok 2 a.second"
            """)
        _, _, doc = self.run_detected("--kselftest", ksft)
        # Settled after the rise: it belongs to the test that logged it.
        self.assertEqual(doc["tests"]["kselftest@ksft@a.first"]["result"],
                         "pass")
        second = doc["tests"]["kselftest@ksft@a.second"]
        self.assertEqual(second["result"], "dmesg-fail")
        self.assertIn("error_count 0 -> 1", second["out"])

    def test_kunit(self):
        module = os.path.join(self.tmp, "refgem_kunit.ko")
        open(module, "w").close()
        code, out, doc = self.run_detected("--kunit", module)
        self.assertEqual(self.got(doc), {
            "detectors@live": "pass",
            "kunit@refgem_sgt@map_once": "pass",
            "kunit@refgem_sgt@revoke_then_free": "dmesg-fail",
            "detectors@leak-check": "pass"})
        failed = doc["tests"]["kunit@refgem_sgt@revoke_then_free"]
        self.assertIn("EXPECTATION FAILED", failed["out"])
        self.assertIn("EXPECTATION FAILED", failed["dmesg"])
        self.assertNotIn("not ok 1 refgem_sgt", doc["tests"][
            "kunit@refgem_sgt@map_once"]["dmesg"])
        self.assertEqual(doc["refgem"]["kunit"], ["kunit@refgem_kunit"])
        self.assertFalse(os.path.exists(os.path.join(
            self.root, "sys/kernel/debug/kunit/refgem_sgt")))

    def test_kunit_result_from_the_log(self):
        self.env(FAKE_KUNIT="cut")
        module = os.path.join(self.tmp, "refgem_kunit.ko")
        _, _, doc = self.run_detected("--kunit", module)
        self.assertNotIn("kunit@refgem_kunit", doc["tests"])
        failed = doc["tests"]["kunit@refgem_sgt@revoke_then_free"]
        self.assertEqual(failed["result"], "dmesg-fail")
        self.assertIn("result read from the kernel log", failed["out"])

    def test_kunit_problems_keep_the_module_entry(self):
        module = os.path.join(self.tmp, "refgem_kunit.ko")
        for mode, result, why in (
                ("refuse", "fail", "insmod exited with 1"),
                ("short", "incomplete", "1 of 2 planned cases"),
                ("dma", "dmesg-fail", "error_count 0 -> 1")):
            with self.subTest(mode):
                self.env(FAKE_KUNIT=mode)
                put(self.root, detectors.DMA_API + "/error_count", "0\n")
                results = os.path.join(self.tmp, "results-" + mode)
                _, _, doc = self.run_tests("--kunit", module,
                                           results=results,
                                           detector_root=self.root) \
                    if mode == "refuse" else self.run_detected(
                        "--kunit", module, results=results)
                whole = doc["tests"]["kunit@refgem_kunit"]
                self.assertEqual(whole["result"], result)
                self.assertIn(why, whole["out"])

    def test_kunit_taint_n_only_for_kunit(self):
        module = os.path.join(self.tmp, "refgem_kunit.ko")
        _, _, doc = self.run_tests("--kunit", module, detector_root=self.root)
        self.assertNotIn("kunit@refgem_kunit", doc["tests"])
        self.assertEqual(doc["tests"]["kunit@refgem_sgt@map_once"]["result"],
                         "pass")
        taint_igt = self.fake("taint_n", '''\
            #!/usr/bin/python3
            import os, sys
            if sys.argv[1:] == ["--list-subtests"]:
                sys.exit(79)
            with open(os.environ["FAKE_TAINT"], "w") as f:
                f.write(str(0x3000 | (1 << 18)))
            ''')
        put(self.tmp, "tainted", str(0x3000))    # a fresh boot
        _, _, doc = self.run_tests("--igt", taint_igt,
                                   results=os.path.join(self.tmp, "r2"))
        self.assertEqual(doc["tests"]["igt@taint_n"]["result"], "dmesg-fail",
                         doc["tests"]["igt@taint_n"])

    def test_resume(self):
        """A dead guest's run resumes: live is checked again in the new
        boot, the leak check and the KUnit module run once, at the end."""
        from .test_resume import RESUME_IGT
        state = os.path.join(self.tmp, "state")
        os.mkdir(state)
        self.env(FAKE_STATE=state)
        igt = self.fake("fake_resume", RESUME_IGT)
        module = os.path.join(self.tmp, "refgem_kunit.ko")
        with self.assertRaises(GuestDied):
            self.run_detected("--igt", igt, "--kunit", module,
                              klog=DyingKernelLog(self.kmsg, self.tainted))
        open(self.kmsg, "w").close()
        put(self.root, "proc/cmdline", "single-shot\n")
        _, _, doc = self.run_detected("--igt", igt, "--kunit", module,
                                      "--resume", "crash")
        got = self.got(doc)
        self.assertEqual(got["igt@fake_resume@die"], "crash")
        self.assertEqual(got["igt@fake_resume@d"], "pass")
        self.assertEqual(got["kunit@refgem_sgt@map_once"], "pass")
        self.assertEqual(got["detectors@leak-check"], "pass")
        live = doc["tests"]["detectors@live"]
        self.assertEqual(live["result"], "fail")
        self.assertIn("boot 2", live["out"])
        # Resumed once more after the end: nothing runs again.
        _, _, again = self.run_detected("--igt", igt, "--kunit", module,
                                        "--resume", "crash")
        self.assertEqual(self.got(again), got)

    def test_no_shards(self):
        import contextlib
        import io
        with self.assertRaises(SystemExit), \
                contextlib.redirect_stderr(io.StringIO()):
            self.run_detected("--shard", "1/2")
