"""Where ksync keeps its state (lock, journal): ``.ksync/`` at the top of the working copy.

The working copy is the nearest folder, from the current one up, holding ``.git``; outside
git it is the current folder. So every apply in one working copy shares one lock.
"""

from __future__ import annotations

from pathlib import Path

STATE_DIR = ".ksync"


def state_dir(start: Path | None = None) -> Path:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / ".git").exists():
            return folder / STATE_DIR
    return here / STATE_DIR
