"""Prompts of the execution-feedback loop (code_self_correction), one place to read and tune them.

``code_exec`` appends the model's unit tests to the solution (one file; Java gets a file per public
class), so each language's hints ask for a solution without an entry point and tests that provide
it and fail loudly.
"""

from __future__ import annotations

import re

from generators.code._common import display

PROBLEM_REQUEST = (
    "Here is a code snippet:\n\n{snippet}\n\n"
    "Write a new, self-contained programming problem inspired by it. State precisely what must be "
    "implemented (function names, parameters, return values) and give one or two examples. The problem "
    "must be solvable in any mainstream language without external libraries, and must not read input or "
    "print output: it asks for functions. Write only the problem statement, no solution and no code."
)

SOLUTION_HINTS = {
    "python": "Write the solution as Python functions (and classes) only: no `if __name__` block, no input, no printing.",
    "javascript": "Write the solution as JavaScript functions only (Node.js): no input, no printing, no exports.",
    "typescript": "Write the solution as TypeScript functions only: no input, no printing, no exports.",
    "cpp": "Write the solution as C++17 functions only, with its #include lines and no `main`.",
    "c": "Write the solution as C11 functions only, with its #include lines and no `main`.",
    "rust": "Write the solution as Rust functions only (standard library, no crates) and no `fn main`.",
    "java": "Write the solution as a non-public class `Solution` with static methods; no `public class`, no `main`.",
    "php": "Write the solution as PHP functions in a file starting with `<?php`; no input, no printing.",
    "bash": "Write the solution as Bash functions only; no top-level commands.",
}

TEST_HINTS = {
    "python": "Write the tests as plain module-level `assert` statements (no unittest, no pytest).",
    "javascript": "Use `const assert = require('assert');` with `assert.strictEqual` / `assert.deepStrictEqual`.",
    "typescript": "Use `const assert = require('assert');` with `assert.strictEqual` / `assert.deepStrictEqual`.",
    "cpp": "Write an `int main()` that checks the results with `assert` from <cassert>.",
    "c": "Write an `int main(void)` that checks the results with `assert` from <assert.h>.",
    "rust": "Write an `fn main()` that checks the results with `assert_eq!` / `assert!`.",
    "java": ("Write `public class Main` with a `main` method that calls `Solution` and throws `AssertionError` "
             "when a result is wrong (the `assert` keyword is disabled in the sandbox)."),
    "php": "Check the results with `assert(...)` (assertions are enabled); do not repeat the `<?php` tag.",
    "bash": "Call the functions and `exit 1` when a result is wrong.",
}

# Languages whose solution + tests can share one file as the recipes compile and run it.
SUPPORTED = tuple(SOLUTION_HINTS)


def solve_request(problem: str, language: str) -> str:
    return (f"{problem.strip()}\n\nSolve this problem in {display(language)}. "
            f"{SOLUTION_HINTS[language]} Explain your approach in comments inside the code. "
            f"Answer with the complete solution in a single ```{language} code block.")


def tests_request(language: str) -> str:
    return (f"Now write unit tests for your solution in {display(language)}. They will be appended after your "
            f"solution in the same file and must stop with a non-zero exit status when a result is wrong. "
            f"{TEST_HINTS[language]} Cover normal cases and edge cases. Do not repeat the solution. Answer with "
            f"the tests in a single ```{language} code block.")


def feedback_request(feedback: str, language: str, *, tests_written: bool) -> str:
    """The correction turn: the verifier's own words, then what to answer."""
    what = ("If your solution is wrong, answer with the corrected complete solution; if a test is wrong, answer "
            "with the corrected complete tests. Start your answer with `Fix: solution` or `Fix: tests`, then give "
            f"the code in a single ```{language} code block.") if tests_written else (
        f"Answer with the corrected complete solution in a single ```{language} code block.")
    return f"The checks failed.\n\n{feedback.strip()}\n\n{what}"


def tests_feedback_request(feedback: str, language: str) -> str:
    return (f"The tests could not be used.\n\n{feedback.strip()}\n\nAnswer with the complete tests in a single "
            f"```{language} code block.")


_FIX = re.compile(r"fix\s*:\s*(solution|tests?)", re.IGNORECASE)


def fix_target(reply: str) -> str:
    """'tests' when the model says it fixes the tests (before its code block), else 'solution'."""
    head = reply.split("```", 1)[0]
    m = _FIX.search(head)
    return "tests" if m and m.group(1).lower().startswith("test") else "solution"
