#!/usr/bin/env python3
"""Summarize Autobahn reports and decide pass/fail.

    python3 autobahn/summary.py autobahn/reports/server [autobahn/reports/client ...]

Prints, per role and per section (1, 2, ..., 13), the number of cases and how
many were OK, NON-STRICT, INFORMATIONAL, UNIMPLEMENTED and FAILED, plus the
close behaviour, and the seconds the cases took (wstest's own case durations).
Exits 1 if any case is worse than OK/INFORMATIONAL, any
close behaviour is not OK/INFORMATIONAL, fewer cases than the suite's ran, or a case is UNIMPLEMENTED (outside
the sections listed in ALLOW_UNIMPLEMENTED, now none).
"""

import json
import os
import sys
from collections import OrderedDict

# No section may be UNIMPLEMENTED: permessage-deflate (12.x, 13.x) is implemented.
ALLOW_UNIMPLEMENTED = set()
GOOD = {"OK", "INFORMATIONAL"}
# autobahntestsuite 0.8.2 has 517 cases; a report with fewer means cases did
# not run (set AUTOBAHN_EXPECTED_CASES=0 when running a subset).
EXPECTED_CASES = int(os.environ.get("AUTOBAHN_EXPECTED_CASES", "517"))
COLUMNS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]


def case_key(case_id):
    return tuple(int(p) for p in case_id.split("."))


def summarize(report_dir):
    with open(os.path.join(report_dir, "index.json")) as f:
        index = json.load(f)
    role = os.path.basename(os.path.normpath(report_dir))
    failures = []
    rows = []
    if not index:
        failures.append("%s: the report has no agent" % role)
    for agent, cases in sorted(index.items()):
        if EXPECTED_CASES and len(cases) < EXPECTED_CASES:
            failures.append("%s %s: only %d of %d cases ran" % (role, agent, len(cases), EXPECTED_CASES))
        sections = OrderedDict()
        for case_id in sorted(cases, key=case_key):
            result = cases[case_id]
            section = case_id.split(".")[0]
            s = sections.setdefault(section, {c: 0 for c in COLUMNS + ["cases", "close-bad", "ms"]})
            s["cases"] += 1
            s["ms"] += result.get("duration", 0)
            behavior = result["behavior"]
            close = result["behaviorClose"]
            s[behavior if behavior in COLUMNS else "FAILED"] += 1
            bad_close = close not in GOOD and not (behavior == "UNIMPLEMENTED" and close == "UNIMPLEMENTED")
            if bad_close:
                s["close-bad"] += 1
            allowed_unimpl = behavior == "UNIMPLEMENTED" and section in ALLOW_UNIMPLEMENTED
            if (behavior not in GOOD and not allowed_unimpl) or (bad_close and not allowed_unimpl):
                failures.append("%s %s %s: behavior %s, close %s" % (role, agent, case_id, behavior, close))
        for section, s in sections.items():
            rows.append((role, section, s))
    return rows, failures


def main(dirs):
    all_rows, all_failures = [], []
    for d in dirs:
        rows, failures = summarize(d)
        all_rows += rows
        all_failures += failures
    header = ["role", "section", "cases"] + COLUMNS + ["close", "seconds"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    totals = {}
    for role, section, s in all_rows:
        close = "OK" if s["close-bad"] == 0 else "%d not OK" % s["close-bad"]
        print(
            "| %s | %s | %d | %s | %s | %.0f |"
            % (role, section, s["cases"], " | ".join(str(s[c]) for c in COLUMNS), close, s["ms"] / 1000.0)
        )
        t = totals.setdefault(role, {c: 0 for c in COLUMNS + ["cases", "ms"]})
        for c in COLUMNS + ["cases", "ms"]:
            t[c] += s[c]
    for role, t in totals.items():
        print("| %s | all | %d | %s | | %.0f |" % (role, t["cases"], " | ".join(str(t[c]) for c in COLUMNS), t["ms"] / 1000.0))
    if all_failures:
        print("\n%d case(s) not acceptable:" % len(all_failures))
        for f in all_failures:
            print("  " + f)
        return 1
    print("\nall cases acceptable")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
