"""The round loop (`synthgen round`) and its offline demo task."""

from synthgen.round.config import RoundConfig, load_round_config
from synthgen.round.loop import RoundLoop, run_rounds

__all__ = ["RoundConfig", "RoundLoop", "load_round_config", "run_rounds"]
