"""The debug kernel's bug detectors as test results (--detectors).

refgem's debug kernel (kernel/debug.config) has DMA-API debug, KASAN,
lockdep, kmemleak, fault injection and KUnit. They report to the kernel
log, some only once (lockdep turns itself off after its first report,
DMA-API debug prints one error unless told otherwise, a taint bit is new
only once per boot), and kmemleak only when asked. The runner turns them
into results:

- detectors@live, first in every boot: every detector is present and on;
  anything else fails it, since a debug target whose detectors are off
  proves nothing. It also makes DMA-API debug print every error
  (all_errors), not just the first one of the boot.
- around every test: DMA-API debug's error_count rising, lockdep's
  debug_locks dropping to 0, or DMA-API debug switching itself off makes
  that test dmesg-fail, as does a detector's report among its kernel
  records (KASAN, lockdep, DMA-API, ...: the "report" lines of
  lib/kernel-log.rules), even after an earlier report already gained the
  taint. A rise in error_count puts DMA-API debug's
  active mappings of refgem's devices (dma-api/dump) into the test's out.
- detectors@leak-check, last: kmemleak scans once everything the tests
  allocated is old enough to be reported; any leak fails it.
"""
import dataclasses
import os
import re
import time
from dataclasses import dataclass

from . import dmesg

DEBUGFS = "sys/kernel/debug"
DMA_API = DEBUGFS + "/dma-api"
KMEMLEAK = DEBUGFS + "/kmemleak"
LOCKDEP_STATS = "proc/lockdep_stats"
# QEMU's edu device, which refgem drives.
EDU_IDS = ("0x1234", "0x11e8")
# kmemleak reports nothing younger than this (mm/kmemleak.c MSECS_MIN_AGE).
KMEMLEAK_MIN_AGE = 5.0
DUMP_MAX = 40           # dma-api/dump lines kept in a test's out

@dataclass(frozen=True)
class State:
    """What the detectors' counters say at one moment (None: unreadable)."""
    dma_errors: int = None
    dma_disabled: bool = None
    debug_locks: int = None


class NoWatch:
    """Without --detectors: tests are judged by their kernel log only."""

    def sample(self):
        return None

    def judge(self, result, warnings, records, before, counters=True,
              pending=()):
        return result, warnings, "", None


class Detectors:
    """The detectors of the kernel the runner runs on. root: where /sys and
    /proc are (a directory of stand-ins in self-tests); boot_log: every
    record still in the kernel log (dmesg.read_all)."""

    def __init__(self, allow=(), root="/", boot_log=None):
        self.allow = allow
        self.root = root
        self.boot_log = boot_log or dmesg.read_all
        self.bdfs = set()

    def _path(self, rel):
        return os.path.join(self.root, rel)

    def _read(self, rel):
        try:
            with open(self._path(rel), encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except OSError:
            return None

    def _write(self, rel, text):
        """None when written, else why not."""
        try:
            with open(self._path(rel), "w") as f:
                f.write(text)
            return None
        except OSError as e:
            return e.strerror or str(e)

    def _int(self, rel):
        text = self._read(rel)
        try:
            return int(text.strip())
        except (AttributeError, ValueError):
            return None

    def debug_locks(self):
        text = self._read(LOCKDEP_STATS) or ""
        m = re.search(r"^\s*debug_locks:\s*(\d+)\s*$", text, re.M)
        return int(m.group(1)) if m else None

    def sample(self):
        disabled = self._read(DMA_API + "/disabled")
        return State(self._int(DMA_API + "/error_count"),
                     None if disabled is None else disabled.strip() == "Y",
                     self.debug_locks())

    # detectors@live

    def live(self):
        """(every detector is on, what was found: one line per detector)."""
        log = "\n".join(r.text for r in self.boot_log())
        lines = []
        ok = True

        def check(name, problems, detail):
            nonlocal ok
            if problems:
                ok = False
                lines.append(f"{name}: NOT LIVE: " + "; ".join(problems))
            else:
                lines.append(f"{name}: live ({detail})")

        problems = []
        state = self.sample()
        if not os.path.isdir(self._path(DMA_API)):
            problems.append(f"no /{DMA_API}")
        else:
            if state.dma_disabled is not False:
                problems.append(f"/{DMA_API}/disabled is not N")
            if state.dma_errors is None:
                problems.append(f"/{DMA_API}/error_count unreadable")
            # num_errors is 1 at boot: only the boot's first error would be
            # printed, with its stack; all_errors prints every one.
            why = self._write(DMA_API + "/all_errors", "1")
            if why:
                problems.append(f"cannot set all_errors: {why}")
        if "DMA-API: debugging enabled" not in log:
            problems.append("no 'DMA-API: debugging enabled' in the kernel "
                            "log")
        check("DMA-API debug", problems,
              f"error_count {state.dma_errors}, all_errors set")

        problems = []
        if "KernelAddressSanitizer initialized" not in log:
            problems.append("no 'KernelAddressSanitizer initialized' in the "
                            "kernel log")
        cmdline = (self._read("proc/cmdline") or "").split()
        if "kasan_multi_shot" not in cmdline:
            problems.append("kasan_multi_shot is not on the kernel command "
                            "line: only the boot's first report would be "
                            "printed")
        check("KASAN", problems, "multi-shot")

        problems = []
        if state.debug_locks != 1:
            problems.append(f"/{LOCKDEP_STATS} debug_locks is "
                            f"{state.debug_locks}, not 1")
        check("lockdep", problems, "debug_locks 1")

        problems = []
        if self._read(KMEMLEAK) is None:
            problems.append(f"/{KMEMLEAK} is not readable")
        else:
            # Setting the default is refused (EPERM) once kmemleak is off.
            why = self._write(KMEMLEAK, "stack=on")
            if why:
                problems.append(f"/{KMEMLEAK} refuses commands: {why}")
        check("kmemleak", problems, "scans on request")

        problems = [f"no /{p}" for p in (DEBUGFS + "/failslab",
                                         DEBUGFS + "/fail_page_alloc",
                                         "proc/self/fail-nth")
                    if not os.path.exists(self._path(p))]
        check("fault injection", problems, "failslab, fail_page_alloc, "
              "fail-nth")

        problems = [] if os.path.isdir(self._path(DEBUGFS + "/kunit")) \
            else [f"no /{DEBUGFS}/kunit"]
        check("KUnit", problems, f"/{DEBUGFS}/kunit")
        self._refgem_bdfs()
        return ok, "".join(f"refgem-runner: {l}\n" for l in lines)

    # Around every test

    def _refgem_bdfs(self):
        """PCI addresses of edu devices (refgem's), including ones that
        have been unplugged since an earlier call."""
        top = self._path("sys/bus/pci/devices")
        try:
            names = os.listdir(top)
        except OSError:
            names = []
        for bdf in names:
            ids = tuple((self._read(f"sys/bus/pci/devices/{bdf}/{f}") or "")
                        .strip() for f in ("vendor", "device"))
            if ids == EDU_IDS:
                self.bdfs.add(bdf)
        return self.bdfs

    def refgem_dump(self):
        """DMA-API debug's active mappings of refgem's devices."""
        text = self._read(DMA_API + "/dump")
        if text is None:
            return f"refgem-runner: /{DMA_API}/dump is not readable\n"
        bdfs = self._refgem_bdfs()
        mine = [l for l in text.splitlines()
                if l.split()[:1] and (l.split()[0] in bdfs or
                                      l.split()[1:2] == ["refgem"])]
        per_dev = {}
        for l in mine:
            m = re.search(r" L=([0-9a-f]+) ", l)
            n, size = per_dev.get(l.split()[0], (0, 0))
            per_dev[l.split()[0]] = (n + 1, size + (int(m.group(1), 16)
                                                    if m else 0))
        head = (f"refgem-runner: DMA-API debug's active mappings of refgem's "
                f"devices (/{DMA_API}/dump): "
                + (", ".join(f"{d}: {n} entries, {size // 1024} KiB"
                             for d, (n, size) in sorted(per_dev.items()))
                   or "none") + "\n")
        more = (f"refgem-runner: ... {len(mine) - DUMP_MAX} more\n"
                if len(mine) > DUMP_MAX else "")
        return head + "".join(l + "\n" for l in mine[:DUMP_MAX]) + more

    def _reports(self, records):
        """{detector: its first report among records}."""
        found = {}
        for r in records:
            if r.facility != 0 or r.level > dmesg.WARN_LEVEL or \
                    dmesg.allowed(r.text, self.allow):
                continue
            for name, pattern in dmesg.RULES.reports:
                if name not in found and pattern.search(r.text):
                    found[name] = r
        return found

    def judge(self, result, warnings, records, before, counters=True,
              pending=()):
        """(result, warnings, a note for out, the state after): a test
        during which a detector found something is dmesg-fail whatever its
        own result. counters=False judges only the records (the counters
        are judged for a longer stretch that holds several tests).
        pending: records logged after this test's, when the counters were
        read only after later tests had begun (a kselftest binary's): a
        change that only those records explain is left to their test."""
        reports = self._reports(records)
        found = [f"refgem-runner: {name} report: {r.format()}"
                 for name, r in reports.items()]
        later = self._reports(pending)
        note = ""
        after = self.sample()
        if counters and before is not None:
            b, a = before, after
            if "DMA-API" in later and "DMA-API" not in reports:
                a = after = dataclasses.replace(after,
                                                dma_errors=b.dma_errors)
            if {"lockdep", "KASAN"} & set(later) and \
                    not {"lockdep", "KASAN"} & set(reports):
                a = after = dataclasses.replace(after,
                                                debug_locks=b.debug_locks)
            if None not in (b.dma_errors, a.dma_errors) and \
                    a.dma_errors > b.dma_errors:
                found.append(f"refgem-runner: DMA-API debug found "
                             f"{a.dma_errors - b.dma_errors} error(s) during "
                             f"this test (error_count {b.dma_errors} -> "
                             f"{a.dma_errors})")
                note = self.refgem_dump()
            if b.dma_disabled is False and a.dma_disabled:
                found.append("refgem-runner: DMA-API debug switched itself "
                             "off during this test")
            if b.debug_locks == 1 and a.debug_locks == 0:
                found.append("refgem-runner: lockdep switched itself off "
                             "during this test (debug_locks 1 -> 0): it found "
                             "a locking bug, or a KASAN report or a bad taint "
                             "turned it off; it checks nothing after this")
            elif b.debug_locks == 0:
                note += ("refgem-runner: lockdep was off (debug_locks 0) "
                         "before this test: its locking was not checked\n")
        if found:
            result = "dmesg-fail"
            note = "".join(l + "\n" for l in found) + note
        # The findings first: the first line is what summaries show.
        return result, found + list(warnings), note, after

    # detectors@leak-check

    def leak_check(self, last_end):
        """(no leaks, the report for out): kmemleak scans twice once every
        object allocated by last_end is old enough to be reported."""
        wait = last_end + KMEMLEAK_MIN_AGE + 1 - time.time()
        if wait > 0:
            time.sleep(wait)
        for _ in range(2):
            why = self._write(KMEMLEAK, "scan")
            if why:
                return False, (f"refgem-runner: kmemleak refused to scan "
                               f"({why}): it is off, the leak check is "
                               f"impossible\n")
        text = self._read(KMEMLEAK)
        if text is None:
            return False, f"refgem-runner: /{KMEMLEAK} is not readable\n"
        leaks = text.count("unreferenced object ")
        if not leaks:
            return True, "refgem-runner: kmemleak: no leaks\n"
        ours = sum("refgem" in block for block in
                   text.split("unreferenced object ")[1:])
        return False, (f"refgem-runner: kmemleak: {leaks} unreferenced "
                       f"object(s), {ours} with refgem in the backtrace:\n"
                       + text)
