"""vLLM is an optional extra that is not installed here: only the error path can run."""

from __future__ import annotations

import importlib.util

import pytest

from synthgen.errors import PluginError
from synthgen.registry import Registry

pytestmark = pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")


def test_module_imports_and_construction_explains_the_fix():
    from synthgen.llm.vllm_backend import VLLMBackend, VLLMConfig

    assert VLLMConfig(model="/m").enable_prefix_caching is True
    with pytest.raises(PluginError) as err:
        VLLMBackend(VLLMConfig(model="/m"))
    assert "pip install 'synthgen[vllm]'" in str(err.value)
    assert "vllm serve" in str(err.value) and "backend: openai" in str(err.value)


def test_registry_create_gives_the_same_error():
    with pytest.raises(PluginError, match="synthgen\\[vllm\\]"):
        Registry().create("llm", "vllm", {"model": "/m"})
