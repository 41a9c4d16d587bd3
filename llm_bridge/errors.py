"""Exceptions of the LLM bridge: every message names the field or resource and the problem."""


class BridgeError(Exception):
    """Base class of all LLM-bridge errors."""


class ConfigError(BridgeError, ValueError):
    """Invalid configuration or input (a task name, a model name, a count, a file)."""


class ReceiverError(BridgeError, RuntimeError):
    """A receiver (local model or API) failed to answer after its retries."""


class SandboxError(BridgeError, RuntimeError):
    """The sandbox itself could not run (not: the sandboxed code failed)."""
