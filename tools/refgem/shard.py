"""Sharding as drm-ci does it: shard I of N (1-based, GitLab's CI_NODE_INDEX
and CI_NODE_TOTAL) runs `sed -n "I~N p"` of the sorted case list.

A case is what one shard runs whole: an IGT subtest ("igt@bin@sub"), an
IGT binary without subtests ("igt@bin"), or a kselftest binary
("kselftest@bin", which cannot be split: its tests all belong to it).
"""
import re


class ShardError(ValueError):
    pass


def parse(text):
    """(index, total) from "I/N", 1 <= I <= N."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text or "")
    if not m:
        raise ShardError(f"shard {text!r} is not I/N")
    index, total = int(m.group(1)), int(m.group(2))
    if not 1 <= index <= total:
        raise ShardError(f"shard {text!r}: need 1 <= I <= N")
    return index, total


def select(cases, index, total):
    """This shard's cases, in sorted order: lines index, index + total, ...
    of the sorted list (sed -n "index~total p")."""
    return sorted(cases)[index - 1::total]


def case_of(name):
    """The case a test name belongs to."""
    if name.startswith("kselftest@"):
        return "@".join(name.split("@")[:2])
    return name
