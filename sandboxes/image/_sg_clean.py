"""After a job: every other process killed and reaped, the writable trees and SysV IPC wiped.

Part of the in-sandbox supervisor (standard library only). Runs as PID 1 of the sandbox's pid
namespace, where ``kill(-1, SIGKILL)`` reaches every other process (``setsid`` escapees included)
and never ourselves.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import stat
import time

_libc = ctypes.CDLL(None, use_errno=True)
WIPED = ("/tmp", "/dev/shm", "/dev/mqueue")
# Our own long-lived helpers (the warm compiler services): every kill spares them.
SPARED: set[int] = set()


def other_pids() -> list[int]:
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != me]


def reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        SPARED.discard(pid)  # a service that died (a job may kill it): restarted on next use


def kill_all() -> None:
    """SIGKILL every process but us and the spared services, at once."""
    if not SPARED:
        try:
            os.kill(-1, signal.SIGKILL)  # atomic: a fork bomb cannot outrun it
        except OSError:
            pass  # ESRCH: nobody left to signal
        return
    for pid in other_pids():
        if pid not in SPARED:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def kill_everything_else(timeout: float = 2.0) -> bool:
    """SIGKILL every process but us, reap, repeat; True when none is left."""
    deadline = time.monotonic() + timeout
    while True:
        kill_all()
        reap()
        if not [pid for pid in other_pids() if pid not in SPARED]:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)


def _unlock_and_remove(path: str) -> None:
    """Remove a tree the job may have made unreadable (``chmod 000``): we own it, so re-open it first."""
    try:
        shutil.rmtree(path)
        return
    except OSError:
        pass
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            os.chmod(d, stat.S_IRWXU)
            with os.scandir(d) as it:
                stack.extend(e.path for e in it if e.is_dir(follow_symlinks=False))
        except OSError:
            continue
    shutil.rmtree(path, ignore_errors=True)


def wipe_dir_contents(path: str) -> bool:
    """Empty ``path`` (kept itself, its mode restored when we own it); True when nothing is left."""
    try:
        st = os.lstat(path)
    except OSError:
        return True
    if stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != 0o1777:
        try:
            os.chmod(path, 0o1777)  # a job may chmod a tmpfs root it owns (under bubblewrap)
        except OSError:
            pass
    try:
        entries = os.listdir(path)
    except OSError:
        return True
    ok = True
    for name in entries:
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            _unlock_and_remove(full)
        else:
            try:
                os.unlink(full)
            except OSError:
                pass
        ok = ok and not os.path.lexists(full)
    return ok


def wipe_sysv_ipc() -> None:
    # shmctl/semctl/msgctl(id, IPC_RMID=0): segments outlive their creator otherwise.
    for kind, fn in (("shm", _libc.shmctl), ("sem", _libc.semctl), ("msg", _libc.msgctl)):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if len(fields) > 1:
                        fn(int(fields[1]), 0, 0) if kind == "sem" else fn(int(fields[1]), 0, None)
        except (OSError, StopIteration):
            pass


def cleanup(workroot: str) -> bool:
    """Kill every process but us, wipe the work root, /tmp, /dev/shm, SysV IPC; True when all is clean."""
    clean = kill_everything_else()
    for path in (workroot, *WIPED):
        clean = wipe_dir_contents(path) and clean
    wipe_sysv_ipc()
    return clean
