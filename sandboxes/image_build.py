"""Offline build of the sandbox image: debootstrap -> docker import -> builds adding libraries and the supervisor.

No registry is needed. Three layers, each cached by a content label:
* the **base** (``synthgen-sandbox-base:<packages hash>``): a debootstrap ``--variant=minbase`` of
  Debian bookworm with every recipe's toolchain, apt archives deleted, ``docker import``-ed. Minutes;
  rebuilt only when the recipes' package list changes. The mirror is debootstrap's default.
* the **libraries** (``synthgen-sandbox-libs:<hash>``): one ``apt-get install`` of the common libraries
  of :data:`sandboxes.image_packages.SHIPPED` (numpy, pandas, javatuples, lodash, OpenSSL, boost...).
  A minute or two; rebuilt when that list changes.
* the **image** (``synthgen-sandbox:<recipes+supervisor hash>``, also tagged ``:latest``): the
  libraries plus ``sandboxes/image/`` (the in-container supervisor and recipe support files). Seconds.

A user's extra packages (:class:`sandboxes.image_packages.ImagePackages`) make one more layer on top,
tagged ``synthgen-sandbox:<image hash>-x<list hash>`` and found again by that tag (:func:`ensure_image`).
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

from sandboxes.image_packages import ImagePackages, install_script, library_packages
from sandboxes.recipes import debian_packages, recipes_hash
from synthgen.errors import SynthgenError

IMAGE_REPO = "synthgen-sandbox"
BASE_REPO = "synthgen-sandbox-base"
LIBS_REPO = "synthgen-sandbox-libs"
DEFAULT_IMAGE = f"{IMAGE_REPO}:latest"
LABEL_HASH = "synthgen.sandbox.hash"
LABEL_BASE_HASH = "synthgen.sandbox.base_hash"
LABEL_LIBS_HASH = "synthgen.sandbox.libs_hash"
LABEL_EXTRA = "synthgen.sandbox.extra_packages"
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


def libs_hash() -> str:
    key = f"{base_hash()}|{','.join(library_packages())}"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def image_hash() -> str:
    """Hash of the recipes, the package lists and every file baked in by the top layer."""
    h = hashlib.sha256(f"{recipes_hash()}|{base_hash()}|{libs_hash()}".encode())
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
        log(f"  base built in {time.monotonic() - t0:.0f}s")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _dockerfile(base: str, ihash: str) -> str:
    return "\n".join(
        [
            f"FROM {base}",
            "COPY image/ /opt/synthgen/",
            # Mount points that exist in the read-only root; the work dir is a sized tmpfs at run time.
            "RUN mkdir -p /work /opt/synthgen/chan && chmod 1777 /work && python3 -m compileall -q /opt/synthgen"
            # warm compiler services' launchers and the C++ precompiled header (sandboxes/image/compilers)
            " && sh /opt/synthgen/compilers/install.sh",
            "ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin",
            f"LABEL {LABEL_HASH}={ihash} {LABEL_BASE_HASH}={base_hash()} {LABEL_LIBS_HASH}={libs_hash()}",
            'ENTRYPOINT ["python3", "-u", "/opt/synthgen/supervisor.py"]',
            "",
        ]
    )


def _untag_older(repo: str, keep: set[str], keep_prefix: str | None = None) -> None:
    """Drop tags of earlier builds; layers still used by a running container stay until it ends."""
    tags = _docker("images", repo, "--format", "{{.Tag}}").split()
    for old in set(tags) - keep:
        if keep_prefix and old.startswith(keep_prefix):
            continue
        subprocess.run(["docker", "rmi", f"{repo}:{old}"], capture_output=True, check=False)


def _docker_build(dockerfile: str, tags: list[str], *, with_image_files: bool = False) -> None:
    """``docker build`` from a context made on the fly: the Dockerfile (plus ``sandboxes/image/``)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        if with_image_files:
            tar.add(str(IMAGE_FILES), arcname="image", filter=lambda ti: None if "__pycache__" in ti.name else ti)
    args = ["build", "-q"]
    for tag in tags:
        args += ["-t", tag]
    _docker(*args, "-", input_bytes=buf.getvalue())


def _build_libs(base: str, tag: str, lhash: str, log: Callable[[str], None]) -> None:
    pkgs = library_packages()
    log(f"apt-get install of {len(pkgs)} library packages -> {tag} (a minute or two)")
    t0 = time.monotonic()
    _docker_build(
        "\n".join([f"FROM {base}", f"RUN {install_script(pkgs)}", f"LABEL {LABEL_LIBS_HASH}={lhash}", ""]),
        [tag],
    )
    log(f"  libraries installed in {time.monotonic() - t0:.0f}s")


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
    lhash = libs_hash()
    libs = f"{LIBS_REPO}:{lhash}"
    if force or image_label(libs, LABEL_LIBS_HASH) != lhash:
        _build_libs(base, libs, lhash, log)
    else:
        log(f"libraries {libs} are cached")
    log(f"docker build -> {tag}")
    _docker_build(_dockerfile(libs, ihash), [tag, DEFAULT_IMAGE], with_image_files=True)
    _untag_older(IMAGE_REPO, keep={ihash, "latest"}, keep_prefix=f"{ihash}-x")
    _untag_older(LIBS_REPO, keep={lhash})
    log(f"built {tag} (also {DEFAULT_IMAGE}) in {time.monotonic() - t0:.0f}s")
    return BuildResult(tag, ihash, True, time.monotonic() - t0)


def ensure_image(packages: ImagePackages | None, *, image: str = DEFAULT_IMAGE,
                 log: Callable[[str], None] = print) -> str:
    """The image to run: ``image`` itself, or ``image`` plus the user's packages (built once, then cached)."""
    if packages is None or packages.empty():
        return image
    ihash = image_label(image, LABEL_HASH)
    if ihash is None:
        raise ImageBuildError(f"sandbox image {image!r} not found; build it with `synthgen sandbox build`")
    key = packages.key()
    tag = f"{IMAGE_REPO}:{ihash or 'custom'}-x{key}"
    if image_label(tag, LABEL_EXTRA) == key:
        return tag
    log(f"adding packages {packages.model_dump()} to {image} -> {tag}")
    t0 = time.monotonic()
    _docker_build(
        "\n".join([f"FROM {image}", f"RUN {install_script(packages.apt, packages.pip, packages.npm, packages.cpp_prefixes)}",
                   f"LABEL {LABEL_EXTRA}={key}", ""]),
        [tag],
    )
    log(f"  built {tag} in {time.monotonic() - t0:.0f}s")
    return tag


if __name__ == "__main__":
    build_image(force="--force" in sys.argv)
