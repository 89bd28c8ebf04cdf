// Hand-made events and registry for the node tests, following the issue-11 schema: the same
// shapes the lab publishes, so the page's pure modules are tested without a server.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { setKinds } from "../../static/js/models/kinds.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VENV_PYTHON = `${ROOT}.venv/bin/python`;
const PYTHON = process.env.PYTHON || (existsSync(VENV_PYTHON) ? VENV_PYTHON : "python3");

/** The registry as GET /api/session hands it over, read from lab/events/kinds.py itself (the one list). */
export const KINDS = JSON.parse(execFileSync(PYTHON, ["-c", "import json; from lab.events.kinds import kinds_json; print(json.dumps(kinds_json()))"],
  { cwd: ROOT, encoding: "utf-8" }));

export const useKinds = () => setKinds(KINDS);

/** An event's fields as GET /api/session hands them over, read from lab/events/bus.py itself (the one definition). */
export const EVENT_FIELDS = JSON.parse(execFileSync(PYTHON, ["-c", "import json; from lab.events.bus import JSON_FIELDS; print(json.dumps(JSON_FIELDS))"],
  { cwd: ROOT, encoding: "utf-8" }));

const BASE = { ts: 1700000000, conn: null, proto: "tcp", local: null, peer: null, size: 0, data: null, hex: null,
  detail: "English the page must never show", call: null, args: null, result: null, closed_by: null, errno: null,
  code: null, params: null, message: null, framing: null, state: null };

let nextSeq = 1;
export const event = (kind, fields = {}) => ({ ...BASE, seq: nextSeq++, endpoint: "e1", kind, ...fields });

const S = ["127.0.0.1", 5000];
const C = ["127.0.0.1", 40000];

/** One event of every kind (several variants for some), with the fields the schema gives it. */
export function everyKind() {
  return [
    event("listen", { local: S, call: "listen", args: { address: S, backlog: 128 } }),
    event("listen", { proto: "udp", local: S, call: "bind", args: { address: S } }),
    event("accept", { conn: "c1", local: S, peer: C, call: "accept", result: C }),
    event("connect", { endpoint: "e2", local: C, peer: S, call: "connect", args: { address: S } }),
    event("connect", { endpoint: "d1", local: C, peer: S, call: "connect", args: { address: S, download: true } }),
    event("send", { conn: "c1", local: S, peer: C, size: 5, call: "sendall", args: { bytes: 5 }, result: 5, data: "hello", hex: "68 65 6c 6c 6f" }),
    event("send", { proto: "udp", local: S, peer: C, size: 3, call: "sendto", args: { bytes: 3, address: C }, result: 3 }),
    event("send", { local: S, peer: C, size: 1000, call: "sendfile", args: { bytes: 1000, file: "a.txt", size: 4000 }, result: 1000 }),
    event("send", { local: S, peer: C, size: 76, call: "sendall", args: { bytes: 76, header: true }, result: 76 }),
    event("send", { local: S, peer: C, size: 9, call: "sendall", args: { bytes: 9 }, result: 9, framing: "length", message: 2 }),
    event("recv", { conn: "c1", local: S, peer: C, size: 9, call: "recv", args: { bufsize: 65536 }, result: 9 }),
    event("recv", { proto: "udp", local: S, peer: C, size: 4, call: "recvfrom", args: { bufsize: 65535 }, result: 4 }),
    event("message", { conn: "c1", size: 5, framing: "line", message: 3, result: 5 }),
    event("shutdown", { call: "shutdown", args: { how: "SHUT_WR" } }),
    event("close", { conn: "c1", local: S, peer: C, call: "close", closed_by: "peer" }),
    event("close", { conn: "c1", local: S, peer: C, call: "close", closed_by: "reset", errno: "ECONNRESET" }),
    event("close", { conn: "c1", local: S, peer: C, call: "close", closed_by: "local", code: "idle-timeout", params: { seconds: 60 } }),
    event("close", { local: S, call: "close", closed_by: "local", args: { socket: "listening" }, params: { established: 2 } }),
    event("close", { local: S, call: "close", closed_by: "local" }),
    event("refuse", { conn: "c9", call: "accept", code: "connection-limit", params: { limit: 100 } }),
    event("error", { call: "connect", errno: "ECONNREFUSED", code: "no-such-code-in-tables", params: { host: "127.0.0.1", port: 9 } }),
    event("error", {}),
    event("relay", { conn: "c1", size: 4, args: { from: "c1", to: ["c2", "c3"] } }),
    event("http", { conn: "c1", args: { direction: "request", method: "GET", target: "/", version: "HTTP/1.0" } }),
    event("http", { conn: "c1", args: { direction: "response", version: "HTTP/1.0", status: 200, reason: "OK" } }),
    event("lost", { proto: "udp", size: 7, code: "impair-loss", params: { loss: 0.3 } }),
    event("header", { endpoint: "d1", args: { size: 4000, sha256: "ab".repeat(32) } }),
    event("progress", { endpoint: "d1", size: 1000, args: { bytes: 3000, size: 4000 } }),
    event("done", { endpoint: "d1", size: 4000, args: { bytes: 4000, file: "a.txt", verified: true } }),
    event("tcp_info", { conn: "c1", args: { state: "ESTABLISHED", rtt_us: 52, snd_cwnd: 10 } }),
    event("backpressure", { conn: "c1", size: 100, code: "peer-not-reading", params: { sent: 0, total: 100, timeout_s: 5, waited_s: 5 } }),
    // lab agents: the dashboard saw one come or go, or one lost events during a Redis outage
    event("agent", { endpoint: "", proto: "", agent: "room_a", args: { event: "up", host: "lab" } }),
    event("agent", { endpoint: "", proto: "", agent: "room_a", args: { event: "down", host: "lab" } }),
    event("agent", { endpoint: "", proto: "", agent: "room_a", args: { event: "dropped", count: 3 } }),
    // a traced student program: calls with no kind of their own
    event("setup", { endpoint: "s1@echo", call: "socket", args: { family: "AF_INET", type: "SOCK_STREAM", thread: "MainThread" } }),
    event("setup", { endpoint: "s1@echo", local: S, call: "bind", args: { address: S, thread: "MainThread" } }),
    event("setup", { endpoint: "s1@echo", call: "settimeout", args: { timeout: 2.5, thread: "MainThread" } }),
    event("setup", { endpoint: "s1@echo", call: "settimeout", args: { timeout: null, thread: "MainThread" } }),
    event("setup", { endpoint: "s1@echo", call: "setsockopt", args: { level: 1, option: 2, value: 1, thread: "MainThread" } }),
    event("error", { endpoint: "s1@echo", call: "recv", errno: "ENOTCONN", code: "recv-on-listening-socket", params: { call: "recv" } }),
    event("error", { endpoint: "s2@echo", call: "send", code: "send-str", params: { call: "send" } }),
    event("error", { endpoint: "s2@echo", call: "close", code: "socket-never-closed", params: { socket: "s2@echo" } }),
    // the wire: a segment, a retransmitted one, a datagram
    event("packet", { endpoint: "e2", local: C, peer: S, args: { flags: "SYN", seq: 0, ack: 0, win: 65495, len: 0, src: C, dst: S, analysis: null } }),
    event("packet", { endpoint: "e2", local: C, peer: S, size: 5, args: { flags: "PSH,ACK", seq: 1, ack: 1, win: 512, len: 5, src: C, dst: S, analysis: "retransmission" } }),
    event("packet", { endpoint: "e2", proto: "udp", local: C, peer: S, size: 3, args: { flags: null, seq: null, ack: null, win: null, len: 3, src: C, dst: S, analysis: null } }),
    // lesson 14's run is over, judged from its data (lab/lessons/loss_watch.py)
    event("settled", { endpoint: "e2", args: { reason: "echoed", count: 200, tcp: { received: 200, retransmits: 9, seconds: 3.5, dropped: 12 }, udp: { seconds: 2.1, dropped: 70 } } }),
    // an exercise: one student's row of checks changed (lab/exercises/)
    event("exercise", { params: { stage: 3, exercise: "echo-server", name: "lilei", address: "10.0.0.7",
      checks: { "server-call-order": "pass", "recv-loop": "fail", "closes": "pending" }, hints: ["recv-loop"], reasons: {} } }),
    // what a traced program printed (agent/trace/tracer.py Output): about the program, no endpoint
    event("output", { endpoint: "", proto: "", size: 12, args: { text: "3f2a9c 42\n", stream: "stdout", thread: "MainThread" } }),
    event("state", { state: { id: "e1", kind: "tcp-server", state: "listening" } }),
  ];
}
