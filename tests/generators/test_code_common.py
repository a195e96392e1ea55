"""Code extraction and prompt plumbing on malformed and hostile model output (no model, no sandbox)."""

from __future__ import annotations

import pytest

from generators.code import _prompts as P
from generators.code._common import (
    CodeItem,
    Stages,
    canonical_language,
    clip,
    count_check_stages,
    extract_code,
)
from generators.code.self_correction import CodeSelfCorrectionGenerator, SelfCorrectionConfig
from generators.code.translation import CodeTranslationGenerator, TranslationConfig
from synthgen.errors import ConfigError
from synthgen.records import Verdict
from verifiers.code_extract import extract_code as verifier_extract


@pytest.mark.parametrize("text, reason", [
    (None, "empty"),
    ("", "empty"),
    ("   \n\t", "empty"),
    ("def f(x): return x", "No ```python code block"),
    ("Sure! Here is the answer: 42", "No ```python code block"),
    ("```rust\nfn main() {}\n```", "wrong language (rust)"),
    ("```python\n\n\n```", "code block is empty"),
    ("\x00\x01\x02 garbage ``` ``", "No ```python code block"),
])
def test_extract_rejects_malformed_output_with_a_reason(text, reason):
    got = extract_code(text, "python")
    assert got.code is None
    assert reason in got.reason


def test_extract_takes_the_block_the_verifiers_read():
    text = ("Example:\n```js\nconsole.log(1)\n```\nAnswer:\n```python\nprint(1)\n```\nand\n"
            "```py\nprint(2)\n```\nThat's it.")
    got = extract_code(text, "python")
    assert got.code == verifier_extract(text, "python") == "print(1)\n"
    assert got.blocks == ("print(1)\n", "print(2)\n")  # a second block is where translated tests go


def test_extract_accepts_an_untagged_block_and_an_unterminated_one():
    assert extract_code("```\nx = 1\n```", "python").code == "x = 1\n"
    assert extract_code("here:\n```cpp\nint main() { return 0; }", "cpp").code == "int main() { return 0; }\n"


def test_extract_uses_language_aliases():
    assert extract_code("```c++\nint main(){}\n```", "cpp").code == "int main(){}\n"
    assert extract_code("```ts\nlet x: number = 1;\n```", "typescript").code == "let x: number = 1;\n"
    assert extract_code("```sh\necho hi\n```", "bash").code == "echo hi\n"


def test_stage_counts_follow_the_verdicts():
    stages = Stages("parsed", "compiled", "passed")
    count_check_stages(stages, [Verdict(verifier="static", passed=False)])
    count_check_stages(stages, [Verdict(verifier="static", passed=True),
                                Verdict(verifier="code_exec", passed=False, details={"status": "compile_error"})])
    count_check_stages(stages, [Verdict(verifier="static", passed=True),
                                Verdict(verifier="code_exec", passed=False, details={"status": "runtime_error"})])
    count_check_stages(stages, [Verdict(verifier="static", passed=True), Verdict(verifier="code_exec", passed=True)])
    assert stages.as_dict() == {"parsed": 3, "compiled": 2, "passed": 1}


def test_fix_target():
    assert P.fix_target("Fix: tests\n```python\nassert f(1) == 2\n```") == "tests"
    assert P.fix_target("fix: Solution\n```python\n```") == "solution"
    assert P.fix_target("```python\n# Fix: tests\n```") == "solution"  # only the text before the code counts


def test_clip_keeps_head_and_tail():
    text = "A" * 3000 + "TAIL"
    out = clip(text, 1000)
    assert len(out) < 1100 and out.endswith("TAIL") and out.startswith("A") and "characters cut" in out


def test_unknown_or_unsupported_language_is_a_config_error_naming_the_field():
    with pytest.raises(ConfigError, match=r"target_languages\[1\].*cobol"):
        CodeTranslationGenerator(TranslationConfig(target_languages=["cpp", "cobol"]))
    with pytest.raises(ConfigError, match=r"languages\[0\].*not supported"):
        CodeSelfCorrectionGenerator(SelfCorrectionConfig(languages=["sql"]))
    assert canonical_language("C++", field="x") == "cpp"


def test_code_item_program():
    item = CodeItem(code="def f():\n    return 1\n", tests=["assert f() == 1"], io="print(f())\n")
    assert item.program(with_tests=True) == "def f():\n    return 1\n\nassert f() == 1\n"
    assert item.program(with_tests=False) == "def f():\n    return 1\n\nprint(f())\n"
