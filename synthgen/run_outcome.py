"""The end of every run: one paragraph saying what came out and why, and the exit status.

A run that produced nothing, or whose verifiers raised, must not look like a success: the CLI prints
:func:`describe_outcome`'s paragraph and exits with its code. The paragraph names the items, what
passed, the failures by reason (with the first full message), the unreadable source rows, verifier
errors (a bug in a verifier, not a wrong answer), and where the details are. When no sample held
anything a verifier could check (no code block, no final answer), it says so and names the usual
causes, since then the model or its prompt format is at fault, not the data.

Exit codes: 0 (something was produced), 1 (nothing was produced), 3 (verifier errors; tolerated
with ``--allow-verifier-errors``). 2 stays the CLI's code for a user mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synthgen.runner import RunSummary

EXIT_OK, EXIT_NOTHING_PRODUCED, EXIT_VERIFIER_ERRORS = 0, 1, 3


@dataclass
class Outcome:
    text: str
    produced: bool
    verifier_errors: int
    exit_code: int


def _n(count: int, word: str) -> str:
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def produced_rows(summary: RunSummary) -> int:
    """Training rows the run yields: after the processing stage when it ran, else SFT + DPO + RM."""
    c = summary.counts
    if "processed_kept" in c:
        return int(c["processed_kept"])
    return int(c.get("sft_rows", 0) + c.get("dpo_pairs", 0) + c.get("rm_rows", 0))


def _nothing_parsed_hint(c: dict[str, Any]) -> str:
    candidates = c.get("candidates", 0)
    unparsed, cut = c.get("candidates_unparseable", 0), c.get("candidates_truncated", 0)
    if not candidates or c.get("passed_candidates", 0) or unparsed + cut < candidates or not unparsed:
        return ""
    causes = [f"max_tokens too small ({cut:,} of {candidates:,} samples were cut at the token limit)"] if cut else []
    causes += ["a wrong chat template (the model does not see the prompt format it was trained on)",
               "a random or base model that does not follow instructions"]
    if not cut:
        causes.append("max_tokens too small")
    return (f" The policy produced no parseable output: in {unparsed:,} of {candidates:,} samples the verifiers "
            f"found nothing to check (no code block, no final answer). Likely causes: {'; '.join(causes)}.")


def describe_outcome(summary: RunSummary, *, allow_verifier_errors: bool = False) -> Outcome:
    c, info = summary.counts, summary.outcome
    run_dir = summary.run_dir
    items = info.get("items", c.get("records", 0))
    parts = [f"Run {run_dir.name}: {_n(items, 'item')}"]
    if summary.resumed:
        parts[-1] += f" ({summary.resumed:,} done by an earlier run"
        parts[-1] += f", {summary.retried:,} failed ones retried now)" if summary.retried else ")"
    records, failed = c.get("records", 0), c.get("failed_records", 0)
    parts.append(f"{_n(records, 'record')}: {c.get('records_with_pass', 0):,} with a verified candidate "
                 f"({c.get('passed_candidates', 0):,} of {c.get('candidates', 0):,} candidates passed), "
                 f"{failed:,} failed")
    reasons = info.get("reasons") or []
    if failed and reasons:
        by = "; ".join(f"{reason} ({n:,})" for reason, n in reasons[:3])
        first = next(iter((info.get("reason_examples") or {}).values()), "")
        parts[-1] += f" by reason: {by}" + (f" (first: {first[:200]})" if first else "")
    rows = produced_rows(summary)
    kept = f" (the processing stage kept {rows:,})" if "processed_kept" in c else ""
    parts.append(f"produced {c.get('sft_rows', 0):,} SFT rows, {c.get('dpo_pairs', 0):,} DPO pairs and "
                 f"{c.get('rm_rows', 0):,} RM rankings{kept}")
    if summary.source_problems:
        parts.append(f"{_n(summary.source_problems, 'unreadable source row')} skipped "
                     f"(see {run_dir / 'source_errors.jsonl'})")
    text = "; ".join(parts) + "."
    errors = int(sum((info.get("verifier_errors") or {}).values()))
    if errors:
        first = info.get("first_verifier_error") or {}
        per = ", ".join(f"{v} {n:,}" for v, n in sorted((info.get("verifier_errors") or {}).items()))
        text += (f" Verifier errors: {_n(errors, 'candidate')} failed because a verifier raised ({per}), which is "
                 f"a bug or a missing dependency, not a wrong answer; first: {first.get('verifier', '?')} on record "
                 f"{first.get('record', '?')}: {str(first.get('message', ''))[:200]}. Look with `synthgen inspect "
                 f"{run_dir}` or grep 'verifier error' in {run_dir / 'records'}.")
    if not rows:
        if not items and not summary.source_problems:
            why = "the source had no items (check `sources:` paths, `limit` and `split`)"
        elif not items:
            why = "every source row was unreadable"
        elif records and failed == records:
            why = "every item failed"
        else:
            why = "no candidate passed verification" if not c.get("passed_candidates") else \
                "selection kept no row"
        text += f" Nothing was produced: {why}." + _nothing_parsed_hint(c)
    elif _nothing_parsed_hint(c):
        text += _nothing_parsed_hint(c)
    empty = [fmt for fmt, n in summary.export_rows.items() if n == 0]
    if empty and rows:
        text += (f" Nothing to export for {', '.join(empty)}: 0 rows (the files are written empty; "
                 "`datasets.load_dataset` cannot load an empty file).")
    text += f" Details: {run_dir / 'report.html'}."
    code = EXIT_OK
    if not rows:
        code = EXIT_NOTHING_PRODUCED
    elif errors and not allow_verifier_errors:
        code = EXIT_VERIFIER_ERRORS
        text += " Exiting non-zero because of the verifier errors (`--allow-verifier-errors` tolerates them)."
    return Outcome(text=text, produced=bool(rows), verifier_errors=errors, exit_code=code)
