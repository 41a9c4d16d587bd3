"""Where an API receiver talks to: ``openai:MODEL[@URL]`` specs, loopback URLs, and the quick
reachability check a command runs before it loads any model."""

from __future__ import annotations

import ipaddress
import os
import socket
import urllib.request
from urllib.parse import urlparse, urlunparse

from ..errors import ConfigError, ReceiverError

__all__ = ["DEFAULT_OPENAI_BASE_URL", "is_loopback_url", "public_url", "check_reachable",
           "split_openai_spec", "openai_base_url"]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"


def is_loopback_url(url: str | None) -> bool:
    """Whether ``url`` points at this machine (``localhost``, 127.0.0.0/8 or ``::1``).

    >>> is_loopback_url("http://127.0.0.2:1/v1"), is_loopback_url("https://api.openai.com/v1")
    (True, False)
    """
    if not url:
        return False
    host = urlparse(url).hostname
    if host is None:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def public_url(url: str) -> str:
    """``url`` without its user-info part.

    >>> public_url("https://user:secret@host/v1")
    'https://host/v1'
    """
    parts = urlparse(url)
    if "@" not in parts.netloc:
        return url
    return urlunparse(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def check_reachable(base_url: str, *, field: str = "receiver", timeout: float = 5.0) -> None:
    """Check that something listens at the host and port of ``base_url``: one TCP connection.

    It is what a command does before it loads any model when a Receiver is an API, so that a
    wrong or dead endpoint is reported in seconds rather than after the client's retries
    (minutes). No HTTP request is sent and no key is used. When a proxy from the environment
    (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``, minus ``NO_PROXY``) applies to the URL, the
    client goes through it and nothing is checked here.

    Parameters
    ----------
    base_url : str
        API root, e.g. ``"http://127.0.0.1:8000/v1"`` (port default: 80 for http, 443 for https).
    field : str
        The option or field that named the endpoint (``"--receiver"``), for the message.
    timeout : float
        Seconds to wait for the connection.

    Raises
    ------
    ConfigError
        ``base_url`` is not an http(s) URL with a host and a valid port.
    ReceiverError
        Nothing answered: the message names ``field`` and the URL (without any user-info part)
        and the reason (connection refused, unknown host, timed out), in one line.
    """
    parts = urlparse(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{field}: expected an http(s) URL such as 'http://127.0.0.1:8000/v1', "
                          f"got {base_url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise ConfigError(f"{field}: the URL {public_url(base_url)!r} has an invalid port") from None
    proxies = urllib.request.getproxies()
    if (proxies.get(parts.scheme) or proxies.get("all")) and not urllib.request.proxy_bypass(parts.hostname):
        return
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except socket.timeout:
        reason = f"no answer within {timeout:g} s"
    except socket.gaierror as exc:
        reason = f"unknown host {parts.hostname!r}: {str(exc.strerror or exc).lower()}"
    except OSError as exc:
        reason = (exc.strerror or type(exc).__name__).lower()
    else:
        return
    raise ReceiverError(f"{field}: cannot reach the API at {public_url(base_url)} ({reason}); "
                        "is the server running and the URL right?")


def split_openai_spec(spec: str, base_url: str | None = None) -> tuple[str, str | None]:
    """``(model, base_url)`` of ``"openai:MODEL[@URL]"``; ``base_url`` when the spec has no URL.

    >>> split_openai_spec("openai:org/model@v2@http://localhost:1/v1")
    ('org/model@v2', 'http://localhost:1/v1')
    """
    rest = spec[len("openai:"):]
    model = rest
    at = rest.rfind("@")
    if at >= 0 and rest[at + 1:].startswith(("http://", "https://")):
        model, base_url = rest[:at], rest[at + 1:]
    if not model:
        raise ConfigError(f"receiver: no model id in {spec!r} (expected 'openai:MODEL[@URL]')")
    return model, base_url


def openai_base_url(spec: str) -> str | None:
    """The API root that :func:`~llm_bridge.receivers.make_receiver` would talk to for ``spec``;
    None for a local model.

    Examples
    --------
    >>> openai_base_url("openai:m@http://127.0.0.1:9/v1")
    'http://127.0.0.1:9/v1'
    >>> openai_base_url("smollm2-135m") is None
    True
    """
    if not isinstance(spec, str) or not spec.strip().startswith("openai:"):
        return None
    _, base_url = split_openai_spec(spec.strip())
    return base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_OPENAI_BASE_URL
