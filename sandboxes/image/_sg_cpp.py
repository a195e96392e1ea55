"""Precompiled include prefixes for C++ compiles (runs in the compile step's child, before exec).

gcc uses a precompiled header only for the first ``#include`` of a program, so the per-header PCHs
(``compilers/install.sh``) do nothing for a program that starts with a light C header, as the public
code benchmarks' prompts do: HumanEval-X's ``<stdio.h>`` ``<math.h>`` ``<vector>`` ...,
MultiPL-E's ``<assert.h>`` ``<bits/stdc++.h>``. The image also holds PCHs of such include
*prefixes* (``compilers/pch_prefixes.txt``). When a C++ compile command names exactly one source
file and that file starts with the system includes of a prefix (only blank lines and comments
before and between them), the command gets ``-include <prefix header>`` after ``g++``: the prefix
is read first (from its PCH when the flags match, else as text), and the program's own includes of
the same headers then change nothing, as every one of them is guarded (``<assert.h>``, unguarded,
defines the same ``assert`` again: ``NDEBUG`` cannot have changed in between). The object code is
byte-identical to the plain command's (tests/sandboxes/test_warm_compilers.py).

Left alone: commands that are not a plain ``g++``/``c++`` call, that name several sources, or that
change where headers come from (``-I``, ``-isystem``, ``-nostdinc``, ``--sysroot``, ...; a PCH does
not record the search path), and files with anything but includes and comments before the prefix.
"""

from __future__ import annotations

import glob
import os
import re
import shlex

PREFIX_DIR = "/opt/synthgen/pch/prefix"
_COMPILERS = {"g++", "c++"}
_SOURCES = (".cpp", ".cc", ".cxx", ".c++", ".C")
_SHELL_SYNTAX = set("|&;<>()$`\\\"'\n")
# flags after which the forced prefix could differ from what the program's own includes would read
_REFUSED = ("-I", "-i", "-nostdinc", "--sysroot", "-x", "-E", "-M", "-fpreprocessed", "-traditional", "-Wp,",
            "-Xpreprocessor", "-fworking-directory", "@")  # -i: -include, -imacros, -isystem, -iquote, ...
_INCLUDE = re.compile(rb"#[ \t]*include[ \t]*<([^<>\s]+)>[ \t]*(//.*)?")
_READ_LIMIT = 1 << 16


def _index(prefix_dir: str) -> list[tuple[str, tuple[str, ...]]]:
    try:
        with open(os.path.join(prefix_dir, "index.txt")) as fh:
            rows = [line.rstrip("\n").split("\t") for line in fh if "\t" in line]
    except OSError:
        return []
    return [(name, tuple(headers.split())) for name, headers in rows]


def leading_includes(src: bytes) -> list[str]:
    """The ``#include <...>`` lines a file starts with, with only blank lines and comments before and
    between them; stops at anything else (a macro, a pragma, a quoted include, code)."""
    if src.startswith(b"\xef\xbb\xbf"):
        src = src[3:]
    headers: list[str] = []
    in_comment = False
    for raw in src.splitlines():
        line = raw.strip()
        if in_comment:
            end = line.find(b"*/")
            if end < 0:
                continue
            in_comment = False
            line = line[end + 2 :].strip()
        while line.startswith(b"/*"):
            end = line.find(b"*/", 2)
            if end < 0:
                in_comment = True
                line = b""
                break
            line = line[end + 2 :].strip()
        if not line or line.startswith(b"//"):
            continue
        if line.endswith(b"\\"):
            break  # a continued line: not worth reading further
        m = _INCLUDE.fullmatch(line)
        if m is None:
            break
        headers.append(m.group(1).decode("ascii", "replace"))
    return headers


def with_prefix(argv: list[str], cwd: str, prefix_dir: str = PREFIX_DIR) -> list[str]:
    """``argv`` with ``-include`` of the longest precompiled prefix the program starts with, or
    ``argv`` itself when none applies (or anything is unusual). ``argv`` is what the recipes make
    of a command (``recipes.command_argv``): split words, or ``/bin/sh -c COMMAND sh`` when the
    command has shell syntax (a ``*.cpp`` glob)."""
    index = _index(prefix_dir)
    if not index or not argv:
        return argv
    shell = argv[:2] == ["/bin/sh", "-c"]
    if shell:
        command = argv[2] if len(argv) == 4 and argv[3] == "sh" else ""
        if not command or any(c in _SHELL_SYNTAX for c in command):
            return argv
        words = shlex.split(command)
        if not words or not command.startswith(words[0] + " "):
            return argv
    else:
        words = argv
    if words[0] not in _COMPILERS:
        return argv
    args: list[str] = []
    for word in words[1:]:
        if word.startswith(_REFUSED):
            return argv
        if shell and any(c in word for c in "*?["):
            args += sorted(glob.glob(word, root_dir=cwd)) or [word]
        else:
            args.append(word)
    sources = [a for a in args if a.endswith(_SOURCES) and not a.startswith("-")]
    if len(sources) != 1:
        return argv
    try:
        fd = os.open(os.path.join(cwd, sources[0]), os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as fh:
            head = fh.read(_READ_LIMIT)
    except OSError:
        return argv
    if len(head) == _READ_LIMIT:  # the includes end long before; cut at the last full line
        head = head[: head.rfind(b"\n") + 1]
    headers = tuple(leading_includes(head))
    matches = [(len(hs), name) for name, hs in index if hs and hs == headers[: len(hs)]]
    if not matches:
        return argv
    forced = os.path.join(prefix_dir, max(matches)[1])
    if shell:
        return ["/bin/sh", "-c", f"{words[0]} -include {forced} {command[len(words[0]) + 1:]}", "sh"]
    return [words[0], "-include", forced, *words[1:]]
