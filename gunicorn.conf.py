"""Read by gunicorn from the project folder: with a non-loopback bind (-b 0.0.0.0:5000) and no
SOCKETLAB_TOKEN, generate the tokens in the master before workers fork, and print both URLs."""

import os


def on_starting(server):  # gunicorn hook
    from webapp.auth import announce, prepare_tokens

    hosts = [b.rsplit(":", 1)[0].strip("[]") for b in server.cfg.bind if not b.startswith(("unix:", "fd://"))]
    access = prepare_tokens(os.environ, hosts)
    for bind in server.cfg.bind:
        host, _, port = bind.rpartition(":")
        for line in announce(access, host.strip("[]"), int(port or 0)):
            server.log.info("%s", line)
