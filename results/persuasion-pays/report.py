"""Print the figures of an evaluation folder of issue 13's experiment as markdown: the
calibration table with Wilson intervals, the game's optimum against full revelation and no
information, the three conditions, the discordance and the planned size, the hint distribution.

    python results/persuasion-pays/report.py results/persuasion-pays/pilot1-1.5b [--n-run 300]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from llm_bridge.hint_stats import hint_distribution, plan_size  # noqa: E402
from llm_bridge.stats import wilson_interval  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--n-run", type=int, default=300, help="the main run's test size (its power is printed)")
    args = ap.parse_args(argv)
    s = json.loads((args.folder / "summary.json").read_text())
    recs = [json.loads(x) for x in open(args.folder / "records.jsonl")]
    cal = s["calibration"]
    print(f"## {args.folder}: {s['task']}, Receiver {s['receiver']}, Advisor {s['advisor']}, n = {s['n']}\n")
    print("Calibration (correct / answers, Wilson 95%), per state and signal:\n")
    print("| state | prior | " + " | ".join(cal["actions"]) + " |")
    print("|---|---:|" + "---:|" * len(cal["actions"]))
    for i, st in enumerate(cal["states"]):
        cells = []
        for j in range(len(cal["actions"])):
            k, n = int(cal["correct"][i][j]), int(cal["n"][i][j])
            lo, hi = wilson_interval(k, n) if n else (0.0, 1.0)
            cells.append(f"{k}/{n} [{lo:.2f}, {hi:.2f}]")
        print(f"| {st} | {s['states']['prior'][i]} | " + " | ".join(cells) + " |")
    g = s["game"]
    print(f"\nGame (effort cost {g['effort_cost']}): optimal value {g['optimal_value']:.4f} (exact "
          f"{g['optimal_value_exact']}, certified {g['certified']}); full revelation "
          f"{g['full_revelation_value']:.4f}; no information {g['no_information_value']:.4f}; "
          f"optimal scheme (P(signal | state), rows {cal['states']}, columns {cal['actions']}): "
          f"{[[round(x, 3) for x in row] for row in g['optimal_scheme']]}\n")
    print("| condition | accuracy | 95% Wilson |\n|---|---:|---|")
    for c, v in s["conditions"].items():
        print(f"| {c} | {v['accuracy']:.3f} ({v['correct']}/{v['n']}) | [{v['ci95'][0]:.3f}, {v['ci95'][1]:.3f}] |")
    print(f"\nLift of posterior: {s['lift_vs_none']:+.3f} vs none (exact McNemar p = {s['p_value']:.3g}), "
          f"{s['lift_vs_prior']:+.3f} vs prior (p = {s['p_value_vs_prior']:.3g}).")
    plan = plan_size(recs, n_run=args.n_run)
    c = plan["comparisons"]
    print(f"Discordant pairs: posterior vs none {c['none']['a_only']} + {c['none']['b_only']} of "
          f"{c['none']['n']}, vs prior {c['prior']['a_only']} + {c['prior']['b_only']}; at discordance "
          f"{plan['discordance']:.3f} a 5-point lift needs n = {plan['n_needed']} for 80% power "
          f"(exact McNemar, alpha 0.05); n = {args.n_run} has power {plan['power_at_n_run']:.2f}.")
    lf = s.get("leak_filter", {})
    if lf:
        print(f"Leak filter: {lf['filtered']} of {lf['hints']} test hints lost a sentence ({lf['rate']:.1%}).")
    print("\nHints (test), by signal:\n")
    print("| signal | hints | with Advisor text | filtered | quotes the item's place | mean words | distinct | top openings |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for k, v in hint_distribution(recs).items():
        tops = "; ".join(f"{o!r} ×{n}" for o, n in v["openings"][:3])
        print(f"| {k} | {v['hints']} | {v['with_text']} | {v['filtered']} | {v['quotes_item']}/{v['items_with_place']} | "
              f"{v['mean_words']:.1f} | {v['distinct']} | {tops} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
