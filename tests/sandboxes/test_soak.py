"""1,000 mixed runs, normal and hostile interleaved, in parallel: no wrong verdict and no leak."""

from __future__ import annotations

import random
import subprocess

import pytest

from sandboxes.types import ExecRequest, ExecStatus, Limits
from tests.sandboxes import hostile
from tests.sandboxes.test_hostile import assert_clean

N_RUNS = 1000


def _mixed(n: int, seed: int = 0) -> list[tuple[ExecRequest, ExecStatus, str | None]]:
    rng = random.Random(seed)
    # Mostly normal programs, as in a generation run; every hostile kind still shows up ~15-30 times.
    kinds = (
        ["normal"] * 40
        + ["exit"] * 6
        + ["bash"] * 4
        + ["timeout", "memory", "flood", "flood", "background", "background", "forks", "forks"]
    )
    jobs = []
    for i in range(n):
        kind = rng.choice(kinds)
        if kind == "normal":
            req, want, out = (
                ExecRequest(language="python", files={"main.py": f"print({i} * {i})"}),
                ExecStatus.OK,
                f"{i * i}\n",
            )
        elif kind == "exit":
            req, want, out = (
                ExecRequest(language="python", files={"main.py": f"import sys; sys.exit({i % 7 + 1})"}),
                ExecStatus.RUNTIME_ERROR,
                "",
            )
        elif kind == "bash":
            req, want, out = (
                ExecRequest(language="bash", files={"main.sh": f"read x; echo $((x + {i}))"}, stdin="1\n"),
                ExecStatus.OK,
                f"{i + 1}\n",
            )
        elif kind == "timeout":
            req, want, out = (
                ExecRequest(
                    language="python", files={"main.py": hostile.CPU_LOOP}, limits=Limits(wall_time_s=0.5)
                ),
                ExecStatus.TIMEOUT,
                None,
            )
        elif kind == "memory":
            req, want, out = (
                ExecRequest(language="python", files={"main.py": hostile.MEMORY_BOMB}),
                ExecStatus.MEMORY_LIMIT,
                None,
            )
        elif kind == "flood":
            req, want, out = (
                ExecRequest(
                    language="python",
                    files={"main.py": hostile.OUTPUT_FLOOD},
                    limits=Limits(output_bytes=65536),
                ),
                ExecStatus.OUTPUT_LIMIT,
                None,
            )
        elif kind == "background":
            req, want, out = (
                ExecRequest(language="python", files={"main.py": hostile.BACKGROUND}),
                ExecStatus.OK,
                "spawned\n",
            )
        else:
            req, want, out = (
                ExecRequest(
                    language="python", files={"main.py": hostile.FORK_BOMB_PY}, limits=Limits(processes=16)
                ),
                ExecStatus.OK,
                None,
            )
        jobs.append((req, want, out))
    return jobs


@pytest.mark.slow
def test_thousand_mixed_runs(backend) -> None:
    jobs = _mixed(N_RUNS)
    results = backend.run_many([j[0] for j in jobs])
    wrong = [
        (i, want.value, r.status.value, r.stdout[:80], r.error)
        for i, ((_, want, out), r) in enumerate(zip(jobs, results))
        if r.status is not want or (out is not None and r.stdout_text != out)
    ]
    assert wrong == [], f"{len(wrong)} wrong verdicts, first: {wrong[:5]}"
    assert_clean(backend)
    sandbox = backend.sandbox
    if sandbox.name == "docker":
        live = subprocess.run(
            ["docker", "ps", "-q", "--filter", f"label=synthgen.sandbox.pool={sandbox._pool_id}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert len(live) == sandbox.config.pool_size, f"pool has {len(live)} containers after the soak"
    else:
        for uid in sandbox._uids:
            # The worker's own bwrap and supervisor stay; zombies (state Z) have exited already.
            ps = subprocess.run(
                ["ps", "-o", "stat=,cmd=", "-u", str(uid)], capture_output=True, text=True, check=False
            ).stdout
            alive = [
                line
                for line in ps.splitlines()
                if not line.strip().startswith("Z") and "bwrap" not in line and "supervisor.py" not in line
            ]
            assert alive == [], f"processes of worker uid {uid} outlived their jobs: {alive}"
