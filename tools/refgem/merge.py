"""refgem-merge: the results of a run's shards combined into one run.

Each shard directory holds what `refgem-run-tests --shard I/N` wrote. The
merged directory gets one results.json with every test, every shard's job
directories renumbered in shard order (each test's "job" and "attempts"
follow), each shard's serial.log and dmesg.txt as serial-shard<I>.log and
dmesg-shard<I>.txt, and junit.xml and summary.txt.

The shards must agree on N and on the case list, and no test may come
from two of them. A missing shard's cases are recorded notrun and the
merged run is cut short ("shard I/N missing"), as it is when a shard was
cut short or did not reach its end: a merge never hides a shard that did
not run.
"""
import argparse
import os
import shutil
import sys
import time

from . import gate, report, shard
from .results import FILENAME, Results, ResultsError, load, meta, timeattr


class MergeError(Exception):
    """Shards that cannot be merged."""


def _read_shards(dirs):
    """{index: (dir, doc)}, total, cases."""
    shards = {}
    first = None
    for d in dirs:
        doc = load(os.path.join(d, FILENAME))
        info = meta(doc).get("shard")
        if not info:
            raise MergeError(f"{d}: not a shard's results (no --shard)")
        if first is None:
            first = (d, info)
        elif info["total"] != first[1]["total"]:
            raise MergeError(f"{d} is shard {info['index']}/{info['total']}, "
                             f"{first[0]} is of {first[1]['total']} shards")
        elif info["cases"] != first[1]["cases"]:
            raise MergeError(f"{d}: its case list differs from {first[0]}'s")
        if info["index"] in shards:
            raise MergeError(f"{d} and {shards[info['index']][0]} are both "
                             f"shard {info['index']}/{info['total']}")
        shards[info["index"]] = (d, doc)
    if first is None:
        raise MergeError("no shards given")
    return shards, first[1]["total"], first[1]["cases"]


def _copy_jobs(src, merged):
    """Copy src's numbered job directories into merged; {old: new}."""
    jobs = {}
    for old in sorted((n for n in os.listdir(src) if n.isdigit()), key=int):
        new = merged.new_job()
        dst = merged.job_dir(new)
        for f in os.listdir(os.path.join(src, old)):
            shutil.copy2(os.path.join(src, old, f), os.path.join(dst, f))
        jobs[old] = new
    return jobs


def merge(out, dirs):
    """Write the merged run into out (which must not hold results yet)."""
    shards, total, cases = _read_shards(dirs)
    some = shards[min(shards)][1]
    merged = Results.create(out, some.get("name", ""))
    merged.doc["uname"] = some.get("uname", "")
    m = merged.meta
    m.update(boots=0, complete=True, resumed=[], merged=total)
    cut = []
    starts, ends = [], []
    for index in sorted(shards):
        d, doc = shards[index]
        sm = meta(doc)
        where = f"{index}/{total}"
        jobs = _copy_jobs(d, merged)
        for name, test in sorted(doc["tests"].items()):
            if name in merged.tests:
                raise MergeError(f"{name} is in more than one shard")
            test = dict(test)
            if "job" in test:
                test["job"] = jobs.get(test["job"], test["job"])
            if "attempts" in test:
                test["attempts"] = [{**a, "job": jobs.get(a["job"], a["job"])}
                                    for a in test["attempts"]]
            merged.tests[name] = test
        m["boots"] += sm.get("boots", 1)
        m["resumed"] += [{**r, "shard": where} for r in sm.get("resumed", ())]
        if sm.get("cut_short"):
            cut.append(f"shard {where}: {sm['cut_short']}")
        elif sm.get("complete") is False:
            cut.append(f"shard {where} did not reach its end")
        for log, name in (("serial.log", f"serial-shard{index}.log"),
                          ("dmesg.txt", f"dmesg-shard{index}.txt")):
            if os.path.exists(os.path.join(d, log)):
                shutil.copy2(os.path.join(d, log), os.path.join(out, name))
        t = doc.get("time_elapsed") or {}
        starts.append(t.get("start", 0.0))
        ends.append(t.get("end", 0.0))
    now = time.time()
    for index in range(1, total + 1):
        if index in shards:
            continue
        cut.append(f"shard {index}/{total} missing")
        for case in shard.select(cases, index, total):
            merged.set(case, "notrun", start=now, end=now,
                       out=f"refgem-merge: shard {index}/{total} missing\n")
    if cut:
        m["cut_short"] = "; ".join(cut)
    m["complete"] = not cut
    merged.doc["time_elapsed"] = timeattr(min(starts), max(ends))
    merged.write(stamp=False)
    return report.write(out)


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="refgem-merge",
        description="Merge the results of a run's shards into one run, "
                    "optionally gated.")
    p.add_argument("out", metavar="OUT", help="merged results directory "
                   "(new)")
    p.add_argument("shards", nargs="+", metavar="SHARD_DIR")
    p.add_argument("--target", help="gate the merged results against this "
                   "target's expectations; exit as refgem-gate does")
    p.add_argument("--expectations", metavar="DIR",
                   help="expectations directory for --target")
    args = p.parse_args(argv)
    try:
        print(merge(args.out, args.shards), end="", flush=True)
    except (OSError, ResultsError, MergeError) as e:
        print(f"refgem-merge: {e}", file=sys.stderr)
        return 2
    if not args.target:
        return 0
    gate_args = ["--results", args.out, "--target", args.target]
    if args.expectations:
        gate_args += ["--expectations", args.expectations]
    return gate.main(gate_args)
