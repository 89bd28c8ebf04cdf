// node --test: ladder-links.js on its own, with rows as the model makes them: TCP bytes matched by
// offsets, UDP datagrams by size and preview, connect -> accept, a late initiator moved above its
// partner, and a reused 4-tuple starting afresh.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LinkTrack, placeBefore } from "../../static/js/models/ladder-links.js";
import { event } from "./fixtures.mjs";

const S = ["127.0.0.1", 5000];
const C = ["127.0.0.1", 40000];
const tcp = { proto: "tcp", local: C, peer: S };

/** A row for `ev`, appended to `items` and linked, the way LadderModel.add does it. */
function add(links, items, role, fields, lane = tcp) {
  const ev = event(role === "send" ? "send" : role, fields);
  const item = { seq: ev.seq, ev, role, bytes: Number(ev.size) || 0, sources: [], dests: [] };
  items.push(item);
  links.link(items, item, lane);
  return item;
}

const send = (n, f = {}) => ({ local: C, peer: S, size: n, ...f });
const recv = (n, f = {}) => ({ local: S, peer: C, size: n, ...f });

test("two sends coalesced into one recv, and one send split across two recvs", () => {
  const links = new LinkTrack();
  const items = [];
  const a = add(links, items, "send", send(3));
  const b = add(links, items, "send", send(4));
  const r = add(links, items, "recv", recv(7));
  assert.deepEqual(r.sources.map((s) => [s.seq, s.bytes]), [[a.seq, 3], [b.seq, 4]]);
  const big = add(links, items, "send", send(10));
  const r1 = add(links, items, "recv", recv(6));
  const r2 = add(links, items, "recv", recv(4));
  assert.deepEqual(big.dests.map((d) => [d.seq, d.bytes]), [[r1.seq, 6], [r2.seq, 4]]);
});

test("a send recorded after the recv that got it is drawn above it", () => {
  const links = new LinkTrack();
  const items = [];
  const r = add(links, items, "recv", recv(5));
  const s = add(links, items, "send", send(5));
  assert.deepEqual(items, [s, r]);
  assert.deepEqual(r.sources, [{ seq: s.seq, bytes: 5 }]);
});

test("connect -> accept, and a late connect goes above its accept", () => {
  const links = new LinkTrack();
  const items = [];
  const accept = add(links, items, "accept", { local: S, peer: C });
  const connect = add(links, items, "connect", { local: C, peer: S });
  assert.deepEqual(items, [connect, accept]);
  assert.deepEqual(accept.sources, [{ seq: connect.seq, bytes: 0 }]);
});

test("UDP: the same datagram by size and preview, reordered", () => {
  const links = new LinkTrack();
  const items = [];
  const udp = { proto: "udp" };
  const one = add(links, items, "send", send(1, { proto: "udp", hex: "31" }), udp);
  const two = add(links, items, "send", send(1, { proto: "udp", hex: "32" }), udp);
  const got = add(links, items, "recv", recv(1, { proto: "udp", hex: "32" }), udp);
  assert.deepEqual(got.sources, [{ seq: two.seq, bytes: 1 }]);
  assert.deepEqual(one.dests, []);
});

test("a connection on ports the OS reused starts with fresh byte counts", () => {
  const links = new LinkTrack();
  const items = [];
  add(links, items, "send", send(3)); // never received: the old connection ended
  links.forgetConnection(C, S);
  const s = add(links, items, "send", send(5));
  const r = add(links, items, "recv", recv(5));
  assert.deepEqual(r.sources, [{ seq: s.seq, bytes: 5 }]);
});

test("placeBefore looks at most 500 rows back and leaves a row it cannot find", () => {
  const items = Array.from({ length: 600 }, (_, i) => ({ seq: i }));
  const late = { seq: 999 };
  items.push(late);
  placeBefore(items, late, [items[0], items[200]]);
  assert.equal(items.indexOf(late), 200, "above the earliest partner within reach");
  const stray = { seq: 1000 };
  placeBefore(items, stray, [items[0]]);
  assert.equal(items.includes(stray), false);
});
