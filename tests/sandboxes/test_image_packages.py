"""Every library the image ships is importable and works inside the sandbox; users add their own."""

import asyncio

import pytest

from sandboxes.image_packages import (
    SHIPPED,
    ImagePackages,
    PackageSpecError,
    install_script,
    library_packages,
)
from sandboxes.recipes import get_recipe
from sandboxes.types import ExecRequest, Limits


def test_every_shipped_library_has_a_probe_per_language():
    assert len(library_packages()) == len(SHIPPED)
    wanted = {"python3-numpy", "python3-pandas", "python3-scipy", "python3-sympy", "python3-matplotlib",
              "libjavatuples-java", "node-lodash", "libssl-dev", "libboost-dev"}
    assert wanted <= set(library_packages())
    assert {lib.language for lib in SHIPPED} == {"python", "java", "javascript", "cpp", "php", "bash"}


@pytest.mark.parametrize("bad", ["numpy; rm -rf /", "--index-url=http://x", "a b", "", "$(id)", "pkg\nRUN id"])
def test_package_names_are_validated(bad):
    for field in ("apt", "pip", "npm"):
        with pytest.raises((PackageSpecError, ValueError)):
            ImagePackages(**{field: [bad]})


def test_package_lists_are_keyed_in_any_order():
    a = ImagePackages(apt=["libfmt-dev", "jq"], pip=["polars==1.2.0"], npm=["mathjs@12"])
    b = ImagePackages(apt=["jq", "libfmt-dev"], pip=["polars==1.2.0"], npm=["mathjs@12"])
    assert a.key() == b.key() and a.key() != ImagePackages(apt=["jq"]).key()
    assert ImagePackages().empty() and not a.empty()
    script = install_script(a.apt, a.pip, a.npm)
    assert "python3-pip" in script and " npm" in script and "'polars==1.2.0'" in script
    assert script.endswith("rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb")


@pytest.mark.docker
@pytest.mark.slow
def test_every_shipped_library_works_in_the_sandbox(docker_runner):
    requests = [
        ExecRequest(language=lib.language, files={_file(lib.language): lib.probe},
                    compile_cmd=f"{get_recipe(lib.language).compile_cmd} {lib.link}" if lib.link else None,
                    limits=Limits(wall_time_s=30, cpu_time_s=30, memory_mb=768))
        for lib in SHIPPED
    ]
    results = docker_runner.run_many(requests)
    failed = {lib.package: (r.status.value, (r.compile_output or r.stderr_text)[-400:])
              for lib, r in zip(SHIPPED, results) if not (r.ok and r.stdout_text.strip() == "ok")}
    assert not failed, failed


def _file(language: str) -> str:
    return "Main.java" if language == "java" else get_recipe(language).source_file


@pytest.mark.docker
@pytest.mark.slow
def test_user_packages_make_a_cached_image(docker_runner):
    """One small apt package through the same layer mechanism; the second call finds the tag."""
    from sandboxes.docker_pool import DockerConfig, DockerSandbox
    from sandboxes.image_build import ensure_image

    packages = ImagePackages(apt=["python3-six"])
    tag = ensure_image(packages, log=lambda _msg: None)
    assert tag.endswith(f"-x{packages.key()}") and ensure_image(packages, log=lambda _msg: None) == tag

    async def probe():
        # The way a user asks for it: the packages in the sandbox config (the cached image is found).
        async with DockerSandbox(DockerConfig(pool_size=1, packages={"apt": ["python3-six"]})) as sandbox:
            assert sandbox.config.image == tag
            return await sandbox.run(ExecRequest(language="python", files={"main.py": "import six\nprint('ok')\n"}))

    result = asyncio.run(probe())
    assert result.ok and result.stdout_text.strip() == "ok", result.stderr_text
