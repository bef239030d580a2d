"""Run named jobs a few at a time, with readable output and wall times.

Each guest is one TCG process, so independent targets can use the
machine's cores side by side. A job is a function of one argument, the
out(line) it prints through; it returns an exit status. With more than one
job in flight every line is prefixed with its job's name; every job's
lines also go to its own log file. Jobs start longest first, by the wall
times the previous run recorded (times.py), so the last to start are
short.
"""
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class Job:
    name: str
    fn: Callable
    log: str = ""       # file that gets the job's lines, if any
    estimate: float = 0.0


@dataclass
class Done:
    name: str
    rc: int
    wall: float


class Printer:
    """Whole lines from many threads, each prefixed when asked."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self.lock = threading.Lock()

    def line(self, text, prefix=""):
        with self.lock:
            self.stream.write(f"{prefix}{text}\n")
            self.stream.flush()


def order(jobs):
    """Longest first (known estimates), then the given order."""
    return sorted(jobs, key=lambda j: -j.estimate)


def run(jobs, n, printer=None, prefix=None):
    """Run jobs, at most n at a time; [Done] in the order of jobs.
    prefix: whether to prefix lines (default: when more than one job can
    run at once)."""
    printer = printer or Printer()
    n = max(1, n)
    if prefix is None:
        prefix = n > 1 and len(jobs) > 1
    width = max((len(j.name) for j in jobs), default=0)
    slots = threading.Semaphore(n)
    results = {}

    def one(job):
        logf = open(job.log, "w") if job.log else None
        tag = f"{job.name:<{width}}| " if prefix else ""

        def out(text):
            printer.line(text, tag)
            if logf:
                logf.write(text + "\n")
                logf.flush()
        start = time.monotonic()
        try:
            rc = job.fn(out)
        except Exception as e:  # a job's bug must not lose the others
            out(f"internal error: {type(e).__name__}: {e}")
            rc = 2
        finally:
            if logf:
                logf.close()
        results[job.name] = Done(job.name, rc, time.monotonic() - start)
        slots.release()

    threads = []
    for job in order(jobs):
        slots.acquire()
        t = threading.Thread(target=one, args=(job,), daemon=True)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return [results[j.name] for j in jobs]


def default_jobs():
    """JOBS= from the environment, else one more than the cores this
    process may use: a guest is one single-threaded TCG process that often
    idles in its devices' waits, which the extra guest fills (README)."""
    env = os.environ.get("JOBS", "")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise SystemExit(f"JOBS={env!r} is not a number") from None
    return len(os.sched_getaffinity(0)) + 1
