import json
import os
import tempfile
import unittest

from refgem import results


class ResultsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.root = os.path.join(self.tmp.name, "run")

    def test_layout_and_round_trip(self):
        r = results.Results.create(self.root, "smoke")
        self.assertEqual([r.new_job(), r.new_job()], ["0", "1"])
        r.set("igt@refgem_basic@a", "pass", start=10.0, end=10.5, job="0")
        r.set("igt@refgem_basic@b", "dmesg-warn", start=11.0, end=12.0,
              job="1", warnings=["<4> [1.000000] WARNING"])
        r.set("kselftest@refgem@bo.create", "fail", start=0.0, end=2.0)
        r.write()
        self.assertEqual(sorted(os.listdir(self.root)), ["0", "1", "results.json"])

        doc = results.load(os.path.join(self.root, "results.json"))
        self.assertEqual((doc["__type__"], doc["results_version"], doc["name"]),
                         ("TestrunResult", 10, "smoke"))
        self.assertEqual(doc["time_elapsed"]["__type__"], "TimeAttribute")
        b = doc["tests"]["igt@refgem_basic@b"]
        self.assertEqual(b["time"], {"__type__": "TimeAttribute",
                                     "start": 11.0, "end": 12.0})
        self.assertEqual(b["dmesg-warnings"], "<4> [1.000000] WARNING\n")
        for key in ("out", "err", "dmesg", "result"):
            self.assertIn(key, b)
        totals = doc["totals"]
        self.assertEqual(set(totals), {"", "root", "igt@refgem_basic",
                                       "kselftest@refgem"})
        self.assertEqual(set(totals["root"]), set(results.RESULTS))
        self.assertEqual(totals["root"]["pass"], 1)
        self.assertEqual(totals[""], totals["root"])
        self.assertEqual(totals["igt@refgem_basic"]["dmesg-warn"], 1)
        self.assertEqual(doc["runtimes"]["igt@refgem_basic"]["time"]["end"], 1.5)

    def test_next_job_after_existing(self):
        os.makedirs(os.path.join(self.root, "7"))
        r = results.Results.create(self.root, "x")
        self.assertEqual(r.new_job(), "8")

    def test_refuses_to_overwrite(self):
        results.Results.create(self.root, "x")
        with self.assertRaises(results.ResultsError):
            results.Results.create(self.root, "y")

    def test_rejects_bad_documents(self):
        path = os.path.join(self.tmp.name, "r.json")
        good = {"__type__": "TestrunResult", "results_version": 10,
                "tests": {"igt@a@b": {"result": "pass"}}}
        for doc in ([], {**good, "__type__": "x"}, {**good, "results_version": 9},
                    {**good, "tests": None},
                    {**good, "tests": {"igt@a@b": {"result": "meh"}}}):
            with open(path, "w") as f:
                json.dump(doc, f)
            with self.assertRaises(results.ResultsError, msg=doc):
                results.load(path)
        with open(path, "w") as f:
            json.dump(good, f)
        results.load(path)

    def test_unknown_result_rejected_on_set(self):
        r = results.Results.create(self.root, "x")
        with self.assertRaises(ValueError):
            r.set("igt@a@b", "passed", start=0, end=0)
