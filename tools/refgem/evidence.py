"""A failed stage's evidence in a few lines, for the end of `make test`'s
output: CI systems often keep only the tail of a job's log, and a hang
that happens once in several runs must leave its stacks where they are
read."""
import os
import re

from .job import read_text

# The gate's verdict and the lines that made it fail.
_GATE = re.compile(r"^(unexpected|missing:|gate: FAILED|refgem-gate:|== \S+: "
                   r"(no results|the run was cut short|cannot run|.*; resuming "
                   r"the run))")
_UNEXPECTED = re.compile(r"^unexpected \w+: (\S+)")
_NOT_PASSED = re.compile(r"^  \w+ +(\S+): ")
# A task line of tasks.txt: "== PID/task/TID TID (comm) STATE PPID ...".
_TASK = re.compile(r"^== \S+ (\d+) \((.*)\) (\S) (\d+)")
# The same from the kernel's own dump on the console (sysrq-w, sysrq-t):
# "task:COMM state:D stack:0 pid:PID ppid:PPID flags:...", then frames
# like " __schedule+0x34d/0x9e0", each maybe after a printk time stamp.
_KTASK = re.compile(r"task:(\S+)\s+state:(\S)\s.*\bpid:\s*(\d+)\s+"
                    r"ppid:\s*(\d+)")
_KFRAME = re.compile(r"^(?:\[\s*[\d.]+\]\s*)?\s([\w.]+)\+0x[0-9a-f]+/0x")
# The scheduler's own frames, which /proc's stacks leave out too.
_SCHED = re.compile(r"^_*(schedule|io_schedule|preempt_schedule)")
_BOOT = re.compile(r"^==== boot (\d+)")
# Where an idle user task waits; not evidence of a hang.
_IDLE = ("do_wait", "pipe_read", "do_sys_poll", "do_select", "ep_poll",
         "hrtimer_nanosleep", "do_sigtimedwait", "sigsuspend",
         "do_signal_stop")


def _frame(line):
    # "[<0>] refgem_bo_map+0x42/0x1c0 [refgem]" -> "refgem_bo_map"
    m = re.match(r"\[<[0-9a-f]+>\] ([\w.]+)", line.strip())
    return m.group(1) if m else None


def tasks(text, limit=8, frames=5):
    """The tasks of a tasks.txt dump worth a look, one line each: those in
    uninterruptible sleep (D), and user tasks that wait anywhere but in
    the usual idle places (a test blocked in the kernel)."""
    out = []
    boot = "?"
    cur = None

    seen = set()

    def flush():
        if not cur:
            return
        pid, comm, state, ppid, wchan, stack = cur
        # A dump can list a task twice (the watchdog's and the kernel's).
        if (boot, pid) in seen:
            return
        seen.add((boot, pid))
        user = ppid not in ("0", "2") and pid != "2"
        idle = any(f in _IDLE for f in stack[:3]) or wchan in _IDLE
        if state == "D" or (user and stack and not idle):
            out.append(f"boot {boot}: task {pid} ({comm}) {state} "
                       f"wchan {wchan or '?'}: "
                       + " < ".join(stack[:frames]))
    for line in text.splitlines():
        m = _BOOT.match(line)
        if m:
            flush()
            cur, boot = None, m.group(1)
            continue
        m = _TASK.match(line)
        k = None if m else _KTASK.search(line)
        if m or k:
            flush()
            cur = [*(m.groups() if m else (k.group(3), k.group(1),
                                           k.group(2), k.group(4))), "", []]
        elif cur and line.startswith("wchan "):
            cur[4] = line[6:].strip()
        elif cur:
            f = _frame(line)
            k = None if f else _KFRAME.match(line)
            if k and not _SCHED.match(k.group(1)):
                f = k.group(1)
                cur[4] = cur[4] or f
            if f:
                cur[5].append(f)
    flush()
    if len(out) > limit:
        out = out[:limit] + [f"... and {len(out) - limit} more tasks"]
    return out


def stage(log, results=None, limit=12):
    """Why a stage failed, in about limit lines: the boot loop's and the
    gate's lines from its log, the runner's reason for each unexpected
    result, then the tasks the guest watchdog found stuck
    (results/<target>/tasks.txt, else the console's copy of the stuck
    ones in serial.log)."""
    text = read_text(log).splitlines()
    gate = [l for l in text if _GATE.match(l)]
    # The reasons come from the summary's "not passed" list
    # ("  timeout  KEY: reason  [dir]"), printed once or more.
    keys = {m.group(1) for m in map(_UNEXPECTED.match, gate) if m}
    reasons = []
    for l in text:
        m = _NOT_PASSED.match(l)
        if m and m.group(1) in keys:
            keys.discard(m.group(1))
            reasons.append(l.strip()[:300])
    part = max(1, limit // 4)
    lines = gate[:-1][:part] + reasons[:part] + gate[-1:]
    if results:
        # The console has the watchdog's D-state tasks even when the
        # share that tasks.txt is copied to is what hung.
        dump = (read_text(os.path.join(results, "tasks.txt"))
                or read_text(os.path.join(results, "serial.log")))
        lines += tasks(dump, limit=max(2, limit - len(lines)))
    return lines
