"""Bundled teaching games (JSON files in this package, in the format of
:func:`persuasion.game.load_game`).

* ``prosecutor`` -- Kamenica & Gentzkow's prosecutor and judge (two states);
  optimal value 3/5;
* ``receiver_types`` -- the prosecutor facing a lenient or a strict judge with
  probability 1/2 each (two states, two receiver types); optimal value 2/3;
* ``three_state`` -- a broker's analyst rating a stock (falls / flat / rises) to an
  investor (sell / hold / buy); optimal value 7/5 with three ratings.

>>> from persuasion.games import builtin_games, load_builtin
>>> builtin_games()
['prosecutor', 'receiver_types', 'three_state']
>>> load_builtin("prosecutor").states
('innocent', 'guilty')
"""

from __future__ import annotations

from importlib import resources

from ..errors import GameValidationError
from ..game import load_game

__all__ = ["builtin_games", "load_builtin"]


def _files():
    return resources.files(__name__)


def builtin_games() -> list[str]:
    """Names of the bundled games (file names without ``.json``), sorted."""
    return sorted(entry.name[: -len(".json")] for entry in _files().iterdir()
                  if entry.name.endswith(".json") and entry.is_file())


def load_builtin(name: str):
    """Load a bundled game by name (``"prosecutor"``; a trailing ``.json`` is accepted).

    Returns
    -------
    Game or ReceiverTypesGame

    Raises
    ------
    GameValidationError
        ``field="game"`` for an unknown name (the message lists the bundled games).
    """
    if not isinstance(name, str):
        raise GameValidationError("game", f"expected the name of a bundled game, got {name!r}")
    stem = name[: -len(".json")] if name.endswith(".json") else name
    available = builtin_games()
    if stem not in available:
        raise GameValidationError(
            "game", f"no bundled game named {name!r}; available: {', '.join(available)}")
    text = _files().joinpath(stem + ".json").read_text(encoding="utf-8")
    return load_game(text)
