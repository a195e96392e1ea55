import os

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from synthgen.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


def arithmetic_dialogs(n: int = 4) -> list[dict]:
    pairs = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 1), (2, 7)][:n]
    return [
        {
            "messages": [
                {"role": "system", "content": "Answer with a boxed number."},
                {"role": "user", "content": f"What is {a}+{b}?"},
                {"role": "assistant", "content": f"{a}+{b}={a + b}. \\boxed{{{a + b}}}"},
            ]
        }
        for a, b in pairs
    ]


def preference_rows(n: int = 4) -> list[dict]:
    pairs = [(1, 2), (3, 4), (5, 6), (7, 8), (9, 1), (2, 7)][:n]
    return [
        {
            "prompt": [{"role": "user", "content": f"What is {a}+{b}?"}],
            "chosen": [{"role": "assistant", "content": f"{a}+{b}={a + b}. \\boxed{{{a + b}}}"}],
            "rejected": [{"role": "assistant", "content": f"\\boxed{{{a * b + 1}}}"}],
        }
        for a, b in pairs
    ]
