"""`python -m webapp [--host H] [--port P]`: run the dashboard with Werkzeug's threaded server."""

from __future__ import annotations

import argparse
import logging
import signal
from types import FrameType

from werkzeug.serving import make_server

from . import create_app, shutdown
from .auth import announce, prepare_tokens
from .config import DashboardConfig, environment
from .devserver import bounded_handler
from .startup import check_port, listening_socket
from .state import StateDir


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m webapp", description="Socket Lab dashboard")
    parser.add_argument("--host", default=None,
                        help="address to serve the dashboard on (default 127.0.0.1; with --class, 0.0.0.0)")
    parser.add_argument("--port", type=int, default=5000, help="port to serve the dashboard on (default 5000)")
    parser.add_argument("--sandbox", action="store_true",
                        help="run the lab in a user + network namespace of its own, so it may capture and impair "
                             "its own traffic (SOCKETLAB_SANDBOX=1)")
    parser.add_argument("--class", dest="klass", action="store_true",
                        help="a dashboard for a class (make class): on the LAN, lesson servers students' programs "
                             "reach, and the wire lessons in a sandbox beside them")
    args = parser.parse_args()
    if args.host is None:
        args.host = "0.0.0.0" if args.klass else "127.0.0.1"
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Every start-up problem is one sentence and a non-zero exit, before any URL is printed.
    check_port(args.port)
    # the flags win over their variables (--sandbox over SOCKETLAB_SANDBOX)
    given = {name: True for name, on in (("sandbox", args.sandbox), ("klass", args.klass)) if on}
    config = DashboardConfig.from_env(environment(), dashboard_bind=args.host, **given)  # the Host check answers to it
    # bound first, like socketserver, so a busy port is known before anything is announced
    with listening_socket(args.host, args.port) as sock:
        # (generated tokens are kept in the state folder: the same links work after a restart)
        access = prepare_tokens(config.token, config.view_token, [args.host], StateDir(config.state_dir))
        app = create_app(config.but(access=access, dashboard_port=sock.getsockname()[1]))  # (the Join panel's links)
        server = make_server(args.host, args.port, app, threaded=True, fd=sock.fileno(),  # (werkzeug dups it)
                             # head deadline and connection caps (slowloris): webapp/devserver.py
                             request_handler=bounded_handler(app.extensions["socketlab_conns"]))
    port = server.socket.getsockname()[1]
    log = logging.getLogger("webapp")
    if app.config["CLASS"]:
        log.info("a class: lesson servers listen on every address of this machine%s", "; lessons 10-14 run in the sandbox"
                 if app.config["SANDBOX"] else "")
    elif app.config["SANDBOX"]:
        log.info("the lab runs in its own network namespace (the sandbox): it may capture and impair its own traffic")
    log.info("Socket Lab dashboard on http://%s:%d/", args.host, port)
    for line in announce(access, args.host, port):
        log.info("%s", line)
    # SIGTERM ends the dashboard like Ctrl-C, so shutdown() runs: a sandbox's children are stopped by pid
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        shutdown(app)


if __name__ == "__main__":
    main()
