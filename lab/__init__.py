"""Socket Lab's core: real TCP and UDP sockets in threads, publishing events. Never imports flask."""

from .core import Lab
from .sockets.endpoint import Limits
from .errors import BadInput, Forbidden, LabError, NotFound, Refused, TooLarge
from .events.bus import Event, EventBus

__all__ = ["Lab", "Limits", "Event", "EventBus", "LabError", "BadInput", "NotFound", "Refused", "TooLarge", "Forbidden"]
