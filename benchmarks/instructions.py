"""Throughput of the `instructions` verifier: checks per second per check family (each check gives its
strict and its loose verdict; a check that fails strictly is retried on up to 7 loose variants).

Baseline measured in the same run: Python's `json.loads` of a small object (a floor for "a cheap check");
the last line is the verifier's checks/s (every family but language) as a fraction of that floor.

    python benchmarks/instructions.py [--responses 300]
"""

from __future__ import annotations

import argparse
import random
import time

from verifiers.instructions import check_all, parse_instructions

SUITES = {
    "counts": [{"id": "word_count", "args": {"relation": "at_most", "count": 120}},
               {"id": "sentence_count", "args": {"relation": "at_least", "count": 2}},
               {"id": "paragraph_count", "args": {"count": 3}}, {"id": "bullet_count", "args": {"count": 2}}],
    "format": [{"id": "title"}, {"id": "json_format"}, {"id": "highlighted_sections", "args": {"count": 2}},
               {"id": "postscript"}, {"id": "placeholders", "args": {"count": 1}}, {"id": "two_responses"}],
    "lexical": [{"id": "no_commas"}, {"id": "lowercase"}, {"id": "keywords_include", "args": {"keywords": ["river"]}},
                {"id": "letter_frequency", "args": {"letter": "e", "count": 10}},
                {"id": "end_with", "args": {"phrase": "Any other questions?"}}],
    "language": [{"id": "language", "args": {"language": "en"}}],
}
WORDS = ("the river runs past old stone bridges while boats carry grain and people to the market every "
         "morning in the cold season").split()


def response(rng: random.Random) -> str:
    paras = []
    for _ in range(rng.randint(1, 4)):
        sents = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 14))).capitalize() + "."
                 for _ in range(rng.randint(1, 4))]
        paras.append(" ".join(sents))
    head = "<<A title>>\n" if rng.random() < 0.5 else "Sure, here it is:\n"
    return head + "\n\n".join(paras) + ("\n* one\n* two" if rng.random() < 0.5 else "") + "\nP.S. bye"


def rate(fn, n: int) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--responses", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(0)
    texts = [response(rng) for _ in range(args.responses)]
    check_all(texts[0], parse_instructions(SUITES["language"]))  # load the language profiles once
    import json

    base = rate(lambda: [json.loads('{"a": [1, 2, 3], "b": "text"}') for _ in range(20000)], 20000)
    print(f"{'suite':<10} {'checks':>6} {'strict+loose checks/s':>22}")
    totals = []
    for name, raw in SUITES.items():
        ins = parse_instructions(raw)
        n = len(texts) * len(ins)
        r = rate(lambda: [check_all(t, ins) for t in texts], n)
        totals.append((n, n / r))
        print(f"{name:<10} {n:>6} {r:>22,.0f}")
    all_ins = parse_instructions([i for raw in SUITES.values() for i in raw if i["id"] != "language"])
    n = len(texts) * len(all_ins)
    mixed = rate(lambda: [check_all(t, all_ins) for t in texts], n)
    print(f"{'all-but-language':<10} {n:>6} {mixed:>22,.0f}")
    print(f"baseline json.loads/s: {base:,.0f}")
    print(f"all-but-language checks/s vs json.loads/s: {mixed / base:.3f}x")


if __name__ == "__main__":
    main()
