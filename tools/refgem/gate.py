"""refgem-gate: judge a results directory against drm-ci expectations.

For each test (named as in expectations.py):
  - matches <target>-skips.txt: not judged (it should not have run at all;
    if it did, that is only noted);
  - matches <target>-flakes.txt: the runner ran it again until it passed;
    pass or skip is fine (noted when it took more than one attempt), any
    other result means it never passed and is judged like any other test
    (unlike drm-ci, where a flake never fails the job: here the re-runs
    already gave it its chances);
  - listed in <target>-fails.txt: must end with exactly the listed Result,
    and, when <target>-reasons.txt has a line for it, say why in its
    output or kernel log; pass or skip is an "unexpected improvement", any other result
    is unexpected;
  - otherwise: pass and skip are fine, every other result is unexpected
    (notrun too: a test the run did not reach has not passed).
A fails entry with no result at all is "missing"; a run without any test,
a run cut short and a run that did not reach its end are unexpected in
themselves. The results of one shard (refgem-run-tests --shard) are judged
as that shard: only fails entries of its own cases can be missing.
Exit 0 when nothing was unexpected, 1 when something was, 2 when the inputs
cannot be read: a missing or malformed results.json never passes.

--compare BASELINE.json NEW.json lists regressions (pass -> anything else,
skip included) and fixes (anything -> pass); exit 1 on regressions.
"""
import argparse
import os
import sys

from . import expectations as exp
from . import shard
from .results import FILENAME, ResultsError, load, meta

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_name(key):
    """The test name of an expectation file's name (key() reversed)."""
    return key if key.startswith("kselftest@") else "igt@" + key


def missing_reason(test, k, reasons):
    """The output regex an expected failure's output does not match, if
    any of those its name asks for."""
    text = "\n".join(test.get(f) or "" for f in ("out", "err", "dmesg"))
    for name, why in reasons:
        if name.search(k) and not why.search(text):
            return why.pattern
    return None


def judge(tests, fails, flakes, skips, mine=None, reasons=()):
    """(unexpected, notes, counts): lines to print and per-kind counts.
    mine(key): whether a fails entry is this run's to find (a shard's)."""
    unexpected, notes = [], []
    counts = {"pass": 0, "expected": 0, "skip": 0, "flake": 0, "skipped": 0}
    seen = set()
    for name in sorted(tests):
        test = tests[name]
        result = test["result"]
        k = exp.key(name)
        seen.add(k)
        have = exp.RESULT_NAMES[result]
        if exp.matches(skips, k):
            counts["skipped"] += 1
            if result not in ("skip", "notrun"):
                notes.append(f"note: {k} is in skips but ran ({have}); ignored")
            continue
        tries = len(test.get("attempts", ())) or 1
        flaky = ""
        if exp.matches(flakes, k):
            if result in ("pass", "skip"):
                counts["flake"] += 1
                if tries > 1:
                    notes.append(f"flake: {k} ({have} on attempt {tries})")
                continue
            if result != "notrun":
                flaky = f", flaky: never passed in {tries} attempts"
        want = fails.get(k)
        if want is None:
            if result in ("pass", "skip"):
                counts[result] += 1
                if result == "skip":
                    notes.append(f"skip: {k}")
            else:
                unexpected.append(f"unexpected {result}: {k}"
                                  + (f" ({flaky[2:]})" if flaky else ""))
        elif have in want.split("|"):
            why = missing_reason(test, k, reasons)
            if why is None:
                counts["expected"] += 1
            else:
                unexpected.append(f"unexpected reason: {k} ({have} as "
                                  f"expected, but no line of its output or dmesg matches "
                                  f"{why!r})")
        elif result in ("pass", "skip"):
            unexpected.append(f"unexpected improvement: {k} "
                              f"({have}, expected {want})")
        else:
            unexpected.append(f"unexpected {result}: {k} (expected {want}"
                              f"{flaky})")
    for k in sorted(set(fails) - seen):
        if mine is not None and not mine(k):
            continue
        if exp.matches(skips, k):
            notes.append(f"note: {k} is in fails but also in skips")
        else:
            unexpected.append(f"missing: {k} (expected {fails[k]})")
    return unexpected, notes, counts


def shard_filter(info):
    """mine(key) for the results of shard info ({"index", "total",
    "cases"}): entries of its own cases, and those of no known case on
    shard 1 (so exactly one shard reports them)."""
    cases = set(info["cases"])
    own = set(shard.select(cases, info["index"], info["total"]))

    def mine(k):
        case = shard.case_of(test_name(k))
        return case in own if case in cases else info["index"] == 1
    return mine


def run_problems(doc):
    """Lines for a run that did not end as a whole run should."""
    m = meta(doc)
    if m.get("cut_short"):
        return [f"unexpected: the run was cut short: {m['cut_short']}"]
    if m.get("complete") is False:
        return ["unexpected: the run did not reach its end"]
    return []


def gate(results_dir, target, expdir):
    doc = load(os.path.join(results_dir, FILENAME))
    if not os.path.isdir(expdir):
        raise OSError(f"no expectations directory {expdir}")
    base = os.path.join(expdir, target)
    info = meta(doc).get("shard")
    unexpected, notes, c = judge(doc["tests"],
                                 exp.read_fails(base + "-fails.txt"),
                                 exp.read_patterns(base + "-flakes.txt"),
                                 exp.read_patterns(base + "-skips.txt"),
                                 shard_filter(info) if info else None,
                                 exp.read_reasons(base + "-reasons.txt"))
    unexpected += run_problems(doc)
    total = len(doc["tests"])
    if not total and not (info and info["cases"]):
        unexpected.append("unexpected: the results hold no tests at all")
    what = f"target {target}"
    if info:
        what += f", shard {info['index']}/{info['total']}"
    for line in notes + unexpected:
        print(line)
    if unexpected:
        print(f"gate: FAILED, {len(unexpected)} unexpected in {total} tests "
              f"({what})")
        return 1
    print(f"gate: passed, {total} tests: {c['pass']} pass, {c['expected']} "
          f"expected failures, {c['skip']} skip, {c['flake']} flaky, "
          f"{c['skipped']} skip-listed ({what})")
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
