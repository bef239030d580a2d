"""targets.toml: the table parses, every target is complete and has its
expectation files, the derived files are current, and a broken table
gives one clear error."""
import os
import subprocess
import tempfile
import unittest

from refgem import generate, targets
from refgem.targets import TargetError

TOP = targets.TOP
MINIMAL = {
    "kernel": {"k": {"doc": "K", "config": "c.mk", "vars": "",
                     "driver": "d"}},
    "defaults": {"kernel": "k", "profile": "swiotlb", "edu": 2,
                 "devices": [], "modules": [], "refgem": True, "params": "", "igt": "",
                 "igt_only": "", "kselftests": "ks", "kselftest_only": "",
                 "extra_kselftests": [], "runner": [], "env": {"A": "1"},
                 "append": "", "vm_timeout": 10, "groups": ["run"],
                 "ci_shards": 0, "doc": "d"},
    "target": {"a": {}, "b": {"base": "a", "params": "revoke=0",
                              "env": {"B": "2"}, "groups": []}},
}


def with_target(**fields):
    doc = {k: (dict(v) if isinstance(v, dict) else v)
           for k, v in MINIMAL.items()}
    doc["target"] = {**MINIMAL["target"], "x": fields}
    return doc


class TableTest(unittest.TestCase):
    def test_the_table_loads(self):
        table = targets.load()
        self.assertIn("refgem-swiotlb", table)
        self.assertIn("runner-selftest", table)

    def test_every_target_has_its_expectation_files(self):
        for name in targets.load():
            for kind in ("fails", "flakes", "skips"):
                path = os.path.join(TOP, "expectations",
                                    f"{name}-{kind}.txt")
                self.assertTrue(os.path.isfile(path), path)

    def test_no_expectation_files_without_a_target(self):
        names = set(targets.load())
        for f in os.listdir(os.path.join(TOP, "expectations")):
            name = f.rsplit("-", 1)[0]
            self.assertIn(name, names, f"expectations/{f} has no target")

    def test_derived_files_are_current(self):
        table = targets.load()
        with open(generate.README) as f:
            self.assertEqual(f.read(), generate.readme_text(
                table, open(generate.README).read()),
                "README's target table is stale: tools/refgem-targets "
                "generate")
        with open(generate.GITLAB) as f:
            self.assertEqual(f.read(), generate.gitlab(table),
                             ".gitlab-ci.yml is stale: tools/refgem-targets "
                             "generate")

    def test_base_and_env_merge(self):
        t = targets.parse(MINIMAL)
        self.assertEqual(t["b"].params, "revoke=0")
        self.assertEqual(t["b"].env, {"A": "1", "B": "2"})
        self.assertEqual(t["b"].groups, ())
        self.assertEqual(t["a"].env, {"A": "1"})

    def test_select_groups_and_names(self):
        t = targets.parse(MINIMAL)
        self.assertEqual([x.name for x in targets.select(t, [])], ["a"])
        self.assertEqual([x.name for x in targets.select(t, ["b", "run",
                                                             "a"])],
                         ["b", "a"])
        with self.assertRaisesRegex(TargetError, "unknown target 'zz'"):
            targets.select(t, ["zz"])

    def test_unknown_target_on_the_command_line(self):
        """The entry script users type: one line and status 2."""
        p = subprocess.run([os.path.join(TOP, "tools", "refgem-targets"),
                            "run", "--no-build", "no-such-target"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertEqual(p.stdout, "")
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertIn("unknown target 'no-such-target'", p.stderr)

    def test_bad_tables_say_what_is_wrong(self):
        cases = [
            (with_target(kernel="nope"), "unknown kernel 'nope'"),
            (with_target(profile="kvm"), "profile must be one of"),
            (with_target(edu="2"), "edu must be a int"),
            (with_target(edu=True), "edu must be a int"),
            (with_target(devices=[1]), "devices must be a list of strings"),
            (with_target(colour="red"), "unknown field 'colour'"),
            (with_target(groups=["nightly"]), "unknown group 'nightly'"),
            (with_target(base="x"), "its base names itself"),
            (with_target(base="nope"), "no target 'nope'"),
            (with_target(igt_only="("), "igt_only"),
            (with_target(kselftest_only="[a-"), "kselftest_only"),
            (with_target(env={"N": 3}), "env N must be a string"),
            ({**MINIMAL, "extra": {}}, "unknown section 'extra'"),
        ]
        for doc, msg in cases:
            with self.subTest(msg=msg):
                with self.assertRaisesRegex(TargetError, msg):
                    targets.parse(doc)

    def test_malformed_toml_is_one_error(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write("[target.a\n")
            f.flush()
            with self.assertRaisesRegex(TargetError, "a.toml|.toml"):
                targets.load(f.name)

    def test_kernel_paths_from_the_setup_config(self):
        k = targets.parse(MINIMAL)["a"].kernel
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaisesRegex(TargetError, "make build"):
                k.paths(d)
            with open(os.path.join(d, "c.mk"), "w") as f:
                f.write("# x\nKERNEL_IMAGE := /k/vmlinux\nMODDIR := /m\n"
                        "KVER := 6.1.0\n")
            self.assertEqual(k.paths(d), {"image": "/k/vmlinux",
                                          "moddir": "/m", "kver": "6.1.0"})
