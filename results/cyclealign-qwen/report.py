"""Print a CycleAlign run folder of issue 15 as markdown: per cycle the agreement, the black
box's and the white box's ranking accuracy on the held-out candidates, the held-out reward with
Wilson intervals, and the paired comparison of each cycle with no training (cycle 0) and of the
last cycle with the SFT baseline (exact McNemar, wins and losses), with the measured discordance
and the power it gives for a 5-point change at the run's held-out size.

    python results/cyclealign-qwen/report.py results/cyclealign-qwen/rrhf
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llm_bridge.stats import mcnemar_exact, mcnemar_power, paired_lift, wilson_interval  # noqa: E402


def _grades(path: Path) -> dict:
    """uid -> correct of an ``eval/*.jsonl`` file (the first row of a uid wins)."""
    out = {}
    for line in path.read_text().splitlines():
        row = json.loads(line)
        out.setdefault(row["uid"], bool(row["correct"]))
    return out


def _rate(value, ci=None, count=None) -> str:
    if value is None:
        return "—"
    text = f"{value:.3f}"
    if count:
        text += f" ({count})"
    if ci:
        text += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    return text


def _compare(a: dict, b: dict) -> tuple[str, float]:
    """``a`` against ``b`` on their common problems: text and discordance."""
    uids = sorted(set(a) & set(b))
    x, y = [a[u] for u in uids], [b[u] for u in uids]
    d = paired_lift(x, y)
    p = mcnemar_exact(x, y)
    disc = (d["wins"] + d["losses"]) / len(uids) if uids else 0.0
    return f"{d['lift']:+.3f} (p = {p:.2g}; {d['wins']} wins, {d['losses']} losses)", disc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    args = ap.parse_args(argv)
    r = json.loads((args.folder / "result.json").read_text())
    ev = args.folder / "eval"
    base = r["baselines"].get("no_training") or {}
    grades0 = _grades(ev / "cycle-000.jsonl")
    n = len(grades0)
    print(f"## {args.folder}: {r['task']}, white box {r['white_box']}, black box {r['black_box']}, "
          f"loss {r['config']['loss']}, {r['config']['cycles']} cycles, n_test = {n}\n")
    print("| cycle | agreement | black box ranking acc. | white box ranking acc. | held-out reward "
          "[95% Wilson] | vs no training |")
    print("|---:|---:|---:|---:|---:|---|")
    k0 = sum(grades0.values())
    lo, hi = wilson_interval(k0, n)
    bb0 = _rate(base.get("black_box_ranking_accuracy"), base.get("black_box_ranking_accuracy_ci95"),
                base.get("black_box_ranking_pairs"))
    zs = _rate(base.get("black_box_ranking_accuracy_zero_shot"))
    print(f"| 0 (no training) | — | {bb0} (seed demos); zero-shot {zs} | "
          f"{_rate(base.get('ranking_accuracy'), base.get('ranking_accuracy_ci95'), base.get('ranking_pairs'))} | "
          f"{k0}/{n} = {k0 / n:.3f} [{lo:.3f}, {hi:.3f}] | |")
    last, disc_last = None, None
    for c in r["cycles"]:
        path = ev / f"cycle-{c['cycle']:03d}.jsonl"
        g = _grades(path)
        k = sum(g.values())
        lo, hi = wilson_interval(k, len(g))
        text, disc = _compare(g, grades0)
        last, disc_last = g, disc
        print(f"| {c['cycle']} | {_rate(c.get('agreement'))} | "
              f"{_rate(c.get('black_box_ranking_accuracy'), c.get('black_box_ranking_accuracy_ci95'), c.get('black_box_ranking_pairs'))} | "
              f"{_rate(c.get('ranking_accuracy'), c.get('ranking_accuracy_ci95'), c.get('ranking_pairs'))} | "
              f"{k}/{len(g)} = {k / len(g):.3f} [{lo:.3f}, {hi:.3f}] | {text} |")
    sft = ev / "sft-baseline.jsonl"
    if sft.exists() and last is not None:
        g = _grades(sft)
        k = sum(g.values())
        lo, hi = wilson_interval(k, len(g))
        text, _ = _compare(g, grades0)
        vs, _ = _compare(last, g)
        print(f"| SFT on the top choice | — | — | "
              f"{_rate((r['baselines'].get('sft_top_choice') or {}).get('ranking_accuracy'))} | "
              f"{k}/{len(g)} = {k / len(g):.3f} [{lo:.3f}, {hi:.3f}] | {text} |")
        print(f"\nLast cycle against the SFT baseline: {vs}.")
    if disc_last is not None:
        text = (f"\nDiscordance of the last cycle against no training: {disc_last:.3f}; ")
        if disc_last >= 0.05:
            text += (f"at that discordance n = {n} has power {mcnemar_power(n, disc_last, 0.05):.2f} "
                     "for a 5-point change (exact McNemar, alpha 0.05).")
        else:
            text += ("below 0.05, so the two checkpoints differ on too few problems for a 5-point "
                     f"change; at the plan's assumed 0.12, n = {n} has power "
                     f"{mcnemar_power(n, 0.12, 0.05):.2f} for one.")
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
