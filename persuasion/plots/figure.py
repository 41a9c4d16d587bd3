"""One figure for a result: the geometry panel beside the flow graph, optionally saved."""

from __future__ import annotations

from pathlib import Path

from ..errors import GameValidationError
from ..result import PersuasionResult
from .common import short_label
from .concavification import plot_concavification
from .flow import plot_flow
from .ternary import plot_ternary

__all__ = ["plot_result", "SAVE_FORMATS"]

#: File formats :func:`plot_result` writes (chosen by the extension of ``path``).
SAVE_FORMATS = ("png", "pdf", "svg")


def plot_result(result, path=None):
    """The geometry panel beside the flow graph, in one Figure.

    Two states: :func:`plot_concavification`; three states: :func:`plot_ternary`; other
    state counts: the flow graph alone.

    Parameters
    ----------
    result : PersuasionResult
    path : str or Path, optional
        Save the figure there; the format follows the extension (``.png``, ``.pdf`` or
        ``.svg``).

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    GameValidationError
        ``field="plot"`` for an unsupported file extension.
    """
    from matplotlib.figure import Figure

    if not isinstance(result, PersuasionResult):
        raise GameValidationError("plot", f"plot_result draws a PersuasionResult, got "
                                          f"{type(result).__name__}")
    game = result.game
    if game is None:
        raise GameValidationError("plot", "the result carries no game (result.game is None)")
    fmt = None
    if path is not None:
        fmt = Path(path).suffix.lower().lstrip(".")
        if fmt not in SAVE_FORMATS:
            raise GameValidationError(
                "plot", f"cannot save {str(path)!r}: unsupported extension "
                        f"{'.' + fmt if fmt else '(none)'}; use .png, .pdf or .svg")
    n_rows = max(game.n_states, result.n_signals, 2)
    height = max(5.4, 1.1 * n_rows + 2)
    geometry = game.n_states in (2, 3)
    fig = Figure(figsize=(14.5 if geometry else 8, height), layout="constrained")
    if geometry:
        ax_geo, ax_flow = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
        if game.n_states == 2:
            plot_concavification(result, ax=ax_geo)
        else:
            plot_ternary(game, result, ax=ax_geo)
    else:
        ax_flow = fig.add_subplot()
    plot_flow(result, ax=ax_flow)
    value = short_label(result.value_exact, result.value, max_den=10**6)
    fig.suptitle(f"{game.name}: optimal sender value {value}"
                 f"{' (certified)' if result.certified else ''}, method {result.method}",
                 fontsize=13)
    if path is not None:
        fig.savefig(path, format=fmt, dpi=130)
    return fig
