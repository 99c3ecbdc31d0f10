#!/usr/bin/env python3
"""The oracle of tests/ktap.rs: parse each console file of a folder with the kernel's own
kunit_parser.py and print, one JSON line per file in the order given, its test tree (name,
status, counts of every test), the parse errors kunit_parser printed, and kunit.py's verdict
(`parse` succeeds only when the run's status is SUCCESS).

usage: kunit_oracle.py KUNIT_DIR FOLDER N   (reads FOLDER/0.log … FOLDER/N-1.log)

KUNIT_DIR holds the base's tools/testing/kunit/*.py; nothing of it is kept in this repository.
"""

import inspect
import json
import sys


def main() -> None:
    sys.path.insert(0, sys.argv[1])
    sys.setrecursionlimit(10000)
    import kunit_parser
    import kunit_printer

    class Capture(kunit_printer.Printer):
        """A printer that prints nothing and keeps the `[ERROR]` lines."""

        def __init__(self) -> None:
            super().__init__(print=False)
            self.errors = []

        def print_with_timestamp(self, message: str) -> None:
            if message.startswith('[ERROR] '):
                self.errors.append(message[len('[ERROR] '):])

    takes_printer = 'printer' in inspect.signature(kunit_parser.parse_run_tests).parameters

    def tree(t) -> dict:
        c = t.counts
        return {
            'name': t.name,
            'status': t.status.name,
            'counts': [c.passed, c.failed, c.crashed, c.skipped, c.errors],
            'subtests': [tree(s) for s in t.subtests],
        }

    folder, n = sys.argv[2], int(sys.argv[3])
    for i in range(n):
        path = f'{folder}/{i}.log'
        # As `kunit.py parse FILE` reads it.
        with open(path, 'r', errors='backslashreplace', encoding='utf-8') as f:
            lines = f.read().splitlines()
        printer = Capture()
        try:
            if takes_printer:
                t = kunit_parser.parse_run_tests(lines, printer)
            else:
                t = kunit_parser.parse_run_tests(lines)
        except Exception as e:  # kunit.py would die here: a difference the test names
            print(json.dumps({'exception': repr(e)}))
            continue
        print(json.dumps({
            'tree': tree(t),
            'errors': printer.errors,
            'success': t.status == kunit_parser.TestStatus.SUCCESS,
        }))


if __name__ == '__main__':
    main()
