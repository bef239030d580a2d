"""evidence: a failed stage's reasons and stuck tasks in a few lines."""
import os
import tempfile
import unittest

from refgem import evidence

STAT = "0 0 0 -1 4194304 103 179 0 2 6 7 14 6 20 0 1 0 870"

DUMP = f"""==== boot 1 (refgem-iommu) ====
== 1/task/1 1 (init) S 0 {STAT}
wchan do_wait
[<0>] do_wait+0x114/0x320
== 40/task/40 40 (kworker/0:2) D 2 {STAT}
wchan rpm_resume
[<0>] rpm_resume+0x1/0x2
[<0>] pci_device_remove+0x1/0x2
== 124/task/124 124 (python3) S 1 {STAT}
wchan do_sys_poll
[<0>] do_sys_poll+0x1/0x2
[<0>] __x64_sys_poll+0x1/0x2
== 130/task/131 131 (refgem_prime_un) S 124 {STAT}
wchan p9_client_rpc
[<0>] p9_client_rpc+0x1/0x2 [9pnet]
[<0>] p9_client_write+0x1/0x2 [9pnet]
[<0>] v9fs_file_write_iter+0x1/0x2 [9p]
[<0>] vfs_write+0x1/0x2
[<0>] ksys_write+0x1/0x2
[<0>] do_syscall_64+0x1/0x2
==== boot 2 (refgem-iommu) ====
== 1/task/1 1 (init) S 0 {STAT}
wchan do_wait
[<0>] do_wait+0x114/0x320
"""


class TasksTest(unittest.TestCase):
    def test_stuck_tasks_only_with_their_boot_and_frames(self):
        self.assertEqual(evidence.tasks(DUMP), [
            "boot 1: task 40 (kworker/0:2) D wchan rpm_resume: "
            "rpm_resume < pci_device_remove",
            "boot 1: task 131 (refgem_prime_un) S wchan p9_client_rpc: "
            "p9_client_rpc < p9_client_write < v9fs_file_write_iter "
            "< vfs_write < ksys_write"])

    def test_limit(self):
        lines = evidence.tasks(DUMP, limit=1)
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[-1], "... and 1 more tasks")

    def test_nothing_stuck(self):
        self.assertEqual(evidence.tasks(DUMP.split("== 40/")[0]), [])
        self.assertEqual(evidence.tasks(""), [])


class StageTest(unittest.TestCase):
    def test_gate_lines_then_tasks(self):
        with tempfile.TemporaryDirectory() as d:
            log = os.path.join(d, "run.log")
            with open(log, "w") as f:
                f.write("[1/2] igt@a pass 1s\n"
                        "== t: the guest watchdog fired in boot 1 (status "
                        "124); resuming the run in a fresh guest\n"
                        "not passed:\n"
                        "  timeout  kselftest@x@y: killed after 120s  [d]\n"
                        "unexpected timeout: kselftest@x@y\n"
                        "gate: FAILED, 1 unexpected in 2 tests (target t)\n")
            with open(os.path.join(d, "tasks.txt"), "w") as f:
                f.write(DUMP)
            lines = evidence.stage(log, d)
        self.assertEqual(lines[:4], [
            "== t: the guest watchdog fired in boot 1 (status 124); "
            "resuming the run in a fresh guest",
            "unexpected timeout: kselftest@x@y",
            "timeout  kselftest@x@y: killed after 120s  [d]",
            "gate: FAILED, 1 unexpected in 2 tests (target t)"])
        self.assertEqual(len(lines), 6)
        self.assertTrue(lines[4].startswith("boot 1: task 40 "))

    def test_console_when_no_tasks_txt(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "serial.log"), "w") as f:
                f.write("[  2.1] refgem 0000:01:00.0: probed\n"
                        "refgem-vm: guest watchdog fired after 2400 s\n"
                        # What the watchdog prints: the D tasks only.
                        + DUMP.split("== 1/")[1].split("== 124/")[0]
                        .split("\n", 1)[1] + "[  2.2] sysrq: Show locks\n")
            lines = evidence.stage(os.path.join(d, "none.log"), d)
        self.assertEqual(lines, [
            "boot ?: task 40 (kworker/0:2) D wchan rpm_resume: "
            "rpm_resume < pci_device_remove"])

    def test_kernel_dump_on_the_console(self):
        """sysrq-w's format, as refgem-vm --stall gets it."""
        text = """==== boot 1 (refgem-iommu) ====
[  27.53] sysrq: Show Blocked State
[  27.53] task:refgem_prime_un state:D stack:0     pid:131   ppid:124    flags:0x00004002
[  27.53] Call Trace:
[  27.53]  <TASK>
[  27.53]  __schedule+0x34d/0x9e0
[  27.53]  schedule+0x5a/0xd0
[  27.53]  ? p9_client_prepare_req+0x1/0x2 [9pnet]
[  27.53]  p9_client_rpc+0x1/0x2 [9pnet]
[  27.53]  v9fs_file_write_iter+0x1/0x2 [9p]
[  27.53]  </TASK>
"""
        self.assertEqual(evidence.tasks(text), [
            "boot 1: task 131 (refgem_prime_un) D wchan p9_client_rpc: "
            "p9_client_rpc < v9fs_file_write_iter"])

    def test_a_task_in_two_dumps_once(self):
        twice = DUMP.split("==== boot 2")[0] + DUMP.split("==== boot 2")[0] \
            .split("\n", 1)[1]
        self.assertEqual(len(evidence.tasks(twice)), 2)

    def test_missing_files_say_nothing(self):
        self.assertEqual(evidence.stage("/nonexistent/log", "/nonexistent"),
                         [])


if __name__ == "__main__":
    unittest.main()
