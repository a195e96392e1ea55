"""One process of a job: forked from the supervisor, limited, watched; its output spliced into memfds.

The supervisor's own heap never holds a job's bytes (files, stdin, argv, output): the first child
of a job reads the payload from the channel itself and unpacks it, output goes from the job's pipes
into memfds with ``splice`` and from there to the host with ``sendfile``. That is what lets a
Python job be a plain ``fork`` of the supervisor (warm interpreter, modules already imported)
without ever inheriting an earlier job's data.
"""

from __future__ import annotations

import base64
import ctypes
import json
import os
import resource
import selectors
import signal
import time

import _sg_cpp
from _sg_clean import kill_all, kill_everything_else

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_DUMPABLE = 4
EXIT_LOAD_FAILED = 126
EXIT_EXEC_FAILED = 127
CHUNK = 1 << 16
RESET_SIGNALS = tuple(
    getattr(signal, name)
    for name in ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGQUIT", "SIGPIPE", "SIGINT", "SIGXFSZ")
)


class JobFds:
    """Per-job memfds: the unpacked spec (argv), stdin, and the captured output streams."""

    def __init__(self) -> None:
        self.spec = os.memfd_create("spec", os.MFD_CLOEXEC)
        self.stdin = os.memfd_create("stdin", os.MFD_CLOEXEC)
        self.out = os.memfd_create("stdout", os.MFD_CLOEXEC)
        self.err = os.memfd_create("stderr", os.MFD_CLOEXEC)
        self.compile = os.memfd_create("compile", os.MFD_CLOEXEC)

    def loaded(self) -> bool:
        """The payload was read to its end (the loader writes the spec last)."""
        return os.fstat(self.spec).st_size > 0

    def close(self) -> None:
        for fd in (self.spec, self.stdin, self.out, self.err, self.compile):
            os.close(fd)


class Outcome:
    def __init__(self) -> None:
        self.exit_code: int | None = None
        self.signal: int | None = None
        self.sizes = {"out": 0, "err": 0}
        self.truncated = {"out": False, "err": False}
        self.timed_out = False
        self.output_limited = False
        self.wall = 0.0
        self.cpu = 0.0
        self.peak_mb: float | None = None


# ---------------------------------------------------------------- in the child
def _load(chan_fd: int, size: int, workdir: str, fds: JobFds) -> None:
    """Read the job's payload from the channel and unpack it: files, stdin, then the spec."""
    buf = bytearray()
    while len(buf) < size:
        chunk = os.read(chan_fd, min(size - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("channel closed in the middle of a job")
        buf += chunk
    failure = None
    try:
        payload = json.loads(buf)
        spec = json.dumps({k: payload.get(k) for k in ("compile", "run", "main", "argv")}).encode()
        for name, b64 in payload["files"].items():
            norm = os.path.normpath(name)
            if os.path.isabs(norm) or norm.startswith(".."):
                raise ValueError(f"file name {name!r} leaves the work dir")
            path = os.path.join(workdir, norm)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "wb") as f:
                f.write(base64.b64decode(b64))
        data = memoryview(base64.b64decode(payload["stdin"]))
        while data:
            data = data[os.write(fds.stdin, data) :]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        failure = f"could not unpack the job: {type(exc).__name__}: {exc}\n"
    # Written last: marks the channel as consumed; one byte ("!") says unpacking failed.
    os.write(fds.spec, b"!" if failure else spec)
    if failure:
        os.write(2, failure.encode())
        os._exit(EXIT_LOAD_FAILED)


def _limit(limits: dict, nproc: int) -> None:
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
    if limits.get("nice"):
        # Below the supervisor: 64 spinning processes must not delay the kill at the wall limit.
        os.setpriority(os.PRIO_PROCESS, 0, int(limits["nice"]))
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")  # the cgroup OOM killer takes the job, never the supervisor
    except OSError:
        pass


def _child(step: dict, fds: JobFds, out_w: int, err_w: int) -> None:
    """Runs in the forked child; never returns."""
    try:
        for sig in RESET_SIGNALS:  # what the supervisor and the interpreter changed; exec keeps SIG_IGN
            signal.signal(sig, signal.SIG_DFL)
        os.setsid()
        os.dup2(err_w, 2)
        if step["load"] is not None:
            _load(step["load"], step["payload"], step["cwd"], fds)
        spec = json.loads(os.pread(fds.spec, os.fstat(fds.spec).st_size, 0))
        if step["use_stdin"]:
            os.lseek(fds.stdin, 0, os.SEEK_SET)
            os.dup2(fds.stdin, 0)
        else:
            null = os.open("/dev/null", os.O_RDONLY)
            os.dup2(null, 0)
        os.dup2(out_w, 1)
        if step.get("service"):
            import _sg_compilers

            name, service_fds, scratch = step["service"]
            args = _sg_compilers.request_args(name, spec["compile"], step["cwd"], step["env"])
            if args is not None:
                code = _sg_compilers.compile_with_service(name, service_fds, args, step["cwd"], scratch)
                if code is not None:
                    os._exit(code)
        os.closerange(3, 1 << 16)  # nothing of ours (channel, memfds, services) reaches job code
        os.chdir(step["cwd"])
        _limit(step["limits"], step["nproc"])
        if step["kind"] == "fork":
            import _sg_pyjob

            _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
            _sg_pyjob.run(os.path.join(step["cwd"], spec["main"]), spec.get("argv") or [], step["env"])
        argv = spec[step["kind"]]
        if step["kind"] == "compile":
            try:
                argv = _sg_cpp.with_prefix(argv, step["cwd"])  # a precompiled include prefix
            except Exception:  # noqa: BLE001 - the command as given, whatever went wrong
                pass
        try:
            os.execvpe(argv[0], argv, step["env"])
        except OSError as exc:
            os.write(2, f"cannot run {argv[0]!r}: {exc}\n".encode())
            os._exit(EXIT_EXEC_FAILED)
    except BaseException as exc:  # noqa: BLE001 (the child must never return into the supervisor)
        try:
            os.write(2, f"sandbox: {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(EXIT_LOAD_FAILED)


# ---------------------------------------------------------------- in the supervisor
def _pump(fd: int, mem: int, res: Outcome, which: str, cap: int) -> str:
    """Move what the pipe holds into the memfd: 'wait', 'eof' or 'cap' (more than ``cap`` bytes)."""
    while True:
        room = cap + 1 - res.sizes[which]
        try:
            n = os.splice(fd, mem, min(CHUNK, max(room, 1)), flags=os.SPLICE_F_NONBLOCK)
        except BlockingIOError:
            return "wait"
        except OSError:
            return "eof"
        if n == 0:
            return "eof"
        res.sizes[which] += n
        if res.sizes[which] > cap:
            os.ftruncate(mem, cap)
            res.sizes[which] = cap
            res.truncated[which] = True
            return "cap"


def run_step(step: dict, fds: JobFds, wall: float, cap: int) -> Outcome:
    """Fork one step of a job (compile or run), watch it to its end or its limit, reap everything."""
    res = Outcome()
    combined = step["kind"] == "compile"  # compiler output: one stream, in order
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe() if not combined else (out_r, out_w)
    targets = {out_r: (fds.compile if combined else fds.out, "out")}
    if not combined:
        targets[err_r] = (fds.err, "err")
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(step, fds, out_w, err_w)
    for fd in {out_w, err_w}:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    sel = selectors.DefaultSelector()
    for fd in targets:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    sel.register(pidfd, selectors.EVENT_READ)
    deadline = t0 + wall
    exited = False
    while not exited:
        timeout = deadline - time.monotonic()
        if timeout <= 0:
            res.timed_out = True
            break
        for key, _ in sel.select(timeout):
            if key.fd == pidfd:
                exited = True
                continue
            mem, which = targets[key.fd]
            state = _pump(key.fd, mem, res, which, cap)
            if state == "eof":
                sel.unregister(key.fd)
            elif state == "cap":
                res.output_limited = True
                exited = True
    if not exited or res.output_limited:
        # The whole tree dies at once, at the limit: fork bombs and setsid escapees included.
        kill_all()
    _, status, rusage = os.wait4(pid, 0)
    res.wall = time.monotonic() - t0
    # Leftovers (a background child still holding stdout) die now so the pipes reach EOF.
    kill_everything_else(1.0)
    for fd, (mem, which) in targets.items():
        if not res.truncated[which]:
            _pump(fd, mem, res, which, cap)
        os.close(fd)
    sel.close()
    os.close(pidfd)
    res.cpu = rusage.ru_utime + rusage.ru_stime
    res.peak_mb = round(rusage.ru_maxrss / 1024, 1)
    if os.WIFSIGNALED(status):
        res.signal = os.WTERMSIG(status)
    else:
        res.exit_code = os.WEXITSTATUS(status)
    return res

