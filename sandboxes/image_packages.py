"""The libraries shipped in the sandbox image, and the packages a user adds in the sandbox config.

Generated code imports more than the standard library: numpy in a third of "simple" Python
answers, ``org.javatuples`` in every MultiPL-E Java prompt, ``<openssl/md5.h>`` in HumanEval-X C++.
:data:`SHIPPED` lists, per language, the Debian package that provides each common library and a
tiny program that uses it (``tests/sandboxes/test_image_packages.py`` runs every probe in the
sandbox). They are installed by one ``apt-get`` layer on top of the toolchain base, so changing
this list rebuilds that layer only, not the debootstrap.

:class:`ImagePackages` is what a user adds (``DockerConfig.packages``): apt, pip and npm names,
installed in one more layer on top of the image; that image is cached under a tag keyed by the list.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator

from synthgen.errors import SynthgenError


class PackageSpecError(SynthgenError):
    """A package name in the sandbox config is not a valid apt / pip / npm name."""


@dataclass(frozen=True)
class Library:
    language: str  # a recipe name
    package: str  # the Debian package
    probe: str  # a program that uses the library and prints "ok" (checked in the sandbox)
    link: str = ""  # libraries to link (code_exec adds them from the #include lines)


def _py(module: str, use: str = "") -> str:
    return f"import {module}\n{use}\nprint('ok')\n"


SHIPPED: tuple[Library, ...] = (
    Library("python", "python3-numpy", _py("numpy as np", "assert np.arange(4).sum() == 6")),
    Library("python", "python3-pandas", _py("pandas as pd", "assert pd.DataFrame({'a': [1, 2]})['a'].sum() == 3")),
    Library("python", "python3-scipy", _py("scipy.optimize", "assert abs(scipy.optimize.brentq(lambda x: x - 1, 0, 2) - 1) < 1e-9")),
    Library("python", "python3-sympy", _py("sympy", "assert sympy.factor(sympy.Symbol('x')**2 - 1) is not None")),
    Library("python", "python3-matplotlib",
            _py("matplotlib.pyplot as plt", "plt.plot([1, 2]); plt.savefig('p.png')")),
    Library("python", "python3-sklearn", _py("sklearn.linear_model", "sklearn.linear_model.LinearRegression()")),
    Library("python", "python3-networkx", _py("networkx as nx", "assert nx.path_graph(3).number_of_edges() == 2")),
    Library("python", "python3-sortedcontainers", _py("sortedcontainers", "assert list(sortedcontainers.SortedList([2, 1])) == [1, 2]")),
    Library("python", "python3-more-itertools", _py("more_itertools", "assert list(more_itertools.chunked([1, 2, 3], 2)) == [[1, 2], [3]]")),
    Library("python", "python3-dateutil", _py("dateutil.parser", "dateutil.parser.parse('2024-01-02')")),
    Library("python", "python3-tz", _py("pytz", "pytz.timezone('Europe/Paris')")),
    Library("python", "python3-regex", _py("regex", "assert regex.match(r'\\p{L}+', 'abc')")),
    Library("python", "python3-yaml", _py("yaml", "assert yaml.safe_load('a: 1') == {'a': 1}")),
    Library("python", "python3-pytest", _py("pytest")),
    Library("java", "libjavatuples-java",
            "import org.javatuples.Pair;\npublic class Main { public static void main(String[] a) {"
            " System.out.println(Pair.with(1, 2).getValue1() == 2 ? \"ok\" : \"no\"); } }\n"),
    Library("java", "libcommons-lang3-java",
            "import org.apache.commons.lang3.StringUtils;\npublic class Main { public static void main(String[] a) {"
            " System.out.println(StringUtils.isBlank(\" \") ? \"ok\" : \"no\"); } }\n"),
    Library("java", "libguava-java",
            "import com.google.common.collect.ImmutableList;\npublic class Main { public static void main(String[] a) {"
            " System.out.println(ImmutableList.of(1).size() == 1 ? \"ok\" : \"no\"); } }\n"),
    Library("java", "libgoogle-gson-java",
            "import com.google.gson.Gson;\npublic class Main { public static void main(String[] a) {"
            " System.out.println(new Gson().toJson(1).equals(\"1\") ? \"ok\" : \"no\"); } }\n"),
    Library("javascript", "node-lodash", "const _ = require('lodash');\nconsole.log(_.sum([1, 2]) === 3 ? 'ok' : 'no');\n"),
    Library("javascript", "node-underscore", "const _ = require('underscore');\nconsole.log(_.max([1, 2]) === 2 ? 'ok' : 'no');\n"),
    Library("cpp", "libssl-dev",
            "#include <openssl/md5.h>\n#include <openssl/sha.h>\n#include <cstdio>\nint main() { unsigned char d[16];"
            " MD5((const unsigned char*)\"a\", 1, d); std::printf(d[0] == 0x0c ? \"ok\\n\" : \"no\\n\"); }\n",
            link="-lssl -lcrypto"),
    Library("cpp", "libboost-dev",
            "#include <boost/algorithm/string.hpp>\n#include <iostream>\n#include <string>\nint main() {"
            " std::string s = \"ab\"; boost::to_upper(s); std::cout << (s == \"AB\" ? \"ok\" : \"no\") << std::endl; }\n"),
    Library("cpp", "libgmp-dev",
            "#include <gmpxx.h>\n#include <iostream>\nint main() { mpz_class a(\"123456789012345678901234567890\");"
            " std::cout << ((a * 2) % 10 == 0 ? \"ok\" : \"no\") << std::endl; }\n",
            link="-lgmpxx -lgmp"),
    Library("cpp", "libeigen3-dev",
            "#include <eigen3/Eigen/Dense>\n#include <iostream>\nint main() { Eigen::Matrix2d m; m << 1, 2, 3, 4;"
            " std::cout << (m.determinant() == -2 ? \"ok\" : \"no\") << std::endl; }\n"),
    Library("php", "php-mbstring", "<?php echo mb_strlen('été') === 3 ? \"ok\\n\" : \"no\\n\";\n"),
    Library("php", "php-bcmath", "<?php echo bcadd('99999999999999999999', '1') === '100000000000000000000' ? \"ok\\n\" : \"no\\n\";\n"),
    Library("php", "php-gmp", "<?php echo gmp_strval(gmp_fact(25)) === '15511210043330985984000000' ? \"ok\\n\" : \"no\\n\";\n"),
    Library("bash", "bc", "[ \"$(echo '2^70' | bc)\" = 1180591620717411303424 ] && echo ok\n"),
    Library("bash", "gawk", "gawk 'BEGIN { if (length(\"abc\") == 3) print \"ok\" }'\n"),
    # TypeScript transpile-only (code_exec's typescript_check: false) uses esbuild: milliseconds
    # where loading the typescript module alone takes a second or more.
    Library("bash", "esbuild", "printf 'const n: number = 2;\\nconsole.log(n === 2 ? \"ok\" : \"no\");\\n' > a.ts\n"
            "esbuild a.ts --format=cjs --log-level=error | node\n"),
    Library("bash", "jq", "[ \"$(echo '{\"a\": 2}' | jq .a)\" = 2 ] && echo ok\n"),
)


def library_packages() -> list[str]:
    """The Debian packages of every shipped library, sorted and unique."""
    return sorted({lib.package for lib in SHIPPED})


_APT = re.compile(r"^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+:~-]+)?$")
_PIP = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?([<>=!~]=?[A-Za-z0-9.*+!-]+(,[<>=!~]=?[A-Za-z0-9.*+!-]+)*)?$")
_HEADER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./+-]*$")
_NPM = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*(@[A-Za-z0-9.^~<>=*|+ -]+)?$")


class ImagePackages(BaseModel):
    """Packages a user adds to the sandbox image; the image is built once per list and cached.

    ``apt``: Debian bookworm package names (``libfmt-dev``, ``python3-bs4``); ``pip``: requirement
    strings (``polars==1.2.0``), installed into the image's system Python; ``npm``: package names
    (``mathjs@12``), installed globally and found by ``require`` through ``NODE_PATH``;
    ``cpp_prefixes``: C++ include prefixes to precompile beside the image's own
    (``compilers/pch_prefixes.txt``), each the headers a dataset's programs start with, in order
    (``"cstdio cstring vector"``): see ``sandboxes/image/_sg_cpp.py``.
    """

    model_config = ConfigDict(extra="forbid")
    apt: list[str] = Field(default_factory=list, description="Debian package names")
    pip: list[str] = Field(default_factory=list, description="pip requirement strings")
    npm: list[str] = Field(default_factory=list, description="npm package specs")
    cpp_prefixes: list[str] = Field(
        default_factory=list, description="C++ include prefixes to precompile: system headers in order, by spaces")

    @field_validator("cpp_prefixes")
    @classmethod
    def _prefixes(cls, value: list[str]) -> list[str]:
        out = []
        for prefix in value:
            headers = prefix.split()
            bad = [h for h in headers if not _HEADER.fullmatch(h) or ".." in h]
            if not headers or bad:
                raise PackageSpecError(
                    f"sandbox config packages.cpp_prefixes: {prefix!r} is not a list of system header names "
                    "separated by spaces (e.g. 'cstdio cstring vector')")
            out.append(" ".join(headers))
        return sorted(set(out))

    @field_validator("apt", "pip", "npm")
    @classmethod
    def _names(cls, value: list[str], info) -> list[str]:
        pattern = {"apt": _APT, "pip": _PIP, "npm": _NPM}[info.field_name]
        for name in value:
            if not pattern.fullmatch(name.strip()):
                raise PackageSpecError(
                    f"sandbox config packages.{info.field_name}: {name!r} is not a valid "
                    f"{info.field_name} package name (no spaces, options or URLs)"
                )
        return sorted({name.strip() for name in value})

    def empty(self) -> bool:
        return not (self.apt or self.pip or self.npm or self.cpp_prefixes)

    def key(self) -> str:
        data = self.model_dump()
        if not data["cpp_prefixes"]:  # the key of a package list from before cpp_prefixes stays the same
            del data["cpp_prefixes"]
        payload = json.dumps(data, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:12]


def install_script(apt: list[str], pip: list[str] = (), npm: list[str] = (), cpp_prefixes: list[str] = ()) -> str:
    """One shell command installing the lists and removing apt/pip/npm caches in the same layer,
    then precompiling the C++ include prefixes (after the packages: a prefix may name their headers)."""
    steps = ["set -e"]
    if apt or pip or npm:
        steps += _package_steps(list(apt), list(pip), list(npm))
    for i, prefix in enumerate(cpp_prefixes, 1):  # header names are validated: plain words for the shell
        steps.append(f"sh /opt/synthgen/compilers/build_prefix.sh prefix-user-{i}.h {prefix}")
    return " && ".join(steps)


def _package_steps(apt: list[str], pip: list[str], npm: list[str]) -> list[str]:
    apt = apt + (["python3-pip"] if pip else []) + (["npm"] if npm else [])
    steps = ["export DEBIAN_FRONTEND=noninteractive", "apt-get update -qq"]
    if apt:
        steps.append("apt-get install -y -qq --no-install-recommends " + " ".join(apt) + " >/dev/null")
    if pip:
        steps.append("pip3 install -q --no-cache-dir --break-system-packages --root-user-action=ignore "
                     + " ".join(f"'{p}'" for p in pip))
    if npm:
        steps.append("npm install -g -q --no-audit --no-fund --prefix /usr/local "
                     + " ".join(f"'{p}'" for p in npm))
        steps.append("rm -rf /root/.npm")
    steps.append("apt-get clean && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb")
    return steps
