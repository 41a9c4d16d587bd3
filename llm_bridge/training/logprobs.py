"""Log-probabilities of completions under a causal LM, the scores both trainers optimise.

:func:`completion_logprobs` is the one scorer of CycleAlign's rankings and losses
(:mod:`llm_bridge.training.cyclealign`) and of the Advisor's RFT and DPO losses
(:mod:`llm_bridge.training.advisor_training`); it scores with
:func:`llm_bridge.generation.token_logprobs` (the prompt encoding and padding of generation).
"""

from __future__ import annotations

from typing import Sequence

from ..errors import ConfigError
from ..generation import encode_prompts, token_logprobs

__all__ = ["completion_logprobs", "end_token"]


def end_token(lm) -> int | None:
    """The token that ends an assistant turn: ``<|im_end|>``-style if the vocabulary has
    one that the chat template uses, else the tokenizer's EOS."""
    tok = lm.tokenizer
    template = getattr(tok, "chat_template", None) or ""
    vocab = tok.get_vocab()
    for special in ("<|im_end|>", "<end_of_turn>", "<|eot_id|>"):
        if special in vocab and special in template:
            return int(vocab[special])
    return tok.eos_token_id


def completion_logprobs(lm, prompts: Sequence[str], completions: Sequence[str], *,
                        add_end: Sequence[bool] | None = None, grad: bool = False,
                        batch_size: int = 8, autocast=None):
    """Summed log-probability and token count of each completion given its prompt.

    Scored by :func:`llm_bridge.generation.token_logprobs` (the same prompt encoding and
    padding as generation); in addition the end-of-turn token is appended to completion ``i``
    when ``add_end[i]`` (a response that ended by itself), and an empty completion is scored
    on the end token alone.

    Returns
    -------
    (sums, counts) : two torch.Tensor of shape (N,)
        ``sums`` carries the autograd graph when ``grad=True``.
    """
    if len(prompts) != len(completions):
        raise ConfigError(f"completions: expected {len(prompts)} (one per prompt), got {len(completions)}")
    tok = lm.tokenizer
    end = end_token(lm)
    c_ids = []
    for i, c in enumerate(completions):
        ids = tok(c, add_special_tokens=False)["input_ids"]
        if (add_end is not None and add_end[i]) or not ids:
            ids = ids + ([end] if end is not None else [])
        c_ids.append(ids)
    if any(not c for c in c_ids):
        raise ConfigError("completions: an empty completion and no end token to score")
    return token_logprobs(lm, encode_prompts(lm, prompts), c_ids, grad=grad, batch_size=batch_size,
                          autocast=autocast)
