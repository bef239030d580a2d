"""refgem-targets: run gate targets of targets.toml, list and show them,
regenerate what is derived from the table.

  run [NAME|GROUP...]   run targets (default: group "run"), JOBS at a time
  list [NAME|GROUP...]  their names, one per line
  show NAME             one target, resolved
  generate [--check]    rewrite README's target table and .gitlab-ci.yml
                        (--check: exit 1 if either is stale)

run's environment: RESULTS_DIR (default results/), JOBS (default: the
cores), SHARD=I/N, SUITES=kselftest, VM_TIMEOUT, RUN_TIMEOUT (3600),
MAX_RESTARTS (3), RUNNER_ARGS, VM_ARGS (split on spaces), KSELFTESTS (a
directory of kselftest binaries), REFGEM_DRIVER (a directory of refgem.ko
and refgem_kunit.ko built for the targets' kernel).
"""
import argparse
import os
import re
import subprocess
import sys
import time

from . import boot, generate, parallel, targets, times
from .targets import TOP, TargetError


def _int_env(name, default):
    v = os.environ.get(name, "")
    if not v:
        return default
    try:
        return int(v)
    except ValueError:
        raise TargetError(f"{name}={v!r} is not a number") from None


def options():
    shard = os.environ.get("SHARD", "")
    if shard:
        m = re.fullmatch(r"(\d+)/(\d+)", shard)
        if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
            raise TargetError(f"SHARD={shard} is not I/N with 1 <= I <= N")
    suites = os.environ.get("SUITES", "")
    if suites not in ("", "kselftest"):
        raise TargetError(f"SUITES={suites}: only \"kselftest\" is known")
    return boot.Options(
        results_root=os.path.abspath(os.environ.get("RESULTS_DIR") or
                                     os.path.join(TOP, "results")),
        shard=shard, suites=suites,
        vm_timeout=_int_env("VM_TIMEOUT", 0),
        run_timeout=_int_env("RUN_TIMEOUT", 3600),
        max_restarts=_int_env("MAX_RESTARTS", 3),
        runner_args=tuple(os.environ.get("RUNNER_ARGS", "").split()),
        vm_args=tuple(os.environ.get("VM_ARGS", "").split()),
        kselftests=os.environ.get("KSELFTESTS", ""),
        driver=os.environ.get("REFGEM_DRIVER", ""))


def build_kernels(chosen, out):
    """make what the chosen targets' kernels need (cached builds)."""
    for make in dict.fromkeys(t.kernel.make for t in chosen
                              if t.kernel.make):
        out(f"== make {make}")
        rc = subprocess.run(["make", "--no-print-directory", "-C", TOP,
                             make]).returncode
        if rc:
            out(f"== make {make} failed (status {rc})")
            return rc
    return 0


def target_jobs(chosen, opts, estimates):
    jobs = []
    for t in chosen:
        name = boot.run_name(t, opts)
        jobs.append(parallel.Job(
            name=name, estimate=estimates.get(name, boot.guess(t)),
            fn=lambda out, t=t: boot.run(t, opts, out)))
    return jobs


def cmd_run(table, names, args):
    opts = options()
    chosen = targets.select(table, names)
    printer = parallel.Printer()
    if not args.no_build and build_kernels(chosen, printer.line):
        return 2
    command = args.times or ("kselftest" if opts.suites else "run")
    previous = times.load(opts.results_root, command)
    jobs = target_jobs(chosen, opts, times.estimates(previous))
    n = args.jobs or parallel.default_jobs()
    os.makedirs(opts.results_root, exist_ok=True)
    printer.line(f"== {command}: {', '.join(j.name for j in jobs)}; "
                 f"{min(n, len(jobs))} at a time")
    start = time.monotonic()
    done = parallel.run(jobs, n, printer)
    total = time.monotonic() - start
    for line in times.table(command, done, total, min(n, len(jobs)),
                            previous):
        printer.line(line)
    times.record(opts.results_root, command, done, total, min(n, len(jobs)))
    return max((d.rc for d in done), default=0)


def cmd_show(table, name):
    t = targets.select(table, [name])[0]
    for k, v in t.__dict__.items():
        if k == "kernel":
            v = v.name
        print(f"{k} = {v!r}")
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="refgem-targets",
                                description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="run targets")
    r.add_argument("names", nargs="*")
    r.add_argument("-j", "--jobs", type=int, default=0,
                   help="targets at a time (default: JOBS or the cores)")
    r.add_argument("--no-build", action="store_true",
                   help="do not make the targets' kernels first")
    r.add_argument("--times", metavar="NAME",
                   help="keep the wall times in results/times-NAME.json")
    ls = sub.add_parser("list", help="target names")
    ls.add_argument("names", nargs="*")
    s = sub.add_parser("show", help="one target, resolved")
    s.add_argument("name")
    g = sub.add_parser("generate", help="README table and .gitlab-ci.yml")
    g.add_argument("--check", action="store_true")
    a = p.parse_args(argv)
    try:
        table = targets.load()
        if a.cmd == "run":
            # Names may come as one make variable: "a b".
            return cmd_run(table, " ".join(a.names).split(), a)
        if a.cmd == "list":
            for t in targets.select(table, " ".join(a.names).split()):
                print(t.name)
            return 0
        if a.cmd == "show":
            return cmd_show(table, a.name)
        return generate.main(table, a.check)
    except TargetError as e:
        print(f"refgem-targets: {e}", file=sys.stderr)
        return 2
