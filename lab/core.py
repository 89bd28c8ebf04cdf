"""The Lab: every endpoint and download, created from checked specs, closed on shutdown."""

from __future__ import annotations

import itertools
import os
import threading
from collections import OrderedDict
from pathlib import Path
from types import TracebackType
from typing import Any

from .sockets.download import Download
from .sockets.endpoint import Context, Endpoint, Limits
from .errors import BadInput, NotFound, Refused, TooLarge
from .events.bus import EventBus
from .files import FileStore
from .wire.link import Link
from .policy import Policy
from .spec import parse_download, parse_endpoint, parse_send
from .sockets.tcp import TcpClient, TcpServer
from .sockets.udp import UdpClient, UdpServer
from .wire.capture import SNAPLEN, Capture, why_not as capture_why_not
from .wire.directory import Directory, Expected
from .wire.pcap import pcap_bytes

KEEP_DOWNLOADS = 200


class Lab:
    def __init__(self, files_dir: str | os.PathLike[str], downloads_dir: str | os.PathLike[str],
                 limits: Limits | None = None, bus: EventBus | None = None, allow: str = "", bind: str = "",
                 id_suffix: str = "", capture: bool = False, lesson_host: str = "127.0.0.1",
                 why_no_capture: str = "capture-off") -> None:
        """`allow` and `bind` widen the loopback-only target and bind policies (SOCKETLAB_ALLOW/BIND syntax).
        `lesson_host`: where the lessons' servers listen ("0.0.0.0" for a class: students' own programs
        on other machines reach them; `bind` must allow it). `why_no_capture`: the code (lab/messages.py)
        of why a lab that does not capture shows no packets.
        `id_suffix` ("@pc1" for a lab agent) makes its ids unique among the labs of one dashboard.
        `capture`: record the lab's own packets (lab/wire/) when this process may (a sandbox, or root);
        off by default, so a lab that did not ask pays nothing and its events are only its calls."""
        self.id_suffix = id_suffix
        self.lesson_host = lesson_host
        limits = limits or Limits()
        self.ctx = Context(bus or EventBus(max_per_second=limits.events_per_second), FileStore(files_dir), limits,
                           Policy.from_text(allow, "SOCKETLAB_ALLOW", "reach"),
                           Policy.from_text(bind, "SOCKETLAB_BIND", "bind"))
        self.downloads_dir = Path(downloads_dir).resolve()
        self.downloads_dir.mkdir(parents=True, exist_ok=True)
        self.endpoints: dict[str, Endpoint] = {}
        self.downloads: OrderedDict[str, Download] = OrderedDict()
        self._ids = itertools.count(1)
        self._download_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._creating = 0  # endpoints being made: their slots count against the limit already
        self._starting = 0  # downloads connecting
        self.link = Link()  # real loss and rate for specs with "link" (nft + tc in this lab's namespace)
        self.capture: Capture | None = None
        self._capture_why: str | None = capture_why_not() if capture else why_no_capture
        if self._capture_why is None:
            try:
                self.capture = Capture(self.bus, self._directory)
            except OSError:  # e.g. no loopback to bind in this namespace
                self._capture_why = "capture-unsupported"

    @property
    def bus(self) -> EventBus:
        return self.ctx.bus

    @property
    def files(self) -> FileStore:
        return self.ctx.files

    # -- endpoints ------------------------------------------------------------------------------

    def create(self, body: Any) -> Endpoint:
        spec = parse_endpoint(body)
        if spec.link is not None:  # before any socket: a lab that cannot impair says why (a 400 sentence)
            self.link.check(spec.link)
        with self._lock:  # the slot is taken under the lock: parallel creates cannot overshoot the limit
            taken = len(self.endpoints) + self._creating
            if taken >= self.ctx.limits.endpoints:
                raise TooLarge("too-many-endpoints", count=taken)
            self._creating += 1
            ep_id = f"e{next(self._ids)}{self.id_suffix}"
        if self.capture is not None and spec.kind.endswith("client"):  # its SYN leaves before it is an endpoint
            self.capture.expect(ep_id, spec.kind[:3], spec.port)
        classes: dict[str, type[Endpoint]] = {"tcp-server": TcpServer, "tcp-client": TcpClient,
                                              "udp-server": UdpServer, "udp-client": UdpClient}
        try:
            endpoint = classes[spec.kind](self.ctx, ep_id, spec)
        finally:
            with self._lock:
                self._creating -= 1
        if spec.link is not None:
            self._apply_link(endpoint)
        with self._lock:
            self.endpoints[ep_id] = endpoint
        if self.capture is not None:
            self.capture.refresh()  # its port joins the filter before anyone can use it
        endpoint.publish_state()
        endpoint.start()
        return endpoint

    def _apply_link(self, endpoint: Endpoint) -> None:
        """The endpoint's link rules on its own port (a TCP client's too: the port the OS gave it at
        connect; a UDP client has none before its first sendto(), so its target's port is used).
        An endpoint whose rules failed is closed, never left running without the loss it asked for."""
        address = endpoint.local or endpoint.remote
        assert endpoint.spec.link is not None and address is not None  # bound, connected, or a target
        try:
            self.link.apply(endpoint.id, endpoint.kind[:3], address[1], endpoint.spec.link)
        except Exception:
            self.link.remove(endpoint.id)
            endpoint.close()
            raise

    def endpoint(self, ep_id: str) -> Endpoint:
        with self._lock:
            endpoint = self.endpoints.get(ep_id)
        if endpoint is None:
            raise NotFound("no-such-endpoint", endpoint=ep_id)
        return endpoint

    def remove(self, ep_id: str) -> None:
        endpoint = self.endpoint(ep_id)
        endpoint.close()
        self.link.remove(ep_id)
        with self._lock:
            self.endpoints.pop(ep_id, None)
        if self.capture is not None:
            self.capture.refresh()
        endpoint.publish_state(removed=True)

    def send(self, ep_id: str, body: Any) -> dict[str, int]:
        """Send once, or `repeat` times: back to back (interval 0, the sticky-packet demo) or
        every `interval_ms` in the background. `numbered` prefixes each copy with #1, #2, ..."""
        endpoint = self.endpoint(ep_id)
        request = parse_send(body, self.ctx.limits.send_bytes)
        # Made one at a time as they are sent: a repeat of N never holds N copies of the data.
        payloads = (f"#{i} ".encode() + request.data if request.numbered else request.data
                    for i in range(1, request.repeat + 1))
        if request.interval_ms == 0:
            sent = sum(endpoint.send(data, request.conn, request.to) for data in payloads)
            return {"sent": sent} if request.repeat == 1 else {"sent": sent, "calls": request.repeat}
        limits = self.ctx.limits  # at the cap, refuse before anything is sent
        self.ctx.scheduler.check_room(endpoint.id, per_owner=limits.periodic_per_endpoint, total=limits.periodic_total)
        sent = endpoint.send(next(payloads), request.conn, request.to)  # the first at once, so errors show
        endpoint.repeat(payloads, request.repeat - 1, request.interval_ms / 1000, request.conn, request.to)
        return {"sent": sent, "calls": 1, "scheduled": request.repeat - 1}

    def stop_listening(self, ep_id: str) -> Endpoint:
        endpoint = self.endpoint(ep_id)
        if not isinstance(endpoint, TcpServer):
            raise BadInput("not-a-tcp-server-listening", endpoint=ep_id, kind=endpoint.kind)
        endpoint.stop_listening()
        return endpoint

    def close_connection(self, ep_id: str, conn_id: str) -> None:
        endpoint = self.endpoint(ep_id)
        if not isinstance(endpoint, TcpServer):
            raise BadInput("not-a-tcp-server-connections", endpoint=ep_id, kind=endpoint.kind)
        endpoint.connection(conn_id).close("dashboard")

    # -- downloads ------------------------------------------------------------------------------

    def start_download(self, body: Any) -> Download:
        request = parse_download(body)
        self._make_room_on_disk()
        with self._lock:
            running = sum(1 for d in self.downloads.values() if d.state == "running") + self._starting
            if running >= self.ctx.limits.downloads_at_once:
                raise TooLarge("too-many-downloads", count=running)
            self._starting += 1
            dl_id = f"d{next(self._download_ids)}{self.id_suffix}"
        if self.capture is not None:
            self.capture.expect(dl_id, "tcp", request.port)
        try:
            download = Download(self.ctx, dl_id, self.downloads_dir, request.host, request.port,
                                request.file, request.protocol, self._room_on_disk)
        finally:
            with self._lock:
                self._starting -= 1
        with self._lock:
            self.downloads[dl_id] = download
            evicted = []
            while len(self.downloads) > KEEP_DOWNLOADS:
                evicted.append(self.downloads.popitem(last=False)[1])
        download.publish_state()  # (a snapshot of now: a download that already finished says so)
        for old in evicted:  # a download the list forgets takes its file with it
            old.cancel()
            old.forget_file()
            old.publish_state(removed=True)
        return download

    def _saved_bytes(self) -> int:
        with self._lock:
            downloads = list(self.downloads.values())
        return sum(d.bytes for d in downloads if d.path is not None or d.state == "running")

    def _room_on_disk(self) -> int:
        """Bytes a running download may still add to the downloads folder (SOCKETLAB_MAX_DOWNLOADS_BYTES)."""
        return max(0, self.ctx.limits.downloads_bytes - self._saved_bytes())

    def _make_room_on_disk(self) -> None:
        """Forget the oldest finished downloads (and their files) while the folder is at its limit."""
        while self._saved_bytes() >= self.ctx.limits.downloads_bytes:
            with self._lock:
                oldest = next((d for d in self.downloads.values() if d.state != "running"), None)
                if oldest is None:
                    raise TooLarge("downloads-folder-full", limit=self.ctx.limits.downloads_bytes)
                self.downloads.pop(oldest.id, None)
            oldest.forget_file()
            oldest.publish_state(removed=True)

    def download(self, dl_id: str) -> Download:
        with self._lock:
            download = self.downloads.get(dl_id)
        if download is None:
            raise NotFound("no-such-download", download=dl_id)
        return download

    def remove_download(self, dl_id: str) -> None:
        """Forget a download: stop it if it runs, and delete its saved file."""
        download = self.download(dl_id)
        download.cancel()
        with self._lock:
            self.downloads.pop(dl_id, None)
        download.forget_file()
        download.publish_state(removed=True)

    def download_path(self, dl_id: str) -> Path:
        download = self.download(dl_id)
        if download.state != "done" or download.path is None:
            raise Refused("download-not-saved", download=dl_id, state=download.state)
        if not download.path.exists():
            raise NotFound("download-file-gone", download=dl_id)
        return download.path

    def clear(self) -> int:
        """A fresh start for a new stage: remove every endpoint (each says so in its events) and stop
        the downloads still running (finished ones and their files stay). Returns how many endpoints closed."""
        with self._lock:
            ids = list(self.endpoints)
            running = [d for d in self.downloads.values() if d.state == "running"]
        closed = 0
        for ep_id in ids:
            try:
                self.remove(ep_id)
                closed += 1
            except NotFound:
                pass  # removed meanwhile by someone else: closed all the same
        for download in running:
            download.cancel()
        return closed

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop every endpoint and download; afterwards no lab thread or socket is left."""
        with self._lock:
            endpoints = list(self.endpoints.values())
            downloads = list(self.downloads.values())
            self.endpoints.clear()
        for endpoint in endpoints:
            endpoint.close()
        self.link.close()
        if self.capture is not None:
            self.capture.close()
        for download in downloads:
            download.cancel()
        self.ctx.scheduler.close()
        self.bus.wake()

    # -- the wire (lab/wire/) -------------------------------------------------------------------

    def _directory(self, expected: list[Expected]) -> Directory:
        """The lab's sockets now, for the capture to tell whose a packet is (called by the capture:
        never call the capture while holding self._lock)."""
        with self._lock:
            endpoints, downloads = list(self.endpoints.values()), list(self.downloads.values())
        return Directory(endpoints, downloads, expected)

    def wire_status(self) -> dict[str, Any]:
        """What this lab can do on the wire, each with the code of why not (CONTRACT "The wire")."""
        impair = self.link.why_not()
        why = self._capture_why
        if self.capture is not None and self.capture.stopped is not None:
            why = "capture-stopped"
        return {"capture": why is None, "impair_tcp": impair is None,
                "why_not": {"capture": why, "impair_tcp": impair}}

    def capture_pcap(self, endpoint: str | None = None) -> bytes:
        """The captured frames (of one endpoint, when named) as a pcap file."""
        if self.capture is None:
            raise Refused(self._capture_why or "capture-off")
        frames = self.capture.ring.frames(endpoint)
        if endpoint is not None and not frames and endpoint not in self.endpoints:
            self.endpoint(endpoint)  # NotFound, with its sentence (a removed endpoint's frames stay)
        return pcap_bytes(frames, SNAPLEN)
