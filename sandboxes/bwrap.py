"""bubblewrap backend: the same supervisor and recipes, one bwrap sandbox per job, host toolchains.

For machines without a Docker engine. Each worker is one long-lived ``setpriv --reuid=U bwrap
--unshare-all --die-with-parent ... supervisor.py --stdio`` whose supervisor serves jobs over its
stdin/stdout exactly as in a pool container: bwrap runs unprivileged in a user namespace (so
RLIMIT_NPROC holds: it never does for root), each worker has its own uid (the limit counts a uid's
processes across the host), ``/usr`` and a few ``/etc`` entries are bound read-only, ``/work``,
``/tmp`` and ``/dev/shm`` are sized tmpfs, the root is remounted read-only, and no network exists.
A worker that stops answering is killed with its whole pid namespace and started afresh.
Memory: as root with a writable cgroup v1 memory hierarchy, each worker gets its own memory cgroup
(OOM detected through its ``oom_kill`` counter); elsewhere RLIMIT_AS stands in (not for node/java,
whose runtimes reserve large address ranges), and allocation failures count as ``memory_limit``.
Which languages work depends on the host: a recipe runs when its ``binaries`` are under /usr.
"""

from __future__ import annotations

import asyncio
import glob
import os
import secrets
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from sandboxes.docker_config import LimitsConfig, SandboxUnavailable
from sandboxes.image_build import IMAGE_FILES
from sandboxes.jobs import BadRequest, bad_request, build_job, read_frame, read_result, sandbox_error
from sandboxes.recipes import RECIPES, Recipe, get_recipe
from sandboxes.seccomp import compiled_filter, filter_fd
from sandboxes.types import ExecRequest, ExecResult, ExecStatus, Sandbox, SandboxFailure

CGROUP_ROOT = Path("/sys/fs/cgroup/memory")
_ETC_BINDS = (
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/java-*",
    "/etc/php",
    "/etc/ssl/certs",
)
_RUNTIMES_WITHOUT_RLIMIT_AS = {"javascript", "typescript", "java"}
_ALLOC_FAILURES = (
    b"MemoryError",
    b"std::bad_alloc",
    b"out of memory",
    b"Cannot allocate memory",
    b"memory allocation of",
)
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"


class BwrapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workers: int = Field(2, ge=1, le=64, description="jobs at once")
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    work_dir_mb: int = 64
    tmp_mb: int = 16
    memory_overhead_mb: int = Field(48, description="added to a job's memory for the supervisor")
    compile_wall_s: float = 60.0
    host_grace_s: float = 10.0
    python: str = Field("/usr/bin/python3", description="interpreter for the supervisor (under /usr)")
    uid_base: int | None = Field(None, description="first worker uid (when run as root); random when unset")
    extra_ro_binds: list[str] = Field(default_factory=list, description="more host paths to bind read-only")
    use_cgroup: bool = Field(True, description="memory cgroup per worker when root on cgroup v1")
    python_fork_server: bool = Field(
        True, description="plain Python programs run in a fork of the warm in-sandbox interpreter"
    )


def host_languages() -> dict[str, bool]:
    """Which recipes this host can run under bubblewrap (their binaries exist under /usr)."""

    def found(binary: str) -> bool:
        path = shutil.which(binary, path=SANDBOX_PATH)
        return path is not None and os.path.realpath(path).startswith("/usr/")

    return {name: all(found(b) for b in r.binaries) for name, r in RECIPES.items()}


class BubblewrapSandbox(Sandbox):
    name: ClassVar[str] = "bubblewrap"
    Config: ClassVar[type[BaseModel]] = BwrapConfig

    def __init__(self, config: BwrapConfig | None = None) -> None:
        super().__init__(config)
        self.config: BwrapConfig
        self._free: asyncio.Queue[int] | None = None
        self._procs: list[asyncio.subprocess.Process | None] = [None] * self.config.workers
        self._memory: list[int] = [0] * self.config.workers
        self._root = os.geteuid() == 0
        base = self.config.uid_base or 100000 + secrets.randbelow(100000) * 64 + 32
        self._uids = [base + i for i in range(self.config.workers)]
        self._token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._state_dir: Path | None = None
        self._cgroups: list[Path | None] = [None] * self.config.workers
        self._started = False
        self._closed = False
        self._languages = host_languages()

    async def start(self) -> None:
        if self._started:
            return
        if shutil.which("bwrap") is None:
            raise SandboxUnavailable("bubblewrap is not installed; run `bash scripts/install_system_deps.sh`")
        if not os.path.exists(self.config.python):
            raise SandboxUnavailable(
                f"{self.config.python} missing: the supervisor needs a python3 under /usr"
            )
        compiled_filter()  # raises SeccompUnavailable (with the fix) before any job runs
        self._bwrap = shutil.which("bwrap") or "bwrap"
        self._setpriv = shutil.which("setpriv") or "setpriv"
        _remove_stale_state_dirs()
        # The supervisor, copied where any uid may read it (the checkout might not be world-readable).
        self._state_dir = Path(tempfile.mkdtemp(prefix=f"synthgen-bwrap-{self._token}-"))
        shutil.copytree(IMAGE_FILES, self._state_dir / "opt", ignore=shutil.ignore_patterns("__pycache__"))
        os.chmod(self._state_dir, 0o755)
        if self._root and self.config.use_cgroup:
            self._cgroups = [_make_cgroup(f"{self._token}-w{i}") for i in range(self.config.workers)]
        self._free = asyncio.Queue()
        for i in range(self.config.workers):
            self._free.put_nowait(i)
        self._started = True

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for worker in range(self.config.workers):
            await self._kill_worker(worker)
        for cg in self._cgroups:
            if cg is not None:
                _remove_cgroup(cg)
        if self._state_dir is not None:
            shutil.rmtree(self._state_dir, ignore_errors=True)

    def _argv(self, worker: int, seccomp_fd: int) -> list[str]:
        cfg = self.config
        argv: list[str] = []
        if self._root:
            uid = self._uids[worker]
            argv += [self._setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        # --as-pid-1: the supervisor is init of the sandbox's pid namespace, so the kernel drops every
        # signal a job sends it, and no bwrap process (nor anything else of ours) is visible inside.
        argv += [self._bwrap, "--unshare-all", "--as-pid-1", "--die-with-parent", "--new-session"]
        argv += ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
            if os.path.islink(top):
                argv += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                argv += ["--ro-bind", top, top]
        for pattern in (*_ETC_BINDS, *cfg.extra_ro_binds):
            for path in glob.glob(pattern):
                argv += ["--ro-bind", path, path]
        assert self._state_dir is not None
        argv += [
            "--ro-bind",
            str(self._state_dir / "opt"),
            "/opt/synthgen",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--perms",
            "1777",
            "--size",
            str(cfg.work_dir_mb << 20),
            "--tmpfs",
            "/work",
            "--perms",
            "1777",
            "--size",
            str(cfg.tmp_mb << 20),
            "--tmpfs",
            "/tmp",
            "--perms",
            "1777",
            "--size",
            str(cfg.tmp_mb << 20),
            "--tmpfs",
            "/dev/shm",
            # A job must not replace /dev/stdout or leave files in /dev for the next job.
            "--remount-ro",
            "/dev",
            "--remount-ro",
            "/",
            "--chdir",
            "/work",
            "--clearenv",
            "--setenv",
            "PATH",
            SANDBOX_PATH,
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "SYNTHGEN_WORKROOT",
            "/work",
            "--seccomp",
            str(seccomp_fd),
            "--",
            cfg.python,
            "-E",
            "-s",
            "/opt/synthgen/supervisor.py",
            "--stdio",
        ]
        return argv

    async def run(self, request: ExecRequest) -> ExecResult:
        t0 = time.monotonic()
        recipe = get_recipe(request.language)  # an unknown language is the caller's mistake: raises
        if not self._languages.get(recipe.name, False):
            return bad_request(
                f"language {recipe.name!r} needs {', '.join(recipe.binaries)} under /usr on this host "
                "(the bubblewrap backend runs the host's toolchains); install it or use the docker backend"
            )
        try:
            address_space = None
            if not (self._root and self.config.use_cgroup) and recipe.name not in _RUNTIMES_WITHOUT_RLIMIT_AS:
                address_space = request.limits.memory_mb
            job = build_job(
                request,
                compile_wall_s=self.config.compile_wall_s,
                address_space_mb=address_space,
                fork_python=self.config.python_fork_server,
            )
        except BadRequest as exc:
            return bad_request(str(exc))
        await self.start()
        if self._closed:
            return sandbox_error("the bubblewrap sandbox is closed", kind=SandboxFailure.SANDBOX_DOWN)
        frame = job.wire()
        budget = request.limits.wall_time_s + self.config.host_grace_s
        if job.frame["compile"]:
            budget += job.frame["compile_wall_s"]
        assert self._free is not None
        worker = await self._free.get()
        failures: list[str] = []
        try:
            for _attempt in range(2):  # a failed sandbox: one retry of this job in a fresh one
                try:
                    proc = self._procs[worker] or await self._start_worker(worker)
                except SandboxUnavailable as exc:
                    return sandbox_error(
                        f"the sandbox is down: {exc}", time.monotonic() - t0, SandboxFailure.SANDBOX_DOWN
                    )
                try:
                    cgroup = self._cgroups[worker]
                    mem = request.limits.memory_mb + self.config.memory_overhead_mb
                    if cgroup is not None and self._memory[worker] != mem:
                        _set_cgroup_memory(cgroup, mem)
                        self._memory[worker] = mem
                    oom_before = _oom_kills(cgroup)
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.write(frame)
                    await proc.stdin.drain()
                    answer = await asyncio.wait_for(read_result(proc.stdout, recipe), budget)
                    oomed = _oom_kills(cgroup) > oom_before
                except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError, ValueError, KeyError) as exc:
                    failures.append(f"{type(exc).__name__}: {exc} {self._log_tail(worker)}".strip())
                    await self._kill_worker(worker)
                    continue
                return _memory_verdict(answer, recipe, oomed, address_space is not None)
        finally:
            self._free.put_nowait(worker)
        return sandbox_error(
            "the program broke its sandbox twice, each time in a fresh one: " + "; ".join(failures),
            time.monotonic() - t0,
        )

    async def _start_worker(self, worker: int) -> asyncio.subprocess.Process:
        """A long-lived bwrap sandbox whose supervisor serves this worker's jobs over stdio."""
        assert self._state_dir is not None
        seccomp_fd = filter_fd()
        try:
            with open(self._state_dir / f"w{worker}.log", "ab") as log_file:  # noqa: ASYNC230 (tiny, local)
                # env={}: bwrap itself must not hold the engine's environment (API keys): the sandbox
                # gets only what --setenv gives its supervisor.
                proc = await asyncio.create_subprocess_exec(
                    *self._argv(worker, seccomp_fd),
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=log_file,
                    env={},
                    pass_fds=(seccomp_fd,),
                    preexec_fn=_join_cgroup(self._cgroups[worker]),
                    start_new_session=True,
                )
        finally:
            os.close(seccomp_fd)
        self._procs[worker] = proc
        self._memory[worker] = 0
        try:
            assert proc.stdout is not None
            hello = await asyncio.wait_for(read_frame(proc.stdout), 20)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            await self._kill_worker(worker)
            raise SandboxUnavailable(f"bubblewrap sandbox did not start: {self._log_tail(worker)}") from exc
        if not hello.get("ready") or hello.get("protocol") != 2:
            await self._kill_worker(worker)
            raise SandboxUnavailable(f"supervisor said {hello!r} instead of ready")
        return proc

    async def _kill_worker(self, worker: int) -> None:
        proc, self._procs[worker] = self._procs[worker], None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # bwrap; its pid namespace and everything in it go too
        except ProcessLookupError:
            pass
        await proc.wait()

    def _log_tail(self, worker: int) -> str:
        try:
            assert self._state_dir is not None
            return (self._state_dir / f"w{worker}.log").read_text(errors="replace")[-600:].strip()
        except OSError:
            return ""


def _remove_stale_state_dirs() -> None:
    """State dirs of sandboxes whose process is gone (killed before ``close``)."""
    for entry in Path(tempfile.gettempdir()).glob("synthgen-bwrap-*"):
        pid = entry.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(entry, ignore_errors=True)


def _memory_verdict(result: ExecResult, recipe: Recipe, oomed: bool, rlimit_as: bool) -> ExecResult:
    if result.status in (ExecStatus.TIMEOUT, ExecStatus.SANDBOX_ERROR, ExecStatus.COMPILE_ERROR):
        return result
    if oomed or (
        rlimit_as
        and result.status is ExecStatus.RUNTIME_ERROR
        and any(marker in result.stderr for marker in _ALLOC_FAILURES)
    ):
        result.status = ExecStatus.MEMORY_LIMIT
    return result


# ---------------------------------------------------------------- memory cgroups (v1, root only)
def _make_cgroup(name: str) -> Path | None:
    if not (CGROUP_ROOT / "memory.limit_in_bytes").exists():
        return None
    parent = CGROUP_ROOT / "synthgen-bwrap"
    try:
        parent.mkdir(exist_ok=True)
        for stale in parent.iterdir():  # cgroups of pools whose process is gone
            pid = stale.name.split("-", 1)[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                _remove_cgroup(stale)
        path = parent / name
        path.mkdir()
        return path
    except OSError:
        return None


def _set_cgroup_memory(path: Path, mb: int) -> None:
    value = str(mb << 20)
    memsw = path / "memory.memsw.limit_in_bytes"
    # memsw must stay >= the memory limit: order the writes by direction.
    current = int((path / "memory.limit_in_bytes").read_text())
    files = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
    if (mb << 20) > current:
        files.reverse()
    for name in files:
        if name.startswith("memory.memsw") and not memsw.exists():
            continue
        (path / name).write_text(value)


def _oom_kills(path: Path | None) -> int:
    if path is None:
        return 0
    for line in (path / "memory.oom_control").read_text().splitlines():
        if line.startswith("oom_kill "):
            return int(line.split()[1])
    return 0


def _join_cgroup(path: Path | None):
    if path is None:
        return None
    procs = str(path / "cgroup.procs")

    def join() -> None:  # in the child, before exec: bwrap and all it starts are charged here
        with open(procs, "w") as f:
            f.write("0")

    return join


def _remove_cgroup(path: Path) -> None:
    # The last job's processes may still be leaving the cgroup (exit is asynchronous): retry briefly.
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
