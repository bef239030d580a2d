import unittest

from refgem import igt


class IgtTest(unittest.TestCase):
    def test_names(self):
        self.assertEqual(igt.test_name("/usr/libexec/refgem_basic", "create-close"),
                         "igt@refgem_basic@create-close")
        self.assertEqual(igt.test_name("refgem_simple"), "igt@refgem_simple")

    def test_subtest_list(self):
        out = "create-close\nmmap\n\nmmap\nprime-self-import\n"
        self.assertEqual(igt.parse_subtest_list(out),
                         ["create-close", "mmap", "prime-self-import"])

    def test_exit_codes(self):
        cases = {(0, False): "pass", (77, False): "skip", (98, False): "fail",
                 (112, False): "abort", (78, False): "timeout",
                 (79, False): "skip", (1, False): "fail", (-11, False): "crash",
                 (-9, True): "timeout", (0, True): "timeout"}
        for (code, timed_out), result in cases.items():
            self.assertEqual(igt.result_from_exit(code, timed_out), result,
                             (code, timed_out))

    def test_stderr_beyond_sentinels(self):
        clean = ("Starting subtest: mmap\n"
                 "Subtest mmap: SUCCESS (0.012s)\n")
        self.assertEqual(igt.extra_stderr(clean), [])
        dynamic = ("Starting subtest: each\nStarting dynamic subtest: a\n"
                   "Dynamic subtest a: SKIP (0.000s)\nSubtest each: SUCCESS\n")
        self.assertEqual(igt.extra_stderr(dynamic), [])
        noisy = clean + "(refgem_basic:123) WARNING: slow mmap\n"
        self.assertEqual(igt.extra_stderr(noisy),
                         ["(refgem_basic:123) WARNING: slow mmap"])
