"""A tiny random-weight Llama-architecture model with a locally trained tokenizer.

No hub is reachable here, so tests and offline demos build their model: a byte-level BPE tokenizer
trained with ``tokenizers`` on a small built-in corpus (or the user's text), the Llama 3 special
tokens and chat template (with ``{% generation %}`` markers, which TRL's assistant-only loss needs),
and a ``LlamaForCausalLM`` with random weights. About 1-2 MB, built in a couple of seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

BOS, EOS, EOT, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|finetune_right_pad_id|>"
HEADER_START, HEADER_END = "<|start_header_id|>", "<|end_header_id|>"
SPECIAL_TOKENS = [BOS, EOS, HEADER_START, HEADER_END, EOT, PAD, "<|python_tag|>", "<|eom_id|>"]

# Llama 3 layout; tool calls are rendered as JSON after <|python_tag|> and tool results as 'ipython'.
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    # offered tools (a `tools` column): a system turn like the one the tool-use generators prompt with
    "{%- if tools %}"
    "{{- '<|start_header_id|>system<|end_header_id|>\\n\\nEnvironment: ipython\\nTools:\\n' }}"
    "{%- for tool in tools %}{{- (tool['function'] if tool.get('function') else tool) | tojson }}{{- '\\n' }}"
    "{%- endfor %}"
    "{{- '<|eot_id|>' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- set role = 'ipython' if message['role'] == 'tool' else message['role'] %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- generation %}"
    "{%- if message.get('tool_calls') %}"
    "{{- '<|python_tag|>' }}"
    "{%- for call in message['tool_calls'] %}"
    "{%- set fn = call['function'] if call.get('function') else call %}"
    "{{- '{\"name\": \"' + fn['name'] + '\", \"parameters\": ' }}"
    "{{- fn['arguments'] if fn['arguments'] is string else fn['arguments'] | tojson }}"
    "{{- '}' }}{%- if not loop.last %}{{- '; ' }}{%- endif %}"
    "{%- endfor %}"
    "{%- else %}"
    "{{- (message['content'] or '') | trim }}"
    "{%- endif %}"
    "{{- '<|eot_id|>' }}"
    "{%- endgeneration %}"
    "{%- else %}"
    "{{- '<|start_header_id|>' + role + '<|end_header_id|>\\n\\n' + (message['content'] or '') | trim + '<|eot_id|>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

_CORPUS = [
    "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\n",
    "for i in range(10):\n    print(i * i)\n",
    "#include <iostream>\nint main() { std::cout << 42 << std::endl; return 0; }\n",
    "public class Main { public static void main(String[] args) { System.out.println(1); } }\n",
    "function f(x) { return x.map(y => y + 1); }\nconsole.log(f([1, 2]));\n",
    "fn main() { let v: Vec<i32> = vec![1, 2, 3]; println!(\"{:?}\", v); }\n",
    "<?php echo strlen('hello'); ?>\n",
    "What is 12 + 30? The answer is \\boxed{42}. 7*8=56. 1/2 = 0.5\n",
    "The quick brown fox jumps over the lazy dog. Please explain the code step by step.\n",
    "Question: What is the capital of France? Answer: Paris.\n",
    "0 1 2 3 4 5 6 7 8 9 + - * / = ( ) [ ] { } < > , . ; : ' \" ! ? # $ % & _ \\ |\n",
]


@dataclass(frozen=True)
class TinyModelSpec:
    vocab_size: int = 512
    hidden_size: int = 64
    num_layers: int = 2
    num_heads: int = 4
    intermediate_size: int = 128
    max_position_embeddings: int = 2048
    seed: int = 0
    split_digits: bool = False  # one token per digit: arithmetic tasks need it (see synthgen.round)


def build_tokenizer(out_dir: Path, vocab_size: int = 512, corpus: Iterable[str] | None = None,
                    split_digits: bool = False):
    """Train a byte-level BPE tokenizer with the Llama 3 special tokens and chat template.

    ``split_digits`` isolates every digit before BPE, so numbers are spelled one digit per token
    (a tiny model cannot learn carries over multi-digit tokens).
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if split_digits else byte_level)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(list(corpus) if corpus is not None else _CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOT, pad_token=PAD,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in (BOS, EOT, PAD)],
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.padding_side = "left"  # generation batches are left-padded
    fast.save_pretrained(str(out_dir))
    return fast


def build_tiny_model(out_dir: str | Path, spec: TinyModelSpec | None = None,
                     corpus: Iterable[str] | None = None) -> Path:
    """Write tokenizer + random-weight LlamaForCausalLM to ``out_dir``; returns the path."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    spec = spec or TinyModelSpec()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(out, spec.vocab_size, corpus, split_digits=spec.split_digits)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads, num_key_value_heads=spec.num_heads,
        intermediate_size=spec.intermediate_size, max_position_embeddings=spec.max_position_embeddings,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.convert_tokens_to_ids(EOT),
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
    )
    torch.manual_seed(spec.seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id, pad_token_id=config.pad_token_id,
        eos_token_id=[config.eos_token_id, tokenizer.convert_tokens_to_ids(EOS)],
    )
    model.save_pretrained(str(out), safe_serialization=True)
    (out / "synthgen_tiny.json").write_text(json.dumps(spec.__dict__, indent=2))
    return out
