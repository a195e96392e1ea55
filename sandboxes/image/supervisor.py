"""In-sandbox supervisor: runs jobs one at a time, safely, and says honestly how each ended.

Runs inside the sandbox with only the standard library (Python 3.9+).
* ``--connect PATH``: Docker pool mode. The supervisor is PID 1 of its container, so it reaps
  orphans and ``kill(-1, SIGKILL)`` from it reaches every other process (setsid escapees included)
  but never itself. It connects to the host's unix socket bind-mounted at PATH and serves jobs until
  the host goes away (EOF), then exits, which stops (and auto-removes) the container: a parent that
  was SIGKILLed leaves no container behind.
* ``--stdio``: bubblewrap mode. The same loop, with frames on stdin/stdout; we are PID 2 under
  bwrap's init, and the host kills the whole sandbox if we stop answering.

Frames are a 4-byte big-endian length and a JSON object; byte strings travel as base64.
Per job: fresh work dir, own session, rlimits, oom_score_adj=1000 (the cgroup OOM killer takes the
job, not us), a wall deadline on a pidfd, output capped while it streams, then every leftover
process killed and reaped, the work dir, /tmp, /dev/shm and SysV IPC wiped (in pool mode after the
result is sent, while the host handles it). If anything survives the cleanup, the supervisor exits
before reading the next job, so the pool replaces the container and runs that job elsewhere.
"""

from __future__ import annotations

import base64
import ctypes
import errno
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import sys
import time

COMPILE_OUTPUT_CAP = 64 * 1024
_libc = ctypes.CDLL(None, use_errno=True)


# ---------------------------------------------------------------- framing
def read_frame(read) -> dict | None:
    head = _read_exact(read, 4)
    if head is None:
        return None
    body = _read_exact(read, struct.unpack(">I", head)[0])
    return None if body is None else json.loads(body)


def _read_exact(read, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        chunk = read(n - got)
        if not chunk:
            return None
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def encode_frame(obj: dict) -> bytes:
    body = json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body


# ---------------------------------------------------------------- cleanup helpers
def oom_kills(path: str | None) -> int:
    """The cgroup's oom_kill counter (v1 memory.oom_control or v2 memory.events); 0 if unknown."""
    if not path:
        return 0
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
    except OSError:
        pass
    return 0


def _other_pids() -> list[int]:
    me = os.getpid()
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (me, 1)]


def kill_everything_else(timeout: float = 2.0) -> bool:
    """SIGKILL every process we may signal but ourselves, reap, repeat; True when none is left."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass  # ESRCH: nobody to signal
        _reap()
        if not _other_pids():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _wipe_dir_contents(path: str) -> bool:
    def fix_and_retry(func, p, _exc):
        # A job may chmod 000 its own dirs; we own them (same uid), so restore and retry.
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    ok = True
    try:
        entries = os.listdir(path)
    except OSError:
        return True
    for name in entries:
        full = os.path.join(path, name)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, onerror=fix_and_retry)
        else:
            try:
                os.unlink(full)
            except OSError:
                pass
        ok = ok and not os.path.lexists(full)
    return ok


def _wipe_sysv_ipc() -> None:
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


# ---------------------------------------------------------------- one process
class Outcome:
    def __init__(self) -> None:
        self.exit_code = None
        self.signal = None
        self.out = bytearray()
        self.err = bytearray()
        self.out_truncated = False
        self.err_truncated = False
        self.timed_out = False
        self.output_limited = False
        self.wall = 0.0
        self.cpu = 0.0
        self.peak_mb = None


def _child_setup(limits: dict, nproc: int) -> None:
    cpu = int(limits["cpu_time_s"] + 0.999)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    fsize = limits["file_size_mb"] << 20
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))
    if limits.get("address_space_mb"):
        a = limits["address_space_mb"] << 20
        resource.setrlimit(resource.RLIMIT_AS, (a, a))
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def run_process(argv, cwd, env, stdin: bytes, limits: dict, wall: float, cap: int, nproc: int) -> Outcome:
    import subprocess  # local: only the job path needs it

    res = Outcome()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
        preexec_fn=lambda: _child_setup(limits, nproc),  # noqa: PLW1509 (we are single-threaded)
    )
    pidfd = os.pidfd_open(proc.pid)
    sel = selectors.DefaultSelector()
    streams = {proc.stdout.fileno(): (res.out, "out"), proc.stderr.fileno(): (res.err, "err")}
    for fd in streams:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    sel.register(pidfd, selectors.EVENT_READ)
    stdin_fd, pending = proc.stdin.fileno(), memoryview(stdin)
    if pending:
        os.set_blocking(stdin_fd, False)
        sel.register(stdin_fd, selectors.EVENT_WRITE)
    else:
        proc.stdin.close()
    deadline = t0 + wall
    exited = False

    def kill_job() -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

    while not exited:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            res.timed_out = True
            kill_job()
            break
        for key, _ in sel.select(timeout):
            fd = key.fd
            if fd == pidfd:
                exited = True
            elif fd == stdin_fd:
                try:
                    n = os.write(stdin_fd, pending[:65536])
                    pending = pending[n:]
                except (BrokenPipeError, OSError):
                    pending = pending[:0]
                if not pending:
                    sel.unregister(stdin_fd)
                    proc.stdin.close()
            else:
                if _drain(fd, streams[fd], res, cap, sel):
                    res.output_limited = True
                    kill_job()
    if not proc.stdin.closed:
        try:
            sel.unregister(stdin_fd)
        except (KeyError, ValueError):
            pass
        proc.stdin.close()
    # Leftovers (a background child still holding stdout) die now so the pipes reach EOF.
    _, status, rusage = os.wait4(proc.pid, 0)
    proc.returncode = status  # keeps subprocess from waiting on it again
    res.wall = time.monotonic() - t0
    kill_everything_else(0.5)
    for fd in list(streams):
        while _drain(fd, streams[fd], res, cap, sel, final=True) is None:
            pass
    sel.close()
    os.close(pidfd)
    proc.stdout.close()
    proc.stderr.close()
    res.cpu = rusage.ru_utime + rusage.ru_stime
    res.peak_mb = round(rusage.ru_maxrss / 1024, 1)
    if os.WIFSIGNALED(status):
        res.signal = os.WTERMSIG(status)
    else:
        res.exit_code = os.WEXITSTATUS(status)
    return res


def _drain(fd, stream, res: Outcome, cap: int, sel, final: bool = False):
    """Read what is there; True when the cap was hit, None for 'more to read' in final mode."""
    buf, which = stream
    try:
        chunk = os.read(fd, 1 << 16)
    except BlockingIOError:
        return False
    except OSError:
        chunk = b""
    if not chunk:
        if not final:
            sel.unregister(fd)
        return False
    room = cap - len(buf)
    if len(chunk) > room:
        buf += chunk[: max(room, 0)]
        setattr(res, f"{which}_truncated", True)
        return True
    buf += chunk
    return None if final else False


# ---------------------------------------------------------------- one job
def _write_files(workdir: str, files: dict) -> None:
    for name, b64 in files.items():
        norm = os.path.normpath(name)
        if os.path.isabs(norm) or norm.startswith(".."):
            raise ValueError(f"file name {name!r} leaves the work dir")
        path = os.path.join(workdir, norm)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64decode(b64))


def run_job(job: dict, workroot: str, oom_path: str | None) -> dict:
    limits = job["limits"]
    workdir = os.path.join(workroot, "job")
    result = {
        "status": "sandbox_error",
        "exit_code": None,
        "signal": None,
        "stdout": "",
        "stderr": "",
        "stdout_truncated": False,
        "stderr_truncated": False,
        "compile_output": "",
        "wall_time_s": 0.0,
        "cpu_time_s": None,
        "peak_memory_mb": None,
        "error": "",
        "healthy": True,
    }
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
    env.update(job.get("env") or {})
    nproc = int(job.get("nproc") or limits["processes"])
    try:
        os.mkdir(workdir, 0o755)
        _write_files(workdir, job["files"])
        oom_before = oom_kills(oom_path)
        if job.get("compile"):
            c = run_process(
                job["compile"], workdir, env, b"", limits, job["compile_wall_s"], COMPILE_OUTPUT_CAP, nproc
            )
            output = (bytes(c.out) + bytes(c.err)).decode("utf-8", "replace")
            if c.timed_out:
                output += "\n[compilation timed out]"
            elif oom_kills(oom_path) > oom_before:
                output += "\n[compiler killed: out of memory]"
            result["compile_output"] = output
            if c.timed_out or c.exit_code != 0:
                result["status"] = "compile_error"
                return result
        r = run_process(
            job["run"],
            workdir,
            env,
            base64.b64decode(job["stdin"]),
            limits,
            limits["wall_time_s"],
            limits["output_bytes"],
            nproc,
        )
        oomed = oom_kills(oom_path) > oom_before
        cpu_out = r.signal == signal.SIGXCPU or (r.signal == signal.SIGKILL and r.cpu >= limits["cpu_time_s"])
        if r.timed_out or cpu_out:
            status = "timeout"
        elif oomed:
            status = "memory_limit"
        elif r.output_limited:
            status = "output_limit"
        elif (
            r.signal is not None
            or r.exit_code != 0
            or job.get("failure") == "exit_code_or_stderr"
            and r.err.strip()
        ):
            status = "runtime_error"
        else:
            status = "ok"
        result.update(
            status=status,
            exit_code=r.exit_code,
            signal=r.signal,
            stdout=base64.b64encode(bytes(r.out)).decode(),
            stderr=base64.b64encode(bytes(r.err)).decode(),
            stdout_truncated=r.out_truncated,
            stderr_truncated=r.err_truncated,
            wall_time_s=round(r.wall, 4),
            cpu_time_s=round(r.cpu, 4),
            peak_memory_mb=r.peak_mb,
        )
    except Exception as exc:  # noqa: BLE001 (reported, never fatal: the next job must still run)
        result["error"] = f"{type(exc).__name__}: {exc}"
        result["status"] = "sandbox_error"
    return result


def cleanup(workroot: str) -> bool:
    """Kill every process but us, wipe the work dir, /tmp, /dev/shm, SysV IPC; True when all is clean."""
    clean = kill_everything_else()
    for path in (workroot, "/tmp", "/dev/shm", "/dev/mqueue"):
        clean = _wipe_dir_contents(path) and clean
    _wipe_sysv_ipc()
    return clean


def _default_oom_path() -> str | None:
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        if os.path.exists(path):
            return path
    return None


def _harden_self() -> None:
    # Not dumpable: a job with our uid can neither ptrace us nor read /proc/<us>/mem.
    _libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    _libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans come back to us to be reaped
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def main(argv: list[str]) -> int:
    if os.getpid() > 2:
        # kill(-1) after each job is only safe inside our own pid namespace (PID 1 in a container,
        # PID 2 under bubblewrap's init); run anywhere else it would reach the whole host.
        print("supervisor: refusing to run outside a sandbox pid namespace", file=sys.stderr)
        return 5
    _harden_self()
    workroot = os.environ.get("SYNTHGEN_WORKROOT", "/work")
    oom_path = os.environ.get("SYNTHGEN_OOM_PATH") or _default_oom_path()
    if argv[:1] == ["--stdio"]:
        # bubblewrap mode: frames on our stdin/stdout, which no job inherits (close_fds).
        def send(obj: dict) -> None:
            data = memoryview(encode_frame(obj))
            while data:
                data = data[os.write(1, data) :]

        return serve(lambda n: os.read(0, n), send, workroot, oom_path)
    if argv[:1] != ["--connect"] or len(argv) != 2:
        print("usage: supervisor.py --connect SOCKET | --stdio", file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    for _ in range(200):
        try:
            sock.connect(argv[1])
            break
        except OSError as exc:
            if exc.errno not in (errno.ENOENT, errno.ECONNREFUSED):
                raise
            time.sleep(0.01)
    else:
        return 3
    rfile = sock.makefile("rb")
    return serve(rfile.read, lambda obj: sock.sendall(encode_frame(obj)), workroot, oom_path)


def serve(read, send, workroot: str, oom_path: str | None) -> int:
    send({"ready": True, "pid": os.getpid(), "uid": os.getuid()})
    while True:
        job = read_frame(read)
        if job is None:
            return 0  # the host closed the channel (or died): the sandbox ends with us
        send(run_job(job, workroot, oom_path))
        # Cleanup runs while the host handles the result; the next job waits in the channel until
        # it is done. If anything survived, exit before reading that job: the host sees the
        # channel close, replaces this sandbox and runs the job elsewhere.
        if not cleanup(workroot):
            return 4


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
