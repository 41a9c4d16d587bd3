"""Throughput of CycleAlign's training step on synthetic groups (CPU/GPU comparisons)."""

from __future__ import annotations

import time

import numpy as np

from ...generation import encode_prompts
from ..logprobs import completion_logprobs
from ..lora import AdapterTrainer, attach_lora, lora_parameters
from ..ranking import ranking_loss

__all__ = ["measure_training_speed"]


def measure_training_speed(lm, *, k: int = 4, prompt_words: int = 100, completion_words: int = 70,
                           groups: int = 6, warmup: int = 1, loss: str = "rrhf", amp: str = "auto",
                           seed: int = 0) -> dict:
    """Throughput of CycleAlign's training step (ranking loss + SFT term over ``k``
    responses, backward, optimiser step) on synthetic groups, for CPU/GPU comparisons.

    Attaches LoRA adapters to ``lm`` (pass a freshly loaded model). On CUDA the step runs
    under autocast (``amp``) and the timing synchronises the device.

    Returns
    -------
    dict
        ``groups_per_second``, ``seconds_per_group``, ``device``, ``amp_dtype``, ``k``,
        ``tokens_per_group`` (prompt + responses, as trained).
    """
    import torch

    rng = np.random.default_rng(seed)
    words = ("the of and to in is it that for on with as was by at be this from or an are "
             "one two three four five six seven eight nine ten answer number sum total").split()
    peft_model = attach_lora(lm, seed=seed)
    trainer = AdapterTrainer(lora_parameters(peft_model), device=lm.device, grad_accum=1, amp=amp)
    prompt = " ".join(rng.choice(words, size=prompt_words))
    responses = [" ".join(rng.choice(words, size=completion_words)) for _ in range(k)]
    lm.model.train()

    def step():
        with torch.random.fork_rng(devices=[lm.device.index or 0] if lm.device.type == "cuda" else []):
            sums, counts = completion_logprobs(lm, [prompt] * k, responses, grad=True, batch_size=k,
                                               autocast=trainer.autocast())
            scores = sums / counts
            trainer.backward(ranking_loss(loss, scores, torch.arange(k)) - scores[0])

    def sync():
        if lm.device.type == "cuda":
            torch.cuda.synchronize(lm.device)

    for _ in range(warmup):
        step()
    sync()
    t0 = time.perf_counter()
    for _ in range(groups):
        step()
    sync()
    seconds = time.perf_counter() - t0
    lm.model.eval()
    n_tok = sum(len(x) for x in encode_prompts(lm, [prompt] * k)) + sum(
        len(lm.tokenizer(r, add_special_tokens=False)["input_ids"]) for r in responses)
    return {"groups_per_second": groups / seconds, "seconds_per_group": seconds / groups,
            "device": str(lm.device), "amp_dtype": str(trainer.amp_dtype).replace("torch.", ""),
            "k": k, "tokens_per_group": n_tok}
