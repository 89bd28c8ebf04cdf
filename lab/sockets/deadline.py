"""Sending with a deadline, on a socket whose blocking mode is never changed (the connection's
receiving thread shares it). Pure socket mechanics: no events here; lab/sockets/connection.py words what
happened. A peer that does not read makes these return short, never block past the deadline.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import time
from typing import BinaryIO

from .endpoint import timeval

FILE_CHUNK = 1 << 30  # bytes per sendfile() call (as socket.sendfile); the timeout counts from the last progress


def send_within(sock: socket.socket, data: bytes, deadline: float, start_by: float, sent: int | None = None) -> int:
    """Send as much of `data` as the peer takes by `deadline` (the first byte by `start_by`);
    returns the bytes that went. OSError (a reset, a closed socket) goes to the caller. `sent`: what
    the caller's own first send(MSG_DONTWAIT) took already.

    poll() waits for room and send(MSG_DONTWAIT) takes only what fits, so nothing here blocks past
    the deadline.
    """
    if sent is None:
        try:  # the usual case first, before any poll: the kernel has room, one system call sends it all
            sent = sock.send(data, socket.MSG_DONTWAIT)
        except BlockingIOError:
            sent = 0
    if sent == len(data):
        return sent
    view = memoryview(data)
    fd = sock.fileno()
    if fd < 0:  # closed by the receiving thread a moment ago
        raise OSError(errno.EBADF, "the socket is closed")
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    while sent < len(data):
        left = (deadline if sent else start_by) - time.monotonic()
        if not poller.poll(max(0.0, left) * 1000):  # an error or hang-up wakes it too: send() then raises
            if left <= 0:
                break
            continue
        try:
            sent += sock.send(view[sent:], socket.MSG_DONTWAIT)
        except BlockingIOError:
            continue  # room was taken before our send(): poll again
    return sent


def sendfile_within(sock: socket.socket, f: BinaryIO, size: int, timeout: float) -> tuple[int, bool]:
    """os.sendfile() the whole of `f` (zero-copy where the OS can); (bytes sent, stalled), stalled
    when the peer took nothing for `timeout` seconds. SO_SNDTIMEO bounds each blocking call; a reset
    that meets the blocked call still reports EPIPE (an OSError for the caller)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval(timeout))
    sent = 0
    progress = time.monotonic()
    while sent < size:
        try:
            n = os.sendfile(sock.fileno(), f.fileno(), sent, min(size - sent, FILE_CHUNK))
        except BlockingIOError:  # no room for SO_SNDTIMEO (or a non-blocking socket: wait here)
            left = progress + timeout - time.monotonic()
            if left <= 0 or not _writable(sock, left):
                return sent, True
            continue
        if n == 0:
            break  # the file shrank while it was being sent
        sent += n
        progress = time.monotonic()
    return sent, False


def _writable(sock: socket.socket, timeout: float) -> bool:
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLOUT)
    return bool(poller.poll(timeout * 1000))
