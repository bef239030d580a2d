"""A results directory in igt_runner's layout.

DIR/results.json is igt_runner's piglit-style document (results_version 10)
and DIR/0, DIR/1, ... hold each job's out.txt, err.txt and dmesg.txt. Two
additions that igt tools ignore: each test carries "job" (its job directory
name) and, like igt_runner, "dmesg-warnings" when the kernel log judged it.

results.json is rewritten atomically after every change, so a guest that
dies mid-run leaves a valid document with everything finished so far.

refgem's own state of the run lives under the top-level key "refgem"
(igt tools ignore it): "boots" (guests the run took), "complete" (the runner
reached the end of its plan), "resumed" (one entry per resume: the boot, the
tests the dead guest left unfinished and what they became), "shard"
({"index", "total", "cases"}: the whole sorted case list) and "cut_short"
(why the run ended early, set on the host). A test re-run as a flake
carries "attempts": [{"result", "job"}, ...].
"""
import json
import os
import time

RESULTS = ("pass", "fail", "skip", "crash", "timeout", "incomplete", "abort",
           "notrun", "warn", "dmesg-warn", "dmesg-fail")
VERSION = 10
FILENAME = "results.json"


class ResultsError(Exception):
    """results.json is missing, unreadable or not a valid results document."""


def timeattr(start, end):
    return {"__type__": "TimeAttribute", "start": start, "end": end}


def binary_of(name):
    """Totals bucket of a test: "igt@bin@sub" -> "igt@bin"."""
    return "@".join(name.split("@")[:2])


def duration(test):
    t = test.get("time") or {}
    return max(0.0, float(t.get("end", 0.0)) - float(t.get("start", 0.0)))


def totals(tests):
    """igt_runner's totals: "" and "root" for the run, one bucket per binary."""
    out = {}
    for name, test in tests.items():
        for bucket in ("", "root", binary_of(name)):
            counts = out.setdefault(bucket, dict.fromkeys(RESULTS, 0))
            counts[test["result"]] += 1
    return out


def runtimes(tests):
    per_binary = {}
    for name, test in tests.items():
        b = binary_of(name)
        per_binary[b] = per_binary.get(b, 0.0) + duration(test)
    return {b: {"time": timeattr(0.0, t)} for b, t in per_binary.items()}


def validate(doc):
    """Raise ResultsError unless doc is a results document we can judge."""
    if not isinstance(doc, dict) or doc.get("__type__") != "TestrunResult":
        raise ResultsError("not a TestrunResult document")
    if doc.get("results_version") != VERSION:
        raise ResultsError(f"results_version is {doc.get('results_version')!r}, "
                           f"expected {VERSION}")
    tests = doc.get("tests")
    if not isinstance(tests, dict):
        raise ResultsError("no 'tests' object")
    for name, test in tests.items():
        if not isinstance(test, dict) or test.get("result") not in RESULTS:
            raise ResultsError(f"test {name!r} has no valid result")


def load(path):
    """The validated document in the results.json at path."""
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        raise ResultsError(f"{path}: {e}") from e
    try:
        validate(doc)
    except ResultsError as e:
        raise ResultsError(f"{path}: {e}") from e
    return doc


def _write_atomically(path, text):
    """Replace path with text, never leaving half a file. No fsync: the
    guest writes through 9p with cache=none, so every write is in the
    host's page cache when it returns and survives the guest (a panic,
    the watchdog, QEMU killed); only the host's own crash would lose it,
    and then the run is lost anyway. fsync made each write a round trip
    to the host's disk, twice per test."""
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def meta(doc):
    """refgem's state of the run (see above); {} for other documents."""
    m = doc.get("refgem")
    return m if isinstance(m, dict) else {}


def pending(doc):
    """Whether the run has not reached its end (the runner stopped or its
    guest died): such a run can be resumed."""
    m = meta(doc)
    if "complete" in m:
        return not m["complete"]
    return any(t["result"] in ("notrun", "incomplete")
               for t in doc["tests"].values())


class Results:
    def __init__(self, root, doc):
        self.root = root
        self.doc = doc
        self.doc.setdefault("refgem", {})

    @classmethod
    def create(cls, root, name):
        """A new, empty run in root; refuses to overwrite an existing one."""
        os.makedirs(root, exist_ok=True)
        if os.path.exists(os.path.join(root, FILENAME)):
            raise ResultsError(f"{root} already holds a {FILENAME}")
        now = time.time()
        doc = {
            "__type__": "TestrunResult",
            "results_version": VERSION,
            "name": name,
            "uname": " ".join(os.uname()),
            "time_elapsed": timeattr(now, now),
            "tests": {},
            "totals": {},
            "runtimes": {},
        }
        results = cls(root, doc)
        results.meta.update(boots=1, complete=False, resumed=[])
        results.write()
        return results

    @classmethod
    def open(cls, root):
        """The run already in root, to resume it."""
        return cls(root, load(os.path.join(root, FILENAME)))

    @property
    def tests(self):
        return self.doc["tests"]

    @property
    def meta(self):
        return self.doc["refgem"]

    def new_job(self):
        """Create the next numbered job directory and return its name."""
        used = [int(n) for n in os.listdir(self.root) if n.isdigit()]
        job = str(max(used, default=-1) + 1)
        os.mkdir(os.path.join(self.root, job))
        return job

    def job_dir(self, job):
        return os.path.join(self.root, job)

    def set(self, name, result, *, start, end, out="", err="", dmesg="",
            job=None, warnings=(), attempts=None):
        if result not in RESULTS:
            raise ValueError(f"unknown result {result!r}")
        test = {"out": out, "err": err, "dmesg": dmesg, "result": result,
                "time": timeattr(start, end)}
        if job is not None:
            test["job"] = job
        if warnings:
            test["dmesg-warnings"] = "\n".join(warnings) + "\n"
        if attempts:
            test["attempts"] = attempts
        self.tests[name] = test

    def cut_short(self, why):
        """Record that the run ended early, on the host: what a dead guest
        left incomplete keeps that result, with its output and a note."""
        self.meta["cut_short"] = why
        for test in self.tests.values():
            if test["result"] != "incomplete":
                continue
            for part, f in (("out", "out.txt"), ("err", "err.txt"),
                            ("dmesg", "dmesg.txt")):
                try:
                    with open(os.path.join(self.root, test.get("job", ""), f),
                              encoding="utf-8", errors="replace") as fh:
                        test[part] = fh.read()
                except OSError:
                    pass
            test["out"] += f"refgem-runner: the run was cut short while " \
                           f"this test ran: {why}\n"

    def remove(self, name):
        self.tests.pop(name, None)

    def write(self, stamp=True):
        """Rewrite results.json; stamp: the run's time ends now."""
        if stamp:
            self.doc["time_elapsed"]["end"] = time.time()
        self.doc["totals"] = totals(self.tests)
        self.doc["runtimes"] = runtimes(self.tests)
        _write_atomically(os.path.join(self.root, FILENAME),
                          json.dumps(self.doc, indent=1, sort_keys=True) + "\n")
