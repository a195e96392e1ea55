"""Mining function schemas with tree-sitter from the example source tree (Python, JavaScript, Java) and from
hostile or broken sources; the committed example items stay equal to a fresh mine."""

from __future__ import annotations

import json

from generators.tools._docs import parse_docstring, type_schema
from generators.tools._mining import items_from_tree, main, mine_source, mine_tree
from tests.tools.conftest import TOOLS_DATA

SRC = TOOLS_DATA / "src"


def _by_name():
    return {f.name: f for functions in mine_tree(SRC).values() for f in functions}


def test_three_languages_give_documented_public_functions_only():
    mined = mine_tree(SRC)
    assert set(mined) == {"python/geometry.py", "python/text_stats.py", "javascript/units.js", "java/Inventory.java"}
    names = set(_by_name())
    assert {"circle_area", "Drawing_add_rectangle", "convertTemperature", "windChill", "Station_record",
            "Inventory_addStock", "Inventory_orderPrice"} <= names
    assert not names & {"_clamp", "undocumented", "Inventory_compact", "constructor"}


def test_python_types_defaults_required_and_enums():
    f = _by_name()
    area = f["circle_area"]
    assert area.description == "Area of a circle."
    assert area.parameters["properties"]["radius"]["type"] == "number"
    assert area.parameters["properties"]["precision"] == {"type": "integer", "default": 2,
                                                           "description": "decimal places of the rounded result."}
    assert area.parameters["required"] == ["radius"] and area.runnable
    assert f["convert_length"].parameters["properties"]["source"]["enum"] == ["mm", "cm", "in"]  # Enum class
    assert f["convert_length"].parameters["properties"]["target"]["default"] == "mm"
    assert f["triangle_area"].parameters["properties"]["method"]["enum"] == ["heron", "sss"]  # Literal[...]
    assert f["reading_time"].parameters["properties"]["speed"]["enum"] == ["slow", "average", "fast"]  # the doc
    assert f["polygon_perimeter"].parameters["properties"]["sides"] == {
        "type": "array", "items": {"type": "number"}, "description": "length of each side, in order."}
    rect = f["Drawing_add_rectangle"]
    assert "self" not in rect.parameters["properties"] and rect.parameters["required"] == ["width", "height"]
    assert not rect.runnable and not f["save_report"].runnable  # a method; a function writing files
    assert f["top_words"].parameters["required"] == ["text"]  # NumPy "optional"


def test_javascript_jsdoc_types_optional_defaults_and_unions():
    f = _by_name()
    conv = f["convertTemperature"]
    assert conv.parameters["properties"]["from"]["enum"] == ["C", "F", "K"]
    assert conv.parameters["properties"]["to"]["default"] == "C" and conv.parameters["required"] == ["value", "from"]
    assert conv.runnable and conv.param_order == ["value", "from", "to"]
    assert f["windChill"].runnable and f["windChill"].parameters["required"] == ["tempC", "windKmh"]
    assert f["average"].parameters["properties"]["readings"]["items"] == {"type": "number"}
    assert not f["forecast"].runnable  # uses fetch
    assert f["Station_record"].parameters["required"] == ["value"]


def test_java_javadoc_types_enums_and_optional_parameters():
    f = _by_name()
    add = f["Inventory_addStock"]
    assert add.parameters["properties"]["zone"] == {"type": "string", "enum": ["COLD", "DRY", "HAZARDOUS"],
                                                    "description": "where to store them"}
    assert add.parameters["properties"]["quantity"]["type"] == "integer" and not add.runnable
    price = f["Inventory_orderPrice"]
    assert price.parameters["required"] == ["unitPrice", "quantity"]  # "optional discount" in the Javadoc
    assert f["Inventory_search"].parameters["properties"]["tags"]["items"] == {"type": "string"}


def test_broken_and_hostile_sources_yield_what_parses():
    assert mine_source(b"def f(:\n  pass\n\x00\xff", "python") == []
    partial = mine_source('def ok(x: int):\n    """Fine."""\n    return x\n\ndef broken(:\n', "python")
    assert [f.name for f in partial] == ["ok"]
    assert mine_source("function (", "javascript") == [] and mine_source("class {", "java") == []
    weird = mine_source('def f(x=__import__("os").system("echo hi")):\n    """Doc."""\n', "python")
    assert weird[0].parameters["properties"]["x"] == {}  # a non-literal default is not evaluated nor kept


def test_docstring_and_type_edge_cases():
    doc = parse_docstring("Sum.\n\nArgs:\n    a (int): first\n        more text\n    b: second\n")
    assert doc.params["a"].text == "first more text" and doc.params["b"].text == "second"
    assert type_schema("Optional[List[str]]") == {"type": "array", "items": {"type": "string"}}
    assert type_schema("Widget") == {} and type_schema("int | str") == {}


def test_committed_example_items_equal_a_fresh_mine(tmp_path):
    out = tmp_path / "functions.jsonl"
    assert main([str(SRC), "--out", str(out)]) == 0
    fresh = [json.loads(line) for line in out.read_text().splitlines()]
    committed = [json.loads(line) for line in (TOOLS_DATA / "functions.jsonl").read_text().splitlines()]
    assert fresh == committed == items_from_tree(SRC)
    assert all(("code" in item) == any(f["runnable"] for f in item["functions"]) for item in fresh)
