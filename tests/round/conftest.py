import pytest


@pytest.fixture(scope="session")
def tiny_digits_model(tmp_path_factory):
    """The demo's tiny model shape (smaller), random weights, digits as single tokens."""
    from synthgen.round.arith_task import tokenizer_corpus
    from synthgen.tiny_model import TinyModelSpec, build_tiny_model

    spec = TinyModelSpec(vocab_size=300, hidden_size=32, num_layers=1, num_heads=2, intermediate_size=64,
                         split_digits=True)
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", spec, corpus=tokenizer_corpus())
