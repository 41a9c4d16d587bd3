"""The result of a CycleAlign run (:class:`CycleAlignResult`) and its ``metrics.jsonl`` rows."""

from __future__ import annotations

from dataclasses import dataclass, fields

from persuasion.runs import read_jsonl

from ...errors import ConfigError

__all__ = ["CycleAlignResult", "read_metrics", "CYCLE_KEYS"]

#: The fields of a cycle's row in the result (the ``metrics.jsonl`` row has them all; a field
#: a row lacks — written before it existed, or ``judge_eval`` off — is None).
CYCLE_KEYS = ("cycle", "agreement", "exact_match", "reward", "reward_ci95", "accuracy",
              "ranking_accuracy", "ranking_accuracy_ci95", "ranking_pairs", "ranking_problems",
              "black_box_ranking_accuracy", "black_box_ranking_accuracy_ci95",
              "black_box_ranking_pairs", "black_box_ranking_problems",
              "black_box_ranking_parse_failures", "black_box_ranking_parse_failure_rate",
              "black_box_ranking_left_out_rate", "parse_failures", "parse_failure_rate", "demos", "demos_added",
              "sample_reward", "black_box_pairwise_accuracy", "white_box_train_pairwise_accuracy",
              "rank_loss", "sft_loss", "steps", "total_steps", "groups_trained",
              "steps_per_second", "groups_per_second", "seconds")


def read_metrics(path) -> list[dict]:
    """Rows of a ``metrics.jsonl``: one per (record, cycle), the first occurrence wins."""
    return read_jsonl(path, unique=lambda row: (row.get("record"), row.get("cycle")))


@dataclass
class CycleAlignResult:
    """The outcome of :func:`~llm_bridge.training.cyclealign.run_cyclealign`; :meth:`to_dict`
    is ``result.json``.

    Attributes
    ----------
    task, white_box, black_box : str
        The task's name, the white box's model name, the black box's name.
    config : dict
        :meth:`CycleAlignConfig.to_dict`.
    device : str
    out_dir : str
    cycles : list of dict
        One row per cycle (the fields of :data:`CYCLE_KEYS`: ``agreement``, ``reward``,
        ``accuracy``, ``ranking_accuracy``, losses, ``seconds``, ...).
    baselines : dict
        ``no_training`` (cycle 0) and ``sft_top_choice`` rows (None when not run).
    plot : str or None
        ``reward.png``.
    adapter : str or None
        The last checkpoint's folder.
    steps_per_second : float or None
        Optimiser steps per second of training, over all cycles.
    """

    task: str
    white_box: str
    black_box: str
    config: dict
    device: str
    out_dir: str
    cycles: list
    baselines: dict
    plot: str | None
    adapter: str | None
    steps_per_second: float | None

    @property
    def rewards(self) -> list:
        """The held-out reward after each cycle."""
        return [c["reward"] for c in self.cycles]

    @property
    def agreements(self) -> list:
        """The agreement rate of each cycle."""
        return [c["agreement"] for c in self.cycles]

    def to_dict(self) -> dict:
        """JSON-ready dict (the schema of ``result.json`` and ``cyclealign --json``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> "CycleAlignResult":
        """The result of a ``result.json``."""
        try:
            return cls(**{f.name: d[f.name] for f in fields(cls)})
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"result: not a CycleAlign result (missing {exc})") from None
