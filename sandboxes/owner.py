"""Who owns a sandbox container: a label naming the owning process, checkable after it died."""

from __future__ import annotations

import os
import socket

LABEL_KIND = "synthgen.sandbox"
LABEL_OWNER = "synthgen.sandbox.owner"


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            # Field 22 (starttime); split after the ")" because the command name may hold spaces.
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def owner_token(pid: int | None = None) -> str:
    """``host:pid:starttime`` of this process: a pid reused by another process does not match."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def is_owner_alive(token: str) -> bool:
    """False only when the owner is provably gone; tokens from other hosts count as alive."""
    try:
        host, pid, start = token.rsplit(":", 2)
    except ValueError:
        return False  # unlabelled or malformed: not a live owner of ours
    if host != socket.gethostname():
        return True
    return pid.isdigit() and _start_time(int(pid)) == start
