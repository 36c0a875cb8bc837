#!/usr/bin/env python3
"""Runs a command and writes its peak resident set, in KiB, to a file.

Usage: peak_rss.py OUT_FILE PROGRAM [ARGS...]

The figure is wait4's for this one child: its own maximum resident set, or that of the
largest child it reaped itself. A test process that runs many other children (as a test
binary with many tests does) cannot read that from getrusage(RUSAGE_CHILDREN), which gives
the largest child it ever reaped. The command's exit status is passed on."""
import os, sys


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: peak_rss.py OUT_FILE PROGRAM [ARGS...]")
    out, argv = sys.argv[1], sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as f:
        f.write(f"{usage.ru_maxrss}\n")
    if os.WIFSIGNALED(status):
        sys.exit(128 + os.WTERMSIG(status))
    sys.exit(os.WEXITSTATUS(status))


main()
