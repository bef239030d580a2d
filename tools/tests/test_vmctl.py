"""refgem-vm's hot-plug request service (Vmctl), with the QMP side
replaced: each request is answered exactly once."""
import importlib.machinery
import importlib.util
import os
import tempfile
import threading
import unittest

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
