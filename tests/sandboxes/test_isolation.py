"""Issue-11 findings, on every backend: no host secret inside, no state carried from job to job,
no way to signal, trace or read the supervisor, cleanup without replacement, caller errors not retried,
a fork bomb's timeout at its limit."""

from __future__ import annotations

import hashlib
import os
import subprocess
import time

from sandboxes.types import ExecRequest, ExecStatus, Limits, SandboxFailure
from tests.sandboxes.conftest import CANARY
from tests.sandboxes.test_hostile import assert_clean, py


def warm(backend) -> object:
    """Run a job on every slot (so none starts later) and return the backend's generation."""
    assert all(r.ok for r in backend.run_many([py("print(1)") for _ in range(4)]))
    return backend.generation()


SCAN_ENVIRON = """
import os
secret = os.environ.get('X', '') + '""" + CANARY[:10] + """' + '""" + CANARY[10:] + """'
for p in os.listdir('/proc'):
    if p.isdigit() and int(p) != os.getpid():
        for f in ('environ', 'cmdline'):
            try:
                data = open(f'/proc/{p}/{f}', 'rb').read()
            except OSError as e:
                print('denied', p, f)
                continue
            print('LEAK' if secret.encode() in data else 'clean', p, f)
"""


def test_no_process_in_the_sandbox_holds_the_host_environment(backend) -> None:
    assert os.environ["SYNTHGEN_TEST_SECRET"] == CANARY
    result = backend.run(py(SCAN_ENVIRON))
    assert result.ok, result
    assert "LEAK" not in result.stdout_text, result.stdout_text
    assert "denied 1 environ" in result.stdout_text, "the supervisor's environment must be unreadable"


def test_bubblewrap_processes_start_with_an_empty_environment(bwrap_runner) -> None:
    """Outside the sandbox too: the host-side bwrap process holds none of the engine's variables."""
    warm(bwrap_runner)
    uids = bwrap_runner.sandbox._uids
    pids = subprocess.run(
        ["ps", "-o", "pid=", "-u", ",".join(map(str, uids))], capture_output=True, text=True, check=False
    ).stdout.split()
    assert pids, "live workers run as their own uids"
    for pid in pids:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                assert CANARY.encode() not in f.read(), f"process {pid} holds the engine's environment"
        except FileNotFoundError:
            pass


TAMPER_DEV = """
rm -f /dev/stdout /dev/null 2>/dev/null
ln -sf /dev/full /dev/stdout 2>/dev/null
echo planted > /dev/planted 2>/dev/null
mkdir /dev/planted_dir 2>/dev/null
echo tried
"""


def test_dev_tampering_does_not_reach_later_jobs(backend) -> None:
    tamper = ExecRequest(language="bash", files={"main.sh": TAMPER_DEV})
    backend.run_many([tamper, tamper])  # every slot
    check = py("import os\nprint('hello')\nprint(sorted(f for f in os.listdir('/dev') if 'planted' in f))")
    for result in backend.run_many([check] * 4):
        assert result.ok and result.stdout_text == "hello\n[]\n", result


KEYRING = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
added = libc.syscall(248, b'user', b'synthgen-planted', b'secret', 6, ctypes.c_long(-4))  # add_key
add_errno = ctypes.get_errno()
found = libc.syscall(249, b'user', b'synthgen-planted', None, 0)  # request_key
req_errno = ctypes.get_errno()
print(added, add_errno, found, req_errno)
"""


def test_kernel_keyrings_are_refused_and_carry_nothing(backend) -> None:
    results = backend.run_many([py(KEYRING)] * 4)
    for result in results:
        assert result.ok, result
        added, add_errno, found, _ = (int(x) for x in result.stdout_text.split())
        assert added == -1 and add_errno == 1, f"add_key must fail with EPERM: {result.stdout_text}"
        assert found == -1, f"a key written by an earlier job was found: {result.stdout_text}"


ATTACK_SUPERVISOR = """
import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
me = os.getpid()
others = sorted(int(p) for p in os.listdir('/proc') if p.isdigit() and int(p) != me)
services = [p for p in others if b'/opt/synthgen/compilers/' in open(f'/proc/{p}/cmdline', 'rb').read()]
print('others', [p for p in others if p not in services])
for pid in others:
    for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    print('attach', pid, libc.ptrace(16, pid, None, None))  # PTRACE_ATTACH
    print('seize', pid, libc.ptrace(0x4206, pid, None, None))  # PTRACE_SEIZE
    for f in ('environ', 'mem', 'maps', 'fd', 'stack', 'syscall'):
        try:
            path = f'/proc/{pid}/{f}'
            os.listdir(path) if f == 'fd' else open(path, 'rb').read(64)
            print('READ', pid, f)
        except OSError:
            print('denied', pid, f)
"""


def test_job_cannot_signal_trace_or_read_its_supervisor(backend) -> None:
    before = warm(backend)
    results = backend.run_many([py(ATTACK_SUPERVISOR)] * 2)
    for result in results:
        assert result.ok, result
        out = result.stdout_text
        assert out.splitlines()[0] == "others [1]", f"only the supervisor (and compiler services): {out}"
        assert "attach 1 -1" in out and "seize 1 -1" in out, out
        traces = [line for line in out.splitlines() if line.startswith(("attach", "seize"))]
        assert traces and all(line.endswith(" -1") for line in traces), out
        assert "READ" not in out, out
    t0 = time.monotonic()
    after = backend.run_many([py("print(open('/proc/1/cmdline').read())")] * 4)
    assert time.monotonic() - t0 < 5, "a stopped supervisor would hang the next jobs"
    assert all(r.ok and "supervisor.py" in r.stdout_text for r in after), after
    assert backend.generation() == before, "the attack must not cost a sandbox replacement"


CHMOD_000 = """
import os
os.makedirs('a/b/c')
open('a/b/c/f', 'w').write('x')
os.makedirs('/tmp/t/u')
open('/tmp/t/u/g', 'w').write('x')
for d in ('a/b/c', 'a/b', 'a', '/tmp/t/u', '/tmp/t', '.', '/tmp', '/work'):
    try:
        os.chmod(d, 0)
    except OSError:
        pass
print('locked')
"""


def test_chmod_000_trees_are_cleaned_without_replacing_anything(backend) -> None:
    before = warm(backend)
    results = backend.run_many([py(CHMOD_000)] * 2)
    assert all(r.ok and r.stdout_text == "locked\n" for r in results), results
    assert_clean(backend)
    assert_clean(backend)
    assert backend.generation() == before, "cleanup must not need a new container or worker"


def test_oversized_argv_is_a_clear_caller_error_never_retried(backend) -> None:
    before = warm(backend)
    code = "import sys\nprint(len(sys.argv), len(sys.argv[1]))"
    for argv in (("x" * (10 << 20),), ("y" * (200 << 10),), tuple("z" * 1000 for _ in range(2000))):
        t0 = time.monotonic()
        result = backend.run(ExecRequest(language="python", files={"main.py": code}, argv=argv))
        assert result.status is ExecStatus.SANDBOX_ERROR and result.error_kind is SandboxFailure.BAD_REQUEST
        assert "stdin" in result.error and time.monotonic() - t0 < 1.0, result
    ok = backend.run(ExecRequest(language="python", files={"main.py": code}, argv=("w" * (100 << 10),)))
    assert ok.ok and ok.stdout_text == f"2 {100 << 10}\n", ok
    assert backend.generation() == before


FORK_BOMB_SPINNING = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""


def test_fork_bomb_times_out_at_its_limit(backend) -> None:
    for request in (
        py(FORK_BOMB_SPINNING, wall_time_s=3, processes=32),
        ExecRequest(
            language="bash",
            files={"main.sh": "while true; do (while true; do :; done) & done"},
            limits=Limits(wall_time_s=3, processes=32),
        ),
    ):
        t0 = time.monotonic()
        result = backend.run(request)
        elapsed = time.monotonic() - t0
        assert result.status is ExecStatus.TIMEOUT, result
        assert elapsed < 3.8, f"the timeout came back {elapsed - 3:.2f}s after its 3 s limit"
    assert_clean(backend)


def _leak_probe(marker: str) -> str:
    """A program that searches its own memory for ``marker`` without ever holding it itself."""
    prefix, digest = marker[:6], hashlib.sha256(marker.encode()).hexdigest()
    return f"""
import hashlib, re
hits = 0
with open('/proc/self/maps') as maps, open('/proc/self/mem', 'rb') as mem:
    for line in maps:
        addr, perms = line.split()[:2]
        if not perms.startswith('rw'):
            continue
        lo, hi = (int(x, 16) for x in addr.split('-'))
        try:
            mem.seek(lo)
            data = mem.read(hi - lo)
        except (OSError, ValueError, OverflowError):
            continue
        for m in re.finditer(re.escape({prefix!r}.encode()), data):
            if hashlib.sha256(data[m.start():m.start() + {len(marker)}]).hexdigest() == {digest!r}:
                hits += 1
print('hits', hits)
"""


def test_no_job_data_reaches_a_later_job(backend) -> None:
    """Fork-server mode forks jobs from a warm interpreter: it must never hold an earlier job's bytes."""
    marker = "synthgen-leak-" + os.urandom(12).hex()
    planted = ExecRequest(
        language="python",
        files={"main.py": f"secret = {marker!r}\nprint(secret[:5])", "data.txt": marker},
        stdin=marker,
        argv=(marker,),
    )
    assert all(r.ok for r in backend.run_many([planted] * 4))
    probes = backend.run_many([py(_leak_probe(marker))] * 4)
    for result in probes:
        assert result.ok and result.stdout_text == "hits 0\n", result
