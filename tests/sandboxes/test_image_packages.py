"""Every library the image ships is importable and works inside the sandbox; users add their own."""

import asyncio
import hashlib
import json

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


@pytest.mark.parametrize("bad", ["", "cstdio; rm -rf /", "../etc/passwd", "vector<int>", "a$(x)"])
def test_cpp_prefixes_are_header_names(bad):
    with pytest.raises(PackageSpecError):
        ImagePackages(cpp_prefixes=[bad])


def test_cpp_prefixes_are_normalised_and_keyed_apart_from_package_lists():
    a = ImagePackages(cpp_prefixes=["cstdio  cstring vector", "bits/stdc++.h"])
    assert a.cpp_prefixes == ["bits/stdc++.h", "cstdio cstring vector"] and not a.empty()
    assert a.key() == ImagePackages(cpp_prefixes=["bits/stdc++.h", "cstdio cstring vector"]).key()
    # a package list from before cpp_prefixes existed keeps its key (its cached image stays valid)
    assert ImagePackages(apt=["jq"]).key() == hashlib.sha256(
        json.dumps({"apt": ["jq"], "npm": [], "pip": []}, sort_keys=True).encode()).hexdigest()[:12]
    script = install_script([], cpp_prefixes=a.cpp_prefixes)
    assert "apt-get" not in script  # no package list: nothing to download
    assert "build_prefix.sh prefix-user-2.h cstdio cstring vector" in script


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


@pytest.mark.docker
@pytest.mark.slow
def test_user_cpp_prefixes_are_precompiled_and_used(docker_runner):
    """A dataset's own include prefix, added in the sandbox config: its PCH is built into a cached
    image and used for a program that starts with it, with the same output as without it."""
    from sandboxes.docker_pool import DockerConfig, DockerSandbox

    src = ("// a competitive-programming layout\n#include <cstdio>\n#include <cstring>\n#include <vector>\n"
           "int main(){ std::vector<int> v(3); std::memset(v.data(), 0, 12); std::printf(\"%d\\n\", (int)v.size()); }\n")

    async def probe():
        config = DockerConfig(pool_size=1, packages={"cpp_prefixes": ["cstdio cstring vector"]})
        async with DockerSandbox(config) as sandbox:
            fast = await sandbox.run(ExecRequest(language="cpp", files={"main.cpp": src},
                                                 compile_cmd="g++ -O2 -std=c++17 -H -o main *.cpp"))
            plain = await sandbox.run(ExecRequest(language="cpp", files={"main.cpp": src},
                                                  compile_cmd="CPLUS_INCLUDE_PATH= g++ -O2 -std=c++17 -o main *.cpp"))
            return fast, plain

    fast, plain = asyncio.run(probe())
    assert fast.ok and fast.stdout_text == plain.stdout_text == "3\n", (fast, plain)
    assert "! /opt/synthgen/pch/prefix/prefix-user-1.h.gch" in fast.compile_output, fast.compile_output
