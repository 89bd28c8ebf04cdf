// node --test: the diagram's wire layer fed recorded event lists in the lab's packet shape
// (CONTRACT "The wire": kind "packet", args {flags, seq, ack, win, len, src, dst, analysis}), in the
// orders the capture thread and the socket threads may record them.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { LadderModel } from "../../static/js/models/ladder-model.js";
import { flagsText, packetOf, wireEnds } from "../../static/js/models/wire-model.js";
import { event, useKinds } from "./fixtures.mjs";

const S = ["127.0.0.1", 5000];
const C = ["127.0.0.1", 40000];
const listen = () => event("listen", { endpoint: "e1", local: S, call: "listen", args: { address: S, backlog: 128 } });
const server = (kind, f = {}) => event(kind, { endpoint: "e1", conn: "c1", local: S, peer: C, ...f });
const client = (kind, f = {}) => event(kind, { endpoint: "e2", local: C, peer: S, ...f });
/** A captured segment, matched by the lab to the client's socket (its own lane) unless `f` says otherwise. */
const segment = (src, dst, flags, seq, ack, len = 0, f = {}) => event("packet", {
  endpoint: "e2", local: C, peer: S, size: len, call: null, result: null, ts: f.ts ?? 1700000000,
  args: { flags, seq, ack, win: 65483, len, src, dst, analysis: f.analysis ?? null }, ...f.event });
const handshake = () => [segment(C, S, "SYN", 0, 0), segment(S, C, "SYN,ACK", 0, 1), segment(C, S, "ACK", 1, 1)];
const send = (n, text = "x".repeat(n)) => client("send", { size: n, call: "sendall", args: { bytes: n }, result: n, data: text });
const recv = (n) => server("recv", { size: n, call: "recv", args: { bufsize: 65536 }, result: n });

beforeEach(useKinds);

function build(events) {
  const model = new LadderModel();
  for (const ev of events) model.add(ev);
  return model;
}

/** The rows top to bottom, as "kind" or the packet's flags. */
const order = (model) => model.items.map((item) => (item.packet ? flagsText(item.packet) : item.ev.kind));

test("the handshake is drawn between connect() and accept(), whichever was recorded first", () => {
  const calls = () => [client("connect", { call: "connect", args: { address: S } }), server("accept", { call: "accept", result: C })];
  const want = ["listen", "connect", "SYN", "SYN,ACK", "ACK", "accept"];
  const [connect, accept] = calls();
  assert.deepEqual(order(build([listen(), ...handshake(), connect, accept])), want, "packets first");
  const [connect2, accept2] = calls();
  assert.deepEqual(order(build([listen(), connect2, accept2, ...handshake()])), want, "calls first");
  const [connect3, accept3] = calls();
  const [syn, synAck, ack] = handshake();
  assert.deepEqual(order(build([listen(), syn, connect3, synAck, accept3, ack])), want, "interleaved");
  const model = build([listen(), ...handshake(), ...calls()]);
  assert.deepEqual(model.items.filter((i) => i.packet).map((i) => i.wire.handshake), [true, true, true]);
});

test("the handshake goes to the listening socket; later packets go to the socket accept() made", () => {
  const model = build([listen(), client("connect", { call: "connect", args: { address: S } }), ...handshake(),
    server("accept", { call: "accept", result: C }), send(5), segment(C, S, "PSH,ACK", 1, 1, 5)]);
  const rows = model.items;
  const at = (item) => rows.indexOf(item);
  const drawnBy = (item) => (id) => at(model.bySeq.get(model.lanes.get(id).first)) <= at(item);
  const packets = rows.filter((i) => i.packet);
  assert.deepEqual(wireEnds(model, packets[0], drawnBy(packets[0])), ["e2", "e1"]);
  assert.deepEqual(wireEnds(model, packets[1], drawnBy(packets[1])), ["e1", "e2"]);
  assert.deepEqual(wireEnds(model, packets[3], drawnBy(packets[3])), ["e2", "e1/c1"]);
});

test("the handshake goes to the listening socket even when the lab names the accepted socket its owner", () => {
  const theirs = { event: { endpoint: "e1", conn: "c1", local: S, peer: C } };
  const model = build([listen(), client("connect"), segment(C, S, "SYN", 0, 0, 0, theirs), segment(S, C, "SYN,ACK", 0, 1, 0, theirs),
    segment(C, S, "ACK", 1, 1, 0, theirs), server("accept", { call: "accept", result: C })]);
  const at = (item) => model.items.indexOf(item);
  const drawnBy = (item) => (id) => at(model.bySeq.get(model.lanes.get(id).first)) <= at(item);
  const ends = model.items.filter((i) => i.packet).map((i) => wireEnds(model, i, drawnBy(i)));
  assert.deepEqual(ends, [["e2", "e1"], ["e1", "e2"], ["e2", "e1"]]);
});

test("a packet of a lab socket whose first call is not in yet is drawn to no lane, not to one outside the lab", () => {
  const model = build([listen(), segment(C, S, "SYN", 0, 0)]);
  assert.deepEqual(wireEnds(model, model.items[1]), [null, "e1"]);
});

test("FIN and ACK both ways after close(), before the peer's recv() returned 0", () => {
  const model = build([listen(), client("connect"), server("accept"), ...handshake(),
    segment(C, S, "FIN,ACK", 1, 1), server("close", { call: "close", closed_by: "peer" }),
    client("close", { call: "close", closed_by: "local" }), segment(S, C, "ACK", 1, 2),
    server("close", { call: "close", closed_by: "local" }), segment(S, C, "FIN,ACK", 1, 2), segment(C, S, "ACK", 2, 2)]);
  const tail = order(model).slice(-7);
  // the client's close() is lifted above the FIN it sent; the server's "recv() = 0" stays below that FIN
  assert.deepEqual(tail, ["close", "FIN,ACK", "close", "ACK", "close", "FIN,ACK", "ACK"]);
  const closes = model.items.filter((i) => i.ev.kind === "close");
  assert.deepEqual(closes.map((i) => i.lane), ["e2", "e1/c1", "e1/c1"]);
  assert.equal(closes[1].ev.closed_by, "peer");
});

test("a connect to a closed port: SYN then RST, before the refused connect's error", () => {
  const closed = ["127.0.0.1", 9];
  const fail = event("error", { endpoint: "e3", call: "connect", errno: "ECONNREFUSED", peer: closed });
  const mine = { event: { endpoint: "e3", local: C, peer: closed } };
  const model = build([fail, segment(C, closed, "SYN", 0, 0, 0, mine), segment(closed, C, "RST,ACK", 1, 1, 0, mine)]);
  assert.deepEqual(order(model), ["SYN", "RST,ACK", "error"]);
  const rst = model.items[1];
  assert.equal(rst.packet.rst, true);
  assert.deepEqual(wireEnds(model, rst), ["ext 127.0.0.1:9", "e3"]);
});

test("one send() split into two segments: both carry it, and sit between the send and the recvs", () => {
  const big = send(100000);
  const model = build([listen(), client("connect"), server("accept"), ...handshake(),
    segment(C, S, "ACK", 1, 1, 65483), big, segment(C, S, "PSH,ACK", 65484, 1, 34517), recv(65536), recv(34464)]);
  const sendRow = model.bySeq.get(big.seq);
  const segments = model.items.filter((i) => i.packet?.len > 0);
  assert.equal(sendRow.segments.length, 2);
  for (const s of segments) assert.deepEqual(s.wire.sends, [big.seq]);
  const at = (item) => model.items.indexOf(item);
  assert.ok(at(sendRow) < at(segments[0]), "the send is lifted above its first segment");
  const recvs = model.items.filter((i) => i.ev.kind === "recv");
  assert.ok(at(segments[1]) < at(recvs[0]));
});

test("two sends glued into one segment: the segment carries both", () => {
  const [a, b] = [send(5, "hello"), send(5, "world")];
  const model = build([client("connect"), server("accept"), a, b, recv(10), segment(C, S, "PSH,ACK", 1, 1, 10)]);
  const seg = model.items.find((i) => i.packet);
  assert.deepEqual(seg.wire.sends, [a.seq, b.seq]);
  assert.deepEqual(order(model), ["connect", "accept", "send", "send", "PSH,ACK", "recv"], "placed above the recv that got it");
});

test("a retransmission: the first copy is lost (an X), the second says how long after", () => {
  const lost = segment(C, S, "PSH,ACK", 1, 1, 5, { ts: 1700000000.1 });
  const again = segment(C, S, "PSH,ACK", 1, 1, 5, { ts: 1700000000.31, analysis: "retransmission" });
  const model = build([client("connect"), server("accept"), send(5), lost, again, recv(5)]);
  const [first, second] = model.items.filter((i) => i.packet);
  assert.equal(first.wire.lost, true);
  assert.deepEqual(second.wire.resent, { of: lost.seq, ms: 210 });
  assert.deepEqual(order(model), ["connect", "accept", "send", "PSH,ACK", "PSH,ACK", "recv"]);
});

test("a retransmission of bytes the receiver had acked: the first copy arrived (its ACK was lost)", () => {
  const model = build([segment(C, S, "PSH,ACK", 1, 1, 5), segment(S, C, "ACK", 1, 6),
    segment(C, S, "PSH,ACK", 1, 1, 5, { analysis: "retransmission", ts: 1700000000.5 })]);
  const [first, , third] = model.items;
  assert.equal(first.wire.lost, false);
  assert.equal(third.wire.resent.ms, 500);
});

test("a resend of a segment's tail (a tail loss probe) is its retransmission, not one more part of the send()", () => {
  // recorded on a loaded machine: 200 000 bytes, and the kernel resent the last 14 875 of a 62 491-byte segment
  const a = segment(C, S, "ACK", 1, 1, 65482, { ts: 1700000000.1 });
  const b = segment(C, S, "PSH,ACK", 65483, 1, 62491, { ts: 1700000000.2 });
  const tail = segment(C, S, "ACK", 113099, 1, 14875, { ts: 1700000000.45, analysis: "retransmission" });
  const c = segment(C, S, "PSH,ACK", 127974, 1, 72027, { ts: 1700000000.5 });
  const big = send(200000);
  const model = build([client("connect"), server("accept"), big, a, b, tail, c]);
  const [, second, third] = model.items.filter((i) => i.packet);
  assert.deepEqual(third.wire.resent, { of: b.seq, ms: 250 });
  assert.equal(second.wire.lost, true);
  assert.deepEqual(model.bySeq.get(big.seq).segments, [a.seq, b.seq, c.seq], "three parts: the resend is none of them");
  const acked = build([a, b, segment(S, C, "ACK", 1, 127974), tail]);
  assert.equal(acked.items[1].wire.lost, false, "its bytes were acked before they came again: the first copy arrived");
});

test("the same frame reported for both lab sockets is drawn once", () => {
  const mine = segment(C, S, "SYN", 0, 0);
  const theirs = { ...mine, seq: mine.seq + 1000, endpoint: "e1", local: S, peer: C };
  const model = build([mine, theirs]);
  assert.equal(model.items.length, 1);
  assert.equal(model.bySeq.has(theirs.seq), false);
});

test("a UDP datagram sits between its sendto() and the recvfrom() that got it", () => {
  const U = ["127.0.0.1", 6000];
  const out = event("send", { endpoint: "u2", proto: "udp", local: C, peer: U, size: 3, call: "sendto", args: { bytes: 3 } });
  const got = event("recv", { endpoint: "u1", proto: "udp", local: U, peer: C, size: 3, call: "recvfrom", args: { bufsize: 65535 } });
  const dgram = event("packet", { endpoint: "u2", proto: "udp", local: C, peer: U, size: 3,
    args: { flags: "", seq: null, ack: null, win: null, len: 3, src: C, dst: U, analysis: null } });
  const model = build([event("listen", { endpoint: "u1", proto: "udp", local: U }), got, dgram, out]);
  assert.deepEqual(model.items.map((i) => i.ev.kind), ["listen", "send", "packet", "recv"]);
  assert.deepEqual(model.items[2].wire.sends, [out.seq]);
  assert.deepEqual(wireEnds(model, model.items[2]), ["u2", "u1"]);
});

test("the wire layer hidden: visible() leaves the packets out, the calls stay", () => {
  const model = build([listen(), client("connect"), ...handshake(), server("accept")]);
  assert.equal(model.visible(150).rows.length, 6);
  assert.deepEqual(model.visible(150, null, false).rows.map((i) => i.ev.kind), ["listen", "connect", "accept"]);
});

test("hostile packet events draw nothing and break nothing", () => {
  const model = new LadderModel();
  const junk = [
    { args: null }, { args: "SYN" }, { args: { src: "127.0.0.1", dst: S } }, { args: { src: [], dst: [1] } },
    { args: { flags: 7, seq: "x", ack: {}, len: -5, src: C, dst: S, analysis: 3 } },
    { args: { flags: "SYN".repeat(10000), seq: 1e300, ack: NaN, win: Infinity, len: 1e12, src: C, dst: S, analysis: ["retransmission", 5] } },
  ];
  for (const f of junk) model.add(event("packet", f));
  assert.equal(model.items.length, 2, "only the two with addresses are packets");
  assert.equal(packetOf(model.items[0].ev).len, 0, "a negative length is none");
  for (let i = 0; i < 5000; i++) model.add(segment(C, S, "PSH,ACK", 1 + i * 10, 1, 10, { analysis: i % 2 ? "retransmission" : null, ts: 1700000000 + i }));
  assert.ok(model.items.length <= 3000, "rows stay bounded");
  assert.ok(model.wire.dirs.get("127.0.0.1:40000>127.0.0.1:5000").segments.length <= 750, "so do the segments remembered");
});
