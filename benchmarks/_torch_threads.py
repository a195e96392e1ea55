"""The ``--threads`` option of the training benchmarks (run as scripts: ``python benchmarks/x.py``)."""

from __future__ import annotations

import argparse


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads; 1 by default because a shared 2-core machine oversubscribed by "
        "other processes makes multi-threaded timings erratic (0: torch's default)",
    )


def apply_threads(args: argparse.Namespace) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
