"""Precompiled include prefixes (sandboxes/image/_sg_cpp.py): which programs and commands get
``-include`` of a prefix, and which are left exactly as they were. The image-side checks (the PCH is
used, object code byte-identical, same verdicts) are in test_warm_compilers.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sandboxes" / "image"))
import _sg_cpp  # noqa: E402

HUMANEVAL_X = (
    "/*\nCheck if in given vector of numbers, are any two numbers closer to each other than\ngiven threshold.\n"
    "*/\n#include<stdio.h>\n#include<math.h>\n#include<vector>\nusing namespace std;\n#include<algorithm>\n"
    "bool has_close_elements(vector<float> numbers, float threshold){\n"
)
MULTIPL_E = "#include<assert.h>\n#include<bits/stdc++.h>\n// Return length of given string\nlong strlen(std::string s) {\n"


@pytest.mark.parametrize(
    ("src", "expected"),
    [
        (HUMANEVAL_X, ["stdio.h", "math.h", "vector"]),
        (MULTIPL_E, ["assert.h", "bits/stdc++.h"]),
        ("\ufeff// c\n\n  #  include <vector> // why\n/* a */ #include <map>\nint x;", ["vector", "map"]),
        ("/* one\n two */ #include <set>\n#include <string>\n", ["set", "string"]),
        ("#define N 5\n#include <vector>\n", []),  # a macro first: the prefix would not be read alike
        ('#include <vector>\n#include "mine.h"\n#include <map>\n', ["vector"]),
        ("#pragma once\n#include <vector>\n", []),
        ("#include <vector> \\\n\n#include <map>", []),
        ("#include <vector> int x;\n", []),
        ("", []),
    ],
)
def test_leading_includes(src: str, expected: list[str]) -> None:
    assert _sg_cpp.leading_includes(src.encode()) == expected


@pytest.fixture
def prefixes(tmp_path: Path) -> Path:
    d = tmp_path / "prefix"
    d.mkdir()
    (d / "index.txt").write_text("prefix-1.h\tstdio.h math.h vector algorithm\nprefix-2.h\tstdio.h math.h vector\n"
                                 "prefix-3.h\tstdio.h math.h\nprefix-4.h\tassert.h bits/stdc++.h\n")
    return d


def _job(tmp_path: Path, files: dict[str, str]) -> str:
    work = tmp_path / "job"
    work.mkdir()
    for name, body in files.items():
        (work / name).write_text(body)
    return str(work)


SH = ["/bin/sh", "-c", "g++ -O2 -std=c++17 -o main *.cpp", "sh"]


def test_the_longest_matching_prefix_is_forced_in_both_command_forms(tmp_path, prefixes):
    work = _job(tmp_path, {"main.cpp": HUMANEVAL_X, "input.txt": "1"})
    out = _sg_cpp.with_prefix(SH, work, str(prefixes))
    assert out == ["/bin/sh", "-c", f"g++ -include {prefixes}/prefix-2.h -O2 -std=c++17 -o main *.cpp", "sh"]
    direct = ["g++", "-O2", "-std=c++17", "-o", "main", "main.cpp"]
    assert _sg_cpp.with_prefix(direct, work, str(prefixes)) == ["g++", "-include", f"{prefixes}/prefix-2.h",
                                                                 *direct[1:]]


def test_multipl_e_layout(tmp_path, prefixes):
    work = _job(tmp_path, {"main.cpp": MULTIPL_E + "}\nint main(){}\n"})
    assert f"-include {prefixes}/prefix-4.h " in _sg_cpp.with_prefix(SH, work, str(prefixes))[2]


@pytest.mark.parametrize(
    ("argv", "files"),
    [
        (SH, {"main.cpp": HUMANEVAL_X, "helper.cpp": HUMANEVAL_X}),  # -include would reach helper.cpp too
        (SH, {"main.cpp": "#include <iostream>\n"}),  # no prefix: the per-header PCH applies instead
        (SH, {"main.cpp": "#include <stdio.h>\nint main(){}\n"}),  # shorter than every prefix
        (["/bin/sh", "-c", "g++ -I. -O2 -o main *.cpp", "sh"], {"main.cpp": HUMANEVAL_X}),  # search path changed
        (["/bin/sh", "-c", "g++ -isystem /x -o main *.cpp", "sh"], {"main.cpp": HUMANEVAL_X}),
        (["/bin/sh", "-c", "g++ -nostdinc++ -o main *.cpp", "sh"], {"main.cpp": HUMANEVAL_X}),
        (["/bin/sh", "-c", "g++ -include x.h -o main *.cpp", "sh"], {"main.cpp": HUMANEVAL_X}),
        (["/bin/sh", "-c", "g++ -x c++ -o main main.txt", "sh"], {"main.txt": HUMANEVAL_X}),
        (["/bin/sh", "-c", "g++ -o main *.cpp && ./main", "sh"], {"main.cpp": HUMANEVAL_X}),  # shell syntax
        (["/bin/sh", "-c", "CPATH=. g++ -o main *.cpp", "sh"], {"main.cpp": HUMANEVAL_X}),
        (["/bin/sh", "-c", "clang++ -o main *.cpp", "sh"], {"main.cpp": HUMANEVAL_X}),
        (["gcc", "-o", "main", "main.c"], {"main.c": HUMANEVAL_X}),
        (["g++", "@args", "main.cpp"], {"main.cpp": HUMANEVAL_X}),
    ],
)
def test_left_alone(tmp_path, prefixes, argv, files):
    work = _job(tmp_path, files)
    assert _sg_cpp.with_prefix(argv, work, str(prefixes)) is argv


def test_without_the_image_prefixes_nothing_changes(tmp_path):
    work = _job(tmp_path, {"main.cpp": HUMANEVAL_X})
    assert _sg_cpp.with_prefix(SH, work, str(tmp_path / "absent")) is SH  # bubblewrap: the host's toolchain


def test_a_symlinked_source_is_not_followed(tmp_path, prefixes):
    work = _job(tmp_path, {})
    Path(work, "main.cpp").symlink_to("/etc/passwd")
    assert _sg_cpp.with_prefix(SH, work, str(prefixes)) is SH
