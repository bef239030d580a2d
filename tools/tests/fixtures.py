"""Small results directories and expectation files, made on the fly."""
import os
import tempfile

from refgem.results import Results


def results_dir(parent, tests, name="fixture", **meta):
    """A results dir under parent holding {test name: result or test dict};
    a run that reached its end unless meta (results.json's "refgem") says
    otherwise."""
    root = tempfile.mkdtemp(dir=parent)
    os.rmdir(root)
    results = Results.create(root, name)
    results.meta.update(complete=True, **meta)
    for test_name, spec in tests.items():
        spec = {"result": spec} if isinstance(spec, str) else dict(spec)
        results.set(test_name, spec.pop("result"), start=1.0, end=1.5, **spec)
    results.write()
    return root


def expectations_dir(parent, target="qemu", fails="", flakes="", skips="",
                     reasons=""):
    root = tempfile.mkdtemp(dir=parent)
    for kind, text in (("fails", fails), ("flakes", flakes), ("skips", skips),
                       ("reasons", reasons)):
        if text:
            with open(os.path.join(root, f"{target}-{kind}.txt"), "w") as f:
                f.write(text)
    return root
