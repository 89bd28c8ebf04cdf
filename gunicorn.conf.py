"""Read by gunicorn from the project folder. The master reads the dashboard's configuration once
(webapp/config.py: a mistake is one sentence, and gunicorn stops before it binds); with a non-loopback
bind (-b 0.0.0.0:5000) and no SOCKETLAB_TOKEN it generates the tokens (or takes the ones kept in the
state folder, SOCKETLAB_STATE_DIR, from an earlier start) and prints both URLs. The workers, forked
from the master, take that configuration (webapp.config.serve); each stops its app when it ends, so
the lab's sockets close and a sandbox's children (in sessions of their own) are stopped by pid."""

from dataclasses import replace

# gthread, but a thread only takes a connection once its whole request head has arrived, within a
# deadline and under per-address caps (slowloris); see webapp/worker.py.
worker_class = "webapp.worker.HeadFirstWorker"

# The access log (when enabled, e.g. --access-logfile -) shows request lines with ?token=(hidden).
logger_class = "webapp.redact.RedactingGunicornLogger"


def on_starting(server):  # gunicorn hook: in the master, before binding
    from webapp.auth import prepare_tokens
    from webapp.config import DashboardConfig, environment, serve
    from webapp.state import StateDir

    config = DashboardConfig.from_env(environment())  # a sentence and exit, before anything is announced
    hosts = [b.rsplit(":", 1)[0].strip("[]") for b in server.cfg.bind if not b.startswith(("unix:", "fd://"))]
    access = prepare_tokens(config.token, config.view_token, hosts, StateDir(config.state_dir))
    # where the dashboard listens, for its Host check; an empty host (-b :5000) listens on every address
    serve(config.but(access=access, dashboard_bind=",".join(h or "0.0.0.0" for h in hosts)))


def when_ready(server):  # gunicorn hook: the listening sockets are bound (a busy port never gets here)
    from webapp.auth import announce
    from webapp.config import serve, served

    config = served()
    for listener in server.LISTENERS:
        address = listener.sock.getsockname()
        if isinstance(address, tuple):
            if not config.dashboard_port:  # the workers, forked after this, put it in the Join panel's links
                config = replace(config, dashboard_port=int(address[1]))
            for line in announce(config.access, str(address[0]), int(address[1])):
                server.log.info("%s", line)
    serve(config)


def post_worker_init(worker):  # gunicorn hook: in the worker, its app loaded and its signals set
    """SIGTERM starts stopping the app at once, beside gunicorn's graceful stop: a page's websocket keeps
    a worker's thread until --graceful-timeout, and then the master kills the worker (SIGKILL), before
    worker_exit would run. The thread is not a daemon: the worker's process waits for it to finish."""
    import signal
    import threading

    from webapp import shutdown

    graceful = signal.getsignal(signal.SIGTERM)

    def stopping(signum, frame):
        threading.Thread(target=shutdown, args=(worker.wsgi,), name="socketlab-shutdown").start()
        if callable(graceful):
            graceful(signum, frame)

    signal.signal(signal.SIGTERM, stopping)


def worker_exit(server, worker):  # gunicorn hook: in the worker, as it ends (SIGQUIT, SIGINT, restarts, ...)
    from webapp import shutdown

    app = getattr(worker, "wsgi", None)  # (None when the app failed to load: nothing was started)
    if app is not None and "socketlab_relay" in getattr(app, "extensions", {}):
        shutdown(app)  # (once: after a SIGTERM it has already run)
