"""The test command: pytest, then exit with its status without interpreter teardown.

A process that used a Temporal client can abort while the interpreter finalizes, after
all its work succeeded (`PyGILState_Release ... finalizing`, exit 134;
temporalio/sdk-python#300). Exiting with os._exit once pytest has printed its summary
keeps the real status. pytest's 'no tests collected' (5) counts as a failure here: a
suite that ran nothing has proved nothing.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    import pytest

    status = int(pytest.main(argv if argv is not None else sys.argv[1:]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
