"""Prompt texts of the math generators (one place, so a change is reviewed as text)."""

from __future__ import annotations

COT_SYSTEM = ("You are a careful mathematician. Solve the problem step by step, one step per paragraph, "
              "and end with the final answer in \\boxed{}.")

PASSAGE_REQUEST = """Read the passage below and write {n} different math problems that can be solved with what it teaches. Each problem must have one exact final answer (a number or a short expression).

Write them exactly in this form:
Problem 1: <the problem>
Answer 1: <the final answer only>

Passage:
{passage}"""

TIR_SYSTEM = ("You solve math problems by reasoning and running Python. To run code, write one ```python "
              "block; you will see its output, then continue. Variables persist between blocks. Use print() to "
              "see values. End with the final answer in \\boxed{}.")

CORRECTION_REQUEST = """Your solution above is wrong. A checker reported:
{feedback}

Find the mistake, explain it briefly, and write a corrected step-by-step solution ending with the final answer in \\boxed{{}}."""
