"""Run one test process with a time limit, its output going straight to files.

The child writes out.txt and err.txt in its job directory itself, so what it
printed survives a guest that dies mid-test. The runner polls: it appends
new kernel records to dmesg.txt and hands new output lines and records to
a callback, then kills the process group once the time limit passes.
"""
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

POLL = 0.05         # seconds between polls of the kernel log and the output
KILL_WAIT = 10      # seconds a SIGKILLed process gets to go away


@dataclass
class Outcome:
    returncode: int     # negative: killed by that signal
    timed_out: bool
    stuck: bool         # still alive after SIGKILL (blocked in the kernel)
    start: float
    end: float
    records: list = field(default_factory=list)
    stopped: bool = False   # killed because on_poll asked


class _Lines:
    """Complete lines appended to a file since the last call."""

    def __init__(self, path):
        self._f = open(path, "rb")
        self._partial = b""

    def read(self, final=False):
        data = self._partial + self._f.read()
        lines = data.split(b"\n")
        self._partial = b"" if final else lines.pop()
        if final and lines and lines[-1] == b"":
            lines.pop()
        return [l.decode("utf-8", "replace") for l in lines]

    def close(self):
        self._f.close()


def run(argv, jobdir, limit, klog, *, merge_stderr=False, env=None,
        on_poll=None, lines_from="out.txt"):
    """Run argv in jobdir's files; limit() gives the allowed seconds (asked
    again at every poll, so a caller may extend it once it knows more);
    on_poll(lines, records) sees each batch of lines of lines_from (the
    output, or "err.txt") and records; when it returns True the process
    group is killed (Outcome.stopped)."""
    out_path = os.path.join(jobdir, "out.txt")
    with open(out_path, "wb") as out, \
            open(os.path.join(jobdir, "err.txt"), "wb") as err, \
            open(os.path.join(jobdir, "dmesg.txt"), "a") as dmesg:
        start = time.time()
        try:
            proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT if merge_stderr else err,
                env=env, start_new_session=True)
        except OSError as e:
            # Not runnable at all: say so where the test's output would be.
            (out if merge_stderr else err).write(
                f"refgem-runner: cannot execute {argv[0]}: {e}\n".encode())
            return Outcome(127, False, False, start, time.time())
        lines = _Lines(os.path.join(jobdir, lines_from)) if on_poll else None
        outcome = Outcome(0, False, False, start, start)

        def poll(final=False):
            records = klog.drain()
            for r in records:
                dmesg.write(r.format() + "\n")
            dmesg.flush()
            outcome.records += records
            if on_poll:
                return on_poll(lines.read(final), records)
            return False

        while True:
            try:
                proc.wait(POLL)
                break
            except subprocess.TimeoutExpired:
                stop = poll()
            if stop or time.time() - start > limit():
                outcome.stopped = bool(stop)
                outcome.timed_out = not stop
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass        # it exited just now
                try:
                    proc.wait(KILL_WAIT)
                except subprocess.TimeoutExpired:
                    outcome.stuck = True
                break
        outcome.end = time.time()
        outcome.returncode = proc.returncode if proc.returncode is not None \
            else -signal.SIGKILL
        poll(final=True)
        if lines:
            lines.close()
        return outcome
