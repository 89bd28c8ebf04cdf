"""Read by gunicorn from the project folder: with a non-loopback bind (-b 0.0.0.0:5000) and no
SOCKETLAB_TOKEN, generate the tokens in the master before workers fork, and print both URLs."""

import os

# gthread, but a thread only takes a connection once its whole request head has arrived, within a
# deadline and under per-address caps (slowloris); see webapp/worker.py.
worker_class = "webapp.worker.HeadFirstWorker"

# The access log (when enabled, e.g. --access-logfile -) shows request lines with ?token=(hidden).
logger_class = "webapp.redact.RedactingGunicornLogger"


def on_starting(server):  # gunicorn hook
    from webapp.auth import announce, prepare_tokens

    hosts = [b.rsplit(":", 1)[0].strip("[]") for b in server.cfg.bind if not b.startswith(("unix:", "fd://"))]
    access = prepare_tokens(os.environ, hosts)
    # The worker's app reads where the dashboard listens (for its Host check) from the environment it
    # inherits; an empty host (-b :5000) listens on every address.
    os.environ["SOCKETLAB_DASHBOARD_BIND"] = ",".join(h or "0.0.0.0" for h in hosts)
    for bind in server.cfg.bind:
        host, _, port = bind.rpartition(":")
        for line in announce(access, host.strip("[]"), int(port or 0)):
            server.log.info("%s", line)
