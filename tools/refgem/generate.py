"""What is derived from targets.toml: README's target table and
.gitlab-ci.yml. `refgem-targets generate` rewrites both; --check (and the
tools' tests) fail when a committed copy differs from what the table
gives."""
import os

from .targets import TOP

README = os.path.join(TOP, "README.md")
GITLAB = os.path.join(TOP, ".gitlab-ci.yml")
BEGIN = "<!-- targets: generated from targets.toml by " \
        "`tools/refgem-targets generate`; do not edit -->"
END = "<!-- end of targets -->"
PROFILE_DOC = {
    "swiotlb": "`swiotlb=force`",
    "iommu": "`-device intel-iommu`",
    "none": "no IOMMU, no bouncing",
}


def readme_table(table):
    rows = ["| target | kernel | guest | what runs | in |",
            "| --- | --- | --- | --- | --- |"]
    for t in table.values():
        if not t.groups:
            continue
        guest = PROFILE_DOC[t.profile]
        if t.edu != 2:
            guest += f", {t.edu} edu" if t.edu else ", no edu device"
        for spec in t.devices:
            guest += f", `{spec}`"
        groups = ", ".join(f"`make {g}`" for g in t.groups)
        rows.append(f"| `{t.name}` | {t.kernel.doc} | {guest} | {t.doc} "
                    f"| {groups} |")
    return "\n".join(rows) + "\n"


def readme_text(table, text):
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        _, tail = rest.split(END, 1)
    except ValueError:
        raise ValueError(f"{README} lacks the markers {BEGIN!r} ... "
                         f"{END!r}") from None
    return head + BEGIN + "\n" + readme_table(table) + END + tail


GITLAB_HEAD = """\
# SPDX-License-Identifier: MIT
# Generated from targets.toml by `tools/refgem-targets generate`; do not
# edit (the tools' tests fail when this file is stale).
#
# refgem's CI, drm-ci style: the project's own checks; every gate target
# with ci_shards in targets.toml, in that many parallel shards (GitLab's
# CI_NODE_INDEX/CI_NODE_TOTAL, each a stable `sed -n "I~N p"` slice of the
# sorted case list); then one job that merges each target's shards into
# one results directory, publishes its junit.xml and gives the verdict.
# Locally: `make test`, or `make run TARGETS=refgem-swiotlb SHARD=1/2` and
# tools/refgem-merge.
#
# Needs a runner with the docker executor; the guests run under QEMU's TCG,
# so no /dev/kvm and no privileges are needed.

stages: [check, test, gate]

variables:
  CI: "true"                    # userspace builds with -Werror
  # Debian's guest kernels (and the debug kernel), kept between jobs.
  REFGEM_CACHE: $CI_PROJECT_DIR/.cache/refgem
  DEBIAN_FRONTEND: noninteractive
  JOBS: "1"                     # one guest per job: jobs run side by side

default:
  image: debian:bookworm
  # tools/setup.sh installs everything else (QEMU, kernel headers, IGT...).
  before_script:
    - apt-get update -qq
    - apt-get install -y -qq --no-install-recommends make git ca-certificates
  cache:
    key: refgem-guest-kernels
    paths: [.cache/refgem/]

# The README's first command in this fresh checkout, then W=1 and
# checkpatch, the tools' unit tests and the runner's guest self-test.
checks:
  stage: check
  script:
    - make run TARGETS=vgem
    - tools/project-tests driver-w1 driver-6.12-w1 checkpatch tools-selftest
      runner-selftest
  artifacts:
    when: always
    paths: [build/test-logs/, build/runner-selftest/, results/]
    expire_in: 1 week

# One job per target, or per shard of it; its exit status is its own
# gate. Results go to results/<target>[-shard-<I>-of-<N>]/.
.target:
  stage: test
  needs: []
  script:
    - make run TARGETS="$TARGET"
      SHARD="${CI_NODE_INDEX:+$CI_NODE_INDEX/$CI_NODE_TOTAL}"
  artifacts:
    when: always
    paths: [results/]
    expire_in: 1 week
"""


def gitlab(table):
    jobs = [t for t in table.values() if t.ci_shards]
    out = [GITLAB_HEAD]
    for t in jobs:
        out.append(f"\n{t.name}:\n  extends: .target\n")
        if t.ci_shards > 1:
            out.append(f"  parallel: {t.ci_shards}\n")
        out.append(f"  variables: {{TARGET: {t.name}}}\n")
    for t in table.values():
        if "soak" in t.groups:
            out.append(f"\n# `make soak`: on a schedule only, not a gate of "
                       f"every pipeline.\n{t.name}:\n  extends: .target\n"
                       "  rules:\n"
                       "    - if: $CI_PIPELINE_SOURCE == \"schedule\"\n"
                       f"  variables: {{TARGET: {t.name}}}\n")
    out.append("""
# Runs even when targets failed: a missing or cut-short shard makes the
# merged run cut short, and the gate fails it.
gate:
  stage: gate
  needs: [""" + ", ".join(t.name for t in jobs) + """]
  when: always
  cache: []
  before_script:
    - apt-get update -qq
    - apt-get install -y -qq --no-install-recommends python3
  script:
    - |
      rc=0
""")
    for t in jobs:
        if t.ci_shards > 1:
            out.append(f"      tools/refgem-merge results/{t.name} "
                       f"results/{t.name}-shard-*-of-* --target {t.name} "
                       "|| rc=1\n")
        else:
            out.append(f"      tools/refgem-gate --results results/{t.name} "
                       f"--target {t.name} || rc=1\n")
    out.append("""      exit $rc
  artifacts:
    when: always
    paths: [results/]
    reports:
      junit:
""")
    for t in jobs:
        out.append(f"        - results/{t.name}/junit.xml\n")
    out.append("    expire_in: 1 week\n")
    return "".join(out)


def main(table, check):
    """Rewrite (or with check, compare) the derived files; exit status."""
    with open(README) as f:
        readme = f.read()
    wanted = {README: readme_text(table, readme)}
    wanted[GITLAB] = gitlab(table)
    stale = []
    for path, text in wanted.items():
        try:
            with open(path) as f:
                have = f.read()
        except OSError:
            have = None
        if have == text:
            continue
        stale.append(path)
        if not check:
            with open(path, "w") as f:
                f.write(text)
    for path in stale:
        print(f"refgem-targets: {os.path.relpath(path, TOP)} "
              + ("is stale: run tools/refgem-targets generate" if check
                 else "rewritten from targets.toml"))
    return 1 if check and stale else 0
