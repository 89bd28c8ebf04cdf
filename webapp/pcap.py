"""GET /api/capture.pcap, bounded: at most PCAP_AT_ONCE pcap files are built or being sent at once.

A full capture ring makes a pcap of about 5 MB, and building it costs about four times that for a
moment (the frames joined, their base64 to cross Redis like any answer, the decoded copy): 50 requests
at once grew the dashboard by 480 MiB in werkzeug's server, 133 MiB under gunicorn (measured; 35 MiB
with the slots). A slot is taken before the build and given back when the bytes are closed, so the
memory is a few pcaps whatever the number of requests; the others wait their turn, up to PCAP_WAIT_S,
then get a sentence (409 pcap-busy). A peer that never reads holds its slot until the server gives up
on it: the pcap then waits for everyone, which is the price of the bound.
"""

from __future__ import annotations

import base64
import io
import threading
import weakref
from typing import Any, Callable

from flask import Response, send_file

from lab import Refused

PCAP_AT_ONCE = 2
PCAP_WAIT_S = 30.0
_slots = threading.BoundedSemaphore(PCAP_AT_ONCE)  # per process: the memory it guards is the process's


class _SlotFile(io.BytesIO):
    """The pcap's bytes, holding a slot until they are closed (the server does, once they are sent or the
    peer left) or freed, whichever comes first: the slot stands for this memory. (Not
    Response.call_on_close: send_file hands the server a file wrapper, which never calls it.)"""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self._release = weakref.finalize(self, _slots.release)  # runs at most once

    def close(self) -> None:
        self._release()
        super().close()


def pcap_response(build: Callable[[], dict[str, Any]]) -> Response:
    """The pcap `build()` returns ({"name", "data_b64"}, a lab command's answer) as an attachment."""
    if not _slots.acquire(timeout=PCAP_WAIT_S):
        raise Refused("pcap-busy", n=PCAP_AT_ONCE, seconds=round(PCAP_WAIT_S))
    try:
        answer = build()
        data = _SlotFile(base64.b64decode(answer.pop("data_b64")))
    except BaseException:
        _slots.release()
        raise
    return send_file(data, mimetype="application/vnd.tcpdump.pcap", as_attachment=True, download_name=answer["name"])
