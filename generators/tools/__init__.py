"""Tool-use generators: executed tool-call traces (``tool_traces``) and zero-shot function calling (``function_calling``)."""
