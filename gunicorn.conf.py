"""Read by gunicorn from the project folder: with a non-loopback bind (-b 0.0.0.0:5000) and no
SOCKETLAB_TOKEN, generate the tokens in the master before workers fork (or take the ones kept in the
state folder, SOCKETLAB_STATE_DIR, from an earlier start), and print both URLs."""

import os

# gthread, but a thread only takes a connection once its whole request head has arrived, within a
# deadline and under per-address caps (slowloris); see webapp/worker.py.
worker_class = "webapp.worker.HeadFirstWorker"

# The access log (when enabled, e.g. --access-logfile -) shows request lines with ?token=(hidden).
logger_class = "webapp.redact.RedactingGunicornLogger"


def on_starting(server):  # gunicorn hook: before binding
    from webapp.auth import prepare_tokens
    from webapp.startup import check_token_variables
    from webapp.state import StateDir

    check_token_variables(os.environ)  # a sentence and exit status 2, before anything is announced
    hosts = [b.rsplit(":", 1)[0].strip("[]") for b in server.cfg.bind if not b.startswith(("unix:", "fd://"))]
    access = prepare_tokens(os.environ, hosts, StateDir.from_env(os.environ))
    # The worker's app reads where the dashboard listens (for its Host check) from the environment it
    # inherits; an empty host (-b :5000) listens on every address.
    os.environ["SOCKETLAB_DASHBOARD_BIND"] = ",".join(h or "0.0.0.0" for h in hosts)
    server.socketlab_access = access


def when_ready(server):  # gunicorn hook: the listening sockets are bound (a busy port never gets here)
    from webapp.auth import announce

    for listener in server.LISTENERS:
        address = listener.sock.getsockname()
        if isinstance(address, tuple):
            # the workers, forked after this, put it in the Join panel's links
            os.environ.setdefault("SOCKETLAB_DASHBOARD_PORT", str(address[1]))
            for line in announce(server.socketlab_access, str(address[0]), int(address[1])):
                server.log.info("%s", line)
