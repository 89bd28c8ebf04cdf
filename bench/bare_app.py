"""The baseline of bench 3: a bare Flask-SocketIO app that does what a hand-written live view would.

One thread receives the same datagrams the lab's udp-server would, turns each into an event of the
lab's shape (the same keys, so the same viewers parse it and the frames weigh the same) and emits
them to every client as `events`: all that are waiting at once, as the lab's relay batches, but
with nothing else (no ring, no per-second limit, no snapshot, no per-client pacing, the default JSON).
Served the way bench 3 serves the lab: gunicorn, one worker, 100 threads (`common.serve`).

    gunicorn -c /dev/null -w 1 --threads 100 -b 127.0.0.1:PORT 'bench.bare_app:create_app()'

GET /api/health answers {"ok": true}; GET /api/udp answers {"port": ...}, where to send the datagrams.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from flask_socketio import SocketIO

PREVIEW = 32


def event(seq: int, data: bytes, local: tuple[str, int], peer: tuple[str, int]) -> dict[str, Any]:
    """A `recv` event with the lab's keys (lab.events.bus.JSON_FIELDS) in the lab's order."""
    head = data[:PREVIEW]
    return {"seq": seq, "ts": time.time(), "endpoint": "udp-1", "conn": None, "proto": "udp", "kind": "recv",
            "local": list(local), "peer": list(peer), "size": len(data), "data": head.decode("utf-8", "replace"),
            "hex": head.hex(" "), "detail": f"recvfrom {len(data)} bytes from {peer[0]}:{peer[1]}", "call": "recvfrom",
            "args": {"bufsize": 65535}, "result": len(data), "closed_by": None, "errno": None, "code": None,
            "params": None, "message": None, "framing": None, "state": None}


def create_app() -> Flask:
    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="threading")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    local = udp.getsockname()

    def relay() -> None:
        seq = 0
        while True:
            data, peer = udp.recvfrom(65535)
            seq += 1
            batch = [event(seq, data, local, peer)]
            while True:  # everything already waiting goes in the same emit
                try:
                    data, peer = udp.recvfrom(65535, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                seq += 1
                batch.append(event(seq, data, local, peer))
            socketio.emit("events", batch)

    @app.get("/api/health")
    def health() -> ResponseReturnValue:
        return jsonify(ok=True)

    @app.get("/api/udp")
    def where() -> ResponseReturnValue:
        return jsonify(port=local[1])

    threading.Thread(target=relay, name="bare-relay", daemon=True).start()
    return app
