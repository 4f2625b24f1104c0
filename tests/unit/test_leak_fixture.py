"""The shared conftest's leak check really fails tests that leave things behind."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent.parent / "conftest.py").read_text()


def test_leaked_fd_thread_and_inotify_fail_their_tests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(
        """
        import os, threading
        from inwatch import Inotify

        def test_clean():
            os.close(os.open("/", os.O_RDONLY))

        def test_leaks_an_fd():
            os.open("/", os.O_RDONLY)

        def test_leaks_a_thread():
            stop = threading.Event()
            threading.Thread(target=stop.wait, args=(5,), daemon=True).start()

        def test_leaks_an_inotify():
            global kept
            kept = Inotify()
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaks_an_fd*",
            "*file descriptors left open*",
            "*ERROR at teardown of test_leaks_a_thread*",
            "*threads left running*",
            "*ERROR at teardown of test_leaks_an_inotify*",
            "*anon_inode:inotify*",
        ]
    )
