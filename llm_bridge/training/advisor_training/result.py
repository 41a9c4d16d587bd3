"""The result of Advisor training (:class:`AdvisorTrainingResult`)."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import ConfigError

__all__ = ["AdvisorTrainingResult", "TransferResult"]


@dataclass
class TransferResult:
    """Before/after accuracies on the transfer Receiver (one never used in training).

    Attributes
    ----------
    receiver : str
    before, after : dict
        Accuracy per condition (the evaluations' ``conditions``).
    after_vs_before : dict
        Per condition: ``lift``, ``wins``, ``losses``, ``p_value`` (exact McNemar), ``n``.
    """

    receiver: str
    before: dict
    after: dict
    after_vs_before: dict

    def to_dict(self) -> dict:
        return {"receiver": self.receiver, "before": self.before, "after": self.after,
                "after_vs_before": self.after_vs_before}

    @classmethod
    def from_dict(cls, d: dict) -> "TransferResult":
        return cls(d["receiver"], d["before"], d["after"], d["after_vs_before"])


@dataclass
class AdvisorTrainingResult:
    """The outcome of :func:`~llm_bridge.training.advisor_training.train_advisor`;
    :meth:`to_dict` is its ``summary.json``.

    Attributes
    ----------
    task, advisor, receiver : str
    before, after : dict
        Accuracy per condition on the training Receiver, before and after training.
    after_vs_before : dict
        Per condition: paired lift of after over before, ``wins``, ``losses``, exact McNemar
        ``p_value``, ``n``.
    transfer : TransferResult or None
        The same on the transfer Receiver (None without one).
    training : dict
        Per-epoch losses (``epochs``, ``losses``), samples, helpful rate, pairs, steps/s,
        device, mixed precision, LoRA settings (and a ``note`` when nothing was trainable).
    adapter : str or None
        The last checkpoint's folder.
    adapter_hash : str
        SHA-256 prefix of the trained adapter's weights.
    out_dir : str
    config : dict
        :meth:`AdvisorTrainingConfig.to_dict`.
    timings : dict
        ``before_s``, ``sampling_s``, ``training_s``, ``after_s``, ``total_s``.
    plot : str or None
        ``before_after.png``.
    """

    task: str
    advisor: str
    receiver: str
    before: dict
    after: dict
    after_vs_before: dict
    transfer: TransferResult | None
    training: dict
    adapter: str | None
    adapter_hash: str
    out_dir: str
    config: dict
    timings: dict
    plot: str | None = None

    def lift(self, condition: str = "posterior") -> float | None:
        """The paired lift of after over before in one condition (training Receiver)."""
        d = self.after_vs_before.get(condition)
        return None if d is None else d["lift"]

    def to_dict(self) -> dict:
        """JSON-ready dict (the schema of ``summary.json`` and ``train advisor --json``)."""
        return {
            "task": self.task, "advisor": self.advisor, "receiver": self.receiver,
            "before": self.before, "after": self.after, "after_vs_before": self.after_vs_before,
            "transfer": None if self.transfer is None else self.transfer.to_dict(),
            "training": self.training, "adapter": self.adapter, "adapter_hash": self.adapter_hash,
            "out_dir": self.out_dir, "config": self.config, "timings": self.timings, "plot": self.plot,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "AdvisorTrainingResult":
        """The result of a ``summary.json``."""
        try:
            t = d["transfer"]
            return cls(d["task"], d["advisor"], d["receiver"], d["before"], d["after"],
                       d["after_vs_before"], None if t is None else TransferResult.from_dict(t),
                       d["training"], d["adapter"], d["adapter_hash"], d["out_dir"], d["config"],
                       d["timings"], d.get("plot"))
        except (KeyError, TypeError) as exc:
            raise ConfigError(f"summary: not an Advisor-training summary (missing {exc})") from None
