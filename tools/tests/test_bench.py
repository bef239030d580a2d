"""bench: the table read from refgem_bench's figures."""
import json
import os
import tempfile
import unittest

from refgem import bench

DOC = {"kernel": "6.1", "scale": 1, "cases": {
    "noop-vgem": {"what": "x", "iterations": 10, "median_us": 5.0,
                  "min_us": 4.0},
    "noop": {"what": "x", "baseline": "noop-vgem", "iterations": 10,
             "median_us": 6.0, "min_us": 5.0},
    "dma": {"what": "x", "baseline": "noop", "iterations": 3,
            "median_us": 2e6, "min_us": 1.5e6, "bytes": 1048576,
            "mib_s": 0.5},
    "fault-vgem": {"what": "x", "skip": "no vgem device"},
    "bad": {"what": "x", "error": "Invalid argument"},
}}


class TableTest(unittest.TestCase):
    def test_ratio_to_baseline_and_units(self):
        lines = bench.table(DOC)
        row = {l.split()[0]: l for l in lines[1:]}
        self.assertIn("1.2x noop-vgem", row["noop"])
        self.assertIn("6.00 us", row["noop"])
        self.assertIn("2.00 s", row["dma"])
        self.assertIn("0.5 ", row["dma"])
        self.assertIn("3.33e+05x noop", row["dma"])
        self.assertNotIn("x ", row["noop-vgem"].split("us", 2)[-1])
        self.assertTrue(row["fault-vgem"].endswith("no vgem device"))
        self.assertTrue(row["bad"].endswith("Invalid argument"))

    def test_paired_ratio_wins(self):
        doc = {"cases": {**DOC["cases"], "noop": {
            **DOC["cases"]["noop"], "paired_ratio": 0.97}}}
        row = {l.split()[0]: l for l in bench.table(doc)[1:]}
        self.assertIn("0.97x noop-vgem", row["noop"])

    def test_new_over_old(self):
        old = {"cases": {"noop": {"median_us": 3.0}}}
        lines = bench.table(DOC, old)
        self.assertIn("new/old", lines[0])
        row = {l.split()[0]: l for l in lines[1:]}
        self.assertTrue(row["noop"].endswith(" 2"))
        self.assertTrue(row["noop-vgem"].endswith(" -"))

    def test_load_wants_cases(self):
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "bench.json")
            with open(p, "w") as f:
                json.dump({"kernel": "6.1"}, f)
            with self.assertRaises(ValueError):
                bench.load(p)


if __name__ == "__main__":
    unittest.main()
