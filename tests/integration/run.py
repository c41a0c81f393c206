"""Runs berth's integration suite (or, with --reference, the harness self-check) and ends with
one line in cargo's format, which scripts/test.sh adds to its totals. When a test fails, the
tails of the logs of the servers still running are printed under it.

    python run.py [-k PATTERN ...] [--reference] [-v]
"""

import argparse
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import harness  # noqa: E402


class LoggingResult(unittest.TextTestResult):
    ran: set

    def startTest(self, test):
        super().startTest(test)
        self.ran = getattr(self, "ran", set())
        self.ran.add(test.id())
    def _dump_logs(self, test):
        for server in list(harness.LIVE):
            self.stream.writeln(f"\n{server.log_tail(80)}\n")
        self.stream.flush()

    def addError(self, test, err):
        super().addError(test, err)
        self._dump_logs(test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._dump_logs(test)

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            self._dump_logs(test)


def test_ids(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from test_ids(item)
        else:
            yield item.id()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-k", action="append", dest="patterns", default=None,
                        help="only tests whose name contains this (unittest -k)")
    parser.add_argument("--reference", action="store_true",
                        help="run the harness self-check against the reference registry")
    args = parser.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    loader = unittest.TestLoader()
    if args.patterns:
        loader.testNamePatterns = [p if "*" in p else f"*{p}*" for p in args.patterns]
    pattern = "selfcheck_*.py" if args.reference else "test_*.py"
    suite = loader.discover(here, pattern=pattern, top_level_dir=here)

    every = set(test_ids(suite))  # before the run, which drops the tests it ran
    runner = unittest.TextTestRunner(verbosity=2, resultclass=LoggingResult, stream=sys.stdout)
    start = time.monotonic()
    try:
        result = runner.run(suite)
    finally:
        harness.cleanup_run_dir()
    # Count tests, not failure records: subtests of one test fail separately; the tests of a
    # class whose setUpClass failed never ran (each counts as failed); an error at class
    # teardown counts once more.
    ran = getattr(result, "ran", set())
    broken = {getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors}
    broken |= {t.id() for t in result.unexpectedSuccesses}
    # A skipped test counts as failed: every test here must run (a missing client is a failure).
    broken |= {t.id() for t, _ in result.skipped}
    failed_tests = (broken & ran) | (every - ran)
    teardown_errors = [b for b in broken - every if not b.startswith("setUp")]
    failed = len(failed_tests) + len(teardown_errors)
    passed = len(ran - broken)
    if result.testsRun == 0:
        failed = max(failed, 1)
    status = "ok" if failed == 0 else "FAILED"
    print(f"integration suite finished in {time.monotonic() - start:.0f}s")
    print(f"test result: {status}. {passed} passed; {failed} failed; 0 ignored; 0 measured; "
          "0 filtered out")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
