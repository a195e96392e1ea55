"""Snippet items for ``factuality`` from a corpus, sampled so topics and documents are spread.

Inputs: text files (``.txt`` / ``.md``: one document each; the topic is the parent folder's name),
or anything :mod:`synthgen.sources` reads (JSONL / JSON / parquet / a ``save_to_disk`` dataset)
with a text column and optional title and topic columns. Documents are cut into paragraph-aligned
snippets; the sample takes topics in turn (round robin, random order) and within a topic the
documents in turn, so a large topic or a long document cannot crowd out the rest.

    python -m generators.knowledge.corpus OUT.jsonl CORPUS_DIR_OR_FILES... --n 200 --seed 0
"""

from __future__ import annotations

import argparse
import random
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from generators.knowledge._matching import split_snippets
from synthgen.config import SourceRef
from synthgen.errors import SourceError
from synthgen.records import content_hash
from synthgen.sources import SourceProblem, iter_items

TEXT_SUFFIXES = {".txt", ".md", ".text"}


def iter_documents(paths: Iterable[str | Path], *, text_field: str = "text", title_field: str = "title",
                   topic_field: str = "topic", problems: list[SourceProblem] | None = None) -> Iterator[dict]:
    """Documents ``{id, text, title, topic}`` from text files, folders of them, and tabular sources."""
    problems = problems if problems is not None else []
    for raw in paths:
        path = Path(raw)
        if path.is_dir() and not (path / "dataset_info.json").exists() and not (path / "dataset_dict.json").exists():
            files = sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
            if not files:
                raise SourceError(f"{path}: no .txt or .md files in this folder")
            yield from iter_documents(files, text_field=text_field, title_field=title_field,
                                      topic_field=topic_field, problems=problems)
        elif path.suffix.lower() in TEXT_SUFFIXES:
            if not path.is_file():
                raise SourceError(f"corpus file not found: {path}")
            text = path.read_text(encoding="utf-8", errors="replace")
            yield {"id": content_hash(str(path.name), text), "text": text, "title": path.stem.replace("_", " "),
                   "topic": path.parent.name}
        else:
            for item in iter_items([SourceRef(path=str(path))], problems):
                text = item.row.get(text_field)
                if not isinstance(text, str) or not text.strip():
                    problems.append(SourceProblem(item.where, f"no text in field '{text_field}'; skipped"))
                    continue
                yield {"id": item.id, "text": text, "title": item.row.get(title_field),
                       "topic": str(item.row.get(topic_field) or "-")}


def sample_snippets(documents: Iterable[dict], n: int, *, seed: int = 0, min_chars: int = 200,
                    max_chars: int = 1200) -> list[dict]:
    """Up to ``n`` snippet items, topics and documents taken in turn."""
    rng = random.Random(seed)
    by_topic: dict[str, list[list[dict]]] = defaultdict(list)
    for doc in documents:
        pieces = split_snippets(doc["text"], min_chars, max_chars)
        rng.shuffle(pieces)
        snippets = [{"id": f"{doc['id']}-{content_hash(p, length=8)}", "text": p, "title": doc.get("title"),
                     "topic": doc.get("topic"), "document": doc["id"]} for p in pieces]
        if snippets:
            by_topic[str(doc.get("topic") or "-")].append(snippets)
    topics = sorted(by_topic)
    rng.shuffle(topics)
    for docs in by_topic.values():
        rng.shuffle(docs)
    cursor = {t: 0 for t in topics}  # next document of each topic
    out: list[dict] = []
    while len(out) < n and any(by_topic[t] for t in topics):
        for topic in topics:
            docs = by_topic[topic]
            if not docs or len(out) >= n:
                continue
            i = cursor[topic] % len(docs)
            out.append(docs[i].pop())
            if not docs[i]:
                docs.pop(i)
            else:
                cursor[topic] = i + 1
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", help="JSONL file of snippet items to write")
    parser.add_argument("inputs", nargs="+", help="folders of .txt/.md, text files, JSONL/parquet files, HF dirs")
    parser.add_argument("--n", type=int, default=200, help="snippets to sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-chars", type=int, default=200)
    parser.add_argument("--max-chars", type=int, default=1200)
    parser.add_argument("--text-field", default="text")
    args = parser.parse_args(argv)
    problems: list[SourceProblem] = []
    items = sample_snippets(iter_documents(args.inputs, text_field=args.text_field, problems=problems), args.n,
                            seed=args.seed, min_chars=args.min_chars, max_chars=args.max_chars)
    Path(args.out).write_bytes(b"".join(orjson.dumps(it) + b"\n" for it in items))
    topics = len({it["topic"] for it in items})
    docs = len({it["document"] for it in items})
    print(f"{len(items)} snippets from {docs} documents in {topics} topics -> {args.out}"
          + (f"; {len(problems)} rows skipped" if problems else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
