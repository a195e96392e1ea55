"""Docker pieces of the pool that are not about jobs: the container spec and stale-container cleanup."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from sandboxes.owner import LABEL_KIND, LABEL_OWNER, is_owner_alive
from sandboxes.recipes import RECIPES

KIND = "docker-pool"
LABEL_POOL = "synthgen.sandbox.pool"
CHANNEL_IN_CONTAINER = "/opt/synthgen/chan/sock"
SOCKET_ROOT = Path(tempfile.gettempdir()) / "synthgen-sandbox"


def container_spec(
    config, *, name: str, uid: int, memory_mb: int, sock_path: Path, owner: str, pool_id: str
) -> dict:
    """Keyword arguments of ``containers.run`` for one locked-down pool container."""
    from docker.types import LogConfig, Mount

    # The pids limit must admit the most thread-hungry toolchain (the JVM); RLIMIT_NPROC per job
    # still applies the request's own process limit.
    pids = max(config.limits.processes, *(r.min_processes for r in RECIPES.values())) + 16
    if config.warm_compilers:  # the compiler services' threads (their memory: DockerSandbox._resize)
        pids += 64
    mem = f"{memory_mb + config.memory_overhead_mb}m"
    return {
        "image": config.image,
        "command": ["--connect", CHANNEL_IN_CONTAINER],
        "name": name,
        "user": f"{uid}:{uid}",
        "network_mode": "none",
        "read_only": True,
        "tmpfs": {
            "/work": f"rw,exec,nosuid,nodev,size={config.work_dir_mb}m,nr_inodes=16384,mode=1777",
            "/tmp": f"rw,exec,nosuid,nodev,size={config.tmp_mb}m,nr_inodes=4096,mode=1777",
        },
        "shm_size": f"{config.shm_mb}m",
        "mem_limit": mem,
        "memswap_limit": mem,
        "pids_limit": pids,
        "nano_cpus": int(config.cpus * 1e9),
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "log_config": LogConfig(type="none"),
        "labels": {LABEL_KIND: KIND, LABEL_OWNER: owner, LABEL_POOL: pool_id},
        "auto_remove": True,
        "mounts": [Mount(CHANNEL_IN_CONTAINER, str(sock_path), type="bind")],
        "detach": True,
        **({"cgroup_parent": config.cgroup_parent} if config.cgroup_parent else {}),
    }


def force_remove(container) -> None:
    import docker

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: removal already in progress (--rm)
            raise


def remove_stale_containers(client) -> int:
    """Remove pool containers whose owning process is gone (e.g. it was SIGKILLed)."""
    removed = 0
    for container in client.containers.list(all=True, filters={"label": f"{LABEL_KIND}={KIND}"}):
        if not is_owner_alive(container.labels.get(LABEL_OWNER, "")):
            force_remove(container)
            removed += 1
    return removed


def remove_stale_socket_dirs() -> None:
    if not SOCKET_ROOT.is_dir():
        return
    for entry in SOCKET_ROOT.iterdir():
        pid = entry.name.split("-", 1)[0]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(entry, ignore_errors=True)
