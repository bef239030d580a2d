"""The runner's KUnit cases: a module loaded, its cases read and judged,
and unloaded (kunit.py). KunitCases is a mixin of runner.Runner.
"""
import os

from . import kunit


class KunitCases:
    """runner.Runner's KUnit side; uses its args, results, klog, allow,
    watch and root."""

    def run_kunit_case(self, case, progress):
        """Load, judge, unload; False if insmod could not be killed."""
        return kunit.KunitRun(case.argv[0], self.results, self.klog,
                              self.allow, self.watch, progress,
                              self.args.timeout,
                              os.path.join(self.root,
                                           kunit.DEBUGFS.lstrip("/"))).run()
