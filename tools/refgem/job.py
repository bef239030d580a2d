"""Run one test process with a time limit, its output going straight to files.

The child writes out.txt and err.txt in its job directory itself, so what it
printed survives a guest that dies mid-test. The runner polls: it appends
new kernel records to dmesg.txt and hands new output lines and records to
a callback, then kills the process group once the time limit passes.
"""
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field

# Under TCG every wake-up of the runner costs guest CPU that the test
# could use (polling every 50 ms took ~30 % of a core). So the runner
# sleeps until the process exits or the kernel logs a record, or at most
# POLL_MAX, and looks at most every POLL seconds while things happen.
POLL = 0.05
POLL_MAX = 0.5
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
    where: str = ""         # the group's tasks when killed (see where())

    def killed(self, after, where=True):
        """The one wording of a kill for lack of progress: "killed after"
        + after, whether it died, and (with where) where its tasks were."""
        stuck = ", and it did not die" if self.stuck else ""
        text = f"killed after {after}{stuck}"
        return (text + "\n" + self.where).rstrip("\n") if where else text


def where(pgid, proc="/proc"):
    """Each task of process group pgid: its state, wait channel and kernel
    stack. For a test that has to be killed this is the only record of
    where it hung: the kernel's hung-task detector ignores killable sleeps
    (a 9p request, for one)."""
    out = []
    for pid in sorted((p for p in os.listdir(proc) if p.isdigit()), key=int):
        stat = read_text(os.path.join(proc, pid, "stat"))
        # The fields after "(comm)": state, ppid, pgrp.
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) < 3 or fields[2] != str(pgid):
            continue
        tasks = os.path.join(proc, pid, "task")
        try:
            tids = sorted(os.listdir(tasks), key=int)
        except (OSError, ValueError):
            continue
        for tid in tids:
            t = os.path.join(tasks, tid)
            tstat = read_text(os.path.join(t, "stat"))
            comm = tstat[tstat.find("("):tstat.rfind(")") + 1]
            state = tstat[tstat.rfind(")") + 2:].split()[:1]
            out.append(f"  task {pid}/{tid} {comm} state "
                       f"{''.join(state) or '?'} wchan "
                       f"{read_text(os.path.join(t, 'wchan')) or '?'}\n")
            out += [f"    {l}\n" for l in
                    read_text(os.path.join(t, "stack")).splitlines()]
    return "".join(out)


def read_text(path):
    """A job's file as text ("" when it is not there)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


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
            """(stop asked, anything new)"""
            records = klog.drain()
            for r in records:
                dmesg.write(r.format() + "\n")
            dmesg.flush()
            outcome.records += records
            if not on_poll:
                return False, bool(records)
            new = lines.read(final)
            return bool(on_poll(new, records)), bool(records or new)

        wake = _Waker(proc, klog)
        interval = POLL
        try:
            while not wake.wait(interval):
                stop, busy = poll()
                interval = POLL if busy else min(interval * 2, POLL_MAX)
                if not stop and time.time() - start <= limit():
                    if busy:
                        time.sleep(POLL)    # at most one look per POLL
                    continue
                outcome.stopped = stop
                outcome.timed_out = not stop
                if not stop:
                    outcome.where = "where its tasks were:\n" + where(proc.pid)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass        # it exited just now
                try:
                    proc.wait(KILL_WAIT)
                except subprocess.TimeoutExpired:
                    outcome.stuck = True
                    outcome.where += ("after SIGKILL:\n" + where(proc.pid))
                break
        finally:
            wake.close()
        outcome.end = time.time()
        outcome.returncode = proc.returncode if proc.returncode is not None \
            else -signal.SIGKILL
        poll(final=True)
        if lines:
            lines.close()
        return outcome


class _Waker:
    """Sleeps until the process has exited, the kernel log has news or the
    time is up; wait() says whether the process has exited."""

    def __init__(self, proc, klog):
        self.proc = proc
        self.fds = []
        self.pidfd = None
        try:
            self.pidfd = os.pidfd_open(proc.pid)
            self.fds.append(self.pidfd)
        except (AttributeError, OSError):
            pass        # no pidfd: the time-out alone wakes
        fileno = getattr(klog, "fileno", None)
        if fileno:
            self.fds.append(fileno())

    def wait(self, timeout):
        if self.proc.poll() is not None:
            return True
        if self.fds:
            select.select(self.fds, [], [], timeout)
        else:
            time.sleep(timeout)
        return self.proc.poll() is not None

    def close(self):
        if self.pidfd is not None:
            os.close(self.pidfd)
