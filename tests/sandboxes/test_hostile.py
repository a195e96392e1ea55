"""Hostile-code suite, on every backend: each attack fails, is reported honestly, and leaves nothing behind."""

from __future__ import annotations

import time

import pytest

from sandboxes.types import ExecRequest, ExecStatus, Limits
from tests.sandboxes import hostile


def py(code: str, **limits) -> ExecRequest:
    return ExecRequest(language="python", files={"main.py": code}, limits=Limits(**limits))


def assert_clean(backend) -> None:
    """A later job sees no process and no file of an earlier one."""
    result = backend.run(py(hostile.PS))
    assert result.ok, result
    procs, files = hostile.leftovers(result.stdout_text)
    assert procs == [], f"processes survived into the next job: {procs}"
    assert files == [], f"files survived into the next job: {files}"


def test_network_fails_fast(backend) -> None:
    result = backend.run(py(hostile.NETWORK, wall_time_s=15))
    assert result.ok, result
    assert "CONNECTED" not in result.stdout_text
    assert result.stdout_text.count("BLOCKED") == 4
    assert float(result.stdout_text.split("elapsed")[1]) < 2.0, "connection attempts must fail, not hang"


@pytest.mark.parametrize(
    "language,code", [("bash", hostile.FORK_BOMB_BASH), ("python", hostile.FORK_BOMB_PY)]
)
def test_fork_bomb_is_contained(backend, language, code) -> None:
    files = {"main.sh" if language == "bash" else "main.py": code}
    t0 = time.monotonic()
    result = backend.run(
        ExecRequest(language=language, files=files, limits=Limits(wall_time_s=3, processes=32))
    )
    assert time.monotonic() - t0 < 20
    assert result.status in (ExecStatus.OK, ExecStatus.RUNTIME_ERROR, ExecStatus.TIMEOUT), result
    if language == "python":
        forks = int(result.stdout_text.split()[1])
        assert forks <= 32, result.stdout_text
    assert_clean(backend)


def test_memory_bomb_is_memory_limit(backend) -> None:
    result = backend.run(py(hostile.MEMORY_BOMB, memory_mb=128, wall_time_s=20))
    assert result.status is ExecStatus.MEMORY_LIMIT, result
    ok = backend.run(py("print('alive')"))
    assert ok.ok and ok.stdout_text == "alive\n", "the job after an OOM must run normally"


def test_cpu_loop_is_timeout_and_really_gone(backend) -> None:
    result = backend.run(py(hostile.CPU_LOOP, wall_time_s=1.5, cpu_time_s=1))
    assert result.status is ExecStatus.TIMEOUT, result
    assert result.wall_time_s < 3
    assert_clean(backend)


def test_sleep_forever_is_timeout(backend) -> None:
    t0 = time.monotonic()
    result = backend.run(py(hostile.SLEEP_FOREVER, wall_time_s=1))
    assert result.status is ExecStatus.TIMEOUT, result
    assert 0.9 < result.wall_time_s < 2 and time.monotonic() - t0 < 5


def test_disk_fill_hits_a_sized_work_dir(backend) -> None:
    result = backend.run(py(hostile.DISK_FILL, wall_time_s=20))
    assert result.ok, result
    code, mb = result.stdout_text.split()[1:3]
    assert code in ("ENOSPC", "EDQUOT") and int(mb) <= 64, result.stdout_text
    assert_clean(backend)


def test_writes_outside_the_work_dir_fail(backend) -> None:
    result = backend.run(py(hostile.WRITE_OUTSIDE))
    assert result.ok, result
    assert "WROTE" not in result.stdout_text, result.stdout_text
    assert result.stdout_text.count("denied") == 7


def test_host_files_are_invisible(backend) -> None:
    result = backend.run(py(hostile.READ_HOST))
    assert result.ok, result
    assert "LEAK" not in result.stdout_text, result.stdout_text


def test_output_flood_is_capped_quickly(backend) -> None:
    t0 = time.monotonic()
    result = backend.run(py(hostile.OUTPUT_FLOOD, wall_time_s=30, output_bytes=1 << 20))
    elapsed = time.monotonic() - t0
    assert result.status is ExecStatus.OUTPUT_LIMIT, result
    assert result.stdout_truncated and len(result.stdout) == 1 << 20
    assert set(result.stdout) == {ord("y")}
    assert elapsed < 5, f"a 1 GiB flood took {elapsed:.1f}s to cap"


def test_stderr_flood_is_capped_too(backend) -> None:
    code = "import sys\nwhile True:\n    sys.stderr.write('e' * 65536)\n"
    result = backend.run(py(code, output_bytes=4096))
    assert result.status is ExecStatus.OUTPUT_LIMIT and result.stderr_truncated and len(result.stderr) == 4096


def test_background_process_does_not_outlive_its_job(backend) -> None:
    result = backend.run(py(hostile.BACKGROUND))
    assert result.ok and "spawned" in result.stdout_text, result
    assert_clean(backend)


def test_job_closing_stdout_early(backend) -> None:
    result = backend.run(py(hostile.CLOSE_STDOUT))
    assert result.ok, result
    assert result.stdout_text == "before\n" and result.stderr_text == "still running\n"


def test_binary_and_invalid_utf8_output(backend) -> None:
    result = backend.run(py(hostile.BINARY))
    assert result.ok, result
    assert result.stdout == hostile.BINARY_EXPECTED and result.stderr == b"\x80abc"
    assert "\ufffd" in result.stdout_text  # decoding for display never raises


def test_unprivileged_and_no_capabilities(backend) -> None:
    code = "import os\nprint(os.getuid())\nprint(open('/proc/self/status').read().split('CapEff:')[1].split()[0])"
    result = backend.run(py(code))
    assert result.ok, result
    uid, cap_eff = result.stdout_text.split()
    assert int(uid) != 0 and int(cap_eff, 16) == 0


def test_large_stdin_is_delivered(backend) -> None:
    data = b"z" * (4 << 20)
    code = "import sys\nprint(len(sys.stdin.buffer.read()))"
    result = backend.run(ExecRequest(language="python", files={"main.py": code}, stdin=data))
    assert result.ok and result.stdout_text == f"{len(data)}\n", result


def test_program_ignoring_stdin_does_not_block(backend) -> None:
    result = backend.run(
        ExecRequest(language="python", files={"main.py": "print('no read')"}, stdin=b"q" * (8 << 20))
    )
    assert result.ok and result.stdout_text == "no read\n", result
