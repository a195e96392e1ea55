"""Offline build of the sandbox image: debootstrap -> docker import -> a build adding the supervisor.

No registry is needed. Two layers, each cached by a content label:
* the **base** (``synthgen-sandbox-base:<packages hash>``): a debootstrap ``--variant=minbase`` of
  Debian bookworm with every recipe's toolchain, apt archives deleted, ``docker import``-ed. Minutes;
  rebuilt only when the recipes' package list changes. The mirror is debootstrap's default.
* the **image** (``synthgen-sandbox:<recipes+supervisor hash>``, also tagged ``:latest``): the base
  plus ``sandboxes/image/`` (the in-container supervisor and recipe support files). Seconds.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandboxes.recipes import debian_packages, recipes_hash
from synthgen.errors import SynthgenError

IMAGE_REPO = "synthgen-sandbox"
BASE_REPO = "synthgen-sandbox-base"
DEFAULT_IMAGE = f"{IMAGE_REPO}:latest"
LABEL_HASH = "synthgen.sandbox.hash"
LABEL_BASE_HASH = "synthgen.sandbox.base_hash"
SUITE = "bookworm"
IMAGE_FILES = Path(__file__).parent / "image"


class ImageBuildError(SynthgenError):
    """The sandbox image could not be built (debootstrap, docker import or build failed)."""


@dataclass(frozen=True)
class BuildResult:
    image: str
    hash: str
    built: bool  # False: an image with this hash existed already
    seconds: float


def base_hash() -> str:
    key = f"{SUITE}|minbase|{','.join(debian_packages())}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def image_hash() -> str:
    """Hash of the recipes, the package list and every file baked in by the top layer."""
    h = hashlib.sha256(f"{recipes_hash()}|{base_hash()}".encode())
    for path in sorted(p for p in IMAGE_FILES.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(IMAGE_FILES)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _docker(*args: str, input_bytes: bytes | None = None, stdin=None) -> str:
    proc = subprocess.run(["docker", *args], input=input_bytes, stdin=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        raise ImageBuildError(
            f"`docker {' '.join(args[:3])} ...` failed: {proc.stderr.decode(errors='replace')[-2000:]}"
        )
    return proc.stdout.decode()


def image_label(image: str, label: str) -> str | None:
    """The image's label value, or None when the image does not exist."""
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", f'{{{{index .Config.Labels "{label}"}}}}', image],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return None
    value = proc.stdout.strip()
    return value if value and value != "<no value>" else ""


def _build_base(tag: str, bhash: str, log: Callable[[str], None]) -> None:
    if shutil.which("debootstrap") is None:
        raise ImageBuildError("debootstrap is not installed; run `bash scripts/install_system_deps.sh`")
    workdir = Path(tempfile.mkdtemp(prefix="synthgen-rootfs-"))
    rootfs = workdir / "rootfs"
    try:
        pkgs = ",".join(debian_packages())
        log(f"debootstrap --variant=minbase {SUITE} with {pkgs} (a few minutes)")
        t0 = time.monotonic()
        # No mirror argument: debootstrap's default mirror applies.
        proc = subprocess.Popen(
            ["debootstrap", "--variant=minbase", f"--include={pkgs}", SUITE, str(rootfs)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            tail = (tail + [line.rstrip()])[-30:]
            if line.startswith(("I: Retrieving", "I: Validating")):
                continue  # one line per package: too chatty
            log(f"  [{time.monotonic() - t0:5.0f}s] {line.rstrip()}")
        if proc.wait() != 0:
            raise ImageBuildError("debootstrap failed:\n" + "\n".join(tail))
        for deb in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            deb.unlink()
        shutil.rmtree(rootfs / "var/lib/apt/lists", ignore_errors=True)
        log(f"docker import -> {tag}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        _docker("import", "--change", f"LABEL {LABEL_BASE_HASH}={bhash}", "-", tag, stdin=tar.stdout)
        if tar.wait() != 0:
            raise ImageBuildError("tar of the debootstrapped rootfs failed")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _dockerfile(base: str, ihash: str) -> str:
    return "\n".join(
        [
            f"FROM {base}",
            "COPY image/ /opt/synthgen/",
            # Mount points that exist in the read-only root; the work dir is a sized tmpfs at run time.
            "RUN mkdir -p /work /opt/synthgen/chan && chmod 1777 /work && python3 -m compileall -q /opt/synthgen",
            "ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin",
            f"LABEL {LABEL_HASH}={ihash} {LABEL_BASE_HASH}={base_hash()}",
            'ENTRYPOINT ["python3", "-u", "/opt/synthgen/supervisor.py"]',
            "",
        ]
    )


def _untag_older(repo: str, keep: set[str]) -> None:
    """Drop tags of earlier builds; layers still used by a running container stay until it ends."""
    tags = _docker("images", repo, "--format", "{{.Tag}}").split()
    for old in set(tags) - keep:
        subprocess.run(["docker", "rmi", f"{repo}:{old}"], capture_output=True, check=False)


def build_image(*, force: bool = False, log: Callable[[str], None] = print) -> BuildResult:
    """Build (or find cached) the sandbox image; returns its tag and whether it was rebuilt."""
    t0 = time.monotonic()
    ihash = image_hash()
    tag = f"{IMAGE_REPO}:{ihash}"
    if not force and image_label(tag, LABEL_HASH) == ihash:
        _docker("tag", tag, DEFAULT_IMAGE)
        log(f"image {tag} is up to date (recipes hash {ihash}); tagged {DEFAULT_IMAGE}")
        return BuildResult(tag, ihash, False, time.monotonic() - t0)
    bhash = base_hash()
    base = f"{BASE_REPO}:{bhash}"
    if force or image_label(base, LABEL_BASE_HASH) != bhash:
        _build_base(base, bhash, log)
    else:
        log(f"base {base} is cached")
    log(f"docker build -> {tag}")
    # A build context on the fly: the Dockerfile plus sandboxes/image/.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = _dockerfile(base, ihash).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(str(IMAGE_FILES), arcname="image", filter=lambda ti: None if "__pycache__" in ti.name else ti)
    _docker("build", "-q", "-t", tag, "-t", DEFAULT_IMAGE, "-", input_bytes=buf.getvalue())
    _untag_older(IMAGE_REPO, keep={ihash, "latest"})
    log(f"built {tag} (also {DEFAULT_IMAGE}) in {time.monotonic() - t0:.0f}s")
    return BuildResult(tag, ihash, True, time.monotonic() - t0)


if __name__ == "__main__":
    build_image(force="--force" in sys.argv)
