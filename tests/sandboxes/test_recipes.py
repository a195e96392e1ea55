"""Recipes are data: lookup by name or alias, clear errors, commands and the image cache key."""

from __future__ import annotations

import pytest

from sandboxes.recipes import (
    RECIPES,
    UnknownLanguageError,
    command_argv,
    debian_packages,
    get_recipe,
    recipes_hash,
)


@pytest.mark.parametrize(
    "alias,name",
    [
        ("py", "python"),
        ("Python3", "python"),
        ("c++", "cpp"),
        ("js", "javascript"),
        ("ts", "typescript"),
        ("sh", "bash"),
        ("sqlite", "sql"),
        ("rs", "rust"),
        ("java", "java"),
        ("php", "php"),
        ("c", "c"),
    ],
)
def test_lookup_by_alias(alias: str, name: str) -> None:
    assert get_recipe(alias).name == name


def test_unknown_language_names_the_known_ones_and_the_fix() -> None:
    with pytest.raises(UnknownLanguageError) as info:
        get_recipe("cobol")
    message = str(info.value)
    assert "cobol" in message and "python" in message and "sandboxes/recipes.py" in message


def test_every_issue_language_has_a_recipe() -> None:
    assert set(RECIPES) == {
        "python",
        "c",
        "cpp",
        "java",
        "javascript",
        "typescript",
        "php",
        "rust",
        "bash",
        "sql",
    }
    for recipe in RECIPES.values():
        assert recipe.debian_packages and recipe.binaries and recipe.run_cmd


def test_node_recipes_judge_by_exit_status() -> None:
    # A failing console.assert exits 1 (preloaded strict-assert.js), so stderr alone is not a failure.
    assert get_recipe("js").failure == "exit_code" and "strict-assert.js" in get_recipe("js").run_cmd
    assert get_recipe("sql").failure == "exit_code_or_stderr"
    assert get_recipe("python").failure == "exit_code"


def test_commands_split_directly_or_go_through_the_shell() -> None:
    assert command_argv("python3 main.py", ("a b",)) == ["python3", "main.py", "a b"]
    argv = command_argv("gcc -o main *.c", ("x",))
    assert argv[:2] == ["/bin/sh", "-c"] and argv[-1] == "x" and '"$@"' in argv[2]
    assert get_recipe("java").render(get_recipe("java").run_cmd, "Solution.java").endswith(" Solution")


def test_image_key_follows_the_recipes() -> None:
    assert recipes_hash() == recipes_hash() and len(recipes_hash()) == 16
    packages = debian_packages()
    assert packages == sorted(set(packages)) and {"python3", "g++", "rustc", "sqlite3"} <= set(packages)
