"""Chunking throughput: our piecewise batch tokenisation + boundary offsets against calling the tokenizer
directly on the same text (transformers fast tokenizer with offsets, and one `tokenizers` encode).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/chunking.py [--chars 2000000] [--chunk 8192] [--repeats 3]

Text: the project's long-context example documents repeated to the requested size. Tokenizer: the
tiny model's byte-level BPE (Llama 3 style pre-tokenizer), built offline. Prints tokens/s per method and,
last, the ratio of the chunker against the transformers call (what a user would write).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def best(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=2_000_000)
    parser.add_argument("--chunk", type=int, default=8192)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from generators.context._chunking import Chunker
    from synthgen.tiny_model import build_tokenizer

    docs = "\n\n".join(p.read_text() for p in sorted((ROOT / "examples/data/long_context").rglob("*.*")))
    text = (docs * (args.chars // len(docs) + 1))[:args.chars]
    with tempfile.TemporaryDirectory() as tmp:
        build_tokenizer(Path(tmp))
        hf = AutoTokenizer.from_pretrained(tmp)
        hf.model_max_length = 10**9
        chunker = Chunker(tmp)
        n_tokens = chunker.tokenize(text).n_tokens

        def transformers_call() -> None:
            enc = hf(text, add_special_tokens=False, return_offsets_mapping=True)
            offsets = enc["offset_mapping"]
            [text[offsets[i][0]:offsets[min(i + args.chunk, len(offsets)) - 1][1]]
             for i in range(0, len(offsets), args.chunk)]

        def tokenizers_encode() -> None:
            enc = chunker.tokenizer.encode(text, add_special_tokens=False)
            offsets = enc.offsets
            [text[offsets[i][0]:offsets[min(i + args.chunk, len(offsets)) - 1][1]]
             for i in range(0, len(offsets), args.chunk)]

        def ours() -> None:
            chunker.chunk(text, args.chunk)

        rows = [("transformers tokenizer(text, offsets) + slicing", best(transformers_call, args.repeats)),
                ("tokenizers encode(text) + offsets + slicing", best(tokenizers_encode, args.repeats)),
                ("synthgen Chunker.chunk (piecewise batch)", best(ours, args.repeats))]
    print(f"text: {len(text):,} chars, {n_tokens:,} tokens; chunks of {args.chunk} tokens")
    print(f"{'method':<50} {'seconds':>8} {'tokens/s':>12}")
    for name, seconds in rows:
        print(f"{name:<50} {seconds:>8.3f} {n_tokens / seconds:>12,.0f}")
    print(f"chunker vs transformers tokenizer call: {rows[0][1] / rows[2][1]:.2f}x "
          f"(vs one tokenizers encode: {rows[1][1] / rows[2][1]:.2f}x)")


if __name__ == "__main__":
    main()
