"""``persuasion demo``: the exact-solver part (fast) and the LLM-bridge part (slow, real SmolLM2)."""

import json

import pytest

from persuasion.cli import main


def test_demo_without_the_llm_part(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--quiet", "--no-llm"]) == 0
    text = (tmp_path / "summary.md").read_text()
    assert "prosecutor" in text and "Regret with an unknown prior" in text
    assert "LLM bridge" not in text
    assert capsys.readouterr().out.strip() == str(tmp_path / "summary.md")


@pytest.mark.slow
def test_demo_with_the_llm_bridge(tmp_path):
    from persuasion.demo import _bridge_section

    records = []
    lines = _bridge_section(tmp_path, records, verbose=False)
    text = "\n".join(lines)
    assert "| none |" in text and "| posterior |" in text
    bridge = records[0]["bridge"]
    assert set(bridge["conditions"]) == {"none", "prior", "posterior"}
    assert bridge["game"]["certified"]
    assert (tmp_path / "bridge" / "conditions.png").stat().st_size > 1000
    rows = [json.loads(x) for x in open(tmp_path / "bridge" / "records.jsonl")]
    assert len(rows) == 3 * bridge["n"]
