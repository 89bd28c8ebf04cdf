"""A download: a lab TCP client that asks for a file (or not) and saves what arrives.

The bytes go to a temporary name in the downloads folder and take their final name only once
complete and, for `framed`, verified against the announced size and SHA-256. The final name is
claimed with link(), which never overwrites, so two downloads of one file never clobber.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import queue
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from ..protocols import download as proto
from .endpoint import Context, address, crash_params, crash_sentence, errno_name, exc_code, join, spawn, timeval
from ..errors import LabError, Refused, os_problem, where
from ..events.bus import Address

BUFFER_SIZE = 1 << 20
RECV_TIMEOUT = 60.0  # seconds a download waits for the next bytes before it gives up
PROGRESS_INTERVAL = 0.05  # at most ~20 progress events a second per transfer
_UNSAFE = re.compile(r"[^\w.\-]+")


@contextlib.contextmanager
def _abandon_on_error(hasher: "Hasher") -> Iterator[None]:
    try:
        yield
    except BaseException:
        hasher.abandon()
        raise


def safe_name(name: str) -> str:
    cleaned = _UNSAFE.sub("_", name).lstrip(".")[:120]
    return cleaned or "download"


def claim(folder: Path, tmp: Path, name: str) -> Path:
    """Give `tmp` the name `name` (or name-1, name-2, ...) without ever replacing a file."""
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    for n in range(10_000):
        candidate = name if n == 0 else f"{stem}-{n}{'.' if dot else ''}{suffix}"
        try:
            os.link(tmp, folder / candidate)
        except FileExistsError:
            continue
        tmp.unlink()
        return folder / candidate
    raise OSError("no free name left for the download")


class Hasher:
    """SHA-256 in its own thread, so hashing overlaps receiving and writing instead of adding to
    them (hashlib releases the GIL on large buffers). The queue is bounded: memory stays small."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=32)
        self._thread = spawn("sha256", self._run)

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._digest.update(chunk)

    def update(self, data: memoryview) -> None:
        self._queue.put(bytes(data))  # a copy: the receive buffer is reused at once

    def hexdigest(self) -> str:
        self._queue.put(None)
        join(self._thread, timeout=600)
        return self._digest.hexdigest()

    def abandon(self) -> None:
        while True:  # make room for the stop mark even when the queue is full
            try:
                self._queue.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
        join(self._thread)


class Download:
    kind = "download"

    def __init__(self, ctx: Context, dl_id: str, folder: Path, host: str, port: int,
                 file: str | None, protocol: str, room: Callable[[], int] | None = None) -> None:
        """`room()` says how many more bytes the downloads folder may take (checked as bytes arrive)."""
        self.ctx = ctx
        self.id = dl_id
        self.folder = folder
        self.file = file
        self.protocol = protocol
        self.host, self.port = host, port
        self.state = "running"
        self.bytes = 0
        self.size: int | None = None
        self.expected_sha256: str | None = None
        self.sha256: str | None = None
        self.verified: bool | None = None
        self.error: str | None = None
        self.path: Path | None = None
        self.started = time.time()
        self.finished: float | None = None
        self.local: Address | None = None
        self.peer: Address | None = None
        self._cancelled = False
        self._sock: socket.socket | None = None
        self._room = room
        family, self.peer = ctx.targets.check(host, port, socket.SOCK_STREAM)
        # Connect before answering, so "connection refused" reaches the user as an error at once.
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(10)
        try:
            sock.connect(self.peer)
        except OSError as exc:
            sock.close()
            problem = os_problem(exc, "download from", host, port)
            self.publish("error", detail=problem.sentence, call="connect", errno=errno_name(exc), code=problem.code,
                         params=problem.params)
            raise Refused.of(problem) from None
        # A server that sends nothing for a minute is considered gone. SO_RCVTIMEO, not settimeout():
        # the socket stays blocking, so each recv_into() is one system call, as in a plain copy
        # (settimeout polls before every recv; measured 0.5-0.6x of the plain copy with it).
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(RECV_TIMEOUT))
        self._sock = sock
        self.local = address(sock.getsockname())
        self._thread: threading.Thread | None = spawn(f"download-{dl_id}", self._run, self._crashed)

    def publish(self, kind: str, **fields: Any) -> None:
        self.ctx.bus.publish(self.id, kind, proto="tcp", local=self.local, peer=self.peer, **fields)

    def _run(self) -> None:
        tmp = self.folder / f".{self.id}.part"
        failure: tuple[str, str | None, dict[str, Any] | None, str | None] | None = None
        try:
            self._transfer(tmp)
        except LabError as exc:
            failure = (str(exc), exc_code(exc), getattr(exc, "params", None), None)
        except OSError as exc:
            if isinstance(exc, BlockingIOError):  # SO_RCVTIMEO ran out: nothing came for RECV_TIMEOUT
                exc = TimeoutError(errno.ETIMEDOUT, os.strerror(errno.ETIMEDOUT))
            if self._cancelled:
                failure = ("the download was cancelled", "download-cancelled", {}, None)
            else:
                problem = os_problem(exc, "download from", self.host, self.port)
                failure = (problem.sentence, problem.code, problem.params, errno_name(exc))
        finally:
            if self._sock is not None:
                self._sock.close()
            with contextlib.suppress(OSError):  # (e.g. a folder in the way: the failure says why)
                tmp.unlink(missing_ok=True)
        # Said only once the partial file is gone: whoever sees "failed" finds nothing left behind.
        if failure is not None:
            self._finish("failed", *failure)

    def _transfer(self, tmp: Path) -> None:  # noqa: PLR0912 (the receive loop stays in one piece: it is the hot path)
        sock = self._sock
        assert sock is not None and self.peer is not None
        self.publish("connect", detail=f"connect({where(*self.peer)}) succeeded; downloading with protocol {self.protocol}",
                     call="connect", args={"address": list(self.peer), "download": True, "protocol": self.protocol})
        if self.file is not None:
            request = proto.encode_request(self.file)
            sock.sendall(request)
            self.publish("send", size=len(request), payload=request, detail=f"sendall() sent the request line for '{self.file}'",
                         call="sendall", args={"bytes": len(request), "request": True, "file": self.file}, result=len(request))
        if self.protocol == "raw":
            self._receive_raw(tmp)
            return
        receiver = proto.DownloadReceiver(framed=True)
        buf = bytearray(BUFFER_SIZE)
        view = memoryview(buf)
        last_progress, reported = time.monotonic(), 0
        limit = self.ctx.limits.file_bytes
        room = self._room() if self._room is not None else limit
        by_folder = room < limit  # which limit a too-large file meets: the lab's, or the folder's room
        if by_folder:
            limit = room
        # the hasher thread starts only once the file is open, and stops with any error after that
        with open(tmp, "wb") as out, _abandon_on_error(digest := Hasher()):
            while not receiver.finished:
                n = sock.recv_into(buf)
                if self._cancelled:  # shutdown() from cancel() looks like EOF: it is not one
                    raise Refused("download-cancelled")
                # receive_data() then next_event() until NEED_DATA or END; a broken stream raises
                # ProtocolError, a LabError whose sentence becomes the download's error
                for event in receiver.feed(view[:n]):
                    if isinstance(event, proto.Header):
                        if event.size > limit:
                            raise Refused("download-folder-too-full" if by_folder else "download-file-too-large",
                                          size=event.size, limit=limit)
                        self.size, self.expected_sha256 = event.size, event.sha256
                        self.publish("header", size=event.size, detail=f"header: OK {event.size} {event.sha256}",
                                     args={"size": event.size, "sha256": event.sha256})
                    elif isinstance(event, proto.Body):
                        out.write(event.data)
                        digest.update(event.data)
                        self.bytes += len(event.data)
                        if self.bytes > limit:
                            raise Refused("download-folder-overflow" if by_folder else "download-too-much-data", limit=limit)
                now = time.monotonic()
                if now - last_progress >= PROGRESS_INTERVAL or receiver.finished:
                    self._progress(self.bytes - reported)
                    last_progress, reported = now, self.bytes
        self.sha256 = digest.hexdigest()
        if self.expected_sha256 is not None:
            self.verified = self.sha256 == self.expected_sha256
            if not self.verified:
                raise Refused("checksum-mismatch", expected=self.expected_sha256, actual=self.sha256)
        self.path = claim(self.folder, tmp, safe_name(self.file or f"download-{self.id}.bin"))
        self._finish("done", None)

    def _receive_raw(self, tmp: Path) -> None:
        """The classic downloader's loop, as lean as a plain copy: recv_into() one reused buffer,
        write, count. Nothing is copied, hashed or previewed on the way (that cost 0.41x of a plain
        copy); the SHA-256 is read back from the saved file afterwards, while the file is still in
        the page cache, and published when known. Progress: at most every PROGRESS_INTERVAL."""
        sock = self._sock
        assert sock is not None
        buf = bytearray(BUFFER_SIZE)
        view = memoryview(buf)
        limit = self.ctx.limits.file_bytes
        room = self._room() if self._room is not None else limit
        too_much = "download-folder-overflow" if room < limit else "download-too-much-data"
        limit = min(limit, room)
        last_progress, reported = time.monotonic(), 0
        with open(tmp, "wb") as out:
            while n := sock.recv_into(buf):
                out.write(view[:n])
                self.bytes += n
                if self.bytes > limit:
                    raise Refused(too_much, limit=limit)
                now = time.monotonic()
                if now - last_progress >= PROGRESS_INTERVAL:
                    self._progress(self.bytes - reported)
                    last_progress, reported = now, self.bytes
            if self._cancelled:  # shutdown() from cancel() looks like EOF: it is not one
                raise Refused("download-cancelled")
        self._progress(self.bytes - reported)
        self.path = claim(self.folder, tmp, safe_name(self.file or f"download-{self.id}.bin"))
        self._finish("done", None)
        self._hash_saved_file()

    def _progress(self, moved: int) -> None:
        self.publish("progress", size=moved, detail=self._progress_text(),
                     call="recv_into", args={"bytes": self.bytes, "size": self.size})

    def _hash_saved_file(self) -> None:
        """SHA-256 of the saved file, published in a `state` event once known (the download is
        already done: its bytes are on disk under their final name)."""
        path = self.path
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as f:  # type: ignore[arg-type]
                while not self._cancelled and (chunk := f.read(BUFFER_SIZE)):
                    digest.update(chunk)
        except (OSError, TypeError):
            return  # forgotten (and deleted) meanwhile: nothing to say
        if not self._cancelled and self.path is not None:
            self.sha256 = digest.hexdigest()
            self.publish_state()

    def _progress_text(self) -> str:
        if self.size:
            return f"recv_into(): {self.bytes} of {self.size} bytes ({100 * self.bytes // self.size}%)"
        return f"recv_into(): {self.bytes} bytes so far"

    def _finish(self, state: str, error: str | None, code: str | None = None, params: dict[str, Any] | None = None,
                err: str | None = None) -> None:
        """Done or failed: the events that say so, then `close` and this download's `state`.

        The receiver reads to EOF in both protocols, so a download that is done saw the peer close
        first; one that failed was closed by the lab (`code` says why), or reset.
        """
        self.state, self.error, self.finished = state, error, time.time()
        if state == "done":
            check = " ; checksum verified" if self.verified else ""
            saved = self.path.name if self.path else ""
            self.publish("done", size=self.bytes, detail=f"recv() returned 0 bytes (EOF): saved {self.bytes} bytes as '{saved}'{check}",
                         args={"bytes": self.bytes, "file": saved, "verified": self.verified})
            closed: dict[str, Any] = {"closed_by": "peer"}
        else:
            self.publish("error", size=self.bytes, detail=f"download failed: {error}", errno=err, code=code, params=params,
                         args={"download": True})
            if err in ("ECONNRESET", "EPIPE"):
                closed = {"closed_by": "reset", "errno": err}
            else:
                closed = {"closed_by": "local", "code": "dashboard" if code == "download-cancelled" else "transfer-failed"}
        self.publish("close", detail="close() on the download socket", call="close", **closed)
        self.publish_state()

    def publish_state(self, removed: bool = False) -> None:
        """A `state` event with this download's snapshot (on start, finish and removal)."""
        snapshot = self.to_json()
        if removed:
            snapshot["removed"] = True
        self.publish("state", detail=f"download {self.id} is {'removed' if removed else self.state}", state=snapshot)

    def _crashed(self, exc: BaseException) -> None:
        self._finish("failed", crash_sentence(exc, "download"), "crash", crash_params(exc, "download"))

    def forget_file(self) -> None:
        """Delete the saved file: a download the lab forgets leaves nothing behind on disk."""
        path, self.path = self.path, None
        if path is not None:
            path.unlink(missing_ok=True)

    def cancel(self) -> None:
        self._cancelled = True
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        join(self._thread)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "state": self.state, "file": self.file, "protocol": self.protocol,
            "host": self.host, "port": self.port, "bytes": self.bytes, "size": self.size,
            "sha256": self.sha256 or self.expected_sha256, "verified": self.verified, "error": self.error,
            "saved_as": self.path.name if self.path else None,
            "seconds": round((self.finished or time.time()) - self.started, 3),
            "started": round(self.started, 3), "finished": None if self.finished is None else round(self.finished, 3),
        }
