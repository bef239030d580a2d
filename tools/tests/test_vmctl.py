"""refgem-vm's hot-plug request service (Vmctl), with the QMP side
replaced: each request is answered exactly once."""
import importlib.machinery
import importlib.util
import os
import tempfile
import threading
import unittest
import unittest.mock

TOOLS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _load_refgem_vm():
    path = os.path.join(TOOLS, "refgem-vm")
    loader = importlib.machinery.SourceFileLoader("refgem_vm", path)
    spec = importlib.util.spec_from_loader("refgem_vm", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


refgem_vm = _load_refgem_vm()


class CountingVmctl(refgem_vm.Vmctl):
    """Vmctl whose QMP side only counts what it was asked."""

    def __init__(self, directory):
        super().__init__(directory, "/nonexistent", threading.Event())
        self.handled = []

    def handle(self, op, bdf):
        self.handled.append((op, bdf))


class VmctlTest(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = os.path.join(tmp.name, "vmctl")
        self.vmctl = CountingVmctl(self.dir)

    def request(self, name, text):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)

    def test_request_answered_once_while_the_guest_cleans_up(self):
        req = os.path.join(self.dir, "req-7-0")
        self.request("req-7-0", "unplug 0000:01:00.0\n")
        self.vmctl.scan()
        with open(req + ".reply") as f:
            self.assertEqual(f.read(), "ok\n")
        # lib/vmctl.c deletes the reply first, then the request: in
        # between, the request must not be served again.
        os.unlink(req + ".reply")
        self.vmctl.scan()
        self.assertEqual(self.vmctl.handled, [("unplug", "0000:01:00.0")])
        self.assertFalse(os.path.exists(req + ".reply"))
        os.unlink(req)
        self.vmctl.scan()
        # A later process may reuse the name: a new request.
        self.request("req-7-0", "replug 0000:01:00.0\n")
        self.vmctl.scan()
        self.assertEqual(self.vmctl.handled, [("unplug", "0000:01:00.0"),
                                              ("replug", "0000:01:00.0")])

    def test_partial_requests_and_replies_are_not_requests(self):
        self.request("req-7-0.tmp", "unplug 0000:01:00.0\n")
        self.request("req-8-0.reply", "ok\n")
        self.vmctl.scan()
        self.assertEqual(self.vmctl.handled, [])

    def test_a_failure_is_an_answer(self):
        class Failing(CountingVmctl):
            def handle(self, op, bdf):
                raise RuntimeError("no QEMU device with an id at " + bdf)
        vmctl = Failing(self.dir)
        self.request("req-9-0", "unplug 0000:03:00.0\n")
        vmctl.scan()
        with open(os.path.join(self.dir, "req-9-0.reply")) as f:
            self.assertEqual(f.read(), "error no QEMU device with an id at "
                             "0000:03:00.0\n")


if __name__ == "__main__":
    unittest.main()


class FakeQmp:
    """query-pci with one device at 00:03.0 behind port rp3; records the
    rest."""

    def __init__(self, hotpluggable=True):
        self.calls = []
        self.hotpluggable = hotpluggable

    def command(self, name, **args):
        self.calls.append((name, args))
        if name == "qom-get":
            return self.hotpluggable
        if name == "query-pci":
            return [{"bus": 0, "devices": [{
                "bus": 0, "slot": 2, "function": 0, "qdev_id": "rp3",
                "pci_bridge": {"bus": {"number": 3}, "devices": [{
                    "bus": 3, "slot": 0, "function": 0,
                    "qdev_id": "dev3"}]}}]}]
        return {}

    def wait_event(self, *args):
        return {}


class DeviceTest(unittest.TestCase):
    """--device: extra PCI devices behind root ports, plugged back as
    they were given."""

    def args(self, *argv):
        with unittest.mock.patch("sys.argv", ["refgem-vm", "--kernel", "k",
                                              "--state", "s", *argv, "true"]):
            return refgem_vm.parse_args()

    def test_command_line(self):
        a = self.args("--edu", "2", "--device",
                      "virtio-gpu-pci,iommu_platform=on")
        cmd = refgem_vm.qemu_command(a, "initrd", [])
        self.assertIn("pcie-root-port,id=rp3,slot=3,chassis=3", cmd)
        self.assertIn("virtio-gpu-pci,iommu_platform=on,bus=rp3,id=dev3", cmd)

    def test_tcg_threads(self):
        """One TCG thread unless asked: QEMU 7.2's MTTCG loses MMIO
        writes that race a memory-map change."""
        cmd = refgem_vm.qemu_command(self.args(), "initrd", [])
        self.assertEqual(cmd[cmd.index("-accel") + 1], "tcg,thread=single")
        cmd = refgem_vm.qemu_command(self.args("--tcg-threads", "multi"),
                                     "initrd", [])
        self.assertEqual(cmd[cmd.index("-accel") + 1], "tcg,thread=multi")
        cmd = refgem_vm.qemu_command(self.args("--kvm"), "initrd", [])
        self.assertEqual(cmd[cmd.index("-accel") + 1], "kvm")

    def test_replug_with_its_properties(self):
        a = self.args("--edu", "2", "--device",
                      "virtio-gpu-pci,iommu_platform=on,max_outputs=1")
        specs = refgem_vm.device_specs(a)
        self.assertEqual(specs, {"dev3": ("virtio-gpu-pci", {
            "iommu_platform": True, "max_outputs": 1})})
        with tempfile.TemporaryDirectory() as d:
            v = refgem_vm.Vmctl(d, "/nonexistent", threading.Event(), specs)
            v.qmp = FakeQmp()
            v.handle("unplug", "0000:03:00.0")
            v.handle("replug", "0000:03:00.0")
        self.assertEqual(v.qmp.calls[-1], ("device_add", {
            "driver": "virtio-gpu-pci", "bus": "rp3", "id": "dev3",
            "iommu_platform": True, "max_outputs": 1}))

    def test_not_hotpluggable_is_unsupported(self):
        """QEMU refuses device_del for some types (virtio-gpu-pci): the
        guest hears "unsupported" (lib: -ENOTSUP, a skip), not an error,
        and nothing is deleted."""
        with tempfile.TemporaryDirectory() as d:
            v = refgem_vm.Vmctl(d, "/nonexistent", threading.Event())
            v.qmp = FakeQmp(hotpluggable=False)
            with self.assertRaisesRegex(refgem_vm.Unsupported,
                                        "cannot hot-unplug dev3"):
                v.handle("unplug", "0000:03:00.0")
        self.assertNotIn("device_del", [c for c, _ in v.qmp.calls])
        self.assertIn(("qom-get", {"path": "/machine/peripheral/dev3",
                                   "property": "hotpluggable"}),
                      v.qmp.calls)
