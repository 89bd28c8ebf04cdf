// node --test: closed sockets leave the diagram's model LANE_LINGER seconds after they closed, on a
// fake clock: with their rows, and with nothing left pointing at them (no arrow to a lane that is
// gone, no "program outside the lab" in its place). Events by hand, per the schema.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { LANE_LINGER, LadderModel } from "../../static/js/models/ladder-model.js";
import { event, useKinds } from "./fixtures.mjs";

const S = ["127.0.0.1", 5000];
const C = ["127.0.0.1", 40000];
const T = 1700000000;
const server = (kind, f = {}) => event(kind, { endpoint: "e1", conn: "c1", local: S, peer: C, ...f });
const client = (kind, f = {}) => event(kind, { endpoint: "e2", local: C, peer: S, ...f });

beforeEach(useKinds);

/** A model on a fake clock, with a listening server e1, its connection e1/c1 and a client e2. */
function connected() {
  let now = T;
  const model = new LadderModel({ clock: () => now });
  model.add(event("listen", { endpoint: "e1", local: S, call: "listen", ts: T }));
  model.add(client("connect", { ts: T }));
  model.add(server("accept", { ts: T + 0.001 }));
  model.add(client("send", { size: 2, call: "sendall", ts: T + 1 }));
  model.add(server("recv", { size: 2, call: "recv", ts: T + 1.001 }));
  return { model, at: (t) => (now = t) };
}

test("a closed client's lane leaves LANE_LINGER seconds after its close, with its rows", () => {
  const { model } = connected();
  const close = client("close", { call: "close", closed_by: "local", ts: T + 2 });
  model.add(close);
  assert.deepEqual(model.sweep(T + 2 + LANE_LINGER - 0.1), [], "still there a moment before");
  assert.ok(model.lanes.has("e2"));
  assert.deepEqual(model.sweep(T + 2 + LANE_LINGER), ["e2"]);
  assert.equal(model.lanes.has("e2"), false);
  assert.equal(model.items.some((item) => item.lane === "e2"), false);
  assert.equal(model.bySeq.has(close.seq), false);
  assert.deepEqual([...model.lanes.keys()], ["e1", "e1/c1"]);
  // the rows left behind keep no arrow to it: their partner rows are gone
  for (const item of model.items) {
    for (const link of [...item.sources, ...item.dests]) {
      const other = model.bySeq.get(link.seq);
      if (other) assert.ok(model.lanes.has(other.lane));
    }
  }
});

test("a row whose partner lane left draws no arrow at all, not one to an outside program", () => {
  const { model } = connected();
  model.add(client("close", { call: "close", closed_by: "local", ts: T + 2 }));
  model.sweep(T + 10);
  // the server's connection answers, but the client that would have read it has left
  const late = server("send", { size: 3, call: "sendall", ts: T + 11 });
  model.add(late);
  assert.equal(model.farEndOf(model.bySeq.get(late.seq)), null);
  assert.equal(model.partnerOf(model.lanes.get("e1/c1")), null);
  // while the partner is there, a row without a partner row is "in flight" to it (a lab lane)
  const fresh = connected().model;
  const send = server("send", { size: 3, call: "sendall", ts: T + 3 });
  fresh.add(send);
  assert.equal(fresh.farEndOf(fresh.bySeq.get(send.seq)), "e2");
  // and a peer the lab never had a lane for is a program outside the lab
  const outside = new LadderModel();
  const alone = event("send", { endpoint: "e7", local: ["127.0.0.1", 41000], peer: ["127.0.0.1", 9999], size: 1, ts: T });
  outside.add(event("connect", { endpoint: "e7", local: ["127.0.0.1", 41000], peer: ["127.0.0.1", 9999], ts: T }));
  outside.add(alone);
  assert.equal(outside.farEndOf(outside.bySeq.get(alone.seq)), "ext 127.0.0.1:9999");
});

test("events that arrive late for a lane that left bring it back neither to the diagram nor its rows", () => {
  const { model } = connected();
  model.add(client("close", { call: "close", closed_by: "local", ts: T + 2 }));
  model.sweep(T + 8);
  assert.equal(model.add(client("send", { size: 1, call: "sendall", ts: T + 2.5 })), false);
  assert.equal(model.lanes.has("e2"), false);
});

test("an endpoint removed (state snapshot with removed) takes all its lanes, connections too", () => {
  const { model } = connected();
  model.add(event("state", { endpoint: "e1", ts: T + 3, state: { id: "e1", kind: "tcp-server", state: "closed", removed: true } }));
  assert.deepEqual(model.sweep(T + 3 + LANE_LINGER - 1), []);
  assert.deepEqual(model.sweep(T + 3 + LANE_LINGER).sort(), ["e1", "e1/c1"]);
  assert.deepEqual([...model.lanes.keys()], ["e2"]);
  assert.equal(model.items.every((item) => item.lane === "e2"), true);
});

test("a listening socket closed (stop listening) leaves; its established connection stays", () => {
  const { model } = connected();
  model.add(event("close", { endpoint: "e1", local: S, call: "close", closed_by: "local", args: { socket: "listening" }, ts: T + 4 }));
  assert.deepEqual(model.sweep(T + 4 + LANE_LINGER), ["e1"]);
  assert.ok(model.lanes.has("e1/c1"));
  assert.ok(model.lanes.has("e2"));
});

test("an event without a time ends its lane at the model's clock (a fake clock here)", () => {
  const { model, at } = connected();
  at(T + 50);
  model.add(client("close", { call: "close", closed_by: "local", ts: undefined }));
  assert.deepEqual(model.sweep(), []);
  at(T + 50 + LANE_LINGER);
  assert.deepEqual(model.sweep(), ["e2"]);
});

test("a new connection on the same ports after one left is matched afresh", () => {
  const { model } = connected();
  model.add(client("close", { call: "close", closed_by: "local", ts: T + 2 }));
  model.add(server("close", { call: "close", closed_by: "peer", ts: T + 2.001 }));
  model.sweep(T + 20);
  assert.deepEqual([...model.lanes.keys()], ["e1"]);
  const connect = event("connect", { endpoint: "e5", local: C, peer: S, ts: T + 21 });
  const accept = event("accept", { endpoint: "e1", conn: "c2", local: S, peer: C, ts: T + 21.001 });
  model.add(accept);
  model.add(connect);
  assert.deepEqual(model.bySeq.get(accept.seq).sources, [{ seq: connect.seq, bytes: 0 }]);
  const send = event("send", { endpoint: "e5", local: C, peer: S, size: 4, ts: T + 22 });
  const recv = event("recv", { endpoint: "e1", conn: "c2", local: S, peer: C, size: 4, ts: T + 22.001 });
  model.add(send);
  model.add(recv);
  assert.deepEqual(model.bySeq.get(recv.seq).sources, [{ seq: send.seq, bytes: 4 }], "byte offsets start from 0 again");
});

test("a traced program's lanes stay after it closes its sockets, until the next stage", () => {
  let now = T;
  const model = new LadderModel({ clock: () => now });
  const own = (kind, f = {}) => event(kind, { endpoint: "s1@ann", conn: null, agent: "ann", local: C, peer: S, ...f });
  model.add(event("listen", { endpoint: "e1", local: S, call: "listen", ts: T }));
  model.add(own("connect", { call: "connect", ts: T }));
  model.add(own("send", { size: 2, call: "sendall", ts: T + 1 }));
  model.add(own("close", { call: "close", closed_by: "local", ts: T + 2 }));
  now = T + 60;
  assert.deepEqual(model.sweep(now), [], "a minute later: still drawn");
  assert.equal(model.lanes.get("s1@ann").closed !== null, true, "marked as ended");
  assert.equal(model.items.filter((item) => item.lane === "s1@ann").length, 3);
});
