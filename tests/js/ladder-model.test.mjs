// node --test: the sequence diagram's model fed event sequences (hand-made, per the schema):
// handshake lanes, coalesced sends into one recv, who closed, a lost datagram, a download.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { closedByPeer } from "../../static/js/models/event-socket.js";
import { LadderModel } from "../../static/js/models/ladder-model.js";
import { event, useKinds } from "./fixtures.mjs";

const S = ["127.0.0.1", 5000];
const C = ["127.0.0.1", 40000];
const server = (kind, f = {}) => event(kind, { endpoint: "e1", conn: "c1", local: S, peer: C, ...f });
const client = (kind, f = {}) => event(kind, { endpoint: "e2", local: C, peer: S, ...f });
const row = (model, seq) => model.bySeq.get(seq);

beforeEach(useKinds);

test("connect and accept make two lanes joined by the handshake, whatever order they arrive in", () => {
  const model = new LadderModel();
  model.add(event("listen", { endpoint: "e1", local: S, call: "listen", args: { address: S, backlog: 128 } }));
  const accept = server("accept", { call: "accept", result: C });
  const connect = client("connect", { call: "connect", args: { address: S } });
  model.add(accept);
  model.add(connect);
  assert.deepEqual([...model.lanes.keys()], ["e1", "e1/c1", "e2"]);
  assert.equal(model.lanes.get("e1").kind, "tcp-server");
  assert.equal(model.lanes.get("e1/c1").kind, "connection");
  assert.equal(model.lanes.get("e2").kind, "tcp-client");
  assert.deepEqual(row(model, accept.seq).sources, [{ seq: connect.seq, bytes: 0 }]);
  // the connect arrived last but is drawn above the accept it caused
  assert.ok(model.items.indexOf(row(model, connect.seq)) < model.items.indexOf(row(model, accept.seq)));
});

test("three sends coalesced by TCP into one recv: one row with three arrows in", () => {
  const model = new LadderModel();
  const sends = [1, 2, 3].map(() => client("send", { size: 4, call: "sendall", args: { bytes: 4 }, result: 4 }));
  for (const ev of sends) model.add(ev);
  const recv = server("recv", { size: 12, call: "recv", args: { bufsize: 65536 }, result: 12 });
  model.add(recv);
  const got = row(model, recv.seq);
  assert.equal(got.role, "recv");
  assert.deepEqual(got.sources.map((s) => [s.seq, s.bytes]), sends.map((s) => [s.seq, 4]));
  // framed messages restored from it are counted on that recv, not drawn as rows
  model.add(server("message", { size: 4, framing: "line", message: 1 }));
  model.add(server("message", { size: 4, framing: "line", message: 2 }));
  assert.equal(got.messages, 2);
  assert.equal(model.items.length, 4);
});

test("who closed comes from closed_by: the peer's close answers this side's FIN", () => {
  const model = new LadderModel();
  model.add(server("accept"));
  model.add(client("connect"));
  const active = client("close", { call: "close", closed_by: "local" });
  const passive = server("close", { call: "close", closed_by: "peer", detail: "closed by the lab" });
  model.add(active);
  model.add(passive);
  assert.equal(closedByPeer(passive), true);
  assert.equal(closedByPeer(active), false);
  assert.deepEqual(row(model, passive.seq).sources, [{ seq: active.seq, bytes: 0 }]);
  assert.equal(model.lanes.get("e2").closed, active.seq);
  // an English detail saying "closed by the peer" changes nothing: only the field counts
  assert.equal(closedByPeer(client("close", { closed_by: "local", detail: "closed by the peer" })), false);
});

test("a lost UDP datagram is a row of its own and is counted on its lane", () => {
  const model = new LadderModel();
  const U = ["127.0.0.1", 6000];
  model.add(event("listen", { endpoint: "e3", proto: "udp", local: U, call: "bind", args: { address: U } }));
  const lost = event("lost", { endpoint: "e4", proto: "udp", local: ["0.0.0.0", 41000], peer: U, size: 3, code: "impair-loss" });
  model.add(lost);
  assert.equal(row(model, lost.seq).role, "lost");
  assert.equal(model.lanes.get("e4").lost, 1);
  // a datagram that arrives is matched to its send by port and preview
  const send = event("send", { endpoint: "e4", proto: "udp", local: ["0.0.0.0", 41000], peer: U, size: 2, hex: "68 69", call: "sendto" });
  const recv = event("recv", { endpoint: "e3", proto: "udp", local: U, peer: ["127.0.0.1", 41000], size: 2, hex: "68 69", call: "recvfrom" });
  model.add(send);
  model.add(recv);
  assert.deepEqual(row(model, recv.seq).sources, [{ seq: send.seq, bytes: 2 }]);
});

test("a download's lane, header bytes and end of file come from its fields", () => {
  const model = new LadderModel();
  const D = ["127.0.0.1", 43000];
  const sha = "ab".repeat(32);
  model.add(event("connect", { endpoint: "d1", local: D, peer: S, call: "connect", args: { address: S, download: true } }));
  assert.equal(model.lanes.get("d1").kind, "download");
  const header = event("header", { endpoint: "d1", local: D, peer: S, args: { size: 4000, sha256: sha } });
  model.add(header);
  assert.equal(row(model, header.seq).bytes, `OK 4000 ${sha}\n`.length);
  const done = event("done", { endpoint: "d1", local: D, peer: S, size: 4000, args: { bytes: 4000, file: "a.bin", verified: true } });
  model.add(done);
  assert.equal(row(model, done.seq).role, "eof");
  // a snapshot draws nothing
  assert.equal(model.add(event("state", { state: { id: "e1", kind: "tcp-server", state: "listening" } })), false);
});

test("an event of the lab, not of a socket (a stopped capture), draws no lane: the log says it", () => {
  const model = new LadderModel();
  const stopped = event("error", { endpoint: "", proto: "", code: "capture-stopped", params: { status: -9 } });
  assert.equal(model.add(stopped), false);
  assert.equal(model.lanes.size, 0);
  model.add(client("connect", { call: "connect", args: { address: S } }));
  assert.deepEqual([...model.lanes.keys()], ["e2"]); // (sockets still get theirs)
});
