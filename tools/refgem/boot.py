"""Run one gate target in fresh guests, resume after a dead one, gate it.

The runner writes results.json after every test to a read-write share,
so what a guest finished survives it. When a guest dies (refgem-vm exits
125: panic, reboot) or its watchdog fires (124), or the runner stops
early (an IGT abort, a test that survives SIGKILL), and the run has not
reached its end, the next guest resumes it (refgem-run-tests --resume):
the test the dead guest was running becomes crash (died) or timeout
(watchdog), and the run goes on after it. At most max_restarts restarts,
all boots within run_timeout; a run that cannot finish is recorded as cut
short, keeps notrun for what it never reached, and fails the gate.
decide() is that state machine, with no guest in it.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass

from . import igt, report
from .results import FILENAME, ResultsError, load, pending
from .targets import TOP, TargetError

TOOLS = os.path.join(TOP, "tools")
GUEST_DIED = 125        # refgem-vm: the guest ended without a status
WATCHDOG = 124          # refgem-vm: a watchdog or the stall check ended it


@dataclass(frozen=True)
class Decision:
    action: str         # "done", "no-results", "resume" or "cut"
    why: str = ""
    resume_as: str = ""  # the result a resumed run gives the dead test


def decide(progress, rc, boot, timeout, *, vm_timeout, max_restarts,
           run_timeout, out_of_time):
    """What to do after a boot. progress: "complete", "pending" or
    "none" (no results.json); rc: refgem-vm's status; timeout: this
    boot's watchdog (less than vm_timeout when the run's time ran out);
    out_of_time: the run's deadline has passed."""
    if progress == "complete":
        return Decision("done")
    if progress == "none":
        return Decision("no-results", f"the guest job ended with status "
                        f"{rc} before the runner started")
    if rc == 0:
        why, as_ = "the runner stopped early", "crash"
    elif rc == WATCHDOG:
        why, as_ = "the guest watchdog fired or the guest stalled", "timeout"
    elif rc == GUEST_DIED:
        why, as_ = "the guest died", "crash"
    else:
        return Decision("cut", f"the guest job failed with status {rc} "
                        f"in boot {boot}")
    if out_of_time or (rc == WATCHDOG and timeout < vm_timeout):
        return Decision("cut", f"{why} in boot {boot}: overall timeout, "
                        f"RUN_TIMEOUT={run_timeout}s")
    if boot > max_restarts:
        return Decision("cut", f"{why} in boot {boot}, after "
                        f"MAX_RESTARTS={max_restarts} restarts")
    return Decision("resume", why, as_)


def progress_of(results_dir):
    try:
        doc = load(os.path.join(results_dir, FILENAME))
    except (OSError, ResultsError):
        return "none"
    return "pending" if pending(doc) else "complete"


@dataclass
class Options:
    results_root: str
    shard: str = ""             # "I/N"
    suites: str = ""            # "kselftest": only the kselftests
    vm_timeout: int = 0         # 0: the target's
    run_timeout: int = 3600
    max_restarts: int = 3
    runner_args: tuple = ()
    vm_args: tuple = ()
    kselftests: str = ""        # another directory of kselftest binaries
    driver: str = ""            # another directory of refgem.ko


class Setup(Exception):
    pass


def guess(target):
    """Seconds a target might take, before any run has timed it: a tenth
    of its watchdog (long for the debug kernel's targets)."""
    return target.vm_timeout / 10


def run_name(target, opts):
    name = target.name + (f"-{opts.suites}" if opts.suites else "")
    if opts.shard:
        i, n = opts.shard.split("/")
        name += f"-shard-{i}-of-{n}"
    return name


def _executables(d):
    return [os.path.join(d, n) for n in sorted(os.listdir(d))
            if os.path.isfile(os.path.join(d, n)) and
            os.access(os.path.join(d, n), os.X_OK)]


def binaries(target, opts, top=TOP):
    """refgem-run-tests's --igt and --kselftest arguments."""
    args = []
    igt = os.path.join(top, target.igt) if target.igt else ""
    if igt and opts.suites != "kselftest":
        if os.path.isdir(igt):
            names = _executables(igt)
        else:
            try:
                with open(igt) as f:
                    listed = [l.strip() for l in f]
            except OSError:
                raise Setup(f"no IGT test list {igt} (make build?)") from None
            names = [os.path.join(os.path.dirname(igt), n) for n in listed
                     if n and n not in ("TESTLIST", "END TESTLIST")]
        only = re.compile(target.igt_only)
        for n in names:
            if only.search(os.path.basename(n)):
                args += ["--igt", n]
        if not names:
            raise Setup(f"no IGT binaries in {igt} (make build?)")
    ks = opts.kselftests or target.kselftests
    if ks:
        d = os.path.join(top, ks)
        found = _executables(d) if os.path.isdir(d) else []
        if not found:
            raise Setup(f"no kselftest binaries in {d} (make build?)")
        only = re.compile(target.kselftest_only)
        for n in found:
            if only.search(os.path.basename(n)):
                args += ["--kselftest", n]
        for n in target.extra_kselftests:
            args += ["--kselftest", os.path.join(top, n)]
    if not args:
        raise Setup("nothing to run: no IGT and no kselftest binaries "
                    f"for {target.name}" +
                    (" with SUITES=kselftest" if opts.suites else ""))
    return args


def list_subtests(bins, path):
    """Write {binary: subtests} for the --igt binaries to path, listed on
    the host: the guest takes ~0.7 s a binary (libigt's start-up under
    TCG), the host milliseconds. One it cannot list is left out, and the
    guest lists it (and records a failure there)."""
    igts = [b for f, b in zip(bins[::2], bins[1::2])
                             if f == "--igt"]
    found = {}
    for b in igts:
        try:
            p = subprocess.run([b, "--list-subtests"], capture_output=True,
                               text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            continue
        names = igt.parse_subtest_list(p.stdout)
        if p.returncode == igt.EXIT_SUCCESS or \
                (p.returncode == igt.EXIT_INVALID and not names):
            found[b] = names
    with open(path, "w") as f:
        json.dump(found, f)


def vm_command(target, state, rw, timeout, job, extra_ro=(), driver="",
               vm_args=(), top=TOP):
    """refgem-vm's command line for one guest of target (its kernel,
    profile, devices, modules and refgem.ko with its parameters) that runs
    tools/guest-job.sh with the arguments job; rw is shared read-write.
    Returns (argv, the kernel's paths)."""
    try:
        k = target.kernel.paths(top)
    except TargetError as e:
        raise Setup(str(e)) from None
    driver = driver or target.driver_dir(top)
    ko = os.path.join(driver, "refgem.ko") if target.refgem else ""
    if ko and not os.path.isfile(ko):
        raise Setup(f"no {ko} (make {target.kernel.make or 'build'})")
    # The guest sees the host's root read-only, but its /tmp is its own:
    # the checkout and what is outside it are shared (the kernel's
    # modules only from /tmp, e.g. REFGEM_CACHE=/tmp/...).
    shares = []
    if k["moddir"].startswith("/tmp/"):
        shares += ["--ro", k["moddir"]]
    dirs = list(extra_ro)
    if ko:
        dirs.append(driver)
    for d in dict.fromkeys(dirs):
        if not (d + "/").startswith(top + "/"):
            shares += ["--ro", d]
    env = [f"{k_}={v}" for k_, v in target.env.items()]
    cmd = [os.path.join(TOOLS, "refgem-vm"), "--kernel", k["image"],
           "--moddir", k["moddir"], "--kver", k["kver"],
           "--profile", target.profile, "--edu", str(target.edu),
           "--state", state, "--ro", top, *shares, "--rw", rw,
           "--cwd", top, "--timeout", str(timeout)]
    if target.append:
        cmd += ["--append", target.append]
    for spec in target.devices:
        cmd += ["--device", spec]
    cmd += [*vm_args, "--",
            "env", f"TOP={top}", f"MODDIR={k['moddir']}", f"KVER={k['kver']}",
            f"GUEST_MODULES={' '.join(target.modules)}", f"REFGEM_KO={ko}",
            f"REFGEM_PARAMS={target.params}", *env,
            "/bin/sh", "tools/guest-job.sh", *job]
    return cmd, k


def command(target, opts, results, state, boot_timeout, resume, top=TOP):
    """The refgem-vm command line of one boot of the runner."""
    driver = opts.driver or target.driver_dir(top)
    runner = [a.replace("{driver}", driver) for a in target.runner]
    bins = binaries(target, opts, top)
    exp = os.path.join(top, "expectations", target.name)
    for kind in ("skips", "flakes"):
        if os.path.isfile(f"{exp}-{kind}.txt"):
            runner += [f"--{kind}", f"{exp}-{kind}.txt"]
    if opts.shard:
        runner += ["--shard", opts.shard]
    listed = os.path.join(state, "subtests.json")
    list_subtests(bins, listed)
    runner += ["--subtests", listed]
    job = ["--results", results, "--name", target.name, *bins, *runner,
           *opts.runner_args]
    if resume:
        job += ["--resume", resume, "--console",
                os.path.join(results, "serial.log")]
    return vm_command(target, state, results, boot_timeout, job,
                      extra_ro=[os.path.dirname(b) for b in bins[1::2]],
                      driver=driver, vm_args=opts.vm_args, top=top)


def _append(src, dst, header=None):
    try:
        with open(src, "rb") as f:
            data = f.read()
    except OSError:
        return
    with open(dst, "ab") as out:
        if header:
            out.write(header.encode())
        out.write(data)


def run(target, opts, out, top=TOP):
    """Run target; out(line) prints. Returns the gate's exit status."""
    name = run_name(target, opts)
    results = os.path.join(opts.results_root, name)
    state = os.path.join(top, "build", "vm", name)
    vm_timeout = opts.vm_timeout or target.vm_timeout
    shutil.rmtree(results, ignore_errors=True)
    os.makedirs(results)
    os.makedirs(state, exist_ok=True)
    # The guest's python (the host's, over a read-only 9p root) cannot
    # write bytecode: compiled here, the runner imports ~2 s faster.
    subprocess.run(["/usr/bin/python3", "-m", "compileall", "-q",
                    os.path.dirname(os.path.abspath(__file__))],
                   check=False,
                   stdout=subprocess.DEVNULL)
    # A target whose one guest may run longer (a soak) gets that long.
    deadline = time.monotonic() + max(opts.run_timeout, vm_timeout)
    boot, resume, cut, rc = 1, "", "", 0
    while True:
        timeout = min(vm_timeout, int(deadline - time.monotonic()))
        try:
            cmd, k = command(target, opts, results, state, timeout, resume,
                             top)
        except Setup as e:
            out(f"== {name}: cannot run: {e}")
            return 2
        out(f"== {name}: boot {boot}: {os.path.basename(k['image'])} "
            f"({k['kver']}), profile {target.profile}"
            + (", resuming the run" if resume else ""))
        with open(os.path.join(results, "serial.log"), "a") as f:
            # The runner's --console finds the last boot by this header.
            f.write(f"==== boot {boot} ({name}) ====\n")
        with open(os.path.join(state, "cmdline.txt"), "w") as f:
            f.write(shlex.join(cmd) + "\n")
        rc = guest(cmd, out)
        # The guest's logs belong with its results, whatever happened.
        _append(os.path.join(state, "serial.log"),
                os.path.join(results, "serial.log"))
        for log in ("dmesg.txt", "tasks.txt"):
            _append(os.path.join(state, log), os.path.join(results, log),
                    f"==== boot {boot} ({name}) ====\n")
        d = decide(progress_of(results), rc, boot, timeout,
                   vm_timeout=vm_timeout, max_restarts=opts.max_restarts,
                   run_timeout=opts.run_timeout,
                   out_of_time=time.monotonic() >= deadline)
        if d.action == "done":
            break
        if d.action == "no-results":
            out(f"== {name}: no results: {d.why} (see {results}/serial.log)")
            break
        if d.action == "cut":
            cut = d.why
            break
        out(f"== {name}: {d.why} in boot {boot} (status {rc}); resuming "
            "the run in a fresh guest")
        boot += 1
        resume = d.resume_as

    if os.path.exists(os.path.join(results, FILENAME)):
        try:
            if cut:
                out(f"== {name}: the run was cut short: {cut}")
            text = report.write(results, cut or None)
            if cut or rc != 0:
                for line in text.splitlines():
                    out(line)
        except (OSError, ResultsError) as e:
            out(f"refgem-report: {e}")
    verdict = _gate(results, target.name, out)
    if not cut and rc != 0 and os.path.exists(os.path.join(results,
                                                            FILENAME)):
        # Every test has a result, but a guest that dies after its last
        # test is a kernel problem no test owns: never a pass.
        out(f"== {name}: the guest of boot {boot} ended with status {rc} "
            f"after the run completed (logs in {results})")
        verdict = verdict or 1
    return verdict


def guest(cmd, out):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            errors="replace")
    for line in proc.stdout:
        out(line.rstrip("\n"))
    return proc.wait()


def _gate(results, target, out):
    """refgem-gate in a child, its lines through out()."""
    p = subprocess.run([os.path.join(TOOLS, "refgem-gate"), "--results",
                        results, "--target", target], capture_output=True,
                       text=True)
    for line in (p.stdout + p.stderr).splitlines():
        out(line)
    return p.returncode
