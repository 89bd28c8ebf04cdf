"""The wire: the lab's own packets, captured, parsed, analysed and exported (CONTRACT "The wire").

Pure parts (frames, analysis, bpf, directory, pcap) hold no socket; capture.py is the one thread.
"""

from .capture import Capture, why_not
from .directory import Directory, Expected

__all__ = ["Capture", "Directory", "Expected", "why_not"]
