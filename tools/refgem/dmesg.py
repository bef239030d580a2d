"""The kernel log: /dev/kmsg records, the taint mask, and igt_runner's rules.

A test's kernel records are judged as igt_runner does: any record at level
warning or worse (level <= 4) that no "allow" rule matches turns pass and
warn into dmesg-warn and fail into dmesg-fail. Records written from
userspace (facility != 0: test markers and the like) are never kernel
complaints and are not judged. A taint bit that appears during the test
makes it dmesg-fail whatever its result was, unless the rules ignore it.
The rules are lib/kernel-log.rules, which the kselftests' C oracles share.
"""
import os
import re
from dataclasses import dataclass

KMSG = "/dev/kmsg"
TAINTED = "/proc/sys/kernel/tainted"
WARN_LEVEL = 4
RULES_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__)))), "lib", "kernel-log.rules")
# Taint letters by bit number, as in Documentation/admin-guide/tainted-kernels.
TAINT_LETTERS = "PFSRMBUDAWCIOELKXTN"
LOST = "refgem-runner: kernel log records were lost (kmsg overrun)"


@dataclass(frozen=True)
class Record:
    level: int
    facility: int
    seq: int
    usec: int
    text: str

    def format(self):
        """igt_runner's dmesg.txt line: "<level> [sec.usec] text"."""
        return (f"<{self.level}> [{self.usec // 1000000}."
                f"{self.usec % 1000000:06d}] {self.text}")


def _unescape(text):
    # kmsg escapes non-printable bytes as \xNN; undo it like igt_runner.
    return re.sub(r"\\x([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)),
                  text)


def parse_record(raw):
    """A Record from one /dev/kmsg read ("prio,seq,usec,flags;text\\n" plus
    " KEY=value" continuation lines), or None if it is not one."""
    header, sep, rest = raw.partition(";")
    fields = header.split(",")
    if not sep or len(fields) < 3:
        return None
    try:
        prio, seq, usec = (int(f) for f in fields[:3])
    except ValueError:
        return None
    text = _unescape(rest.split("\n", 1)[0])
    return Record(prio & 7, prio >> 3, seq, usec, text)


class Scoped:
    """An allow-list entry for some tests only ("[TEST] RECORD"): a record
    a test provokes on purpose, which must count against any other."""

    def __init__(self, test, record):
        self.test = test
        self.record = record

    def search(self, text, test=None):
        if test is None or not self.test.search(test):
            return None
        return self.record.search(text)


_SCOPED = re.compile(r"\[(.+?)\] (.+)")


@dataclass(frozen=True)
class Rules:
    """What lib/kernel-log.rules says: allow entries (regexes and Scoped),
    detector reports as (name, regex), taint bits a test may gain."""
    allow: tuple = ()
    reports: tuple = ()
    ignored_taint: int = 0


def load_rules(path=RULES_PATH):
    """The Rules of a kernel-log rules file (its format is in the file)."""
    allow, reports, taint = [], [], 0
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            verb, _, arg = line.partition(" ")
            try:
                if verb == "allow" and arg:
                    m = _SCOPED.fullmatch(arg)
                    allow.append(Scoped(re.compile(m.group(1)),
                                        re.compile(m.group(2))) if m
                                 else re.compile(arg))
                elif verb == "report" and " " in arg.strip():
                    name, _, pattern = arg.strip().partition(" ")
                    reports.append((name, re.compile(pattern)))
                elif verb == "taint-ignore" and arg:
                    for letter in arg.strip():
                        if letter not in TAINT_LETTERS:
                            raise ValueError(f"{path}:{lineno}: no taint "
                                             f"letter {letter!r}")
                        taint |= 1 << TAINT_LETTERS.index(letter)
                else:
                    raise ValueError(f"{path}:{lineno}: not a rule: "
                                     f"{line!r}")
            except re.error as e:
                raise ValueError(f"{path}:{lineno}: bad regex {line!r}: {e}")
    return Rules(tuple(allow), tuple(reports), taint)


# The project's rules: what the runner uses unless told another file.
RULES = load_rules()
IGNORED_TAINT = RULES.ignored_taint


def use_rules(rules):
    """Make rules the ones judged by default (the runner's --kernel-log-rules)."""
    global RULES, IGNORED_TAINT
    RULES, IGNORED_TAINT = rules, rules.ignored_taint


def allowed(text, allow, test=None):
    """Whether an allow-list entry matches a record's text (for test)."""
    return any(p.search(text, test) if isinstance(p, Scoped)
               else p.search(text) for p in allow)


def warnings(records, allow, test=None):
    """Formatted records that count against a test."""
    return [r.format() for r in records
            if r.facility == 0 and r.level <= WARN_LEVEL
            and not allowed(r.text, allow, test)]


def taint_letters(bits):
    return "".join(c for i, c in enumerate(TAINT_LETTERS) if bits & (1 << i))


def judge(result, records, allow, taint_before, taint_after,
          ignored=None, test=None):
    """(result after the kernel log's verdict, the lines that decided it);
    ignored: taint bits that may appear (default: the rules'); test: the
    judged test's name."""
    if ignored is None:
        ignored = IGNORED_TAINT
    found = warnings(records, allow, test)
    new = taint_after & ~taint_before & ~ignored
    if new:
        found.append(f"refgem-runner: kernel taint gained {taint_letters(new)} "
                     f"(0x{new:x}); the test's own result was {result}")
        return "dmesg-fail", found
    if found:
        result = {"pass": "dmesg-warn", "warn": "dmesg-warn",
                  "fail": "dmesg-fail"}.get(result, result)
    return result, found


def read_all(kmsg=KMSG):
    """Every record still in the kernel's log buffer, oldest first."""
    records = []
    fd = os.open(kmsg, os.O_RDONLY | os.O_NONBLOCK)
    try:
        while True:
            try:
                raw = os.read(fd, 16384)
            except BlockingIOError:
                return records
            except BrokenPipeError:
                continue        # overwritten while read: go on from there
            record = parse_record(raw.decode("utf-8", "replace"))
            if record:
                records.append(record)
    finally:
        os.close(fd)


def format_records(records):
    """Records as kernel-log text, one line each."""
    return "".join(r.format() + "\n" for r in records)


class KernelLog:
    """New /dev/kmsg records since it was opened, markers, and the taint."""

    def __init__(self, kmsg=KMSG, tainted=TAINTED):
        self._kmsg = kmsg
        self._tainted = tainted
        self._rfd = os.open(kmsg, os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self._rfd, 0, os.SEEK_END)

    def fileno(self):
        """Readable (select) when new records are there to drain."""
        return self._rfd

    def drain(self):
        """Every record logged since the last drain, without blocking."""
        records = []
        while True:
            try:
                raw = os.read(self._rfd, 16384)
            except BlockingIOError:
                return records
            except BrokenPipeError:
                # The ring buffer overwrote records we had not read yet. They
                # may have held a warning, so say so at warning level.
                records.append(Record(WARN_LEVEL, 0, -1, 0, LOST))
                continue
            record = parse_record(raw.decode("utf-8", "replace"))
            if record:
                records.append(record)

    def mark(self, text):
        """Log text at KERN_INFO so it separates tests without judging them."""
        # Writes are ratelimited per open file (10 per 5 s unless booted with
        # printk.devkmsg=on), and closing a file that hit the limit logs a
        # warning; a fresh open per marker, as IGT's igt_kmsg() does, never
        # hits it.
        fd = os.open(self._kmsg, os.O_WRONLY)
        try:
            os.write(fd, f"<6>{text}\n".encode())
        finally:
            os.close(fd)

    def taint(self):
        with open(self._tainted) as f:
            return int(f.read().strip() or 0)
