"""IGT's side of the igt_runner protocol (igt_core.h, runner/ in IGT)."""
import os
import re

EXIT_SUCCESS = 0
EXIT_SKIP = 77
EXIT_TIMEOUT = 78       # the test's own igt_set_timeout() fired
EXIT_INVALID = 79       # no such subtest; with no output: no subtests at all
EXIT_FAILURE = 98
EXIT_ABORT = 112        # igt_abort_on_f(): the machine is not fit to go on

# Lines IGT writes to stderr around each subtest when IGT_SENTINEL_ON_STDERR
# is set, as igt_runner sets it; anything else on stderr is the test's own.
SENTINEL_ENV = {"IGT_SENTINEL_ON_STDERR": "1"}
_SENTINEL = re.compile(r"^(Starting (dynamic )?subtest: .*"
                       r"|(Subtest|Dynamic subtest) .*: [A-Z]+( \(.*\))?)$")


def test_name(binary, subtest=None):
    """igt_runner's name: "igt@<binary>@<subtest>", or "igt@<binary>"."""
    name = "igt@" + os.path.basename(binary)
    return name + "@" + subtest if subtest else name


def parse_subtest_list(out):
    """Subtest names from --list-subtests output, in order, once each."""
    names = []
    for line in out.splitlines():
        line = line.strip()
        if line and line not in names:
            names.append(line)
    return names


def result_from_exit(returncode, timed_out):
    """igt_runner's result for one subtest process."""
    if timed_out:
        return "timeout"
    if returncode < 0:
        return "crash"          # killed by a signal
    return {
        EXIT_SUCCESS: "pass",
        EXIT_SKIP: "skip",
        EXIT_TIMEOUT: "timeout",
        EXIT_INVALID: "skip",   # igt_runner maps "invalid" to skip too
        EXIT_FAILURE: "fail",
        EXIT_ABORT: "abort",
    }.get(returncode, "fail")


def extra_stderr(err):
    """stderr lines that are not IGT's sentinels: any turns pass into warn."""
    return [l for l in err.splitlines() if l.strip() and not _SENTINEL.match(l)]
