"""Runs a processing stage over a run dir with a slow test processor (the resume test SIGKILLs this)."""

import asyncio
import sys
from pathlib import Path
from typing import Any, ClassVar

from synthgen.config import PluginRef
from synthgen.plugins import Decision, PluginConfig, Processor
from synthgen.processing.stage import ProcessingStage
from synthgen.registry import Registry


class SlowTagForTestsConfig(PluginConfig):
    sleep_s: float = 0.03


class SlowTagForTests(Processor):
    """Tags each record and drops every seventh, slowly enough to be killed mid-step."""

    name: ClassVar[str] = "slow_tag_for_tests"
    Config: ClassVar[type[SlowTagForTestsConfig]] = SlowTagForTestsConfig

    async def process(self, records: list[Any], ctx: Any) -> list[Decision]:
        await asyncio.sleep(self.config.sleep_s)
        out = []
        for r in records:
            n = int(r.id.split("-")[1])
            r.metadata["slow_tag"] = n % 3
            out.append(Decision(False, "slow: every seventh; test rule") if n % 7 == 0 else Decision(True))
        return out


STEPS = [{"name": "clean", "options": {"phrases_target": 0.1}}, {"name": "slow_tag_for_tests"},
         {"name": "mix", "options": {"tokenizer": "words"}}]

if __name__ == "__main__":
    registry = Registry()
    registry.register("processor", SlowTagForTests)
    stage = ProcessingStage(Path(sys.argv[1]), [PluginRef.model_validate(s) for s in STEPS], registry=registry,
                            batch_size=4)
    asyncio.run(stage.run())
    print("STAGE-FINISHED")
