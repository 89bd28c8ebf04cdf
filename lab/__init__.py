"""Socket Lab's core: real TCP and UDP sockets in threads, publishing events. Never imports flask."""

from .core import Lab
from .endpoint import Limits
from .errors import BadInput, Forbidden, LabError, NotFound, Refused, TooLarge
from .events import Event, EventBus

# Loaded now, not at a server's first connection (servermodes imports them inside its methods to
# break an import cycle): a first import opens files, and a lab out of file descriptors (EMFILE)
# must still be able to serve the connections it already has.
from . import httpproto, modes  # noqa: E402, F401  (isort: skip)

__all__ = ["Lab", "Limits", "Event", "EventBus", "LabError", "BadInput", "NotFound", "Refused", "TooLarge", "Forbidden"]
