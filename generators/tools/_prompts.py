"""Prompts of the tool-use generators: how tools are offered, and what the policy is asked to write."""

from __future__ import annotations

import json
from typing import Any

# The model sees the offered tools in a system turn (the backends take chat messages, not a `tools`
# argument); the tiny model's chat template renders a `tools` column the same way at training time.
TOOLS_HEADER = "Environment: ipython"
CALL_FORMAT = (
    "To call a tool, write your reasoning, then the call as one JSON object on its own line:\n"
    '{"name": "<tool name>", "arguments": {<arguments>}}\n'
    "Several independent calls may follow each other, one per line. The tool output comes back in the next "
    "turn. When you have what you need, reply with the final answer and no call.")


def tools_system(schemas: list[dict[str, Any]], extra: str | None = None) -> str:
    lines = [TOOLS_HEADER, CALL_FORMAT, "", "Tools:"]
    lines += [json.dumps(s.get("function", s), sort_keys=True) for s in schemas]
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def tool_names(schemas: list[dict[str, Any]]) -> str:
    return ", ".join(s.get("function", s)["name"] for s in schemas)


PROMPT_REQUEST = {
    "single": ("Write one realistic request a user might send to an assistant that has these tools: {tools}.\n"
               "Topic: {topic}.\nThe request must need exactly one tool call to answer well. Write only the "
               "user's message."),
    "multi": ("Write one realistic request a user might send to an assistant that has these tools: {tools}.\n"
              "Topic: {topic}.\nThe request must need at least two tool calls in sequence (the second depends on "
              "what the first returns). Write only the user's message."),
    "file": ("A user uploaded the file `{file}` and wants help with it. Its beginning:\n```\n{preview}\n```\n"
             "Write the user's message asking the assistant to {task} it, using Python. Write only the user's "
             "message."),
}

FILE_TASKS = {
    "summarise": "summarise what is in",
    "fix_bug": "find and fix the bug in",
    "optimise": "make faster the code in",
    "analyse": "analyse the data in (statistics, trends, notable values)",
    "plot": "plot the data of (save the chart as a PNG file)",
}

FILE_NOTE = "The user uploaded {files}; they are in the working directory of the python tool."

QUERY_REQUEST = (
    "Here are the functions an assistant can call:\n{functions}\n\n"
    "Write a realistic user request that needs {need}. Then give the exact calls that answer it.\n"
    "{nested_rule}"
    "Reply with one JSON object and nothing else:\n"
    '{{"query": "<the user\'s message>", "calls": [{{"name": "<function>", "arguments": {{...}}}}, ...]'
    "{follow_up_field}}}")

NEEDS = {
    "single": "exactly one call of one function",
    "parallel": "several independent calls made at once (two to four calls, possibly of the same function)",
    "nested": "two calls where the result of the first is an argument of the second",
}
NESTED_RULE = ('In "calls", list the first call, then the second with the argument that takes the first result '
               'written as the string "$0" (the result of call 0).\n')
FOLLOW_UP_FIELD = (', "follow_up": "<a later user message that needs the result of these calls>", '
                   '"follow_up_calls": [{"name": ..., "arguments": {...}}] (use "$0", "$1", ... for results of '
                   'the first calls)')
