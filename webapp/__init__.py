"""Socket Lab's web glue: the app factory, the Socket.IO object, and the relay that feeds it."""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from dataclasses import replace
from functools import partial
from typing import Any

from flask import Flask, render_template
from lab import Lab
from lab.exercises.checker import Checker
from lab.stage import Stage

from .api import api
from .auth import prepare_tokens
from . import classroom, exercises, traces
from .config import DashboardConfig, served
from .conns import ConnBudget, LiveGate
from .guard import Guard, HostPolicy
from .join import JoinDesk, Students
from lab.client import Labs, LocalLabs
from .redact import hide_tokens_in_werkzeug_log
from .sandbox import CLASS_AGENT
from .live import EventPacket, disconnect_revoked, socketio
from .startup import StartupProblem
from .relay import Relay
from .state import StateDir

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _for_a_class(app: Flask) -> None:
    """`make class`: one dashboard for the whole class. Two labs, so that each lesson gets what its
    point needs: the lessons' servers listen on every address of this machine, in a lab of this
    process (an agent named CLASS_AGENT), so students' own programs on other machines connect to
    them from their own addresses (their names match their connections); the wire lessons (10-14)
    go to the sandbox's agent, whose namespace lets it capture and drop its own packets. Without
    namespaces (or Redis) the class runs on one lab of this process, and lessons 10-14 say why they
    show no packets."""
    app.config["BIND"] = ",".join(filter(None, ["0.0.0.0", app.config["BIND"]]))
    app.config["LESSON_HOST"] = "0.0.0.0"
    if not app.config["REDIS"]:
        app.config["SANDBOX"] = True
        app.config["LOCAL_AGENT"] = app.config["LOCAL_AGENT"] or CLASS_AGENT


def _start_labs(app: Flask, config: DashboardConfig) -> Labs:
    """The labs the dashboard drives, as its config says: one in this process, a sandbox's agent, lab
    agents over Redis, or (a class) a sandbox beside a lab of this process."""
    if app.config["CLASS"]:
        _for_a_class(app)

    labs: Labs
    if app.config["SANDBOX"]:  # its own Redis and one agent in namespaces; then a dashboard like any over agents
        from .sandbox import Sandbox

        try:
            sandbox = app.extensions["socketlab_sandbox"] = Sandbox(config)
        except StartupProblem as problem:
            if not app.config["CLASS"]:
                raise
            # a class starts all the same, on a lab of this process: the wire lessons say why they draw
            # no packets (the lab's own reason), everything else works
            log.warning("the class runs without its sandbox (lessons 10-14 show no packets): %s", problem)
            # root captures on its own; a user's lab says the machine refused the sandbox
            app.config.update(SANDBOX=False, REDIS="", LOCAL_AGENT="", CAPTURE=os.geteuid() == 0,
                              WHY_NO_CAPTURE="capture-no-sandbox")
        else:
            app.config["REDIS"] = sandbox.url
    if app.config["REDIS"]:  # the labs are agents on other hosts (webapp/agents.py); none in this process
        from .agents import AgentLabs
        from .sandbox import AGENT_NAME

        routed = app.config["CLASS"] and app.config["SANDBOX"]
        labs = AgentLabs(app.config["REDIS"], default_agent=app.config["LOCAL_AGENT"] if routed else "",
                         wire_agent=AGENT_NAME if routed else "")
        app.extensions["socketlab"] = None
        if app.config["LOCAL_AGENT"]:  # an agent in this process too (its lab, this host's policy)
            from agent.agent import Agent

            local_config = config.agent(app.config["LOCAL_AGENT"], app.config["REDIS"], bind=app.config["BIND"],
                                        lesson_host=app.config["LESSON_HOST"])  # (a class widens both: _for_a_class)
            local = Agent(local_config.name, local_config.redis, local_config.lab())
            local.start()
            app.extensions["socketlab_local_agent"] = local
        if app.config["SANDBOX"]:  # the first request finds its agents up
            app.extensions["socketlab_sandbox"].wait_seen(labs.hub, [AGENT_NAME, *filter(None, [app.config["LOCAL_AGENT"]])])
    else:
        lab = Lab(app.config["FILES"], app.config["DOWNLOADS"], app.config["LIMITS"],
                  allow=app.config["ALLOW"], bind=app.config["BIND"], capture=app.config["CAPTURE"],
                  lesson_host=app.config["LESSON_HOST"], why_no_capture=app.config.get("WHY_NO_CAPTURE", "capture-off"))
        app.extensions["socketlab"] = lab
        labs = LocalLabs(lab)
    return labs


def _watching(app: Flask, checker: Checker, students: Students) -> traces.TraceDesk:
    """The desk that takes traced programs' events, handing a student's to the exercise's checker (every
    program's, on a dashboard that needs no token: nobody joins one, its own user traces)."""
    required = app.config["ACCESS"].required

    def watch(name: str, boot: int, host: str, events: list[dict[str, Any]]) -> None:
        if not required or students.active(name):
            checker.feed(name, boot, host, events)

    return traces.TraceDesk(watch)


def _joining(app: Flask, config: DashboardConfig) -> Students:
    """The tokens, the join code and the students' tokens, kept in the state folder (webapp/state.py)."""
    state = StateDir(app.config["STATE_DIR"])
    access = config.access or prepare_tokens(config.token, config.view_token, [], state)
    kept = state if access.required else None  # (a dashboard that needs no token keeps nothing on disk)
    app.extensions["socketlab_state"] = kept  # (the exercises' results too: lab/exercises/checker.py)
    students = app.extensions["socketlab_students"] = Students(kept)
    app.config["ACCESS"] = replace(access, students=students)
    app.extensions["socketlab_join"] = JoinDesk(app.config.get("JOIN_CODE"), kept)
    return students


def create_app(config: DashboardConfig | Mapping[str, Any] | None = None) -> Flask:
    """The dashboard. `config`: a DashboardConfig (webapp/config.py), or its dict form (Flask's habit:
    {"FILES": ..., "TESTING": True}, on the defaults); None: gunicorn's prepared one, else the
    environment's. Nothing else is read: what the app starts (its lab, a local agent, the sandbox)
    is made from this one configuration. The app's threads and children are started here, and
    stopped by shutdown(app)."""
    if config is None:
        config = served()
    elif not isinstance(config, DashboardConfig):
        config = DashboardConfig.from_settings(config)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(__name__, template_folder=os.path.join(root, "templates"), static_folder=os.path.join(root, "static"))
    app.config.update(config.app_settings())
    app.config["BOOT"] = uuid.uuid4().hex[:12]  # this run of the dashboard: a page that saw another one resumes
    app.extensions["socketlab_config"] = config
    students = _joining(app, config)

    labs = _start_labs(app, config)
    app.extensions["socketlab_labs"] = labs
    checker = app.extensions["socketlab_checker"] = Checker(labs.bus, app.extensions["socketlab_state"])
    stage = app.extensions["socketlab_stage"] = Stage(labs, checker)
    app.extensions["socketlab_traces"] = _watching(app, checker, students)
    labs.follow_stage(stage.adopt)  # (over lab agents, one stage for every dashboard on that Redis)

    for routes in (api, classroom.routes, exercises.routes, traces.routes):  # (each needs the app's lab only at request time)
        app.register_blueprint(routes)
    from .tracer_file import tracer_file  # GET /trace.py: the one-file tracer, for a student who joined

    app.register_blueprint(tracer_file)

    @app.get("/")
    def index() -> str:
        return render_template("index.html")

    @app.get("/join")
    def join_page() -> str:
        """The short link: a student types the code from the projector (and a name, if they like)."""
        return render_template("join.html")

    @app.after_request
    def security_headers(response: Any) -> Any:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    # Same-origin only (the default when cors_allowed_origins is not given): never "*".
    socketio.init_app(app, async_mode="threading", max_http_buffer_size=1 << 20, serializer=EventPacket)
    # Bounds Socket.IO connections (each holds a thread) and reaps those that never join (conns.py);
    # gunicorn's worker (worker.py) fits the bound to its thread count.
    budget = app.extensions["socketlab_conns"] = ConnBudget(app.config["CONN_LIMITS"])
    gate = LiveGate(app.wsgi_app, budget, socketio.server)
    app.wsgi_app = gate  # type: ignore[method-assign]
    # Outside the Socket.IO middleware that init_app just installed, so /socket.io/ is guarded too.
    app.wsgi_app = Guard(app.wsgi_app, HostPolicy.from_settings(app.config["DASHBOARD_BIND"], app.config["HOSTS"]))  # type: ignore[method-assign]
    hide_tokens_in_werkzeug_log()

    relay = Relay(socketio.server, labs.bus, every_second=partial(_every_second, gate, students))
    relay.start()
    app.extensions["socketlab_relay"] = relay
    return app


def _every_second(gate: LiveGate, students: Students) -> None:
    """The relay task's chores (it is the one thread that talks to clients)."""
    gate.reap()
    disconnect_revoked(students)


def shutdown(app: Flask) -> None:
    """Stop the relay and close every socket and thread of the app's lab (a second call does nothing)."""
    if app.extensions.get("socketlab_stopped"):
        return
    app.extensions["socketlab_stopped"] = True
    relay = app.extensions["socketlab_relay"]
    relay.stop()
    # Pages still connected are told the dashboard is gone: a server that stops accepting keeps the
    # websockets it has, and a page that stayed would go on answering pings into a stopped app.
    eio = relay.server.eio
    for page in list(eio.sockets.values()):
        page.close(wait=False)  # (waiting would wait for a polling page's next request: maybe never)
    eio.sockets = {}
    app.extensions["socketlab_stage"].close()
    app.extensions["socketlab_labs"].close()
    local = app.extensions.get("socketlab_local_agent")
    if local is not None:
        local.stop()
        local.lab.close()
    sandbox = app.extensions.get("socketlab_sandbox")
    if sandbox is not None:
        sandbox.stop()
