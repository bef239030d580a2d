"""refgem-gate: judge a results directory against drm-ci expectations.

For each test (named as in expectations.py):
  - matches <target>-skips.txt: not judged (it should not have run at all;
    if it did, that is only noted);
  - matches <target>-flakes.txt: never fails the gate, reported if not pass;
  - listed in <target>-fails.txt: must end with exactly the listed Result;
    pass or skip is an "unexpected improvement", any other result is
    unexpected;
  - otherwise: pass and skip are fine, every other result is unexpected
    (notrun too: a test the run did not reach has not passed).
A fails entry with no result at all is "missing", and a run without any
test is unexpected in itself. Exit 0 when nothing was unexpected, 1 when
something was, 2 when the inputs cannot be read: a missing or malformed
results.json never passes.

--compare BASELINE.json NEW.json lists regressions (pass -> anything else,
skip included) and fixes (anything -> pass); exit 1 on regressions.
"""
import argparse
import os
import sys

from . import expectations as exp
from .results import FILENAME, ResultsError, load

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def judge(tests, fails, flakes, skips):
    """(unexpected, notes, counts): lines to print and per-kind counts."""
    unexpected, notes = [], []
    counts = {"pass": 0, "expected": 0, "skip": 0, "flake": 0, "skipped": 0}
    seen = set()
    for name in sorted(tests):
        result = tests[name]["result"]
        k = exp.key(name)
        seen.add(k)
        have = exp.RESULT_NAMES[result]
        if exp.matches(skips, k):
            counts["skipped"] += 1
            if result not in ("skip", "notrun"):
                notes.append(f"note: {k} is in skips but ran ({have}); ignored")
            continue
        if exp.matches(flakes, k):
            counts["flake"] += 1
            if result != "pass":
                notes.append(f"flake: {k} ({have}); ignored")
            continue
        want = fails.get(k)
        if want is None:
            if result in ("pass", "skip"):
                counts[result] += 1
                if result == "skip":
                    notes.append(f"skip: {k}")
            else:
                unexpected.append(f"unexpected {result}: {k}")
        elif have == want:
            counts["expected"] += 1
        elif result in ("pass", "skip"):
            unexpected.append(f"unexpected improvement: {k} "
                              f"({have}, expected {want})")
        else:
            unexpected.append(f"unexpected {result}: {k} (expected {want})")
    for k in sorted(set(fails) - seen):
        if exp.matches(skips, k) or exp.matches(flakes, k):
            notes.append(f"note: {k} is in fails but also in skips/flakes")
        else:
            unexpected.append(f"missing: {k} (expected {fails[k]})")
    return unexpected, notes, counts


def gate(results_dir, target, expdir):
    doc = load(os.path.join(results_dir, FILENAME))
    if not os.path.isdir(expdir):
        raise OSError(f"no expectations directory {expdir}")
    base = os.path.join(expdir, target)
    unexpected, notes, c = judge(doc["tests"],
                                 exp.read_fails(base + "-fails.txt"),
                                 exp.read_patterns(base + "-flakes.txt"),
                                 exp.read_patterns(base + "-skips.txt"))
    total = len(doc["tests"])
    if not total:
        unexpected.append("unexpected: the results hold no tests at all")
    for line in notes + unexpected:
        print(line)
    if unexpected:
        print(f"gate: FAILED, {len(unexpected)} unexpected in {total} tests "
              f"(target {target})")
        return 1
    print(f"gate: passed, {total} tests: {c['pass']} pass, {c['expected']} "
          f"expected failures, {c['skip']} skip, {c['flake']} flaky, "
          f"{c['skipped']} skip-listed (target {target})")
    return 0


def compare(baseline_path, new_path):
    old = load(baseline_path)["tests"]
    new = load(new_path)["tests"]
    both = [n for n in sorted(old) if n in new]
    regressions = [f"regression: {n} (pass -> {new[n]['result']})" for n in both
                   if old[n]["result"] == "pass" and new[n]["result"] != "pass"]
    fixes = [f"fix: {n} ({old[n]['result']} -> pass)" for n in both
             if old[n]["result"] != "pass" and new[n]["result"] == "pass"]
    gone = [f"gone: {n} ({old[n]['result']})" for n in sorted(set(old) - set(new))]
    added = [f"new: {n} ({new[n]['result']})" for n in sorted(set(new) - set(old))]
    for line in gone + added + fixes + regressions:
        print(line)
    print(f"compare: {len(regressions)} regressions, {len(fixes)} fixes, "
          f"{len(gone)} gone, {len(added)} new")
    return 1 if regressions else 0


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="refgem-gate",
        description="Judge refgem results against drm-ci style expectations.")
    p.add_argument("--results", metavar="DIR", help="results directory")
    p.add_argument("--target", help="expectation files <TARGET>-{fails,"
                   "flakes,skips}.txt")
    p.add_argument("--expectations", metavar="DIR",
                   default=os.path.join(REPO, "expectations"),
                   help="default: %(default)s")
    p.add_argument("--compare", nargs=2, metavar=("BASELINE.json", "NEW.json"),
                   help="list regressions and fixes between two runs")
    args = p.parse_args(argv)
    if args.compare and (args.results or args.target):
        p.error("--compare takes no --results/--target")
    if not args.compare and not (args.results and args.target):
        p.error("--results and --target are required")
    try:
        if args.compare:
            return compare(*args.compare)
        return gate(args.results, args.target, args.expectations)
    except (OSError, ResultsError, exp.ExpectationError) as e:
        print(f"refgem-gate: {e}", file=sys.stderr)
        print("gate: FAILED, inputs unusable")
        return 2
