"""Wall times of `make run` / `make test`, kept for the next run to compare.

results/times-<command>.json holds the last run's stages (a target, or a
make test stage) with their wall time and exit status, the total and the
parallelism; the table printed at the end shows the previous run's time of
each stage next to this one's.
"""
import json
import os
import time


def path(results_root, command):
    return os.path.join(results_root, f"times-{command}.json")


def load(results_root, command):
    """The previous run's record, {} when there is none or it is unusable."""
    try:
        with open(path(results_root, command)) as f:
            doc = json.load(f)
        return doc if isinstance(doc.get("stages"), dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def estimates(previous):
    return {n: s.get("wall", 0.0) for n, s in
            previous.get("stages", {}).items() if isinstance(s, dict)}


def record(results_root, command, done, total, jobs):
    """Write this run's record (done: [parallel.Done] or like objects)."""
    doc = {"command": command, "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
           "jobs": jobs, "total": round(total, 1),
           "stages": {d.name: {"wall": round(d.wall, 1), "rc": d.rc}
                      for d in done}}
    os.makedirs(results_root, exist_ok=True)
    tmp = path(results_root, command) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path(results_root, command))


def table(command, done, total, jobs, previous):
    """Lines: each stage's verdict and wall time (and the previous run's),
    then the total."""
    prev = previous.get("stages", {})
    width = max((len(d.name) for d in done), default=0)
    lines = []

    def was(t):
        return f"  (previous run {t:.0f}s)" if t is not None else ""
    for d in done:
        p = prev.get(d.name, {})
        old = p.get("wall") if isinstance(p, dict) else None
        verdict = "pass" if d.rc == 0 else f"FAIL (status {d.rc})"
        lines.append(f"== {command}: {d.name:<{width}} {verdict:<16} "
                     f"{d.wall:6.0f}s{was(old)}")
    same = set(prev) == {d.name for d in done}
    lines.append(f"== {command}: total {total:.0f}s wall, {jobs} at a time"
                 + was(previous.get("total") if same else None))
    return lines
