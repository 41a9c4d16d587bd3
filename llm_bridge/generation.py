"""Batched generation with a KV cache, left padding, greedy or seeded sampling, and a disk cache.

The decode loop is our own (not ``model.generate``) for two reasons:

1. **Per-row seeds.** With sampling, every prompt gets its own ``torch.Generator`` seeded from
   ``(settings.seed, prompt)``, so a prompt's sample does not depend on which other prompts
   share its batch. That is what makes the disk cache sound: a cached answer is the answer a
   rerun would produce (up to floating-point effects of padding, which can flip exact ties).
2. **Stop strings and accounting.** Rows stop at an end-of-sequence token or a stop string;
   the loop ends when every row has stopped, and reports prompt and new token counts.

Steps of :func:`generate`:

1. look every prompt up in the cache (key: model fingerprint, prompt text, settings);
2. sort the misses by token length (less padding), cut them into batches of ``batch_size``;
3. per batch: left-pad, run the prompt once, then one token per step through the KV cache
   with explicit ``position_ids`` (so left padding does not shift positions);
4. write each finished batch to the cache at once (an interrupted run loses at most one batch).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import time
from dataclasses import asdict, dataclass, replace
from typing import Sequence

from tqdm import tqdm  # the plain bar: tqdm.auto would import asyncio (0.15 s) at start-up

from .errors import ConfigError
from .messages import validate_conversation
from .validate import check_int

__all__ = [
    "GenerationSettings",
    "Generation",
    "chat_prompt",
    "generate",
    "generate_samples",
    "sequence_logprobs",
    "encode_prompts",
    "token_logprobs",
]


@dataclass(frozen=True)
class GenerationSettings:
    """How to decode. ``batch_size`` does not change results and is not part of cache keys."""

    max_new_tokens: int = 128
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    stop: tuple[str, ...] = ()
    batch_size: int = 8
    ignore_eos: bool = False  # decode exactly max_new_tokens (benchmarks); part of the cache key when True

    def __post_init__(self):
        for field in ("max_new_tokens", "batch_size"):
            check_int(field, getattr(self, field))
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigError(f"seed: expected an integer, got {self.seed!r}")
        if not (self.temperature > 0):
            raise ConfigError(f"temperature: expected > 0, got {self.temperature!r}")
        if not (0 < self.top_p <= 1):
            raise ConfigError(f"top_p: expected 0 < top_p <= 1, got {self.top_p!r}")
        if isinstance(self.stop, str) or not all(isinstance(s, str) and s for s in self.stop):
            raise ConfigError(f"stop: expected a tuple of non-empty strings, got {self.stop!r}")
        object.__setattr__(self, "stop", tuple(self.stop))
        if not isinstance(self.ignore_eos, bool):
            raise ConfigError(f"ignore_eos: expected a bool, got {self.ignore_eos!r}")

    def cache_key(self) -> dict:
        key = asdict(self)
        key.pop("batch_size")
        key["stop"] = list(self.stop)
        if not self.ignore_eos:  # keeps the keys of caches written before the field existed
            key.pop("ignore_eos")
        if not self.do_sample:  # greedy decoding ignores these
            key.pop("temperature")
            key.pop("top_p")
            key.pop("seed")
        return key


@dataclass
class Generation:
    """One generated answer."""

    text: str
    prompt_tokens: int
    new_tokens: int
    seconds: float
    cached: bool = False


def chat_prompt(lm, messages: Sequence[dict], *, add_generation_prompt: bool = True) -> str:
    """Render OpenAI-style messages as the model's prompt text.

    Uses the tokenizer's chat template; a model without one (GPT-2) gets the plain layout
    ``"System: …\\n\\nUser: …\\n\\nAssistant:"``. The messages are checked by
    :func:`llm_bridge.messages.validate_conversation` (errors name ``messages[i]``) and passed
    to the template as given.
    """
    validate_conversation(messages, "messages")
    if lm.has_chat_template:
        return lm.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=add_generation_prompt
        )
    parts = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    text = "\n\n".join(parts)
    return text + ("\n\nAssistant:" if add_generation_prompt else "")


def _row_seed(seed: int, prompt: str) -> int:
    digest = hashlib.sha256(f"{seed}\x00{prompt}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _eos_ids(lm) -> set[int]:
    ids = set()
    tok = lm.tokenizer
    if tok.eos_token_id is not None:
        ids.add(int(tok.eos_token_id))
    gen_eos = getattr(getattr(lm.model, "generation_config", None), "eos_token_id", None)
    if isinstance(gen_eos, int):
        ids.add(gen_eos)
    elif gen_eos:
        ids.update(int(i) for i in gen_eos)
    vocab = tok.get_vocab()
    for special in ("<|im_end|>", "<end_of_turn>", "<|endoftext|>", "<|eot_id|>"):
        if special in vocab:
            ids.add(int(vocab[special]))
    return ids


def encode_prompts(lm, prompts: Sequence[str]) -> list[list[int]]:
    """Token ids of each prompt, with the BOS token the model expects."""
    tok = lm.tokenizer
    bos = tok.bos_token
    wants_bos = False
    if bos is not None and tok.bos_token_id is not None:
        probe = tok("a", add_special_tokens=True)["input_ids"]
        wants_bos = bool(probe) and probe[0] == tok.bos_token_id
    out = []
    for p in prompts:
        ids = tok(p, add_special_tokens=False)["input_ids"]
        if wants_bos and not p.startswith(bos):
            ids = [tok.bos_token_id] + ids
        out.append(ids)
    return out


def _max_positions(lm) -> int | None:
    cfg = lm.model.config
    for name in ("n_positions", "max_position_embeddings"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _left_pad(lm, rows: list[list[int]]):
    import torch

    pad = lm.tokenizer.pad_token_id
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
            mask[i, width - len(r):] = 1
    return ids.to(lm.device), mask.to(lm.device)


def _sample(logits, settings: GenerationSettings, generators, active):
    import torch

    if not settings.do_sample:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / settings.temperature, dim=-1)
    out = torch.zeros(logits.shape[0], dtype=torch.long, device=logits.device)
    for i in range(logits.shape[0]):
        if not active[i]:
            continue
        p = probs[i]
        if settings.top_p < 1.0:
            sorted_p, order = torch.sort(p, descending=True)
            keep = torch.cumsum(sorted_p, 0) - sorted_p < settings.top_p
            keep[0] = True
            p = torch.zeros_like(p).scatter(0, order[keep], sorted_p[keep])
        out[i] = torch.multinomial(p.cpu(), 1, generator=generators[i]).item()
    return out


def _last_logits_only(model, keep: int = 1) -> dict:
    """``{"logits_to_keep": keep}`` where the model's forward accepts it (transformers >= 4.45).

    Without it the prompt pass computes the vocabulary projection at every prompt position
    (batch x length x vocabulary logits), of which decoding needs only the last.
    """
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return {}
    return {"logits_to_keep": keep} if "logits_to_keep" in params else {}


def _decode_batch(lm, prompts: list[str], ids_rows: list[list[int]], settings: GenerationSettings):
    import torch

    tok = lm.tokenizer
    eos = set() if settings.ignore_eos else _eos_ids(lm)
    n = len(prompts)
    ids, mask = _left_pad(lm, ids_rows)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    generators = None
    if settings.do_sample:
        generators = [torch.Generator().manual_seed(_row_seed(settings.seed, p)) for p in prompts]
    new = [[] for _ in range(n)]
    done = [False] * n
    texts = [""] * n
    stop_tail = max((len(s) for s in settings.stop), default=0)
    past = None
    cur_ids, cur_pos = ids, positions
    extra = _last_logits_only(lm.model)
    with torch.inference_mode():
        for _ in range(settings.max_new_tokens):
            out = lm.model(
                input_ids=cur_ids,
                attention_mask=mask,
                position_ids=cur_pos,
                past_key_values=past,
                use_cache=True,
                **extra,
            )
            past = out.past_key_values
            logits = out.logits[:, -1, :].float()
            nxt = _sample(logits, settings, generators, [not d for d in done])
            nxt_list = nxt.tolist()
            for i in range(n):
                if done[i]:
                    nxt_list[i] = tok.pad_token_id
                    continue
                t = nxt_list[i]
                if t in eos:
                    done[i] = True
                    continue
                new[i].append(t)
                if settings.stop:
                    tail = tok.decode(new[i][-(stop_tail + 8):], skip_special_tokens=True)
                    if any(s in tail for s in settings.stop):
                        done[i] = True
            if all(done):
                break
            cur_ids = torch.tensor(nxt_list, dtype=torch.long, device=lm.device)[:, None]
            mask = torch.cat([mask, torch.ones((n, 1), dtype=mask.dtype, device=mask.device)], dim=1)
            cur_pos = cur_pos[:, -1:] + 1
    for i in range(n):
        texts[i] = _cut_at_stop(tok.decode(new[i], skip_special_tokens=True), settings.stop)
    return texts, [len(r) for r in ids_rows], [len(r) for r in new]


def _cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to the earliest occurrence of any stop string."""
    cuts = [k for k in (text.find(s) for s in stop) if k >= 0]
    return text[:min(cuts)] if cuts else text


def _stopped(tok, ids: list[int], stop: Sequence[str]) -> list[int]:
    """``ids`` up to the token where the torch loop's stop rule ends a row: the first token
    after which the decoded tail (the last ``longest stop + 8`` tokens) holds a stop string."""
    if not stop:
        return ids
    tail = max(len(s) for s in stop) + 8
    for k in range(1, len(ids) + 1):
        if any(s in tok.decode(ids[max(0, k - tail):k], skip_special_tokens=True) for s in stop):
            return ids[:k]
    return ids


def _engine_batch(lm, prompts: list[str], ids_rows: list[list[int]], settings: GenerationSettings):
    """One batch on ``lm.engine`` (CTranslate2), finished with the torch loop's rules."""
    eos = set() if settings.ignore_eos else _eos_ids(lm)
    new = lm.engine.decode_batch(lm, prompts, ids_rows, settings, eos_ids=eos)
    new = [_stopped(lm.tokenizer, ids, settings.stop) for ids in new]
    texts = [_cut_at_stop(lm.tokenizer.decode(ids, skip_special_tokens=True), settings.stop)
             for ids in new]
    return texts, [len(r) for r in ids_rows], [len(r) for r in new]


def generate(lm, prompts: Sequence[str], settings: GenerationSettings | None = None, *, cache=None,
             progress: bool | str = False) -> list[Generation]:
    """Generate one continuation per prompt (see the module docstring for the steps).

    Parameters
    ----------
    lm : LoadedModel
    prompts : sequence of str
        Full prompt texts (use :func:`chat_prompt` for chat models).
    settings : GenerationSettings
    cache : GenerationCache, optional
    progress : bool or str
        Show a tqdm bar (a string is its description).

    Returns
    -------
    list of Generation, in the order of ``prompts``.
    """
    settings = settings or GenerationSettings()
    if isinstance(prompts, str):
        raise ConfigError("prompts: expected a sequence of strings, got one string")
    prompts = list(prompts)
    for i, p in enumerate(prompts):
        if not isinstance(p, str):
            raise ConfigError(f"prompts[{i}]: expected a string, got {type(p).__name__}")
    results: list[Generation | None] = [None] * len(prompts)
    keys = [None] * len(prompts)
    todo = []
    skey = settings.cache_key()
    engine = getattr(lm, "engine", None)
    on_engine = engine is not None and not settings.do_sample
    # sampling runs on the torch loop (llm_bridge.ct2), under the torch weights' fingerprint
    fingerprint = engine.source_fingerprint if engine is not None and not on_engine else lm.fingerprint
    for i, p in enumerate(prompts):
        if cache is not None:
            keys[i] = cache.key(fingerprint, p, skey)
            hit = cache.get(keys[i])
            if hit is not None:
                results[i] = Generation(hit["text"], hit["prompt_tokens"], hit["new_tokens"], 0.0, True)
                continue
        todo.append(i)
    bar = None
    if progress and todo:
        bar = tqdm(total=len(todo), desc=progress if isinstance(progress, str) else "generate", unit="prompt")
    if todo:
        encoded = encode_prompts(lm, [prompts[i] for i in todo])
        limit = _max_positions(lm)
        for j, i in enumerate(todo):
            if not encoded[j]:
                raise ConfigError(f"prompts[{i}]: the prompt encodes to no tokens")
            if limit is not None and len(encoded[j]) + settings.max_new_tokens > limit:
                raise ConfigError(
                    f"prompts[{i}]: {len(encoded[j])} prompt tokens + max_new_tokens="
                    f"{settings.max_new_tokens} exceed the model's {limit} positions"
                )
        order = sorted(range(len(todo)), key=lambda j: len(encoded[j]))
        for start in range(0, len(order), settings.batch_size):
            chunk = order[start:start + settings.batch_size]
            idx = [todo[j] for j in chunk]
            t0 = time.perf_counter()
            decode = _engine_batch if on_engine else _decode_batch
            texts, n_prompt, n_new = decode(lm, [prompts[i] for i in idx], [encoded[j] for j in chunk], settings)
            share = (time.perf_counter() - t0) / len(idx)
            batch_items = []
            for k, i in enumerate(idx):
                results[i] = Generation(texts[k], n_prompt[k], n_new[k], share, False)
                if cache is not None:
                    batch_items.append(
                        (keys[i], {"text": texts[k], "prompt_tokens": n_prompt[k], "new_tokens": n_new[k]})
                    )
            if batch_items:
                cache.put_many(batch_items)
            if bar is not None:
                bar.update(len(idx))
    if bar is not None:
        bar.close()
    return results  # type: ignore[return-value]


def generate_samples(lm, prompts: Sequence[str], settings: GenerationSettings, seeds: Sequence[int], *,
                     cache=None, progress: bool | str = False) -> list[list[Generation]]:
    """Several sampled continuations per prompt: ``out[i][j]`` is prompt ``i``'s sample of seed
    ``seeds[j]`` (``settings.do_sample`` must be True; ``settings.seed`` is replaced).

    * torch loop: ``generate(lm, prompts, replace(settings, seed=seeds[j]))`` for each ``j``
      (per-row seeds: a sample depends only on its seed and its prompt);
    * CTranslate2 (``lm.engine``): the prompts, in the given order, in fixed groups of
      ``lm.engine.sample_group``; each group is one call with ``len(seeds)`` hypotheses per prompt
      from a generator seeded by the seeds, the group's prompts and the settings
      (:meth:`llm_bridge.ct2.Ct2Engine.sample_batch`). A sample depends on its group, and its
      cache key says so (a group is read from the cache whole, or decoded again).

    Stop strings and token counts follow :func:`generate`'s rules on both engines.
    """
    if not settings.do_sample:
        raise ConfigError("settings: generate_samples needs do_sample=True")
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ConfigError("seeds: expected at least one seed")
    engine = getattr(lm, "engine", None)
    if engine is None or not hasattr(engine, "sample_batch"):
        outs = [generate(lm, prompts, replace(settings, seed=s), cache=cache,
                         progress=f"{progress} {j + 1}/{len(seeds)}" if isinstance(progress, str) else progress)
                for j, s in enumerate(seeds)]
        return [[outs[j][i] for j in range(len(seeds))] for i in range(len(prompts))]
    prompts = list(prompts)
    skey = {**settings.cache_key(), "seeds": seeds}
    skey.pop("seed", None)
    size = max(1, int(engine.sample_group))
    results: list[list[Generation]] = [[] for _ in prompts]
    bar = None
    if progress and prompts:
        bar = tqdm(total=len(prompts), desc=progress if isinstance(progress, str) else "sample", unit="prompt")
    eos = set() if settings.ignore_eos else _eos_ids(lm)
    limit = _max_positions(lm)
    for start in range(0, len(prompts), size):
        idx = list(range(start, min(start + size, len(prompts))))
        group = hashlib.sha256(json.dumps([prompts[i] for i in idx]).encode("utf-8")).hexdigest()[:16]
        # the position too: a prompt may appear twice in a group, with other samples each time
        keys = [[cache.key(lm.fingerprint, prompts[i], {**skey, "group": group, "position": i - start,
                                                        "hypothesis": j})
                 for j in range(len(seeds))] for i in idx] if cache is not None else None
        hits = [[cache.get(k) for k in row] for row in keys] if keys is not None else None
        if hits is not None and all(h is not None for row in hits for h in row):
            for i, row in zip(idx, hits):
                results[i] = [Generation(h["text"], h["prompt_tokens"], h["new_tokens"], 0.0, True) for h in row]
        else:
            encoded = encode_prompts(lm, [prompts[i] for i in idx])
            for i, e in zip(idx, encoded):
                if not e:
                    raise ConfigError(f"prompts[{i}]: the prompt encodes to no tokens")
                if limit is not None and len(e) + settings.max_new_tokens > limit:
                    raise ConfigError(f"prompts[{i}]: {len(e)} prompt tokens + max_new_tokens="
                                      f"{settings.max_new_tokens} exceed the model's {limit} positions")
            t0 = time.perf_counter()
            new = engine.sample_batch(lm, encoded, settings, seeds, eos_ids=eos)
            share = (time.perf_counter() - t0) / (len(idx) * len(seeds))
            items = []
            for k, (i, e) in enumerate(zip(idx, encoded)):
                row = []
                for j, ids in enumerate(new[k]):
                    ids = _stopped(lm.tokenizer, ids, settings.stop)
                    text = _cut_at_stop(lm.tokenizer.decode(ids, skip_special_tokens=True), settings.stop)
                    row.append(Generation(text, len(e), len(ids), share, False))
                    if keys is not None:
                        items.append((keys[k][j], {"text": text, "prompt_tokens": len(e), "new_tokens": len(ids)}))
                results[i] = row
            if items:
                cache.put_many(items)
        if bar is not None:
            bar.update(len(idx))
    if bar is not None:
        bar.close()
    return results


def token_logprobs(lm, prompt_ids: Sequence[list[int]], completion_ids: Sequence[list[int]], *,
                   batch_size: int = 8, grad: bool = False, autocast=None):
    """Summed log-probability and count of each completion's tokens after its prompt's tokens.

    Rows are left-padded with explicit position ids; only the completion positions' logits
    are computed where the model allows it (``logits_to_keep``). An empty completion scores
    ``(0, 0)``. ``autocast`` is an optional context manager for the forward passes (mixed
    precision in training).

    Returns
    -------
    (sums, counts) : two torch.Tensor of shape (N,)
        ``sums`` carries the autograd graph when ``grad=True``.

    Notes
    -----
    Without gradients a model on an engine (``lm.engine``, CTranslate2) is scored by it
    (:meth:`llm_bridge.ct2.Ct2Engine.score`); gradients always come from the torch model.
    """
    import torch

    if len(prompt_ids) != len(completion_ids):
        raise ConfigError(f"completions: expected {len(prompt_ids)} completions (one per prompt), "
                          f"got {len(completion_ids)}")
    if not grad and getattr(lm, "engine", None) is not None:
        sums, counts = lm.engine.score(lm, prompt_ids, completion_ids, batch_size=batch_size)
        return torch.tensor(sums, dtype=torch.float32), torch.tensor(counts, dtype=torch.float32)
    sums, counts = [], []
    ctx = torch.enable_grad() if grad else torch.inference_mode()
    amp = autocast if autocast is not None else contextlib.nullcontext()
    with ctx:
        for start in range(0, len(prompt_ids), batch_size):
            comps = completion_ids[start:start + batch_size]
            rows = [list(p) + list(c) for p, c in zip(prompt_ids[start:start + batch_size], comps)]
            ids, mask = _left_pad(lm, rows)
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
            keep = max(len(c) for c in comps) + 1
            with amp:
                logits = lm.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                  use_cache=False, **_last_logits_only(lm.model, keep)).logits
            logits = logits[:, -keep:, :].float()
            # logits[:, j] predicts the token at position width - keep + j + 1
            targets = ids[:, ids.shape[1] - keep + 1:]
            logp = logits[:, :-1, :].log_softmax(-1).gather(-1, targets[..., None])[..., 0]
            for k, c in enumerate(comps):
                sums.append(logp[k, keep - 1 - len(c):].sum() if c else logp.new_zeros(()))
                counts.append(float(len(c)))
    if not sums:
        return torch.zeros(0), torch.zeros(0)
    return torch.stack(sums), torch.tensor(counts, device=sums[0].device)


def sequence_logprobs(lm, prompts: Sequence[str], completions: Sequence[str], *, batch_size: int = 8,
                      grad: bool = False):
    """Log-likelihood of each completion text given its prompt text.

    A text-level view of the one scorer, :func:`token_logprobs` (prompts encoded by
    :func:`encode_prompts`, completions without special tokens); only the layout differs.

    Returns
    -------
    torch.Tensor of shape (N, 2)
        Column 0: the sum of the completion tokens' log-probabilities (``token_logprobs``'s
        ``sums``); column 1: their number (its ``counts``). With ``grad=True`` column 0
        carries the autograd graph (for training).
    """
    import torch

    c_ids = [lm.tokenizer(c, add_special_tokens=False)["input_ids"] for c in completions]
    sums, counts = token_logprobs(lm, encode_prompts(lm, list(prompts)), c_ids, batch_size=batch_size, grad=grad)
    return torch.stack([sums, counts.to(sums.dtype)], dim=1)
