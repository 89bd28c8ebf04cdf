// node --test: traced programs (python -m agent.trace) in the diagram's model: each program's sockets
// grouped under its name, lanes named by thread, and a traced client joined to a traced server by address.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { LadderModel } from "../../static/js/models/ladder-model.js";
import { groupLanes, placeByTime, programOf, threadOf } from "../../static/js/models/trace-groups.js";
import { event, useKinds } from "./fixtures.mjs";

const S = ["127.0.0.1", 5000];
const C = ["127.0.0.1", 40000];
let ts = 1700000000;
const traced = (program, socket, kind, f = {}) =>
  event(kind, { endpoint: `s${socket}@${program}`, conn: null, agent: program, ts: (ts += 0.001), ...f,
    args: { thread: "MainThread", ...(f.args || {}) } });

beforeEach(useKinds);

test("a traced socket names its program; the lab's sockets and forged names do not", () => {
  assert.equal(programOf({ endpoint: "s3@alice", agent: "alice" }), "alice");
  assert.equal(programOf({ endpoint: "s3@alice" }), "alice"); // (an embedded dashboard's events carry no agent)
  assert.equal(programOf({ endpoint: "s3@alice", agent: "bob" }), null);
  assert.equal(programOf({ endpoint: "e1", agent: "alice" }), null);
  assert.equal(programOf({ endpoint: "s1@" + "x".repeat(41) }), null);
  assert.equal(programOf({ endpoint: 7 }), null);
  assert.equal(threadOf({ args: { thread: "T".repeat(100) } }).length, 40);
  assert.equal(threadOf({ args: { thread: 5 } }), null);
});

test("a traced server and a traced client: two programs, joined by address, one arrow per send", () => {
  const model = new LadderModel();
  model.add(traced("alice", 1, "listen", { local: S, call: "listen" }));
  model.add(traced("bob", 1, "connect", { local: C, peer: S, call: "connect" }));
  model.add(traced("alice", 2, "accept", { local: S, peer: C, call: "accept", result: C, args: { listener: "s1@alice" } }));
  const send = traced("bob", 1, "send", { local: C, peer: S, size: 5, call: "sendall", result: 5 });
  model.add(send);
  const recv = traced("alice", 2, "recv", { local: S, peer: C, size: 5, call: "recv", result: 5,
    args: { bufsize: 1024, thread: "Thread-1 (serve)" } });
  model.add(recv);
  assert.deepEqual(model.bySeq.get(recv.seq).sources, [{ seq: send.seq, bytes: 5 }]);
  const accepted = model.lanes.get("s2@alice");
  assert.equal(accepted.kind, "connection");
  assert.equal(accepted.thread, "Thread-1 (serve)"); // the thread that uses it, not the one that accepted it
  assert.equal(model.lanes.get("s1@bob").program, "bob");
  const { order, groups } = groupLanes(["s1@alice", "e1", "s1@bob", "s2@alice"], (id) => model.lanes.get(id));
  assert.deepEqual(order, ["s1@alice", "s2@alice", "e1", "s1@bob"]); // a program's lanes side by side
  assert.deepEqual(groups, [{ program: "alice", first: 0, last: 1 }, { program: "bob", first: 3, last: 3 }]);
});

test("a program's batch that arrives late is drawn where its clock puts it, causes still first", () => {
  const model = new LadderModel();
  const lab = (kind, f) => event(kind, { endpoint: "e1", conn: "c1", local: S, peer: C, ...f });
  const early = ts + 1;
  model.add(lab("recv", { ts: early + 0.02, size: 2, call: "recv", result: 2 })); // the lab's, at once
  const socket = traced("bob", 1, "setup", { ts: early, call: "socket" }); // bob's, 50 ms later
  model.add(socket);
  const send = traced("bob", 1, "send", { ts: early + 0.01, local: C, peer: S, size: 2, call: "sendall", result: 2 });
  model.add(send);
  assert.deepEqual(model.items.map((i) => i.ev.call), ["socket", "sendall", "recv"]);
  const items = [{ ev: { ts: 3 } }, { ev: { ts: 1 } }];
  placeByTime(items);
  assert.deepEqual(items.map((i) => i.ev.ts), [1, 3]);
});

test("every hint the tracer gives is a sentence in both languages, from its code and params", async () => {
  const { eventText } = await import("../../static/js/models/event-text.js");
  const { translator } = await import("../../static/js/i18n.js");
  const at = { host: "127.0.0.1", port: 5000, address: "127.0.0.1:5000" }; // lab/errors.py os_problem's params
  const hints = {
    "port-in-use": [{ call: "bind", errno: "EADDRINUSE", params: at }, /5000/, /5000/],
    "connection-refused": [{ call: "connect", errno: "ECONNREFUSED", params: at }, /5000/, /5000/],
    "recv-on-listening-socket": [{ call: "recv", errno: "ENOTCONN", params: { call: "recv" } }, /accept\(\)/, /accept\(\)/],
    "send-str": [{ call: "send", params: { call: "send" } }, /encode/, /字节/],
    "socket-never-closed": [{ call: "close", params: { socket: "s1@alice" } }, /s1@alice/, /s1@alice/],
    "recv-missed-pieces": [{ call: "close", params: { socket: "s2@alice", unread: 11 } }, /11 received bytes.*loop/, /11 字节.*循环/],
  };
  for (const [code, [fields, english, chinese]] of Object.entries(hints)) {
    const ev = traced("alice", 1, "error", { ...fields, code, detail: "not shown" });
    const [en, zh] = [eventText(ev, translator("en")), eventText(ev, translator("zh"))];
    assert.match(en, english, `${code}: ${en}`);
    assert.match(zh, chinese, `${code}: ${zh}`);
    for (const text of [en, zh]) assert.doesNotMatch(text, /\{\w+\}|err\.|undefined|not shown/, `${code}: ${text}`);
  }
});

test("a send whose clock reads later than the recv of its bytes is still drawn above it", () => {
  const model = new LadderModel();
  const t0 = ts + 5;
  const recv = traced("bob", 1, "recv", { ts: t0, local: C, peer: S, size: 5, call: "recv", result: 5 });
  model.add(recv); // bob's batch first
  const lab = event("listen", { endpoint: "e1", local: ["127.0.0.1", 6000], ts: t0 + 0.002 }); // the lab's, at once
  model.add(lab);
  const send = traced("alice", 2, "send", { ts: t0 + 0.001, local: S, peer: C, size: 5, call: "sendall", result: 5 });
  model.add(send); // alice's, stamped later than bob's recv (another process, another core), before the lab's row
  assert.deepEqual(model.items.map((i) => i.seq), [send.seq, recv.seq, lab.seq]);
  assert.deepEqual(model.bySeq.get(recv.seq).sources, [{ seq: send.seq, bytes: 5 }]);
});
