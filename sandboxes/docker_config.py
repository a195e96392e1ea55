"""What a user sets for the Docker backend: the pool, the image and its packages, container sizing
and the default job limits (the pool itself is :mod:`sandboxes.docker_pool`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from sandboxes.image_build import DEFAULT_IMAGE
from sandboxes.image_packages import ImagePackages
from sandboxes.types import Limits
from synthgen.errors import SynthgenError

__all__ = ["DockerConfig", "LimitsConfig", "SandboxUnavailable"]


class SandboxUnavailable(SynthgenError):
    """The backend cannot run on this machine (no engine, no image, no bwrap); says how to fix it."""


class LimitsConfig(BaseModel):
    """Default limits of the pool (a request's own ``limits`` still apply per job)."""

    model_config = ConfigDict(extra="forbid")
    wall_time_s: float = 10.0
    cpu_time_s: float = 10.0
    memory_mb: int = 512
    processes: int = 64
    output_bytes: int = 1 << 20
    file_size_mb: int = 16

    def to_limits(self) -> Limits:
        return Limits(**self.model_dump())


class DockerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # how many jobs run at once and how the host schedules them, not what a job gives: changing these
    # keeps a run's fingerprint (synthgen.config.result_view)
    non_result_fields: ClassVar[frozenset[str]] = frozenset({
        "pool_size", "pipeline_depth", "check_image_hash", "uid_base", "cgroup_parent"})
    image: str = Field(DEFAULT_IMAGE, description="built by `synthgen sandbox build`")
    packages: ImagePackages = Field(
        default_factory=ImagePackages, description="apt/pip/npm packages added to the image (built once per list)"
    )
    pool_size: int = Field(2, ge=1, le=64, description="warm containers; 2-3 saturate a 2-core machine")
    limits: LimitsConfig = Field(default_factory=LimitsConfig, description="container sizing defaults")
    work_dir_mb: int = Field(64, description="size of the job's tmpfs work dir (disk fills get ENOSPC)")
    tmp_mb: int = 16
    shm_mb: int = 16
    memory_overhead_mb: int = Field(48, description="added to a job's memory for the supervisor")
    cpus: float = Field(1.0, description="CPU share per container")
    compile_wall_s: float = Field(60.0, description="wall limit of a compile step")
    startup_timeout_s: float = 30.0
    host_grace_s: float = Field(10.0, description="beyond the job's own limits before a slot counts as hung")
    uid_base: int | None = Field(None, description="first slot uid; random in 100000.. when unset")
    check_image_hash: bool = Field(True, description="warn when the image predates the current recipes")
    pipeline_depth: int = Field(
        1, ge=1, le=8, description="jobs sent ahead to a busy container (>1 hides the host round trip)"
    )
    python_fork_server: bool = Field(
        True, description="plain Python programs run in a fork of the warm in-container interpreter"
    )
    warm_compilers: bool = Field(
        True, description="javac and tsc compiles go to a long-lived compiler service in each container"
    )
    cgroup_parent: str | None = Field(
        None, description="cgroup the containers go under (benchmarks: the same CPU group as the baseline)"
    )
