"""`python -m webapp [--host H] [--port P]`: run the dashboard with Werkzeug's threaded server."""

from __future__ import annotations

import argparse
import logging
import os

from . import create_app, shutdown
from .live import socketio
from .auth import announce, prepare_tokens
from .devserver import bounded_handler


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m webapp", description="Socket Lab dashboard")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve the dashboard on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to serve the dashboard on (default 5000)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    access = prepare_tokens(os.environ, [args.host])  # type: ignore[arg-type]
    app = create_app({"ACCESS": access, "DASHBOARD_BIND": args.host})  # the Host check answers to it
    log = logging.getLogger("webapp")
    log.info("Socket Lab dashboard on http://%s:%d/", args.host, args.port)
    for line in announce(access, args.host, args.port):
        log.info("%s", line)
    try:
        socketio.run(app, host=args.host, port=args.port, debug=False, use_reloader=False,
                     allow_unsafe_werkzeug=True, log_output=False,
                     # head deadline and connection caps (slowloris): webapp/devserver.py
                     request_handler=bounded_handler(app.extensions["socketlab_conns"]))
    finally:
        shutdown(app)


if __name__ == "__main__":
    main()
