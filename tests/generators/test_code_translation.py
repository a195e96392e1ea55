"""Code translation with a scripted policy, the real verifiers and the real sandbox."""

from __future__ import annotations

import json

import pytest

from generators.code._common import CodeItem
from generators.code.translation import CodeTranslationGenerator, TranslationConfig
from synthgen.config import SelectionConfig
from synthgen.export import dpo_rows
from synthgen.selection import select
from tests.generators.conftest import EXAMPLES
from tests.generators.scripted_policy_for_tests import ScriptedPolicyForTests, ScriptedPolicyForTestsConfig

GCD = CodeItem.model_validate(json.loads((EXAMPLES / "data/code/functions.jsonl").read_text().splitlines()[0]))

JS_MAIN = ("const lines = require('fs').readFileSync(0, 'utf8').split('\\n');\n"
           "for (const line of lines) {\n  if (line.trim()) {\n"
           "    const [a, b] = line.trim().split(/\\s+/).map(Number);\n    console.log(gcd(a, b));\n  }\n}\n")
JS_RIGHT = "```javascript\nfunction gcd(a, b) {\n  while (b) { [a, b] = [b, a % b]; }\n  return a;\n}\n" + JS_MAIN + "```"
JS_WRONG = "Here you go:\n```js\nfunction gcd(a, b) {\n  return a * b;\n}\n" + JS_MAIN + "```"
CPP_COMPILE_ERROR = "```cpp\n#include <iostream>\nint main() { std::cout << undefined_thing << std::endl; }\n```"
CPP_RIGHT = ("```cpp\n#include <iostream>\nlong long gcd(long long a, long long b) { while (b) { long long t = a % b; "
             "a = b; b = t; } return a; }\nint main() { long long a, b; while (std::cin >> a >> b) "
             "std::cout << gcd(a, b) << \"\\n\"; return 0; }\n```")


def policy(rules):
    return ScriptedPolicyForTests(ScriptedPolicyForTestsConfig(rules=rules))


async def test_translations_are_run_on_the_source_cases_and_only_passing_ones_pass(make_context, require_languages):
    require_languages("javascript", "cpp")
    model = policy([{"last_user": "to JavaScript", "responses": [JS_RIGHT, JS_WRONG, "", "```python\nprint(6)\n```"]},
                    {"last_user": "to C++", "responses": [CPP_COMPILE_ERROR, CPP_RIGHT]}])
    gen = CodeTranslationGenerator(TranslationConfig(target_languages=["javascript", "cpp"], k=4,
                                                     per_language={"cpp": {"k": 2}}))
    records = await gen.generate(GCD, make_context(model, generator=gen, item_id="gcd"))
    by_lang = {r.metadata["language"]: r for r in records}
    js, cpp = by_lang["javascript"], by_lang["cpp"]
    assert [c.passed for c in js.candidates] == [True, False, False, False]
    assert js.metadata["stages"] == {"generated": 4, "extracted": 2, "tests_carried": 2, "parsed": 2,
                                     "compiled": 2, "passed": 1}
    assert js.candidates[2].verdicts[0].verifier == "extract" and "empty" in js.candidates[2].verdicts[0].feedback
    assert "wrong language" in js.candidates[3].verdicts[0].feedback
    # the wrong translation failed on the real output of the sandbox run
    assert any(v.verifier == "code_exec" and not v.passed for v in js.candidates[1].verdicts)
    assert [c.passed for c in cpp.candidates] == [False, True]
    assert cpp.metadata["stages"]["compiled"] == 1 and cpp.metadata["stages"]["passed"] == 1
    # the cases the translations ran are the source's own, not model-written
    assert js.metadata["tests_origin"] == "source" and js.metadata["tests_mode"] == "stdio"
    # the prompt carries the whole source program and the steering system prompt
    assert js.messages[0]["role"] == "system" and GCD.io.strip() in js.messages[-1]["content"]
    # DPO through the selection stage: passing translation chosen, a failed one rejected
    select(js, SelectionConfig(pairs="passed_vs_failed", max_pairs_per_record=3))
    rows = dpo_rows([js])
    assert rows and all(r["chosen"][0]["content"] == JS_RIGHT for r in rows)
    assert {r["rejected"][0]["content"] for r in rows} <= {JS_WRONG, "", "```python\nprint(6)\n```"}
    prov = js.provenance
    assert prov.generator == "code_translation" and prov.parents == ["gcd"] and prov.sampling["n"] == 4
    assert cpp.provenance.sampling["n"] == 2
    assert all(c.provenance and c.provenance.parents == [js.id] for c in js.candidates)


async def test_assert_mode_rejects_a_translation_that_drops_the_tests(make_context, require_languages):
    require_languages("javascript")
    code = "```javascript\nfunction gcd(a, b) {\n  while (b) { [a, b] = [b, a % b]; }\n  return a;\n}\n```\n"
    tests = ("Tests:\n```javascript\nconst assert = require('assert');\n"
             + "".join(f"assert.strictEqual(gcd({a}, {b}), {r});\n" for a, b, r in
                       [(12, 18, 6), (17, 5, 1), (0, 9, 9), (100, 75, 25)]) + "```")
    js_with_tests = code + tests
    js_wrong_tests = code + tests.replace(", 25)", ", 24)")
    js_no_tests = code + "```javascript\nassert.ok(true);\n```"
    model = policy([{"last_user": "to JavaScript", "responses": [js_with_tests, js_no_tests, js_wrong_tests]}])
    gen = CodeTranslationGenerator(TranslationConfig(target_languages=["javascript"], k=3, tests="asserts"))
    (record,) = await gen.generate(GCD, make_context(model, generator=gen, item_id="gcd"))
    assert record.metadata["tests_mode"] == "asserts" and record.metadata["tests_origin"] == "model_translated"
    assert "assert gcd(100, 75) == 25" in record.messages[-1]["content"]
    assert [c.passed for c in record.candidates] == [True, False, False]
    assert record.candidates[1].verdicts[0].verifier == "tests_carried"
    assert record.metadata["stages"]["tests_carried"] == 2
    wrong = record.candidates[2].verdict("code_exec")
    assert wrong is not None and not wrong.passed and "24" in wrong.feedback  # the failing assertion, from node


async def test_garbage_and_truncated_output_never_crash(make_context):
    replies = ["\x00\xff" * 50, "```javascript\nfunction gcd(a, b) {", "```javascript\n```", "I refuse."]
    model = policy([{"last_user": "to JavaScript", "responses": replies}])
    gen = CodeTranslationGenerator(TranslationConfig(target_languages=["js"], k=4))
    (record,) = await gen.generate(GCD, make_context(model, generator=gen, item_id="gcd"))
    assert len(record.candidates) == 4 and not any(c.passed for c in record.candidates)
    assert all(c.verdicts and c.verdicts[-1].feedback for c in record.candidates)
    assert record.metadata["stages"]["passed"] == 0 and record.metadata["stages"]["generated"] == 4


async def test_java_translation_with_translated_tests_runs_as_two_classes(make_context, require_languages):
    require_languages("java")
    code = ("```java\nclass Solution {\n    // Euclid's algorithm\n    static long gcd(long a, long b) {\n"
            "        while (b != 0) { long t = a % b; a = b; b = t; }\n        return a;\n    }\n}\n```\n")
    checks = "".join(f"        if (Solution.gcd({a}, {b}) != {r}) throw new AssertionError(\"gcd({a}, {b})\");\n"
                     for a, b, r in [(12, 18, 6), (17, 5, 1), (0, 9, 9), (100, 75, 25)])
    tests = "```java\npublic class Main {\n    public static void main(String[] args) {\n" + checks + "    }\n}\n```"
    model = policy([{"last_user": "to Java", "responses": [code + tests, code + tests.replace("!= 25", "!= 24")]}])
    gen = CodeTranslationGenerator(TranslationConfig(target_languages=["java"], k=2, tests="asserts"))
    (record,) = await gen.generate(GCD, make_context(model, generator=gen, item_id="gcd"))
    right, wrong = record.candidates
    assert right.passed, right.verdicts
    assert not wrong.passed and "gcd(100, 75)" in wrong.verdict("code_exec").feedback


async def test_an_item_without_tests_is_refused_with_the_reason(make_context):
    gen = CodeTranslationGenerator(TranslationConfig(target_languages=["javascript"], tests="stdio"))
    bare = CodeItem(id="bare", code="def f():\n    return 1\n")
    with pytest.raises(ValueError, match="no cases to carry over"):
        await gen.generate(bare, make_context(policy([]), generator=gen, item_id="bare"))
