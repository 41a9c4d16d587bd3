"""``persuasion explore``: the view of the exact solvers, the loopback server, and the page in a
real headless browser.

Three layers, each checked against something computed another way:

* :func:`persuasion.explore.explore_view` against ``persuasion solve --exact --json`` run as a
  subprocess, against :func:`persuasion.scheme.evaluate_scheme` (full revelation, no
  information) and against geometry (cells cover the triangle, posteriors average to the
  prior);
* the server, started as ``persuasion explore --port 0`` (the port read from its first
  stdout line), over ``urllib``: the page, a good game, bad fields (the one-line error of a
  game file), oversized and non-JSON bodies, a refused ``--host``, Ctrl-C;
* the page in headless Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by
  Selenium at ``/usr/bin/chromedriver``, no driver download): move the prior slider (two
  states), click and drag on the triangle (three states), edit a utility; each value read
  from the page is compared with ``persuasion solve`` on a game file with the page's prior.
  Screenshots go to ``test-artifacts/explore/`` at the repository root. Skipped, with the
  reason, only when Chromium, its driver or Selenium is absent.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from persuasion.errors import GameValidationError, ProblemTooLargeError
from persuasion.explore import (LIMITS, MAX_DIGITS, _sender_choice, baseline_values,
                                explore_view, view_from_json)
from persuasion.game import game_from_dict, load_game
from persuasion.games import builtin_games, load_builtin
from persuasion.scheme import evaluate_scheme
from persuasion.solve import solve

ROOT = Path(__file__).resolve().parents[2]
GAMES = ROOT / "persuasion" / "games"
ARTIFACTS = ROOT / "test-artifacts" / "explore"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

PROSECUTOR = json.loads((GAMES / "prosecutor.json").read_text())
FOUR = {"name": "four", "states": ["a", "b", "c", "d"], "actions": ["x", "y", "z"],
        "prior": ["1/4", "1/4", "1/4", "1/4"],
        "sender_utility": [[0, 1, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]],
        "receiver_utility": [[3, 0, 0], [0, 2, 1], [0, 0, 1], [1, 1, 0]]}


def cli(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "persuasion_cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def solve_cli(tmp_path, game: dict, name="game.json") -> dict:
    """``persuasion solve GAME --json --exact`` on a game file; its JSON output."""
    path = tmp_path / name
    path.write_text(json.dumps(game))
    out = cli("solve", str(path), "--json", "--exact")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


# ------------------------------------------------------------------ the view
@pytest.mark.parametrize("name", builtin_games())
def test_view_values_match_persuasion_solve(tmp_path, name):
    game = load_builtin(name)
    view = explore_view(game.to_dict())
    solved = solve_cli(tmp_path, game.to_dict())
    assert view["values"]["optimal"]["exact"] == solved["value_exact"]
    assert view["values"]["optimal"]["float"] == pytest.approx(solved["value"], abs=1e-12)
    assert view["certified"] is True
    # baselines, independently: the float evaluation of the two schemes
    n = game.n_states
    full = evaluate_scheme(game, np.eye(n)).sender_value
    none = evaluate_scheme(game, np.ones((n, 1))).sender_value
    assert view["values"]["full_revelation"]["float"] == pytest.approx(full, abs=1e-12)
    assert view["values"]["no_information"]["float"] == pytest.approx(none, abs=1e-12)
    # the scheme: Bayes-plausible exactly, and worth V*
    prior = [Fraction(p) for p in view["game"]["prior"]]
    total = [sum(Fraction(s["probability"]["exact"]) * Fraction(s["posterior"][i]["exact"])
                 for s in view["signals"]) for i in range(n)]
    assert total == prior
    assert sum(Fraction(s["probability"]["exact"]) * Fraction(s["value"]["exact"])
               for s in view["signals"]) == Fraction(view["values"]["optimal"]["exact"])
    # the flow: P(signal | state) sums to 1 in every state
    for i in range(n):
        assert sum(Fraction(ln["probability"]["exact"]) for ln in view["flow"]
                   if ln["state"] == i) == 1
    json.dumps(view)  # JSON-ready


def test_baselines_by_hand():
    """The bundled games' descriptions state their baselines (derived by hand)."""
    got = {name: baseline_values(load_builtin(name)) for name in builtin_games()}
    assert (got["prosecutor"]["full_revelation"], got["prosecutor"]["no_information"]) == (
        Fraction(3, 10), 0)
    assert (got["three_state"]["full_revelation"], got["three_state"]["no_information"]) == (
        Fraction(7, 10), 0)
    assert got["receiver_types"]["no_information"] == Fraction(1, 2)
    assert got["receiver_types"]["no_information_action"] == (1, 0)  # lenient convicts


def test_two_states_curve_hull_and_split():
    view = explore_view(PROSECUTOR)
    assert view["support"] == "full" and view["method"] == "concavification"
    assert view["check"] == {"method": "signaling", "certified": True,
                             "value": {"exact": "3/5", "float": 0.6}, "agree": True}
    assert [(h["p"]["exact"], h["value"]["exact"]) for h in view["hull"]] == [
        ("0", "0"), ("1/2", "1"), ("1", "1")]
    assert [(b["p"]["exact"], b["action"]) for b in view["breakpoints"]] == [
        ("0", "acquit"), ("1/2", "convict"), ("1", "convict")]
    curve = dict((round(p, 6), v) for p, v in view["curve"])
    assert curve[0.3] == 0 and curve[0.5] == 1 and curve[0.75] == 1 and len(view["curve"]) > 100
    split = sorted((s["posterior"][1]["exact"], s["probability"]["exact"], s["action"])
                   for s in view["signals"])
    assert split == [("0", "2/5", "acquit"), ("1/2", "3/5", "convict")]
    assert "cells" not in view


def test_three_state_cells_cover_the_triangle_and_are_best_responses():
    game = load_builtin("three_state")
    view = explore_view(game)
    assert view["support"] == "full" and {c["action"] for c in view["cells"]} == {
        "sell", "hold", "buy"}
    U = game.receiver_utility_exact
    area = 0.0
    for cell in view["cells"]:
        a = cell["profile"][0]
        verts = [[Fraction(x["exact"]) for x in v] for v in cell["vertices"]]
        for mu in verts:  # the cell's action is a best response at each of its vertices
            pay = [sum(mu[w] * U[w, b] for w in range(3)) for b in range(3)]
            assert pay[a] == max(pay)
        xy = [(float(m[1] + m[2] / 2), float(m[2]) * 3 ** 0.5 / 2) for m in verts]
        area += 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1)
                              in zip(xy, xy[1:] + xy[:1])))  # ordered around the cell
    assert area == pytest.approx(3 ** 0.5 / 4, rel=1e-12)
    posts = sorted(tuple(p["exact"] for p in s["posterior"]) for s in view["signals"])
    res = solve(game, "signaling", certify=True)
    assert posts == sorted(tuple(str(x) for x in post) for _, post in res.signals_exact)


def test_more_states_show_values_scheme_flow_only(tmp_path):
    view = explore_view(FOUR)
    assert view["support"] == "values" and "4 states" in view["note"]
    assert not {"cells", "curve", "hull"} & set(view)
    assert view["values"]["optimal"]["exact"] == solve_cli(tmp_path, FOUR)["value_exact"]
    assert view["flow"] and view["signals"]


@pytest.mark.parametrize("text", [
    '{"states": ["a", "b"], "actions": ["x"], "prior": [0.5, 0.6], '
    '"sender_utility": [[0], [1]], "receiver_utility": [[0], [0]]}',
    json.dumps({**PROSECUTOR, "receiver_utility": [[1, 0], [0, "one"]]}),
    json.dumps({**PROSECUTOR, "priors": [0.5, 0.5]}),
    json.dumps({k: v for k, v in PROSECUTOR.items() if k != "actions"}),
    '{"states": ["a", "b"], "states": ["c", "d"]}',
    '{"states": ["a", "b"],',
    '[1, 2]',
])
def test_bad_input_gets_the_error_of_a_game_file(text):
    with pytest.raises(GameValidationError) as got:
        view_from_json(text)
    with pytest.raises(GameValidationError) as want:
        load_game(text)
    assert str(got.value) == str(want.value) and "\n" not in str(got.value)


def test_games_beyond_the_limits_are_refused():
    n = LIMITS["states"] + 1
    big = {"states": [f"s{i}" for i in range(n)], "actions": ["x", "y"],
           "prior": [f"1/{n}"] * n, "sender_utility": [[0, 1]] * n,
           "receiver_utility": [[1, 0]] * n}
    with pytest.raises(ProblemTooLargeError, match=r"^states: 9 states; the explorer solves"):
        explore_view(big)


def test_a_game_file_beyond_the_limits_exits_5(tmp_path):
    """A size limit, as for persuasion solve: exit 5, one line naming the field."""
    n = LIMITS["states"] + 1
    path = tmp_path / "big.json"
    path.write_text(json.dumps({"states": [f"s{i}" for i in range(n)], "actions": ["x", "y"],
                                "prior": [f"1/{n}"] * n, "sender_utility": [[0, 1]] * n,
                                "receiver_utility": [[1, 0]] * n}))
    out = cli("explore", str(path), "--port", "0", timeout=30)
    assert out.returncode == 5 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "states: 9 states; the explorer solves" in lines[0]


def test_long_numbers_are_refused_naming_the_entry():
    types = json.loads((GAMES / "receiver_types.json").read_text())
    types["receiver_types"][1]["utility"][1][1] = "2/" + "7" * (MAX_DIGITS + 1)
    with pytest.raises(GameValidationError, match=r"^receiver_types\[1\]\.utility\[1\]\[1\]: "
                                                  r"a number with 41 digits"):
        view_from_json(json.dumps(types))
    types["receiver_types"][1]["utility"][1][1] = "2/" + "7" * MAX_DIGITS
    assert view_from_json(json.dumps(types))["certified"] is True


def test_curve_ties_are_decided_exactly_for_tiny_and_offset_utilities():
    """The sampled V(p) uses the exact utilities: receiver payoffs of 1e-15 (or 1e32 + 1
    against 1e32) still make the receiver acquit below p = 1/2, so V = 0 there."""
    for u in ([["1e-15", 0], [0, "1e-15"]],
              [["100000000000000000000000000000001", "100000000000000000000000000000000"],
               ["100000000000000000000000000000000", "100000000000000000000000000000001"]]):
        view = explore_view({**PROSECUTOR, "receiver_utility": u})
        curve = dict((round(p, 6), v) for p, v in view["curve"])
        assert all(v == 0 for p, v in curve.items() if p < 0.5), u
        assert all(v == 1 for p, v in curve.items() if p >= 0.5), u
        assert view["values"]["optimal"]["exact"] == "3/5"


def test_signal_labels_are_the_sender_preferred_best_response():
    """Where the receiver is indifferent, a signal is labelled with the action the baselines
    and persuasion.evaluate_scheme use (sender-preferred), whatever the LP recommended."""
    # a four-state game (signaling LP) on which the LP recommends a0 at a posterior where the
    # receiver is indifferent and the sender prefers a1 (found by a review's random search)
    game = {"name": "g", "states": ["s0", "s1", "s2", "s3"], "actions": ["a0", "a1"],
            "prior": ["5/12", "1/12", "1/3", "1/6"],
            "sender_utility": [["-1", "-3"], ["2", "1/2"], ["-2", "-1"], ["2", "1"]],
            "receiver_utility": [["1", "0"], ["-2", "1"], ["2", "0"], ["1", "2"]]}
    g = game_from_dict(game)
    raw = solve(g, "signaling", certify=True)
    assert any(sig.probability_exact > 0 and
               _sender_choice(g, list(sig.posterior_exact))[0] != (sig.action,)
               for sig in raw.signals)  # the case exists
    view = explore_view(game)
    for sig in view["signals"]:
        post = [Fraction(x["exact"]) for x in sig["posterior"]]
        assert tuple(sig["profile"]) == _sender_choice(g, post)[0]
    assert Fraction(view["values"]["optimal"]["exact"]) == raw.value_exact


# ------------------------------------------------------------------ the server
class Server:
    """``persuasion explore [GAME] --port 0`` in a subprocess; ``url`` from its first line."""

    def __init__(self, *args, ignore_sigint=False):
        def ignore():  # as a shell does for a job in the background of a script
            signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "persuasion_cli", "explore", "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            preexec_fn=ignore if ignore_sigint else None)
        line = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(timeout=30)
        first = line[0] if line else ""
        if not first.startswith("serving on http://127.0.0.1:"):
            self.stop()
            raise AssertionError(f"no address on stdout: {first!r}, stderr "
                                 f"{self.proc.stderr.read()!r}")
        self.url = first.split()[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


def post(url, body: bytes, content_type="application/json"):
    req = urllib.request.Request(url + "api/view", data=body, method="POST",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_get_serves_one_self_contained_page(server):
    with urllib.request.urlopen(server.url, timeout=30) as r:
        page = r.read().decode()
        assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in r.headers["Content-Security-Policy"]
    for element in ('id="value-opt"', 'id="value-full"', 'id="value-none"', 'id="error"',
                    'id="geometry"', 'id="flow"', 'id="initial-game"'):
        assert element in page
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)  # nothing from elsewhere
    assert '"prior": ["7/10", "3/10"]' in page  # the starting game, embedded
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(server.url + "nothing", timeout=30)
    assert e.value.code == 404


def test_post_a_good_game(server):
    game = {**PROSECUTOR, "prior": ["11/20", "9/20"]}
    status, view = post(server.url, json.dumps(game).encode())
    assert status == 200
    assert view["values"]["optimal"]["exact"] == "9/10"
    assert view["values"]["full_revelation"]["exact"] == "9/20"
    assert view["values"]["no_information"]["exact"] == "0"


@pytest.mark.parametrize("game, field", [
    ({**PROSECUTOR, "prior": [0.5, 0.6]}, "prior"),
    ({**PROSECUTOR, "sender_utility": [[0, 1], [0, "abc"]]}, "sender_utility[1][1]"),
    ({**PROSECUTOR, "receiver_utility": [[1, 0]]}, "receiver_utility"),
    ({**PROSECUTOR, "prior": [1, 0, 0]}, "prior"),
    ({"states": [f"s{i}" for i in range(9)], "actions": ["x"], "prior": ["1/9"] * 9,
      "sender_utility": [[0]] * 9, "receiver_utility": [[0]] * 9}, "states"),
])
def test_post_a_bad_field_gets_400_and_one_line_naming_it(server, game, field):
    status, body = post(server.url, json.dumps(game).encode())
    assert status == 400 and set(body) == {"error"}
    assert body["error"].startswith(field + ": ") and "\n" not in body["error"]


def test_post_refuses_bodies_that_are_not_a_small_json_game(server):
    status, body = post(server.url, b'{"states": [' + b" " * (70 * 1024) + b"]}")
    assert status == 413 and "65536" in body["error"]
    status, body = post(server.url, json.dumps(PROSECUTOR).encode(), "text/plain")
    assert status == 415 and body["error"].startswith("Content-Type: ")
    status, body = post(server.url, b"/etc/passwd")  # never read as a path
    assert status == 400 and body["error"].startswith("game: invalid JSON")
    status, body = post(server.url, b"[1, 2]")
    assert status == 400 and body["error"].startswith("game: expected a JSON object")
    status, body = post(server.url, b"\xff\xfe")
    assert status == 400 and body["error"].startswith("game: the body is not UTF-8")


def test_non_loopback_host_is_refused():
    out = cli("explore", "--host", "0.0.0.0", "--port", "0", timeout=30)
    assert out.returncode == 2 and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("persuasion: error: --host: '0.0.0.0' is not")


def test_bad_game_file_is_refused_before_serving(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({**PROSECUTOR, "prior": [0.5, 0.6]}))
    out = cli("explore", str(path), "--port", "0", timeout=30)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.strip().splitlines() == [
        "persuasion: error: prior: entries sum to 1.1, expected 1 within 1e-09"]


def test_requests_for_other_host_names_are_refused(server):
    """DNS rebinding: a page whose domain now resolves to 127.0.0.1 sends its own Host; the
    loopback server answers 403 (GET and POST), and serves loopback names."""
    port = server.url.rsplit(":", 1)[1].rstrip("/")
    for host, want in (("attacker.example", 403), (f"attacker.example:{port}", 403),
                       (f"localhost:{port}", 200), (f"127.0.0.1:{port}", 200)):
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
        conn.request("GET", "/", headers={"Host": host})
        r = conn.getresponse()
        assert r.status == want, (host, r.status)
        body = r.read()
        if want == 403:
            assert b"is not this loopback server's address" in body
        conn.close()
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    conn.request("POST", "/api/view", body=json.dumps(PROSECUTOR),
                 headers={"Host": "attacker.example", "Content-Type": "application/json"})
    assert conn.getresponse().status == 403
    conn.close()


def test_a_game_named_like_the_placeholder_keeps_its_title(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({**PROSECUTOR, "name": "__GAME__"}))
    s = Server(str(path))
    try:
        with urllib.request.urlopen(s.url, timeout=30) as r:
            page = r.read().decode()
        assert "<title>" in page and "__GAME__" in page.split("<title>", 1)[1].split("</title>", 1)[0]
    finally:
        s.stop()


def test_stops_on_sigint_even_when_started_with_sigint_ignored():
    """A server started in the background of a script (SIGINT ignored) still stops on
    SIGINT and on SIGTERM, exit 0."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        s = Server(ignore_sigint=True)
        s.proc.send_signal(sig)
        assert s.proc.wait(timeout=20) == 0
        assert "stopped" in s.proc.stderr.read()


def test_ctrl_c_stops_cleanly():
    s = Server(str(GAMES / "three_state.json"))
    status, view = post(s.url, (GAMES / "three_state.json").read_bytes())
    assert status == 200 and view["values"]["optimal"]["exact"] == "7/5"
    assert s.stop() == 0
    assert "stopped" in s.proc.stderr.read() and s.proc.stdout.read() == ""


# ------------------------------------------------------------------ the browser
def _browser_missing() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return (f"{' and '.join(missing)} not installed (apt-get install chromium "
                f"chromium-driver)")
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium not installed (pip install selenium)"
    return None


@pytest.fixture(scope="module")
def browser():
    reason = _browser_missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium-manager download
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1300,1400", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)),
                              options=options)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def _rendered(driver, after: int = 0, timeout: float = 20) -> int:
    """Wait until the page has drawn a solve newer than ``after``; its number."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        state = driver.execute_script(
            "return [document.body.dataset.rendered || '0', "
            "document.getElementById('status').dataset.state]")
        if int(state[0]) > after and state[1] == "ready":
            return int(state[0])
        time.sleep(0.05)
    raise AssertionError(f"the page did not draw a new solve: "
                         f"{driver.find_element('id', 'status').text!r}, error "
                         f"{driver.find_element('id', 'error').text!r}")


def _rendered_prior(driver, prior: list[str], after: int = 0, timeout: float = 20) -> int:
    """Wait until the page has drawn the solve of ``prior`` (exact strings); its number."""
    deadline = time.time() + timeout
    while True:
        after = _rendered(driver, after, max(0.1, deadline - time.time()))
        if _page_prior(driver) == prior:
            return after
        if time.time() > deadline:
            raise AssertionError(f"the page shows prior {_page_prior(driver)}, not {prior}")


_VALUE = re.compile(r"^(-?\d+(?:/\d+)?) [=\u2248] (-?\d+\.\d{4})$")


def _page_values(driver) -> dict:
    """The three values as the page shows them: ``{key: (Fraction, decimal)}``."""
    out = {}
    for key in ("opt", "full", "none"):
        m = _VALUE.match(driver.find_element("id", f"value-{key}").text)
        assert m, driver.find_element("id", f"value-{key}").text
        out[key] = (Fraction(m.group(1)), float(m.group(2)))
    return out


def _page_prior(driver) -> list[str]:
    return json.loads(driver.find_element("id", "prior-text").get_attribute("data-prior"))


def _check_against_solve(driver, tmp_path, game: dict, name: str) -> dict:
    """The page's values equal ``persuasion solve`` on ``game`` with the page's prior."""
    prior = _page_prior(driver)
    solved = solve_cli(tmp_path, {**game, "prior": prior}, name)
    values = _page_values(driver)
    assert values["opt"][0] == Fraction(solved["value_exact"])
    assert values["opt"][1] == pytest.approx(solved["value"], abs=5e-5)
    g = load_game({**game, "prior": prior})
    base = baseline_values(g)
    assert values["full"][0] == base["full_revelation"]
    assert values["none"][0] == base["no_information"]
    return values


def test_browser_two_states_slider(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    s = Server()
    try:
        browser.get(s.url)
        seen = _rendered(browser)
        assert _page_values(browser)["opt"] == (Fraction(3, 5), 0.6)
        browser.save_screenshot(str(ARTIFACTS / "prosecutor-1-start.png"))
        slider = browser.find_element("id", "prior-slider")
        slider.send_keys(*[Keys.ARROW_RIGHT] * 15)  # 0.30 -> 0.45, as a user would
        seen = _rendered_prior(browser, ["11/20", "9/20"], seen)
        values = _check_against_solve(browser, tmp_path, PROSECUTOR, "p45.json")
        assert values["opt"][0] == Fraction(9, 10)
        browser.save_screenshot(str(ARTIFACTS / "prosecutor-2-prior-0.45.png"))
        browser.execute_script(  # past the judge's threshold: no information is optimal
            "const s = document.getElementById('prior-slider'); s.value = '0.7';"
            "s.dispatchEvent(new Event('input', {bubbles: true}));")
        seen = _rendered_prior(browser, ["3/10", "7/10"], seen)
        values = _check_against_solve(browser, tmp_path, PROSECUTOR, "p70.json")
        assert values["opt"][0] == values["none"][0] == 1
        browser.save_screenshot(str(ARTIFACTS / "prosecutor-3-prior-0.70.png"))
        # edit a utility: the judge now convicts iff 3 P(guilty) >= P(innocent)
        cell = browser.find_element("css selector", "input[aria-label^='receiver_utility[1][1]']")
        cell.send_keys(Keys.CONTROL, "a")  # select and overwrite, as a user would
        cell.send_keys("3", Keys.ENTER)
        browser.execute_script(
            "const s = document.getElementById('prior-slider'); s.value = '0.1';"
            "s.dispatchEvent(new Event('input', {bubbles: true}));")
        seen = _rendered_prior(browser, ["9/10", "1/10"], seen)
        edited = {**PROSECUTOR, "receiver_utility": [[1, 0], [0, "3"]]}
        values = _check_against_solve(browser, tmp_path, edited, "edited.json")
        assert values["opt"][0] == Fraction(2, 5)  # 1/10 split to 0 and 1/4
        browser.save_screenshot(str(ARTIFACTS / "prosecutor-4-edited.png"))
        # a bad number: the server's one-line error, naming the field, on the page
        cell.send_keys(Keys.CONTROL, "a")
        cell.send_keys("abc", Keys.ENTER)
        deadline = time.time() + 20
        while time.time() < deadline and not browser.find_element("id", "error").text:
            time.sleep(0.05)
        error = browser.find_element("id", "error").text
        assert error.startswith("error: receiver_utility[1][1]: 'abc' is not a number")
        assert "bad" in cell.get_attribute("class").split()  # the cell named is marked
        assert _page_values(browser)["opt"][0] == Fraction(2, 5)  # the last valid drawing
        browser.save_screenshot(str(ARTIFACTS / "prosecutor-5-error.png"))
        logs = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
                and "api/view" not in e["message"]]  # the 400 itself is logged
        assert logs == []
    finally:
        s.stop()


def test_browser_three_states_triangle(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains

    game = json.loads((GAMES / "three_state.json").read_text())
    s = Server(str(GAMES / "three_state.json"))
    try:
        browser.get(s.url)
        seen = _rendered(browser)
        assert _page_values(browser)["opt"][0] == Fraction(7, 5)
        assert len(browser.find_elements("css selector", "#geometry polygon.cell")) == 3
        browser.save_screenshot(str(ARTIFACTS / "three_state-1-start.png"))
        svg = browser.find_element("id", "geometry")
        size = svg.size

        def offset(mu):  # barycentric -> offset from the element's centre (CSS pixels)
            x = 120 + (mu[1] + mu[2] / 2) * 400
            y = 372 - 3 ** 0.5 / 2 * mu[2] * 400
            return round(x - size["width"] / 2), round(y - size["height"] / 2)

        ActionChains(browser).move_to_element_with_offset(svg, *offset((0.2, 0.3, 0.5))) \
            .click().perform()
        seen = _rendered(browser, seen)
        prior = [Fraction(p) for p in _page_prior(browser)]
        assert sum(prior) == 1
        assert [float(p) for p in prior] == pytest.approx([0.2, 0.3, 0.5], abs=0.02)
        _check_against_solve(browser, tmp_path, game, "click.json")
        browser.save_screenshot(str(ARTIFACTS / "three_state-2-clicked.png"))
        dx, dy = offset((0.7, 0.2, 0.1))
        cx, cy = offset((0.2, 0.3, 0.5))
        ActionChains(browser).move_to_element_with_offset(svg, cx, cy).click_and_hold() \
            .move_by_offset((dx - cx) // 2, (dy - cy) // 2).move_by_offset(
                dx - cx - (dx - cx) // 2, dy - cy - (dy - cy) // 2).release().perform()
        seen = _rendered(browser, seen)
        prior = [float(Fraction(p)) for p in _page_prior(browser)]
        assert prior == pytest.approx([0.7, 0.2, 0.1], abs=0.02)
        _check_against_solve(browser, tmp_path, game, "drag.json")
        browser.save_screenshot(str(ARTIFACTS / "three_state-3-dragged.png"))
    finally:
        s.stop()
