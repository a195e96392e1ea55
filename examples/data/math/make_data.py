"""Write the example math task files used by examples/round_real_model.yaml.

Grade-school word problems from templates, each with a reference answer and a worked solution that
ends in ``\\boxed{}``: ``seed_sft.jsonl`` (SFT rows, the round-0 demonstrations),
``prompts_round_{1,2,3}.jsonl`` and ``eval.jsonl`` (math_solutions items ``{id, question, answer}``).
Deterministic; no problem appears in two files. Replace these files with your own data in the same
shape.

    python examples/data/math/make_data.py [--out examples/data/math] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from pathlib import Path

SYSTEM_PROMPT = "Solve the problem step by step and put the final answer in \\boxed{}."
NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jia", "Kofi", "Lena"]
SPLITS = {"seed_sft": 120, "prompts_round_1": 300, "prompts_round_2": 300, "prompts_round_3": 300, "eval": 200}

Problem = tuple[str, str, int]  # question, worked solution (without the box), answer


def apples(r: random.Random) -> Problem:
    n, a, b, c = r.choice(NAMES), r.randint(3, 40), r.randint(2, 9), r.randint(2, 12)
    return (f"{n} has {a} apples and buys {b} bags with {c} apples in each. How many apples does {n} have now?",
            f"The bags hold {b} * {c} = {b * c} apples. In total {a} + {b * c} = {a + b * c}.", a + b * c)


def train(r: random.Random) -> Problem:
    a, b, c, d = r.randint(40, 120), r.randint(2, 5), r.randint(40, 120), r.randint(1, 4)
    return (f"A train travels at {a} km per hour for {b} hours, then at {c} km per hour for {d} hours. "
            "How many kilometres does it travel in total?",
            f"First part: {a} * {b} = {a * b} km. Second part: {c} * {d} = {c * d} km. "
            f"Total: {a * b} + {c * d} = {a * b + c * d} km.", a * b + c * d)


def spending(r: random.Random) -> Problem:
    n, b, c = r.choice(NAMES), r.randint(5, 60), r.randint(3, 30)
    a = b + c + r.randint(1, 80)
    return (f"{n} had ${a}, spent ${b} on a book and ${c} on lunch. How many dollars are left?",
            f"Spent: {b} + {c} = {b + c}. Left: {a} - {b + c} = {a - b - c}.", a - b - c)


def sharing(r: random.Random) -> Problem:
    each, kids = r.randint(2, 15), r.randint(2, 12)
    return (f"{each * kids} cookies are shared equally among {kids} children. How many cookies does each child get?",
            f"Each child gets {each * kids} / {kids} = {each}.", each)


def perimeter(r: random.Random) -> Problem:
    a, b = r.randint(3, 60), r.randint(2, 40)
    return (f"A rectangle is {a} cm long and {b} cm wide. What is its perimeter in cm?",
            f"The perimeter is 2 * ({a} + {b}) = 2 * {a + b} = {2 * (a + b)} cm.", 2 * (a + b))


def reading(r: random.Random) -> Problem:
    n, a, b, c = r.choice(NAMES), r.randint(5, 40), r.randint(2, 9), r.randint(1, 30)
    return (f"{n} reads {a} pages a day for {b} days and {c} more pages on the next day. "
            f"How many pages does {n} read altogether?",
            f"{a} * {b} = {a * b} pages, then {a * b} + {c} = {a * b + c}.", a * b + c)


def change(r: random.Random) -> Problem:
    n, price, count = r.choice(NAMES), r.randint(2, 9), r.randint(2, 9)
    bill = next(x for x in (20, 50, 100) if x > price * count)
    return (f"Pens cost ${price} each. {n} buys {count} pens and pays with a ${bill} bill. "
            f"How many dollars of change does {n} get?",
            f"The pens cost {price} * {count} = {price * count}. Change: {bill} - {price * count} = "
            f"{bill - price * count}.", bill - price * count)


def percent(r: random.Random) -> Problem:
    p, base = r.choice([10, 20, 25, 30, 40, 50, 60, 75]), r.randint(1, 30) * 20
    return (f"What is {p}% of {base}?", f"{p}% of {base} is {base} * {p} / 100 = {base * p // 100}.",
            base * p // 100)


TEMPLATES: list[Callable[[random.Random], Problem]] = [
    apples, train, spending, sharing, perimeter, reading, change, percent]


def problems(seed: int, total: int) -> list[Problem]:
    rng, seen, out = random.Random(seed), set(), []
    while len(out) < total:
        problem = rng.choice(TEMPLATES)(rng)
        if problem[0] not in seen:
            seen.add(problem[0])
            out.append(problem)
    return out


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pool = problems(args.seed, sum(SPLITS.values()))
    start = 0
    for split, size in SPLITS.items():
        chunk, start = pool[start:start + size], start + size
        if split == "seed_sft":
            rows = [{"id": f"seed-{i}", "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": q},
                {"role": "assistant", "content": f"{sol} \\boxed{{{ans}}}"}]} for i, (q, sol, ans) in enumerate(chunk)]
        else:
            rows = [{"id": f"{split}-{i}", "question": q, "answer": str(ans)} for i, (q, _, ans) in enumerate(chunk)]
        write(args.out / f"{split}.jsonl", rows)
        print(f"{args.out / split}.jsonl: {len(rows)} rows")


if __name__ == "__main__":
    main()
