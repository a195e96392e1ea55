"""Documents as source items: files, folders, text columns (JSONL, parquet, datasets), packing;
bad files become rows with a reason, never a crash and never a lost item."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from synthgen.config import SourceRef
from synthgen.errors import SourceError
from synthgen.sources import SourceProblem, detect_format, iter_items


def _items(**ref):
    problems: list[SourceProblem] = []
    return list(iter_items([SourceRef(**ref)], problems)), problems


def test_folder_of_text_files_with_a_binary_one(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\nalpha text")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b_notes.txt").write_text("beta text")
    (tmp_path / "c.txt").write_bytes(b"\x89PNG\x00\x00binary")
    (tmp_path / "d.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "ignored.json").write_text("{}")
    assert detect_format(SourceRef(path=str(tmp_path))) == "text"
    items, problems = _items(path=str(tmp_path))
    rows = {i.id: i.row for i in items}
    assert set(rows) == {"a.md", "sub/b_notes.txt", "c.txt", "d.txt"} and not problems
    assert rows["a.md"]["text"] == "# A\n\nalpha text" and rows["sub/b_notes.txt"]["title"] == "b notes"
    assert rows["c.txt"]["text"] == "" and "binary" in rows["c.txt"]["read_error"]
    assert "UTF-8" in rows["d.txt"]["read_error"]


def test_one_file_and_an_empty_folder(tmp_path):
    (tmp_path / "one.md").write_text("only")
    (items, _) = _items(path=str(tmp_path / "one.md"))
    assert [i.row["text"] for i in items] == ["only"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="no document files"):
        _items(path=str(tmp_path / "empty"))


def test_jsonl_text_column_with_bad_rows(tmp_path):
    path = tmp_path / "docs.jsonl"
    rows = [{"id": "x", "body": "first", "name": "First"}, {"body": None}, {"other": 1}, {"body": "a\x00b"}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    items, problems = _items(path=str(path), documents={"text_field": "body", "title_field": "name"})
    assert [i.row["title"] for i in items][:1] == ["First"] and items[0].id == "x"
    assert items[1].row["read_error"].startswith("`body` is NoneType")
    assert "binary" in items[2].row["read_error"]
    assert len(problems) == 1 and "no `body` column" in problems[0].message


def test_parquet_is_streamed_in_batches(tmp_path, monkeypatch):
    path = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"text": [f"doc {i}" for i in range(200)]}), path, row_group_size=50)
    monkeypatch.setattr(pq, "read_table", lambda *a, **k: pytest.fail("read the whole table"))
    items, _ = _items(path=str(path), documents={})
    assert [i.row["text"] for i in items] == [f"doc {i}" for i in range(200)]


def test_dataset_on_disk(tmp_path):
    from datasets import Dataset

    Dataset.from_list([{"text": "one", "title": "T1"}, {"text": "two", "title": "T2"}]).save_to_disk(tmp_path / "ds")
    assert detect_format(SourceRef(path=str(tmp_path / "ds"))) == "hf_disk"
    items, _ = _items(path=str(tmp_path / "ds"), documents={})
    assert [(i.row["title"], i.row["text"]) for i in items] == [("T1", "one"), ("T2", "two")]


def test_short_documents_are_packed_with_titles(tmp_path):
    for i in range(7):
        (tmp_path / f"n{i}.txt").write_text(f"note number {i} " * 5)
    (tmp_path / "n9.txt").write_text("")  # empty: stays alone so its reason is recorded
    items, _ = _items(path=str(tmp_path), documents={"pack_to_chars": 200, "separator": "\n\n---\n\n"})
    packs = [i.row for i in items if i.row.get("parts")]
    assert len(packs) == 2 and all(len(p["text"]) >= 200 for p in packs)  # 3 notes of ~83 chars each
    first = packs[0]
    assert first["text"].startswith("# n0\n\nnote number 0") and "\n\n---\n\n# n1\n\n" in first["text"]
    for part in first["parts"]:
        assert first["text"][part["char_start"]:].startswith(f"# {part['title']}")
    assert sum(len(p["parts"]) for p in packs) == 6
    assert any(i.id == "n6.txt" for i in items)  # the remainder, alone
    assert any(i.row["text"] == "" for i in items)  # the empty note, not lost


def test_packing_by_tokens_needs_a_tokenizer(tmp_path):
    from synthgen.tiny_model import build_tokenizer

    (tmp_path / "docs").mkdir()
    for i in range(4):
        (tmp_path / "docs" / f"d{i}.txt").write_text("word " * 40)
    with pytest.raises(SourceError, match="tokenizer"):
        _items(path=str(tmp_path / "docs"), documents={"pack_to_tokens": 50})
    build_tokenizer(tmp_path / "tok")
    from tokenizers import Tokenizer

    one = len(Tokenizer.from_file(str(tmp_path / "tok" / "tokenizer.json")).encode("# d0\n\n" + "word " * 40))
    target = one + one // 2  # two documents reach it, one does not
    items, _ = _items(path=str(tmp_path / "docs"), documents={"pack_to_tokens": target, "tokenizer": str(tmp_path / "tok")})
    assert len(items) == 2 and all(len(i.row["parts"]) == 2 for i in items)
