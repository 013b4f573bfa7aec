"""Kill points: places on the money paths where the reliability tests (issue 15) kill the process, as a power cut, an
out-of-memory kill or a redeploy would, to show that what the database holds is enough to finish the work exactly
once. Off unless the environment names the point (BOLTWORK_KILL_AT) and a flag file (BOLTWORK_KILL_FILE) exists;
the file is removed before the kill, so the restarted process runs through. Costs one dictionary lookup otherwise."""

import os
import signal

KILL_AT_VARIABLE = "BOLTWORK_KILL_AT"
KILL_FILE_VARIABLE = "BOLTWORK_KILL_FILE"


def kill_point(name: str) -> None:
    if os.environ.get(KILL_AT_VARIABLE) != name:
        return
    try:
        os.remove(os.environ.get(KILL_FILE_VARIABLE, ""))
    except OSError:  # no flag: this process was told to die here once, and did
        return
    os.kill(os.getpid(), signal.SIGKILL)
