#!/usr/bin/env python3
"""Counts the native suite's results per test case from meson's logs.

meson's JUnit log lists every GoogleTest case (protocol 'gtest') and every
plain test; its JSON log says how each test binary ended. A binary that
crashed or timed out without reporting a failing case still counts as one
failure, so a crash can never look like a pass.

Prints 'native: N passed, N failed, N skipped'.
"""
import json
import sys
import xml.etree.ElementTree as ET


def main(build_dir: str) -> int:
    passed = failed = skipped = 0
    failed_suites = set()
    root = ET.parse(f"{build_dir}/meson-logs/testlog.junit.xml").getroot()
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failed_suites.add(suite.get("name", ""))
                print(f"FAILED: {suite.get('name')} {case.get('name')}")
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    with open(f"{build_dir}/meson-logs/testlog.json") as log:
        for line in log:
            test = json.loads(line)
            if test.get("result") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
                name = test.get("name", "")
                if not any(s.endswith("." + name) or s.split(".")[1:2] == [name]
                           for s in failed_suites):
                    failed += 1
                    print(f"FAILED: {name} ({test.get('result')}, no failing case reported)")
    print(f"native: {passed} passed, {failed} failed, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "build"))
