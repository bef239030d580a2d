"""`make bench`: refgem_bench (bench/) in one guest per target of group
"bench", its figures in results/bench/<target>/bench.json and as a table
(bench.txt): each case's median next to its baseline's, as a ratio, and
against an earlier run's with COMPARE."""
import json
import os

from . import boot, parallel, targets
from .targets import TOP

FILENAME = "bench.json"
TABLE = "bench.txt"
PROGRAM = os.path.join(TOP, "build", "meson", "bench", "refgem_bench")


def load(path):
    with open(path) as f:
        doc = json.load(f)
    if not isinstance(doc.get("cases"), dict):
        raise ValueError(f"{path}: no \"cases\" object")
    return doc


def _fmt(us):
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.2f} us"


def table(doc, old=None):
    """Lines of a readable table: case, median, min, iterations, MiB/s,
    the ratio to its baseline (x: how many times the baseline's time it
    takes; the median of the ratios of runs made in turns with it, else
    of the two medians) and, given an earlier run old, new/old."""
    cases = doc["cases"]
    oldc = old["cases"] if old else {}
    w = max([len(n) for n in cases] + [4])
    head = f"{'case':{w}} {'median':>10} {'min':>10} {'iters':>6} " \
           f"{'MiB/s':>8}  {'vs baseline':30}"
    if old:
        head += f" {'new/old':>8}"
    lines = [head.rstrip()]
    for name, c in cases.items():
        if "median_us" not in c:
            why = c.get("skip") or c.get("error") or "not measured"
            lines.append(f"{name:{w}} {why}")
            continue
        mib = f"{c['mib_s']:.3g}" if "mib_s" in c else ""
        base = cases.get(c.get("baseline") or "", {})
        # Measured in turns with the baseline, when the bench could.
        ratio = c.get("paired_ratio") or (
            c["median_us"] / base["median_us"] if base.get("median_us")
            else None)
        vs = f"{ratio:.3g}x {c['baseline']}" if ratio else ""
        line = f"{name:{w}} {_fmt(c['median_us']):>10} " \
               f"{_fmt(c['min_us']):>10} {c['iterations']:>6} {mib:>8}  " \
               f"{vs:30}"
        was = oldc.get(name, {}).get("median_us")
        if old:
            line += f" {c['median_us'] / was:>8.3g}" if was else \
                    f" {'-':>8}"
        lines.append(line.rstrip())
    return lines


def run(chosen, scale, only, compare, out, root=None):
    """Run the bench in a guest per target, one at a time (each TCG guest
    keeps both cores busy); print and write each table, with new/old
    against compare/<target>/bench.json when compare (a copy of an earlier
    results/bench) has it; root: where the results go (default
    results/bench). Returns 0, or 1 if a guest or the program failed."""
    if not os.access(PROGRAM, os.X_OK):
        out(f"refgem-bench: no {PROGRAM} (make build)")
        return 1
    root = root or os.path.join(TOP, "results", "bench")

    def one(t, out):
        rdir = os.path.join(root, t.name)
        os.makedirs(rdir, exist_ok=True)
        path = os.path.join(rdir, FILENAME)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        state = os.path.join(TOP, "build", "vm", f"bench-{t.name}")
        try:
            cmd, _ = boot.vm_command(
                t, state, rdir, 1200,
                ["--exec", PROGRAM, "--scale", str(scale), "--out", path,
                 *only], vm_args=["--quiet"])
        except boot.Setup as e:
            out(f"== bench {t.name}: cannot run: {e}")
            return 2
        rc = boot.guest(cmd, out)
        try:
            doc = load(path)
        except (OSError, ValueError) as e:
            out(f"== bench {t.name}: no figures ({e}); guest status {rc}, "
                f"console in {state}/serial.log")
            return 1
        old = None
        if compare:
            try:
                old = load(os.path.join(compare, t.name, FILENAME))
            except (OSError, ValueError) as e:
                out(f"== bench {t.name}: nothing to compare with: {e}")
        lines = [f"refgem bench: {t.name} ({doc.get('kernel', '?')}, "
                 f"profile {t.profile}, scale {doc.get('scale')})",
                 *table(doc, old)]
        with open(os.path.join(rdir, TABLE), "w") as f:
            f.write("\n".join(lines) + "\n")
        for line in lines:
            out(line)
        return 1 if rc else 0

    jobs = [parallel.Job(f"bench-{t.name}", lambda o, t=t: one(t, o),
                         os.path.join(root, f"{t.name}.log"), 60.0)
            for t in chosen]
    os.makedirs(root, exist_ok=True)
    done = parallel.run(jobs, 1, parallel.Printer())
    return 1 if any(d.rc for d in done) else 0


def select(names):
    return targets.select(targets.load(), names or ["bench"])
