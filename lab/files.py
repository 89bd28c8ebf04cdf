"""The lab's files folder: sample files on first run, listing with checksums, and safe name lookup.

Serving is confined to one folder. A requested name must be a plain file name inside it: no
separators, no `..`, no NUL, no percent-encoding, valid UTF-8, not too long, and after
resolving symlinks still inside the folder.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import struct
import threading
import zlib
from pathlib import Path

from .errors import BadInput, NotFound

MAX_NAME_BYTES = 255
GENERATED_NAME = re.compile(r"exercise-[a-z0-9-]{1,40}\.bin")  # what generate() may write: its own files only
GENERATED_MAX = 4 << 20
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _png(width: int, height: int) -> bytes:
    """A small colourful PNG drawn by hand, so the samples need no image library."""
    rows = bytearray()
    for y in range(height):
        rows.append(0)
        for x in range(width):
            rows += bytes((x * 255 // width, y * 255 // height, 160))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack("!I", len(body)) + tag + body + struct.pack("!I", zlib.crc32(tag + body))

    header = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b"")


SAMPLE_TEXT = (
    "Hello from Socket Lab!\n"
    "This short text travels over a real TCP connection.\n"
    "你好，套接字实验室！这段文字通过真实的 TCP 连接传输。\n"
)


def write_samples(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "hello.txt").write_text(SAMPLE_TEXT, encoding="utf-8")
    (folder / "random-1MB.bin").write_bytes(random.Random(1).randbytes(1 << 20))
    (folder / "gradient.png").write_bytes(_png(64, 48))


class FileStore:
    """The folder the file servers serve from."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        if not self.root.exists():
            write_samples(self.root)
        self._sums: dict[str, tuple[float, int, str]] = {}
        self._lock = threading.Lock()

    def listing(self) -> list[dict[str, object]]:
        files = []
        for entry in sorted(self.root.iterdir()):
            try:
                path = self.resolve(entry.name)
            except (BadInput, NotFound):
                continue
            stat = path.stat()
            files.append({"name": entry.name, "size": stat.st_size, "sha256": self.sha256(path)})
        return files

    def sha256(self, path: Path) -> str:
        stat = path.stat()
        with self._lock:
            cached = self._sums.get(str(path))
        if cached and cached[:2] == (stat.st_mtime, stat.st_size):
            return cached[2]
        digest = sha256_file(path)
        with self._lock:
            self._sums[str(path)] = (stat.st_mtime, stat.st_size, digest)
        return digest

    def generate(self, name: str, size: int, seed: int) -> dict[str, object]:
        """A file of `size` seeded random bytes named `name` in the folder (an exercise's download: the same
        seed gives the same bytes, so every class and every test knows its SHA-256), written unless it is
        there already; its listing entry. Written to a temporary name first: a server never sends half of it."""
        if not GENERATED_NAME.fullmatch(name) or not 0 < size <= GENERATED_MAX:
            raise BadInput("generated-file-invalid", limit=GENERATED_MAX)
        data = random.Random(seed).randbytes(size)
        digest = hashlib.sha256(data).hexdigest()
        path = self.root / name
        if not (path.is_file() and path.stat().st_size == size and self.sha256(path) == digest):
            part = self.root / f".{name}.{os.getpid()}.part"
            part.write_bytes(data)
            os.replace(part, path)
        return {"name": name, "size": size, "sha256": digest}

    def resolve(self, name: str | bytes) -> Path:
        """The path of a served file, or BadInput/NotFound with a sentence saying why not."""
        if isinstance(name, bytes):
            if len(name) > MAX_NAME_BYTES:
                raise BadInput("file-name-too-long", limit=MAX_NAME_BYTES)
            try:
                name = name.decode("utf-8")
            except UnicodeDecodeError:
                raise BadInput("file-name-not-utf8") from None
        if not name or not name.strip():
            raise BadInput("file-name-empty")
        if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
            raise BadInput("file-name-too-long", limit=MAX_NAME_BYTES)
        if "\x00" in name:
            raise BadInput("file-name-nul")
        if _PERCENT.search(name):
            raise BadInput("file-name-percent")
        if "/" in name or "\\" in name or name in (".", "..") or name.startswith(".."):
            raise BadInput("file-name-path")
        if any(ord(c) < 32 for c in name):
            raise BadInput("file-name-control")
        path = self.root / name
        try:
            real = path.resolve(strict=True)
        except (FileNotFoundError, RuntimeError, OSError):
            raise NotFound("no-such-file", file=name) from None
        if real.parent != self.root and self.root not in real.parents:
            raise BadInput("file-outside-folder", file=name)
        if not real.is_file():
            raise NotFound("not-a-regular-file", file=name)
        return real
