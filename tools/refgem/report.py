"""Human and CI views of a results.json: junit.xml and summary.txt.

Both show raw results; which of them matter is decided by refgem-gate.
junit.xml follows the schema GitLab renders: one <testsuite> per binary
("igt@refgem_basic"), <testcase classname="refgem_basic" name="subtest">,
<failure> for every result but pass and skip, <skipped> for skip and notrun.
Only tests that did not pass carry <system-out> (out, err, dmesg, each cut
to its head and tail), which keeps the file small enough for GitLab. A run
that was cut short or did not reach its end gets one more failed testcase,
"refgem@run" / "complete", so that CI shows it next to the tests.
"""
import os
import re
import xml.etree.ElementTree as ET

from . import igt
from . import results as res

SECTION_HEAD = 2000     # characters kept from the start of out/err/dmesg
SECTION_TAIL = 6000     # ... and from their end
REASON_MAX = 200
GOOD = ("pass", "skip")

# Lines that say why a test ended, best first: the runner's own notes, IGT's
# failure and skip reports, the kselftest harness's, then crash signs.
_REASON = [re.compile(p) for p in (
    r"refgem-runner: .*",
    r"Failed assertion: .*",
    r"Test requirement: .*",
    r"Test requirement not met.*",
    r"CRITICAL: .*",
    r"# \S+:\d+:\S+:Expected .*",     # a failed ASSERT_*/EXPECT_*
    r"# \S+: Test (?!terminated by assertion).*",
    r"#\s+SKIP\s+.*",
    r"Bail out! .*",
    r"Received signal .*",
    r"# \S+:\d+:\S+:.*",              # any other TH_LOG
)]
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def split_name(name):
    """("igt@refgem_basic", "refgem_basic", "create-close") for a test name."""
    parts = name.split("@", 2)
    binary = parts[1] if len(parts) > 1 else name
    return "@".join(parts[:2]), binary, parts[2] if len(parts) > 2 else binary


def reason(test):
    """One line on why a test ended as it did."""
    texts = (test.get("err", ""), test.get("out", ""))
    lines = []
    if test["result"] in ("dmesg-warn", "dmesg-fail"):
        lines += test.get("dmesg-warnings", "").splitlines()[:1]
    if test["result"] == "warn":
        lines += igt.extra_stderr(texts[0])[:1]
    lines += [m.group(0) for m in (p.search(t) for p in _REASON for t in texts)
              if m][:1]
    lines += [_last_line(t) for t in texts if t.strip()][:1]
    line = lines[0].strip() if lines else test["result"]
    return line if len(line) <= REASON_MAX else line[:REASON_MAX - 3] + "..."


def _last_line(text):
    return [l for l in text.splitlines() if l.strip()][-1]


def _cut(text):
    if len(text) <= SECTION_HEAD + SECTION_TAIL:
        return text
    cut = len(text) - SECTION_HEAD - SECTION_TAIL
    return (text[:SECTION_HEAD] + f"\n[... {cut} characters cut ...]\n"
            + text[-SECTION_TAIL:])


def _xml_text(text):
    return _XML_BAD.sub("?", text)


def run_problem(doc):
    """Why the run as a whole is not a complete run, or None."""
    m = res.meta(doc)
    if m.get("cut_short"):
        return f"the run was cut short: {m['cut_short']}"
    if m.get("complete") is False:
        return "the run did not reach its end"
    return None


def run_lines(doc):
    """summary.txt's lines on the run itself: shard, guest boots, problem."""
    m = res.meta(doc)
    lines = []
    info = m.get("shard")
    if info:
        lines.append(f"shard: {info['index']}/{info['total']}, "
                     f"{len(info['cases'][info['index'] - 1::info['total']])}"
                     f" of {len(info['cases'])} cases")
    if m.get("merged"):
        lines.append(f"merged from {m['merged']} shards")
    if m.get("resumed"):
        lines.append(f"guest boots: {m.get('boots', 1)}"
                     + (" (all shards)" if m.get("merged") else ""))
        for r in m.get("resumed", ()):
            where = f"shard {r['shard']} " if "shard" in r else ""
            left = ", ".join(r["interrupted"]) or "no test running"
            lines.append(f"  {where}boot {r['boot']} resumed the run; the "
                         f"guest before it left {left} -> {r['as']}")
    problem = run_problem(doc)
    if problem:
        lines.append(problem)
    return lines


def junit(doc, root):
    """The junit.xml document (an ElementTree) for a results document."""
    tests = doc["tests"]
    suites = {}
    for name in sorted(tests):
        suites.setdefault(split_name(name)[0], []).append(name)
    top = ET.Element("testsuites", name=doc.get("name", ""))
    counts = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
    for suite_name, names in suites.items():
        suite = ET.SubElement(top, "testsuite", name=suite_name)
        c = {"tests": 0, "failures": 0, "skipped": 0, "time": 0.0}
        for name in names:
            test = tests[name]
            _, classname, case_name = split_name(name)
            seconds = res.duration(test)
            case = ET.SubElement(suite, "testcase", classname=classname,
                                 name=case_name, time=f"{seconds:.3f}")
            c["tests"] += 1
            c["time"] += seconds
            result = test["result"]
            if result == "pass":
                continue
            why = _xml_text(reason(test))
            if result in ("skip", "notrun"):
                ET.SubElement(case, "skipped", message=f"{result}: {why}")
                c["skipped"] += 1
            else:
                ET.SubElement(case, "failure", type=result,
                              message=f"{result}: {why}").text = why
                c["failures"] += 1
            body = "".join(f"--- {part} ---\n{_cut(test.get(part, ''))}\n"
                           for part in ("out", "err", "dmesg"))
            if "job" in test:
                body += f"--- job: {os.path.join(root, test['job'])} ---\n"
            ET.SubElement(case, "system-out").text = _xml_text(body)
        for key, value in c.items():
            suite.set(key, f"{value:.3f}" if key == "time" else str(value))
            counts[key] += value
    problem = run_problem(doc)
    if problem:
        suite = ET.SubElement(top, "testsuite", name="refgem@run", tests="1",
                              failures="1", skipped="0", time="0.000")
        case = ET.SubElement(suite, "testcase", classname="refgem",
                             name="complete", time="0.000")
        ET.SubElement(case, "failure", type="incomplete",
                      message=problem).text = problem
        counts["tests"] += 1
        counts["failures"] += 1
    for key, value in counts.items():
        top.set(key, f"{value:.3f}" if key == "time" else str(value))
    return ET.ElementTree(top)


def summary(doc, root):
    """summary.txt: totals, every test that did not pass, a verdict line."""
    tests = doc["tests"]
    run = res.totals(tests).get("root", dict.fromkeys(res.RESULTS, 0))
    counts = ", ".join(f"{k} {v}" for k, v in run.items() if v)
    lines = [f"refgem results: {doc.get('name', '')} ({doc.get('uname', '')})",
             f"totals: {len(tests)} tests" + (f": {counts}" if counts else "")]
    lines += run_lines(doc)
    bad = sorted(n for n, t in tests.items() if t["result"] != "pass")
    if bad:
        lines.append("not passed:")
        width = max(len(tests[n]["result"]) for n in bad)
        for name in bad:
            test = tests[name]
            where = os.path.join(root, test["job"]) if "job" in test else "-"
            lines.append(f"  {test['result']:<{width}}  {name}: "
                         f"{reason(test)}  [{where}]")
    failed = {r: n for r, n in run.items() if n and r not in GOOD}
    problem = run_problem(doc)
    if not tests:
        verdict = "FAIL: no tests ran"
    elif problem:
        verdict = (f"FAIL: {problem}; {run['pass']} of {len(tests)} tests "
                   "passed")
    elif failed:
        verdict = (f"FAIL: {sum(failed.values())} of {len(tests)} tests failed ("
                   + ", ".join(f"{n} {r}" for r, n in failed.items())
                   + f"), {run['skip']} skipped")
    else:
        verdict = (f"PASS: {run['pass']} of {len(tests)} tests passed, "
                   f"{run['skip']} skipped")
    lines.append(f"verdict: {verdict} (raw results; refgem-gate applies "
                 "the expectations)")
    return "\n".join(lines) + "\n"


def write(root, cut_short=None):
    """Write root/junit.xml and root/summary.txt; return the summary.
    cut_short: first record in results.json why the run ended early."""
    if cut_short:
        results = res.Results.open(root)
        results.cut_short(cut_short)
        results.write()
    doc = res.load(os.path.join(root, res.FILENAME))
    tree = junit(doc, root)
    ET.indent(tree)
    tree.write(os.path.join(root, "junit.xml"), encoding="utf-8",
               xml_declaration=True)
    text = summary(doc, root)
    with open(os.path.join(root, "summary.txt"), "w", encoding="utf-8") as f:
        f.write(text)
    return text
