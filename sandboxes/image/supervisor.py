"""In-sandbox supervisor: runs jobs one at a time, safely, and says honestly how each ended.

Runs inside the sandbox with only the standard library (Python 3.10+), always as PID 1 of the
sandbox's pid namespace: it reaps orphans, ``kill(-1, SIGKILL)`` from it reaches every other
process (``setsid`` escapees included) but never itself, and the kernel drops every signal a job
sends it (init ignores signals from its own namespace that it has no handler for). It is not
dumpable, so a job of the same uid can neither ptrace it nor read its ``/proc`` entries.
* ``--connect PATH``: Docker pool mode. It connects to the host's unix socket bind-mounted at PATH
  and serves jobs until the host goes away (EOF), then exits, which stops (and auto-removes) the
  container: a parent that was SIGKILLed leaves no container behind.
* ``--stdio``: bubblewrap mode (``bwrap --as-pid-1``). The same loop, on stdin/stdout.

Protocol: a frame is a 4-byte big-endian length and a JSON object. A job is a header frame (limits,
mode, payload size) followed by the payload bytes, which the job's first child reads and unpacks
itself: job bytes never enter this process's heap (see ``_sg_proc``). A result is a header frame
followed by the raw stdout, stderr and compiler output it announces.
After each job every other process is killed, the work dir, /tmp, /dev/shm and SysV IPC are wiped
(while the host handles the result); if anything survives, the supervisor exits before reading the
next job, so the host replaces this sandbox and runs that job elsewhere.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import socket
import struct
import sys
import time

from _sg_clean import cleanup
from _sg_compilers import Services
from _sg_proc import JobFds, run_step

PROTOCOL = 2
COMPILE_OUTPUT_CAP = 64 * 1024
_libc = ctypes.CDLL(None, use_errno=True)


class Channel:
    """Exact-length reads (no read-ahead: the payload after a header belongs to the job's loader)."""

    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.in_fd, self.out_fd = in_fd, out_fd

    def read_exact(self, n: int) -> bytes | None:
        buf = bytearray()
        while len(buf) < n:
            chunk = os.read(self.in_fd, n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def read_frame(self) -> dict | None:
        head = self.read_exact(4)
        if head is None:
            return None
        body = self.read_exact(struct.unpack(">I", head)[0])
        return None if body is None else json.loads(body)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.out_fd, view) :]

    def send_frame(self, obj: dict) -> None:
        body = json.dumps(obj).encode()
        self.write(struct.pack(">I", len(body)) + body)

    def send_fd(self, fd: int, size: int) -> None:
        """``size`` bytes of a memfd straight to the channel (kernel to kernel: never in our heap)."""
        offset = 0
        while offset < size:
            sent = os.sendfile(self.out_fd, fd, offset, size - offset)
            if sent == 0:
                raise OSError(errno.EIO, "sendfile made no progress")
            offset += sent


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


def run_job(
    job: dict, chan: Channel, fds: JobFds, workroot: str, oom_path: str | None, services: Services
) -> dict:
    limits = job["limits"]
    workdir = os.path.join(workroot, "job")
    result: dict = {"status": "sandbox_error", "error": ""}
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8", "TMPDIR": "/tmp"}
    env.update(job.get("env") or {})
    step = {
        "load": chan.in_fd,
        "payload": job["payload"],
        "cwd": workdir,
        "limits": limits,
        "nproc": int(job.get("nproc") or limits["processes"]),
        "env": env,
        "use_stdin": False,
    }
    try:
        os.mkdir(workdir, 0o755)
    except OSError as exc:
        result["error"] = f"work dir: {exc}"
        return result
    oom_before = oom_kills(oom_path)
    if job.get("compile"):
        # The compiler has its own CPU limit (the frame's compile_cpu_s), not the program's.
        compile_limits = {**limits, "cpu_time_s": job.get("compile_cpu_s") or limits["cpu_time_s"]}
        compile_step = {**step, "kind": "compile", "limits": compile_limits}
        service = job.get("service")
        fds_service = services.get(service, env) if service else None
        if fds_service is not None:
            compile_step["service"] = (service, fds_service, workroot)
        # RLIMIT_NPROC counts every thread of the uid: the services' threads are not the job's.
        compile_step["nproc"] = step["nproc"] + services.threads()
        c = run_step(compile_step, fds, job["compile_wall_s"], COMPILE_OUTPUT_CAP)
        services.after_job(service if c.timed_out else None)
        step["load"] = None
        if _load_failed(fds):
            result.update(error="could not unpack the job's files", error_kind="bad_request")
            return result
        if c.timed_out or c.exit_code != 0:
            result.update(
                status="compile_error",
                compile_timed_out=c.timed_out,
                compile_oom=oom_kills(oom_path) > oom_before,
            )
            return result
    kind = "fork" if job.get("mode") == "fork" else "run"
    run = {**step, "kind": kind, "use_stdin": True, "nproc": step["nproc"] + services.threads()}
    r = run_step(run, fds, limits["wall_time_s"], limits["output_bytes"])
    if _load_failed(fds):
        result.update(error="could not unpack the job's files", error_kind="bad_request")
        return result
    oomed = oom_kills(oom_path) > oom_before
    cpu_out = r.signal == signal.SIGXCPU or (r.signal == signal.SIGKILL and r.cpu >= limits["cpu_time_s"])
    if r.timed_out or cpu_out:
        status = "timeout"
    elif oomed:
        status = "memory_limit"
    elif r.output_limited:
        status = "output_limit"
    elif r.signal is not None or r.exit_code != 0:
        status = "runtime_error"
    else:
        status = "ok"  # the host adds the recipe's stderr rule (it sees the output; we never do)
    result.update(
        status=status,
        exit_code=r.exit_code,
        signal=r.signal,
        stdout_truncated=r.truncated["out"],
        stderr_truncated=r.truncated["err"],
        wall_time_s=round(r.wall, 4),
        cpu_time_s=round(r.cpu, 4),
        peak_memory_mb=r.peak_mb,
    )
    return result


def _load_failed(fds: JobFds) -> bool:
    return os.fstat(fds.spec).st_size == 1  # the loader's failure marker (see _sg_proc._load)


def _default_oom_path() -> str | None:
    for path in ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events"):
        if os.path.exists(path):
            return path
    return None


def _harden_self() -> None:
    # Not dumpable: a job with our uid can neither ptrace us nor read /proc/1/{mem,environ,fd}.
    _libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE
    _libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGQUIT, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def serve(chan: Channel, workroot: str, oom_path: str | None) -> int:
    services = Services()
    chan.send_frame({"ready": True, "pid": os.getpid(), "uid": os.getuid(), "protocol": PROTOCOL})
    while True:
        job = chan.read_frame()
        if job is None:
            return 0  # the host closed the channel (or died): the sandbox ends with us
        fds = JobFds()
        try:
            result = run_job(job, chan, fds, workroot, oom_path, services)
            consumed = fds.loaded()
            sizes = [os.fstat(fd).st_size for fd in (fds.out, fds.err, fds.compile)]
            result.update(stdout_len=sizes[0], stderr_len=sizes[1], compile_len=sizes[2])
            result["services_mb"] = services.memory_mb()
            chan.send_frame(result)
            for fd, size in zip((fds.out, fds.err, fds.compile), sizes):
                chan.send_fd(fd, size)
        finally:
            fds.close()
        # Cleanup runs while the host handles the result; the next job waits in the channel. A
        # payload not read to its end, or anything surviving, ends this sandbox: the host replaces it.
        if not consumed or not cleanup(workroot):
            return 4
        services.after_job(None)


def main(argv: list[str]) -> int:
    if os.getpid() != 1:
        # kill(-1) after each job is only safe as init of our own pid namespace; anywhere else
        # it would reach the whole host.
        print("supervisor: refusing to run outside a sandbox pid namespace (not PID 1)", file=sys.stderr)
        return 5
    _harden_self()
    import _sg_pyjob

    _sg_pyjob.preload()  # fork-mode Python jobs start with these imported
    workroot = os.environ.get("SYNTHGEN_WORKROOT", "/work")
    oom_path = os.environ.get("SYNTHGEN_OOM_PATH") or _default_oom_path()
    if argv[:1] == ["--stdio"]:
        return serve(Channel(0, 1), workroot, oom_path)
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
    return serve(Channel(sock.fileno(), sock.fileno()), workroot, oom_path)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
