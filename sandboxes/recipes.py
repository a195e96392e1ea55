"""Language recipes: how to compile and run one program, declared as data.

A new language is one :class:`Recipe` entry in :data:`RECIPES`. Commands are shell-like strings
run in the job's work dir with ``{main}`` (the source file name) and ``{stem}`` (its name without
extension) substituted; commands with shell syntax (globs, redirections) run under ``/bin/sh -c``,
the others are split and executed directly (one process less per job).
The Debian packages that provide each toolchain are part of the recipe, so the image's package
list, and with it the image's cache key, follow from this file.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field
from typing import Literal

from synthgen.errors import SynthgenError

# "exit_code": the job failed iff it exited non-zero. "exit_code_or_stderr": also when it wrote to
# stderr (sqlite3 reports some errors on stderr and still exits 0). Node jobs preload
# image/js/strict-assert.js so a failing console.assert exits 1 and logging to stderr stays harmless.
FailureMode = Literal["exit_code", "exit_code_or_stderr"]

_SHELL_CHARS = set("*?[]|&;<>()$`\\\"'\n")


class UnknownLanguageError(SynthgenError):
    """An ExecRequest names a language no recipe declares."""


@dataclass(frozen=True)
class Recipe:
    name: str
    source_file: str
    run_cmd: str
    compile_cmd: str | None = None
    failure: FailureMode = "exit_code"
    aliases: tuple[str, ...] = ()
    debian_packages: tuple[str, ...] = ()
    # Executables the recipe needs; the bubblewrap backend (host toolchains) checks them.
    binaries: tuple[str, ...] = ()
    # Toolchains that start many threads (JVM, rustc) count each against RLIMIT_NPROC/pids.
    min_processes: int = 0
    # Extra environment for compile and run (e.g. a JVM that must not size itself to the host).
    env: dict[str, str] = field(default_factory=dict)

    def render(self, command: str, main_file: str) -> str:
        stem = main_file.rsplit(".", 1)[0] if "." in main_file else main_file
        return command.replace("{main}", main_file).replace("{stem}", stem)


def command_argv(command: str, argv: tuple[str, ...] = ()) -> list[str]:
    """A command string as an argv list: split directly when it has no shell syntax, else sh -c."""
    if any(c in _SHELL_CHARS for c in command):
        # "$@" passes the job's argv through the shell untouched.
        return ["/bin/sh", "-c", command + (' "$@"' if argv else ""), "sh", *argv]
    return [*shlex.split(command), *argv]


_TS_NODE_GLOBALS = "/opt/synthgen/ts/node-globals.d.ts"
_NODE_RUN = "node --require /opt/synthgen/js/strict-assert.js"
# Global npm packages a user adds to the image (sandboxes/image_packages.py) live here; Debian's
# node-* packages are found through node's own global paths.
_NODE_ENV = {"NODE_PATH": "/usr/local/lib/node_modules"}
# Jars of the shipped Java libraries (Debian's names); javac and java both read CLASSPATH.
_JAVA_CLASSPATH = ":".join(
    [".", *(f"/usr/share/java/{jar}.jar" for jar in ("javatuples", "commons-lang3", "guava", "gson"))]
)

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            "python",
            "main.py",
            "python3 {main}",
            aliases=("py", "python3"),
            debian_packages=("python3-minimal", "python3"),
            binaries=("python3",),
            env={"PYTHONIOENCODING": "utf-8", "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg"},
        ),
        Recipe(
            "c",
            "main.c",
            "./main",
            compile_cmd="gcc -O2 -std=c11 -o main *.c -lm",
            debian_packages=("gcc",),
            binaries=("gcc",),
        ),
        Recipe(
            "cpp",
            "main.cpp",
            "./main",
            compile_cmd="g++ -O2 -std=c++17 -o main *.cpp",
            aliases=("c++", "cxx"),
            debian_packages=("g++",),
            binaries=("g++",),
            # The image's precompiled <bits/stdc++.h> (built for exactly these flags; ignored otherwise).
            env={"CPLUS_INCLUDE_PATH": "/opt/synthgen/pch"},
        ),
        # One GC thread and one "CPU": the JVM sizes itself to the host otherwise and hits the pids limit.
        Recipe(
            "java",
            "Main.java",
            "java -ea -Xss8m -XX:+UseSerialGC -XX:ActiveProcessorCount=1 -Dfile.encoding=UTF-8 {stem}",
            compile_cmd="javac -J-XX:+UseSerialGC -J-XX:ActiveProcessorCount=1 -encoding UTF-8 *.java",
            debian_packages=("default-jdk-headless",),
            binaries=("javac", "java"),
            min_processes=128,
            env={"CLASSPATH": _JAVA_CLASSPATH},
        ),
        Recipe(
            "javascript",
            "main.js",
            f"{_NODE_RUN} {{main}}",
            aliases=("js", "node", "nodejs"),
            debian_packages=("nodejs",),
            binaries=("node",),
            min_processes=32,
            env=_NODE_ENV,
        ),
        Recipe(
            "typescript",
            "main.ts",
            f"{_NODE_RUN} {{stem}}.js",
            compile_cmd=(
                f"tsc --target es2020 --module commonjs --skipLibCheck --outDir . {_TS_NODE_GLOBALS} *.ts"
            ),
            aliases=("ts",),
            debian_packages=("nodejs", "node-typescript"),
            binaries=("node", "tsc"),
            min_processes=32,
            env=_NODE_ENV,
        ),
        Recipe(
            "php",
            "main.php",
            "php -d zend.assertions=1 -d assert.exception=1 -d display_errors=stderr -d log_errors=0 {main}",
            debian_packages=("php-cli",),
            binaries=("php",),
        ),
        Recipe(
            "rust",
            "main.rs",
            "./main",
            # -O alone turns overflow checks off: a sum that panics in a debug build would pass.
            compile_cmd="rustc -O -C overflow-checks=on -o main {main}",
            aliases=("rs",),
            debian_packages=("rustc",),
            binaries=("rustc",),
            min_processes=64,
        ),
        Recipe(
            "bash",
            "main.sh",
            "bash {main}",
            aliases=("sh", "shell"),
            debian_packages=("bash",),
            binaries=("bash",),
        ),
        Recipe(
            "sql",
            "main.sql",
            'sqlite3 -bail -batch :memory: ".read {main}"',
            failure="exit_code_or_stderr",
            aliases=("sqlite", "sqlite3"),
            debian_packages=("sqlite3",),
            binaries=("sqlite3",),
        ),
    )
}

_ALIASES: dict[str, str] = {a: r.name for r in RECIPES.values() for a in (r.name, *r.aliases)}


def get_recipe(language: str) -> Recipe:
    """The recipe for ``language`` (a name or alias, case-insensitive)."""
    key = language.strip().lower()
    if key not in _ALIASES:
        known = ", ".join(sorted(_ALIASES))
        raise UnknownLanguageError(
            f"unknown sandbox language {language!r}; known: {known}. "
            "Add a Recipe entry to sandboxes/recipes.py to support a new one."
        )
    return RECIPES[_ALIASES[key]]


def debian_packages() -> list[str]:
    """Every Debian package the recipes need, sorted and unique (the image's package list)."""
    return sorted({p for r in RECIPES.values() for p in r.debian_packages})


def recipes_hash() -> str:
    """A stable hash of every recipe; the image is labelled with it and rebuilt when it changes."""
    payload = json.dumps([asdict(r) for r in sorted(RECIPES.values(), key=lambda r: r.name)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
