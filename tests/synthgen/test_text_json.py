"""The one reader of JSON inside model output."""

from synthgen.text_json import MAX_SCAN_CHARS, first_object, json_values


def test_fenced_blocks_first_then_values_in_prose():
    text = 'Sure. {"a": 1} and then\n```json\n{"b": [1, 2]}\n```\n[3, 4] trailing {broken'
    assert json_values(text) == [{"b": [1, 2]}, {"a": 1}, {"b": [1, 2]}, [3, 4]]
    assert first_object(text) == {"b": [1, 2]}


def test_nested_lists_inner_objects_only_when_asked():
    text = 'judge: {"scores": {"accuracy": 1}, "reason": "ok"}'
    assert json_values(text) == [{"scores": {"accuracy": 1}, "reason": "ok"}]
    assert json_values(text, nested=True, objects_only=True) == [{"scores": {"accuracy": 1}, "reason": "ok"},
                                                                  {"accuracy": 1}]


def test_nothing_found_and_no_exception_on_garbage():
    assert json_values("") == [] and first_object("no json {here") is None
    assert json_values("{" * 5000) == []


def test_a_flood_is_read_from_both_ends():
    text = '{"first": 1}' + "x" * (3 * MAX_SCAN_CHARS) + '{"last": 2}'
    assert json_values(text) == [{"first": 1}, {"last": 2}]
