// node --test: the log's causal order, (stage, ts, seq), whatever order the events arrive in. The
// lab stamps a send (or connect) with the time its call started and a recv (or accept) with the
// time it returned, then numbers them as its threads record them: a recv may get the lower seq.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { logOf } from "../../static/js/models/kinds.js";
import { causallyBefore, insertCausal } from "../../static/js/models/log-order.js";
import { Stages } from "../../static/js/models/stages.js";
import { event, useKinds } from "./fixtures.mjs";

const T = 1700000000;
const isDivider = (ev) => logOf(ev.kind) === "divider";
beforeEach(useKinds);

/** The log's rows after the events arrive in `arrival` order (seq order, in one or more batches). */
function arrive(arrival) {
  const stages = new Stages();
  const rows = [];
  const at = [];
  for (const ev of arrival) {
    stages.note(ev);
    at.push(insertCausal(rows, ev, (e) => stages.cutOf(e), isDivider));
  }
  return { rows, at };
}

test("connect comes before accept though the accept was recorded (numbered) first", () => {
  const accept = event("accept", { conn: "c1", ts: T + 0.0004 });
  const connect = event("connect", { endpoint: "e2", ts: T + 0.0001 });
  const { rows, at } = arrive([accept, connect]);
  assert.deepEqual(rows.map((ev) => ev.kind), ["connect", "accept"]);
  assert.deepEqual(at, [0, 0], "the late connect went above the accept already shown");
});

test("the broadcast: three recvs recorded before the send that caused them are shown after it", () => {
  const recvs = [1, 2, 3].map((i) => event("recv", { endpoint: "e1", conn: `c${i}`, ts: T + 0.002 + i / 1e4 }));
  const send = event("send", { endpoint: "e2", ts: T + 0.001 });
  const after = event("recv", { endpoint: "e2", ts: T + 0.01 });
  const { rows } = arrive([...recvs, send, after]);
  assert.deepEqual(rows.map((ev) => ev.seq), [send.seq, ...recvs.map((ev) => ev.seq), after.seq]);
});

test("equal times keep seq order, and a row in order is appended (no walk back)", () => {
  const a = event("send", { ts: T });
  const b = event("recv", { ts: T });
  const c = event("send", { ts: T + 1 });
  const { rows, at } = arrive([a, b, c]);
  assert.deepEqual(rows, [a, b, c]);
  assert.deepEqual(at, [0, 1, 2]);
  assert.equal(causallyBefore(a, b, () => 0, isDivider), true);
  assert.equal(causallyBefore(b, a, () => 0, isDivider), false);
});

test("stages never mix: a late event of the old stage stays above the divider, whatever its time", () => {
  const old = event("send", { ts: T + 5 });
  const divider = event("stage", { endpoint: "", proto: "", ts: T + 3, params: { stage: 2 } });
  const early = event("listen", { endpoint: "e9", ts: T + 2 }); // stamped before the stage, delivered after it
  const { rows } = arrive([old, divider, early]);
  assert.deepEqual(rows, [old, divider, early]);
});

test("out-of-order arrival across batches of many events ends sorted by (ts, seq)", () => {
  // events numbered in recording order, stamped up to 3 ms earlier than they were recorded
  const events = Array.from({ length: 400 }, (_, i) => event(i % 2 ? "recv" : "send", { ts: T + i / 1000 - ((i * 7919) % 4) / 1000 }));
  const { rows } = arrive(events);
  const sorted = [...events].sort((a, b) => a.ts - b.ts || a.seq - b.seq);
  assert.deepEqual(rows.map((ev) => ev.seq), sorted.map((ev) => ev.seq));
});

test("a batch inserted at once gives the rows one by one would, whatever its order and reach", async () => {
  const { insertAllCausal } = await import("../../static/js/models/log-order.js");
  let seed = 7;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let round = 0; round < 200; round++) {
    const stages = new Stages();
    const cutOf = (e) => stages.cutOf(e);
    const one = [];
    const all = [];
    let now = T;
    for (let batch = 0; batch < 6; batch++) {
      // a class's batches: each program's events up to half a second old, interleaved, a stage now and then
      const events = [];
      for (let n = 0; n < 1 + Math.floor(random() * 30); n++) {
        events.push(random() < 0.02 ? event("stage", { endpoint: "", proto: "", ts: now, params: { stage: batch + 2 } })
          : event(random() < 0.5 ? "send" : "recv", { endpoint: `s${Math.floor(random() * 4)}@p${Math.floor(random() * 9)}`,
            ts: now - random() * 0.5 }));
        now += 0.01;
      }
      for (const ev of events) stages.note(ev);
      const expected = events.map((ev) => insertCausal(one, ev, cutOf, isDivider));
      const at = insertAllCausal(all, events, cutOf, isDivider);
      assert.deepEqual(all.map((ev) => ev.seq), one.map((ev) => ev.seq), `round ${round} batch ${batch}`);
      assert.deepEqual(at, events.map((ev) => all.indexOf(ev)).sort((a, b) => a - b));
      assert.ok(expected.length === at.length);
    }
  }
});
