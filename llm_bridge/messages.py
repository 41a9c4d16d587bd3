"""OpenAI-style conversations (``[{"role": ..., "content": ...}, ...]``): the roles and the one
checker used by the prompt renderer (:func:`llm_bridge.generation.chat_prompt`) and by every
receiver (:mod:`llm_bridge.receivers`)."""

from __future__ import annotations

from typing import Any, Sequence

from .errors import ConfigError

__all__ = ["ROLES", "validate_conversation", "validate_conversations"]

ROLES = ("system", "user", "assistant")


def validate_conversation(messages: Any, where: str = "conversation") -> list[dict]:
    """Check one OpenAI-style conversation and return it as a list of ``{role, content}``.

    Raises
    ------
    ConfigError
        Naming the message and the field that is wrong (``where`` prefixes the name).

    Examples
    --------
    >>> validate_conversation([{"role": "user", "content": "x", "name": "n"}])
    [{'role': 'user', 'content': 'x'}]
    >>> validate_conversation([{"role": "robot", "content": "x"}], "messages")
    Traceback (most recent call last):
    ...
    llm_bridge.errors.ConfigError: messages[0].role: expected one of system, user, assistant, got 'robot'
    """
    if not isinstance(messages, (list, tuple)):
        raise ConfigError(f"{where}: expected a list of messages, got {type(messages).__name__}")
    if not messages:
        raise ConfigError(f"{where}: the conversation has no messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise ConfigError(f"{where}[{i}]: expected a dict with 'role' and 'content', "
                              f"got {type(m).__name__}")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise ConfigError(f"{where}[{i}].role: expected one of {', '.join(ROLES)}, got {role!r}")
        if not isinstance(content, str):
            raise ConfigError(f"{where}[{i}].content: expected a string, "
                              f"got {type(content).__name__}")
        out.append({"role": role, "content": content})
    return out


def validate_conversations(conversations: Sequence[list[dict]]) -> list[list[dict]]:
    """:func:`validate_conversation` of each; errors name ``conversations[i][j]``."""
    if isinstance(conversations, (str, bytes)) or not isinstance(conversations, Sequence):
        raise ConfigError("conversations: expected a sequence of conversations (lists of messages)")
    return [validate_conversation(c, f"conversations[{i}]") for i, c in enumerate(conversations)]
