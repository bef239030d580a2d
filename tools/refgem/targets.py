"""The gate targets of targets.toml: load, check and resolve them.

A target names a kernel (where its image, modules and refgem.ko come
from), the guest (profile, edu and other PCI devices, kernel command line), what is
loaded before the tests (modules, refgem and its parameters), the suites
(IGT binaries, kselftest binaries, runner arguments, environment) and
its expectation files (expectations/<name>-*.txt). This module only reads
the table; boot.py runs a target.
"""
import os
import re
import tomllib
from dataclasses import dataclass, field

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TABLE = os.path.join(TOP, "targets.toml")
PROFILES = ("swiotlb", "iommu", "none")
GROUPS = ("run", "test", "bench", "soak")
# Field name -> the types a value may have.
FIELDS = {
    "base": str, "kernel": str, "profile": str, "edu": int,
    "devices": list, "modules": list, "refgem": bool, "params": str, "igt": str,
    "igt_only": str, "kselftests": str, "kselftest_only": str,
    "extra_kselftests": list,
    "runner": list, "env": dict, "append": str, "vm_timeout": int,
    "groups": list, "ci_shards": int, "doc": str,
}
KERNEL_FIELDS = {"doc": str, "config": str, "vars": str, "driver": str,
                 "make": str}


class TargetError(Exception):
    pass


@dataclass(frozen=True)
class Kernel:
    name: str
    doc: str
    config: str         # make-syntax file the set-up writes
    vars: str           # suffix of its KERNEL_IMAGE, MODDIR, KVER
    driver: str         # directory of refgem.ko built for it
    make: str = ""      # make target that builds it and refgem for it

    def paths(self, top=TOP):
        """{"image", "moddir", "kver"} from the config the set-up wrote."""
        path = os.path.join(top, self.config)
        try:
            conf = read_make_vars(path)
        except OSError as e:
            raise TargetError(f"kernel {self.name}: cannot read {path} "
                              f"({e.strerror}): run `make build` first"
                              ) from None
        out = {}
        for key, var in (("image", "KERNEL_IMAGE"), ("moddir", "MODDIR"),
                         ("kver", "KVER")):
            out[key] = conf.get(var + self.vars, "")
        if not out["image"]:
            raise TargetError(f"kernel {self.name}: {path} names no "
                              f"KERNEL_IMAGE{self.vars}")
        return out


@dataclass(frozen=True)
class Target:
    name: str
    kernel: Kernel
    profile: str
    edu: int
    devices: tuple      # more QEMU -device specs, each behind a root port
    modules: tuple
    refgem: bool
    params: str
    igt: str
    igt_only: str
    kselftests: str
    kselftest_only: str
    extra_kselftests: tuple
    runner: tuple
    env: dict = field(hash=False)
    append: str
    vm_timeout: int
    groups: tuple
    ci_shards: int
    doc: str

    def driver_dir(self, top=TOP):
        return os.path.join(top, self.kernel.driver)


def read_make_vars(path):
    """NAME := value lines of a make fragment, as a dict."""
    out = {}
    with open(path) as f:
        for line in f:
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:=\s*(.*?)\s*$", line)
            if m:
                out[m.group(1)] = m.group(2)
    return out


def _check(where, d, allowed):
    for k, v in d.items():
        if k not in allowed:
            raise TargetError(f"{where}: unknown field {k!r}")
        if not isinstance(v, allowed[k]) or \
                (allowed[k] is int and isinstance(v, bool)):
            raise TargetError(f"{where}: {k} must be a "
                              f"{allowed[k].__name__}, not {v!r}")


def parse(doc, where="targets.toml"):
    """{name: Target} from the table's parsed TOML."""
    unknown = set(doc) - {"kernel", "defaults", "target"}
    if unknown:
        raise TargetError(f"{where}: unknown section {sorted(unknown)[0]!r}")
    kernels = {}
    for name, k in doc.get("kernel", {}).items():
        _check(f"{where}: kernel {name}", k, KERNEL_FIELDS)
        missing = {"doc", "config", "vars", "driver"} - set(k)
        if missing:
            raise TargetError(f"{where}: kernel {name}: no "
                              f"{sorted(missing)[0]}")
        kernels[name] = Kernel(name=name, **k)
    defaults = doc.get("defaults", {})
    _check(f"{where}: defaults", defaults, FIELDS)
    raw = doc.get("target", {})
    out = {}

    def resolve(name, seen=()):
        if name not in raw:
            raise TargetError(f"{where}: no target {name!r}"
                              + (f" (base of {seen[-1]})" if seen else ""))
        if name in seen:
            raise TargetError(f"{where}: target {name}: its base "
                              "names itself")
        t = raw[name]
        _check(f"{where}: target {name}", t, FIELDS)
        fields = dict(resolve(t["base"], seen + (name,)) if "base" in t
                      else defaults)
        env = dict(fields.get("env", {}))
        env.update(t.get("env", {}))
        fields.update(t)
        fields["env"] = env
        fields.pop("base", None)
        return fields

    for name in raw:
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]*", name):
            raise TargetError(f"{where}: target name {name!r}: use "
                              "lower-case letters, digits, '.' and '-'")
        f = resolve(name)
        missing = (set(FIELDS) - {"base"}) - set(f)
        if missing:
            raise TargetError(f"{where}: target {name}: no "
                              f"{sorted(missing)[0]}")
        if f["kernel"] not in kernels:
            raise TargetError(f"{where}: target {name}: unknown kernel "
                              f"{f['kernel']!r}")
        if f["profile"] not in PROFILES:
            raise TargetError(f"{where}: target {name}: profile must be "
                              f"one of {', '.join(PROFILES)}")
        bad = set(f["groups"]) - set(GROUPS)
        if bad:
            raise TargetError(f"{where}: target {name}: unknown group "
                              f"{sorted(bad)[0]!r}")
        if f["edu"] < 0 or f["vm_timeout"] <= 0 or f["ci_shards"] < 0:
            raise TargetError(f"{where}: target {name}: edu, vm_timeout "
                              "and ci_shards must not be negative")
        for k in ("igt_only", "kselftest_only"):
            try:
                re.compile(f[k])
            except re.error as e:
                raise TargetError(f"{where}: target {name}: {k}: {e}"
                                  ) from None
        for k, v in f["env"].items():
            if not isinstance(v, str):
                raise TargetError(f"{where}: target {name}: env {k} must "
                                  "be a string")
        f["kernel"] = kernels[f["kernel"]]
        for k in ("devices", "modules", "extra_kselftests", "runner",
                  "groups"):
            if not all(isinstance(v, str) for v in f[k]):
                raise TargetError(f"{where}: target {name}: {k} must be a "
                                  "list of strings")
            f[k] = tuple(f[k])
        out[name] = Target(name=name, **f)
    return out


def load(path=TABLE):
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as e:
        raise TargetError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise TargetError(f"{path}: {e}") from None
    return parse(doc, os.path.basename(path))


def select(table, names):
    """Targets for names (target names, or the groups "run" and "test"),
    in the order given, each once; no names: group "run"."""
    out = []
    for n in names or ["run"]:
        if n in GROUPS:
            picked = [t for t in table.values() if n in t.groups]
        elif n in table:
            picked = [table[n]]
        else:
            raise TargetError(f"unknown target {n!r}; targets: "
                              f"{', '.join(table)}; groups: "
                              f"{', '.join(GROUPS)}")
        out += [t for t in picked if t not in out]
    return out
