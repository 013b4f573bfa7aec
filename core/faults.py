"""Kill points: places on the money paths where the reliability tests (issue 15) kill the process, as a power cut, an
out-of-memory kill or a redeploy would, to show that what the database holds is enough to finish the work exactly
once.

Off unless the environment names a folder (BOLTWORK_KILL_DIR). A test arms a point by creating a file named after it
in that folder; the first process to reach the point removes the file and kills itself, so the restarted process runs
through until the test arms the point again. Costs one dictionary lookup when off."""

import os
import signal
from pathlib import Path

KILL_DIR_VARIABLE = "BOLTWORK_KILL_DIR"


def kill_point(name: str) -> None:
    folder = os.environ.get(KILL_DIR_VARIABLE)
    if not folder:
        return
    try:
        os.remove(os.path.join(folder, name))
    except OSError:  # not armed, or another process took this kill first
        return
    os.kill(os.getpid(), signal.SIGKILL)


def kill_point_arm(folder: str | Path, name: str) -> Path:
    """Arm the point `name` once for every process whose BOLTWORK_KILL_DIR is `folder`; returns the flag file, which
    is gone once a process has died there."""
    flag = Path(folder) / name
    flag.touch()
    return flag
