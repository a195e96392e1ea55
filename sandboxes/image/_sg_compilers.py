"""Warm compiler services: one long-lived javac and one tsc per sandbox, each job compiled in its own dir.

A cold ``javac`` or ``tsc`` spends almost all of its time starting a JVM or loading the TypeScript
compiler; a service started once per container (``compilers/JavacServer.java``, ``compilers/
tsc_server.js``) compiles a small program in a fraction of that. Safety:
* the service only ever compiles: no annotation processors (``-proc:none``), no tsconfig or
  plugins; it never runs job code;
* the job's compile child (trusted code, a fork of the supervisor) talks to the service; no job
  process ever holds the service's pipes, and job output never passes through the supervisor;
* the services run from execute-only copies of the launchers (``compilers/install.sh``), so they are
  not dumpable: a job of the same uid can neither ptrace them nor read or write their memory;
* a job may still kill or stop a service: it is continued after every job, restarted when it died
  or a compile timed out, and a compile it cannot answer falls back to the cold compiler, so the
  worst a job can do is slow the next compile down.
"""

from __future__ import annotations

import glob
import os
import secrets
import shlex
import signal

import _sg_clean

JAVA_SVC = next(iter(sorted(glob.glob("/usr/lib/jvm/*/bin/java-svc"))), None)
NODE_SVC = "/usr/bin/node-svc"
HERE = os.path.dirname(os.path.abspath(__file__))
LAUNCH = {
    "javac": [
        JAVA_SVC or "java-svc",
        "-XX:+UseSerialGC",
        "-XX:ActiveProcessorCount=1",
        "-XX:TieredStopAtLevel=1",
        "-Xss8m",
        "-Xmx256m",
        "-Dfile.encoding=UTF-8",
        os.path.join(HERE, "compilers", "JavacServer.java"),
    ],
    "tsc": [NODE_SVC, "--max-old-space-size=256", os.path.join(HERE, "compilers", "tsc_server.js")],
}
_SHELL_SYNTAX = set("|&;<>()$`\\\"'\n")
_JAVAC_PATH_OPTIONS = {"-d", "-s", "-h", "-cp", "-classpath", "--class-path", "-sourcepath", "--source-path"}
_JAVAC_VALUE_OPTIONS = {
    "-encoding", "-source", "--source", "-target", "--target", "--release", "-Xmaxerrs", "-Xmaxwarns",
    "--add-modules", "--add-exports", "--add-reads", "--limit-modules",
}  # fmt: skip
_TSC_REFUSED = {"-p", "--project", "-b", "--build", "-w", "--watch", "--init"}


class Services:
    """The supervisor's handle on its compiler services (started lazily, on the first compile)."""

    def __init__(self) -> None:
        self.live: dict[str, tuple[int, int, int]] = {}  # name -> (pid, request fd, response fd)

    @staticmethod
    def available(name: str) -> bool:
        binary = LAUNCH.get(name, [None])[0]
        return bool(binary) and os.path.exists(binary)

    def get(self, name: str, env: dict) -> tuple[int, int] | None:
        """(request fd, response fd) of a running service, started now if needed; None if unavailable."""
        if name in self.live and not self._alive(self.live[name][0]):
            self.stop(name)  # a job killed it: start a new one
        if name not in self.live:
            if not self.available(name):
                return None
            self.live[name] = self._start(name, env)
        return self.live[name][1:]

    def _start(self, name: str, env: dict) -> tuple[int, int, int]:
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                os.dup2(req_r, 0)
                os.dup2(resp_w, 1)
                null = os.open("/dev/null", os.O_WRONLY)
                os.dup2(null, 2)
                os.closerange(3, 1 << 16)
                os.chdir("/")
                os.execve(LAUNCH[name][0], LAUNCH[name], {**env, "HOME": "/tmp"})
            finally:
                os._exit(127)
        os.close(req_r)
        os.close(resp_w)
        _sg_clean.SPARED.add(pid)
        return pid, req_w, resp_r

    @staticmethod
    def _alive(pid: int) -> bool:
        if pid not in _sg_clean.SPARED:
            return False  # already reaped by a cleanup
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _sg_clean.SPARED.discard(pid)
        return not done

    def stop(self, name: str) -> None:
        pid, req_w, resp_r = self.live.pop(name)
        _sg_clean.SPARED.discard(pid)
        for fd in (req_w, resp_r):
            os.close(fd)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass

    def threads(self) -> int:
        """Threads of the running services (RLIMIT_NPROC counts them against the job's uid)."""
        total = 0
        for pid, _, _ in self.live.values():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(line.split()[1]) for line in f if line.startswith("Threads:"))
            except (OSError, StopIteration, ValueError):
                pass
        return total

    def memory_mb(self) -> int:
        """What the container's limit must add for the services: their anonymous memory (file-backed
        pages are page cache the kernel reclaims for the job) plus 32 MB of room to grow during the
        next compile, rounded up to 32 MB (the host resizes the container when this changes)."""
        if not self.live:
            return 0
        kb = 32 * 1024
        for pid, _, _ in self.live.values():
            try:
                with open(f"/proc/{pid}/status") as f:
                    kb += sum(int(line.split()[1]) for line in f if line.startswith(("RssAnon:", "RssShmem:")))
            except (OSError, ValueError):
                pass
        return -(-kb // (32 * 1024)) * 32

    def after_job(self, timed_out: str | None) -> None:
        """Continue services a job may have stopped; drop one whose compile timed out."""
        if timed_out in self.live:
            self.stop(timed_out)
        for pid, _, _ in self.live.values():
            try:
                os.kill(pid, signal.SIGCONT)
            except OSError:
                pass


# ---------------------------------------------------------------- in the compile child
def request_args(name: str, argv: list, cwd: str, env: dict) -> list | None:
    """The compiler's arguments for the service, or None when only the real command can do it."""
    if argv[:2] == ["/bin/sh", "-c"] and len(argv) >= 3:
        if any(c in _SHELL_SYNTAX for c in argv[2]):
            return None
        words = shlex.split(argv[2]) + list(argv[4:])
    else:
        words = list(argv)
    if not words or os.path.basename(words[0]) != name:
        return None
    args: list[str] = []
    for word in words[1:]:
        if any(c in word for c in "*?["):
            matches = sorted(glob.glob(word, root_dir=cwd))
            args += matches or [word]
        else:
            args.append(word)
    if any("\t" in a or "\n" in a or a.startswith("@") for a in args):
        return None
    if name == "tsc":
        return None if _TSC_REFUSED & set(args) else args
    return _javac_args(args, cwd, env)


def _absolute(value: str, cwd: str) -> str:
    return ":".join(os.path.join(cwd, part) if part else cwd for part in value.split(":"))


def _javac_args(args: list, cwd: str, env: dict) -> list | None:
    out: list[str] = []
    it = iter(args)
    for arg in it:
        if arg.startswith("-J"):
            continue  # options of the launcher's JVM: the service has its own
        if arg in _JAVAC_PATH_OPTIONS:
            out += [arg, _absolute(next(it, ""), cwd)]
        elif arg in _JAVAC_VALUE_OPTIONS:
            out += [arg, next(it, "")]
        elif arg.endswith(".java") and not arg.startswith("-"):
            out.append(os.path.join(cwd, arg))
        elif arg.startswith("-"):
            out.append(arg)
        else:
            return None  # an option's value we do not know how to place: the real javac decides
    if not _JAVAC_PATH_OPTIONS.intersection({"-cp", "-classpath", "--class-path"}).intersection(out):
        out = ["-classpath", _absolute(env.get("CLASSPATH", "."), cwd), *out]
    if not any(a.startswith("-proc:") for a in out):
        out.append("-proc:none")  # annotation processors would run code inside the service
    return out


def compile_with_service(name: str, fds: tuple[int, int], args: list, cwd: str, scratch: str) -> int | None:
    """Compile through the service; prints its messages as the cold compiler would. None: use the cold one."""
    req_w, resp_r = fds
    ident = secrets.token_hex(6)
    # A service that died between jobs: EPIPE (then the cold compiler), not a silent SIGPIPE death.
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    out_file = os.path.join(scratch, f".compile-{ident}.txt")
    try:
        os.write(req_w, "\t".join([ident, out_file, cwd, *args]).encode() + b"\n")
        pending = b""
        while True:
            chunk = os.read(resp_r, 4096)
            if not chunk:
                return None
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                got, _, code = line.decode().partition("\t")
                if got == ident:  # other lines: "ready", or a late answer to a compile that timed out
                    with open(out_file, "rb") as f:
                        messages = f.read()
                    os.unlink(out_file)
                    view = memoryview(messages.replace(cwd.encode() + b"/", b""))
                    while view:
                        view = view[os.write(1, view) :]
                    return int(code)
    except (OSError, ValueError):
        return None
    finally:
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
