"""``persuasion explore [GAME]``: an interactive explorer for teachers, served on loopback.

The page (``GET /``) shows the game's optimum and lets a teacher move the prior (a slider
for two states, a point dragged on the triangle of beliefs for three) or edit any number
of the game; every change is posted to ``POST /api/view``, which answers
:func:`persuasion.explore.view_from_json` -- the exact solvers' view: ``V*``, full
revelation, no information, the scheme and its flow, ``V`` and ``cav V`` (two states), the
best-response cells (three states) -- or ``{"error": "<field>: <problem>"}`` with status
400. The body is read as a game file is (:func:`persuasion.game_json.parse_game_json`,
then :func:`persuasion.game.game_from_dict`), so a bad field gets the one-line error of
``persuasion solve``; bodies over :data:`MAX_BODY_BYTES` get 413, a body that is not
``application/json`` 415, games beyond :data:`persuasion.explore.LIMITS` 400.

The page is ``explore_page.html`` beside this module (package data): one self-contained HTML
file with its style sheet and script inline, so the explorer works offline, with no build
step and nothing fetched from elsewhere.

The server is the standard library's :class:`http.server.ThreadingHTTPServer`; it binds
loopback only unless ``--allow-remote`` is given (it has no authentication). The first
line on standard output is ``serving on http://HOST:PORT/`` (flushed, so that a test or
script can read the port of ``--port 0``); Ctrl-C stops it cleanly (exit 0).
"""

from __future__ import annotations

import html
import json
import signal
import socket
import sys
import threading
import webbrowser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources

from persuasion.errors import GameValidationError, PersuasionError, printable
from persuasion.explore import explore_view, view_from_json
from persuasion.game import load_game
from persuasion.games import load_builtin
from persuasion.net import is_loopback_host

__all__ = ["add_explore_command", "explore_command", "make_server", "page_html",
           "MAX_BODY_BYTES", "DEFAULT_PORT"]

#: Largest request body accepted by ``POST /api/view`` (a teaching game is a few hundred bytes).
MAX_BODY_BYTES = 64 * 1024
#: Port of ``persuasion explore`` when ``--port`` is not given.
DEFAULT_PORT = 8765
#: Headers of every reply: nothing is loaded from elsewhere, nothing is sniffed.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
                               "style-src 'unsafe-inline'; connect-src 'self'; img-src data:; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def add_explore_command(sub) -> None:
    """Add ``explore`` to ``persuasion``'s subparsers."""
    p = sub.add_parser(
        "explore", help="an interactive explorer in the browser: move the prior, edit the "
                        "game, watch the exact optimum",
        description="Serve a local web page on which a teacher moves the prior (a slider for "
                    "two states, a point on the triangle for three) or edits a utility and "
                    "sees V, cav V, the best-response cells, the optimal scheme as a flow and "
                    "the sender's value against full revelation and no information, from the "
                    "exact solvers. Serves until Ctrl-C.")
    p.add_argument("game", nargs="?", default=None,
                   help="the game's JSON file (default: the bundled prosecutor game)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1; loopback only unless "
                        "--allow-remote)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0 = any free port)")
    p.add_argument("--open", dest="open_browser", action="store_true",
                   help="open the page in the default web browser")
    p.add_argument("--no-open", dest="open_browser", action="store_false",
                   help="do not open a browser (the default): print the address only")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow a non-loopback --host (no authentication: trusted networks only)")
    p.set_defaults(func=explore_command, open_browser=False)


def _check_host(host, allow_remote: bool) -> str:
    """The address to bind for ``host``; refuses a non-loopback one unless ``allow_remote``."""
    if not isinstance(host, str) or not host.strip():
        raise GameValidationError("--host", f"expected an interface address, got {host!r}")
    if not is_loopback_host(host) and not allow_remote:
        raise GameValidationError(
            "--host", f"{host!r} is not a loopback address; the explorer has no "
                      f"authentication, pass --allow-remote to serve it on other interfaces")
    return "127.0.0.1" if host == "localhost" else host


def _embed_json(obj) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``<``, ``>`` or ``&``)."""
    return (json.dumps(obj).replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026"))


def page_html(game) -> str:
    """The explorer's page for ``game`` (one HTML document, style and script inline).

    The game is embedded as JSON in ``<script type="application/json" id="initial-game">``;
    the page posts it (and every edit of it) to ``/api/view`` and draws the answer.
    """
    page = resources.files(__package__).joinpath("explore_page.html").read_text(encoding="utf-8")
    # the title last: a game named "__GAME__" must not receive the JSON
    return (page.replace("__GAME__", _embed_json(game.to_dict(exact=True)))
            .replace("__TITLE__", html.escape(game.name)))


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address, game, *, loopback_only: bool = True):
        self.page = page_html(game).encode("utf-8")
        # bound to loopback: answer only requests addressed to loopback by name (a page whose
        # domain was rebound to 127.0.0.1 sends its own name as Host, and is refused)
        self.loopback_only = loopback_only
        self.solve_lock = threading.Lock()  # one solve at a time: a teaching tool
        super().__init__(address, _Handler)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "persuasion-explore"
    protocol_version = "HTTP/1.0"
    timeout = 30  # seconds a client may take to send its request

    def log_message(self, format, *args) -> None:  # noqa: A002 - stdlib signature
        pass  # quiet: a page that solves on every slider move would flood the terminal

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in _SECURITY_HEADERS.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status: int, payload) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": printable(" ".join(str(message).split()), limit=2000)})

    def _path(self) -> str:
        return self.path.split("?", 1)[0]

    def _host_refused(self) -> bool:
        """Answer 403 to a request whose Host is not a loopback name (DNS rebinding)."""
        if not self.server.loopback_only:
            return False
        host = (self.headers.get("Host") or "").strip().lower()
        port = str(self.server.server_address[1])
        name = host[:-(len(port) + 1)] if host.endswith(":" + port) else host
        if name in ("127.0.0.1", "localhost", "[::1]") or (
                name.startswith("127.") and is_loopback_host(name)):
            return False
        self._error(403, f"Host: {printable(host, limit=100)!r} is not this loopback server's "
                         f"address (open http://127.0.0.1:{port}/)")
        return True

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        if self._host_refused():
            return
        if self._path() in ("/", "/index.html"):
            self._send(200, self.server.page, "text/html; charset=utf-8")
        else:
            self._error(404, f"path: no page {printable(self._path(), limit=100)!r} "
                             f"(the explorer serves / and POST /api/view)")

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        if self._host_refused():
            return
        if self._path() != "/api/view":
            self._error(404, f"path: POST goes to /api/view, not "
                             f"{printable(self._path(), limit=100)!r}")
            return
        try:
            text = self._read_body()
        except _RequestError as exc:
            self._error(exc.status, str(exc))
            return
        try:
            with self.server.solve_lock:
                view = view_from_json(text)
        except PersuasionError as exc:  # invalid game, or beyond the explorer's limits
            self._error(400, str(exc))
            return
        except Exception as exc:  # a bug: one line, never a traceback to the visitor
            print(f"persuasion explore: internal error ({type(exc).__name__}: "
                  f"{printable(exc)})", file=sys.stderr)
            self._error(500, f"internal error ({type(exc).__name__}); please report it")
            return
        self._json(200, view)

    def _read_body(self) -> str:
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";", 1)[0].strip().lower() != "application/json":
            raise _RequestError(415, f"Content-Type: expected application/json, got "
                                     f"{printable(ctype, limit=80)!r}")
        length = self.headers.get("Content-Length")
        if length is None:
            raise _RequestError(411, "Content-Length: missing (the body's size is required)")
        try:
            n = int(length)
        except ValueError:
            raise _RequestError(400, f"Content-Length: not an integer: "
                                     f"{printable(length, limit=40)!r}") from None
        if n < 0:
            raise _RequestError(400, f"Content-Length: negative ({n})")
        if n > MAX_BODY_BYTES:
            self._drain(n)
            raise _RequestError(413, f"request body: {n} bytes; the explorer accepts at most "
                                     f"{MAX_BODY_BYTES} (a teaching game is far smaller)")
        raw = self.rfile.read(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _RequestError(400, f"game: the body is not UTF-8 text (byte {exc.start})") \
                from None

    def _drain(self, n: int) -> None:
        """Read (and drop) a refused body of moderate size, so that the client, still
        sending, reads the 413 instead of a reset connection."""
        left = min(n, 16 * MAX_BODY_BYTES)
        try:
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except OSError:
            pass


def make_server(game, host: str = "127.0.0.1", port: int = 0, *,
                allow_remote: bool = False) -> ThreadingHTTPServer:
    """A server for the explorer of ``game``, bound but not yet serving.

    Parameters
    ----------
    game : Game or ReceiverTypesGame
        The game the page starts from.
    host : str
        Interface to bind; loopback (``127.0.0.1``, ``::1``, ``localhost``) unless
        ``allow_remote``.
    port : int
        0 picks a free port (``server.server_address[1]``).
    allow_remote : bool
        Allow a non-loopback interface (the server has no authentication).

    Raises
    ------
    GameValidationError
        ``--host`` not loopback without ``allow_remote``, ``--port`` out of range or in use.
    """
    bind = _check_host(host, allow_remote)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise GameValidationError("--port", f"expected an integer in [0, 65535], got {port!r}")
    cls = _Server6 if ":" in bind else _Server
    try:
        return cls((bind, port), game, loopback_only=not allow_remote)
    except OSError as exc:
        raise GameValidationError("--port", f"cannot bind {bind}:{port}: "
                                            f"{exc.strerror or exc}") from None


def _url(server) -> str:
    host, port = server.server_address[:2]
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}/"


def explore_command(args) -> int:
    """Run ``persuasion explore``: check the game (invalid or too large: one line, exit 2),
    serve the page until Ctrl-C; returns 0."""
    game = load_game(args.game) if args.game is not None else load_builtin("prosecutor")
    bind = _check_host(args.host, args.allow_remote)  # before any work
    explore_view(game)  # refuses a game beyond the explorer's limits before serving
    server = make_server(game, bind, args.port, allow_remote=args.allow_remote)
    # Ctrl-C and SIGTERM stop it even where the shell started it with SIGINT ignored (a job
    # in the background of a script, nohup); set before the address is printed, since a
    # script may signal as soon as it reads it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        url = _url(server)
        print(f"serving on {url}", flush=True)
        print(f"persuasion explore: {game.name!r} at {url} (Ctrl-C to stop)", file=sys.stderr)
        if args.open_browser:
            webbrowser.open(url)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("persuasion explore: stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0
