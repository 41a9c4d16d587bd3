"""Build helpers of the documentation site (``docs/conf.py`` names them by import path).

* :func:`gallery_argv`: the command line sphinx-gallery hands each example
  (``--out <folder>``), so the scripts keep their argparse interface and write their
  figures into ``docs/auto_examples/_output/`` (generated), not into ``examples/``.
* :func:`png_scraper`: an image scraper for sphinx-gallery. The examples save their figures
  with :func:`persuasion.plots.plot_result`, which draws on a ``matplotlib.figure.Figure``
  that pyplot does not manage, so the default matplotlib scraper finds nothing; this one
  embeds every PNG that a code block wrote into the example's output folder (the file the
  script's user gets).
* The ``persuasion-cli-help`` directive: the ``--help`` text of the command line and of
  each subcommand, read from :func:`persuasion_cli.build_parser` at build time.
* :class:`KnownWarnings`: drops the warnings listed in ``known_docstring_warnings`` of
  ``conf.py`` (markup errors in docstrings of modules the site does not own, each with its
  fix), and warns when an entry no longer matches anything, so that a fixed docstring
  forces its entry out of the list.

Kept in a module (not in ``conf.py``) so that the configuration values stay picklable.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

_SEEN: dict[str, float] = {}


def example_output(src_file, gallery_conf) -> Path:
    """The output folder of the example ``src_file``: ``docs/auto_examples/_output/<name>``
    (generated, like the rest of ``auto_examples``)."""
    return Path(gallery_conf["src_dir"]) / "auto_examples" / "_output" / Path(src_file).stem


def gallery_argv(gallery_conf, script_vars):
    """``sys.argv[1:]`` for one example: ``--out`` its output folder, relative to the
    examples folder (sphinx-gallery runs each example there), so that the path the script
    prints is the same on every machine. The folder is emptied first, so that only figures
    written by this run are embedded."""
    src = Path(script_vars["src_file"])
    out = example_output(src, gallery_conf)
    shutil.rmtree(out, ignore_errors=True)
    return ["--out", os.path.relpath(out, src.parent)]


def png_scraper(block, block_vars, gallery_conf):
    """Embed the PNGs that the block just wrote into the example's output folder."""
    from sphinx_gallery.scrapers import figure_rst

    folder = example_output(block_vars["src_file"], gallery_conf)
    new = []
    for png in sorted(folder.glob("*.png")) if folder.is_dir() else []:
        stamp = png.stat().st_mtime_ns
        if _SEEN.get(str(png)) != stamp:
            _SEEN[str(png)] = stamp
            new.append(png)
    images = []
    for png, target in zip(new, block_vars["image_path_iterator"]):
        shutil.copyfile(png, target)
        images.append(target)
    return figure_rst(images, gallery_conf["src_dir"])


def _help_texts():
    """``[(title, help text)]``: the top-level parser, then each subcommand (nested ones too)."""
    import argparse

    from persuasion_cli import build_parser

    out = []

    def walk(parser, prog):
        out.append((prog, parser.format_help()))
        for action in parser._actions:  # argparse keeps subparsers here
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{prog} {name}")

    walk(build_parser(), "persuasion")
    return out


class KnownWarnings(logging.Filter):
    """Drop warnings matching ``(object, message start)`` entries; remember which matched."""

    def __init__(self, entries):
        super().__init__()
        self.entries = [tuple(e) for e in entries]
        self.matched = set()

    def filter(self, record):
        if record.levelno < logging.WARNING:
            return True
        where = str(getattr(record, "location", "") or "")
        message = record.getMessage()
        for entry in self.entries:
            obj, start = entry
            if where.endswith(f"docstring of {obj}") or f"docstring of {obj}:" in where:
                if message.startswith(start):
                    self.matched.add(entry)
                    return False
        return True


def _install_known_warnings(app, config):
    entries = config.known_docstring_warnings
    if not entries:
        return
    known = KnownWarnings(entries)
    for handler in logging.getLogger("sphinx").handlers:
        if type(handler).__name__ == "WarningStreamHandler":
            handler.filters.insert(0, known)  # before -W's filters count or raise
    app._persuasion_known_warnings = known


def _note_read_docs(app, env, docnames):
    app._persuasion_read_docs = set(docnames)


def _report_stale_known_warnings(app, exception):
    known = getattr(app, "_persuasion_known_warnings", None)
    if known is None or exception is not None:
        return
    read = getattr(app, "_persuasion_read_docs", set())
    if not {d for d in app.env.found_docs if d.startswith("api/")} <= read:
        return  # an incremental build: the API pages' docstrings were not read again
    from sphinx.util import logging as sphinx_logging

    for entry in known.entries:
        if entry not in known.matched:
            sphinx_logging.getLogger(__name__).warning(
                "known_docstring_warnings entry %r matched no warning: the docstring is "
                "fixed (or gone), remove the entry from docs/conf.py", entry)


def setup(app):
    """Register the ``persuasion-cli-help`` directive and the known-warnings filter."""
    from docutils import nodes
    from sphinx.util.docutils import SphinxDirective

    class CliHelp(SphinxDirective):
        """A heading (rubric) and the ``--help`` text of each command."""

        def run(self):
            old = os.environ.get("COLUMNS")
            os.environ["COLUMNS"] = "96"  # argparse wraps at $COLUMNS
            try:
                texts = _help_texts()
            finally:
                if old is None:
                    del os.environ["COLUMNS"]
                else:
                    os.environ["COLUMNS"] = old
            out = []
            for prog, text in texts:
                rubric = nodes.rubric(text=prog, ids=[nodes.make_id(prog)])
                block = nodes.literal_block(text, text)
                block["language"] = "text"
                out += [rubric, block]
            return out

    app.add_directive("persuasion-cli-help", CliHelp)
    app.add_config_value("known_docstring_warnings", [], "env")
    app.connect("config-inited", _install_known_warnings)
    app.connect("env-before-read-docs", _note_read_docs)
    app.connect("build-finished", _report_stale_known_warnings)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
