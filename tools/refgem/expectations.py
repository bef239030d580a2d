"""drm-ci expectation files: <target>-fails.txt, -flakes.txt, -skips.txt,
and refgem's own <target>-reasons.txt.

Names in these files follow drm-ci (drivers/gpu/drm/ci/xfails/): IGT tests
are written without their "igt@" prefix ("refgem_basic@create-close").
Only a leading "igt@" is stripped; any other suite keeps its whole name, so
a kselftest is written "kselftest@<binary>@fixture.test". That keeps the two
suites apart and every name in a file unambiguous.

fails:  "name,Result" per line, Result as deqp-runner spells it (below);
        our extension "Fail|DmesgFail" expects either, for a failure whose
        kernel warning races with the test (say why in a comment).
flakes, skips: one Python regex per line, searched (not anchored) in the
name, as deqp-runner's RegexSet does. In all three files blank lines and
lines starting with "#" are ignored; a missing file is an empty list.
reasons: "name regex,output regex" per line (split at the last comma):
an expected failure of a test whose name matches must also say why, in a
line of its output or kernel log (out, err, dmesg) that the second regex
finds. A negative
control uses it: failing is not enough, it must fail for the right reason.
"""
import os
import re

# igt_runner result -> the Result name used in fails files. Fail, Crash,
# Timeout, Skip, Warn and Pass are deqp-runner's own names; deqp-runner has
# no dmesg or abort states, so DmesgWarn, DmesgFail, Incomplete, Abort and
# NotRun are refgem's spelling in the same style.
RESULT_NAMES = {
    "pass": "Pass",
    "fail": "Fail",
    "skip": "Skip",
    "crash": "Crash",
    "timeout": "Timeout",
    "incomplete": "Incomplete",
    "abort": "Abort",
    "notrun": "NotRun",
    "warn": "Warn",
    "dmesg-warn": "DmesgWarn",
    "dmesg-fail": "DmesgFail",
}


class ExpectationError(Exception):
    """A malformed expectation file: the gate must not guess."""


def key(name):
    """The name a test has in expectation files."""
    return name[len("igt@"):] if name.startswith("igt@") else name


def _lines(path):
    """(line number, text) of each entry; CRLF reads as LF, and a file
    that is not UTF-8 text is one ExpectationError."""
    if not os.path.exists(path):
        return
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError as e:
        raise ExpectationError(f"{path}: not UTF-8 text ({e.reason} at "
                               f"byte {e.start})") from None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            yield lineno, line


def read_fails(path):
    """{name: Result} from a fails file."""
    known = set(RESULT_NAMES.values()) - {"Pass"}
    fails = {}
    for lineno, line in _lines(path):
        name, sep, result = line.rpartition(",")
        name, result = name.strip(), result.strip()
        where = f"{path}:{lineno}"
        if not sep or not name:
            raise ExpectationError(f"{where}: expected 'name,Result', got {line!r}")
        for one in result.split("|"):
            if one not in known:
                raise ExpectationError(f"{where}: unknown Result {one!r} "
                                       f"(one of {', '.join(sorted(known))})")
        if name in fails:
            raise ExpectationError(f"{where}: {name} is listed twice")
        fails[name] = result
    return fails


def read_patterns(path):
    """Compiled regexes from a flakes or skips file."""
    patterns = []
    for lineno, line in _lines(path):
        try:
            patterns.append(re.compile(line))
        except re.error as e:
            raise ExpectationError(f"{path}:{lineno}: bad regex {line!r}: {e}")
    return patterns


def read_reasons(path):
    """[(name regex, output regex)] from a reasons file."""
    reasons = []
    for lineno, line in _lines(path):
        name, sep, why = line.rpartition(",")
        where = f"{path}:{lineno}"
        if not sep or not name.strip() or not why.strip():
            raise ExpectationError(f"{where}: expected 'name regex,output "
                                   f"regex', got {line!r}")
        try:
            reasons.append((re.compile(name.strip()),
                            re.compile(why.strip(), re.MULTILINE)))
        except re.error as e:
            raise ExpectationError(f"{where}: bad regex in {line!r}: {e}")
    return reasons


def matches(patterns, name):
    return any(p.search(name) for p in patterns)
