// node --test: a new stage's diagram holds nothing of the stage that ended, whatever runs the lab.
// Over an agent or in the sandbox, events about the ended stage's sockets may come after the new
// stage's `stage` event: the closes the clear made (relayed late), the FIN/ACK the capture reads
// after the clear, a download's last events. They are left out, in one batch or across batches, at
// once and after LANE_LINGER; a student's traced program and a socket under a reused id are drawn.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { LANE_LINGER, LadderModel } from "../../static/js/models/ladder-model.js";
import { feedByStage } from "../../static/js/models/stages.js";
import { wireEnds } from "../../static/js/models/wire-model.js";
import { event, useKinds } from "./fixtures.mjs";

beforeEach(useKinds);

const S = ["127.0.0.1", 5000];
const C = ["127.0.0.1", 40000];
const T0 = 1700000000;
const stage = (n, lesson = 10) => event("stage", { endpoint: "", proto: "", ts: T0 + 1, params: { stage: n, lesson: lesson && { n: lesson } } });

/** Lesson 10's sockets: a server e1@sandbox, its client e2@sandbox, the accepted e1@sandbox/c1. */
function lessonTen() {
  return [
    stage(2),
    event("listen", { endpoint: "e1@sandbox", local: S, call: "listen", ts: T0 + 1 }),
    event("connect", { endpoint: "e2@sandbox", local: C, peer: S, call: "connect", ts: T0 + 1 }),
    event("accept", { endpoint: "e1@sandbox", conn: "c1", local: S, peer: C, call: "accept", ts: T0 + 1 }),
    event("progress", { endpoint: "d1@sandbox", args: { bytes: 10, size: 20 }, ts: T0 + 1 }),
  ];
}

/** What the clear of the next stage makes of them, arriving after that stage's `stage` event. */
function lateOfTen() {
  const packet = (src, dst, flags, f) => event("packet", { args: { flags, seq: 1, ack: 1, win: 512, len: 0, src, dst }, ts: T0 + 2, ...f });
  return [
    event("close", { endpoint: "e1@sandbox", conn: "c1", local: S, peer: C, call: "close", closed_by: "local", ts: T0 + 2 }),
    packet(S, C, "FIN,ACK", { endpoint: "e1@sandbox", conn: "c1", local: S, peer: C }),
    packet(C, S, "FIN,ACK", { endpoint: "e2@sandbox", local: C, peer: S }),
    event("close", { endpoint: "e2@sandbox", local: C, peer: S, call: "close", closed_by: "peer", ts: T0 + 2 }),
    event("state", { endpoint: "e2@sandbox", state: { id: "e2@sandbox", kind: "tcp-client", removed: true }, ts: T0 + 2 }),
    event("progress", { endpoint: "d1@sandbox", args: { bytes: 20, size: 20 }, ts: T0 + 2 }),
    event("done", { endpoint: "d1@sandbox", ts: T0 + 2 }),
  ];
}

const S2 = ["127.0.0.1", 6000];
function lessonEleven() {
  return [event("listen", { endpoint: "e3@sandbox", local: S2, call: "listen", ts: T0 + 2 })];
}

function diagramView(clock) {
  const model = new LadderModel({ clock });
  return { model, add: (events) => events.forEach((ev) => model.add(ev)), reset: () => model.reset(),
    newStage: (ended) => model.reset({ keepKinds: true, ended }) };
}

/** Every lane the diagram draws: its lanes, and the "outside the lab" ends its packets go to. */
function drawnLanes(model) {
  const lanes = new Set(model.lanes.keys());
  for (const item of model.items) if (item.packet) for (const end of wireEnds(model, item)) if (end) lanes.add(end);
  return [...lanes].sort();
}

const BATCHINGS = {
  "each in its own batch": (a, b, late, c) => [a, b, late, c],
  "late events and the stage in one batch": (a, b, late, c) => [a, [...b, ...late, ...c]],
  "all in one batch (a catch-up after a reload)": (a, b, late, c) => [[...a, ...b, ...late, ...c]],
  "the ended stage's closes before the stage event, its packets after": (a, b, late, c) =>
    [a, [...late.slice(0, 1)], [...b, ...late.slice(1), ...c]],
};

for (const [name, batch] of Object.entries(BATCHINGS)) {
  test(`lesson 10 then 11: no lane of lesson 10, at once and after ${LANE_LINGER + 1} s (${name})`, () => {
    let now = T0 + 2;
    const diagram = diagramView(() => now);
    for (const events of batch(lessonTen(), [stage(3, 11)], lateOfTen(), lessonEleven())) feedByStage([diagram], events);
    assert.deepEqual(drawnLanes(diagram.model), ["e3@sandbox"]);
    now += LANE_LINGER + 1;
    diagram.model.sweep(now);
    assert.deepEqual(drawnLanes(diagram.model), ["e3@sandbox"]);
    assert.deepEqual(diagram.model.items.map((i) => i.ev.kind), ["listen"]);
  });
}

test("a student's traced program goes on drawing in the next stage (no stage closes it)", () => {
  const diagram = diagramView(() => T0 + 2);
  const traced = (kind, f) => event(kind, { endpoint: "s1@alice", agent: "alice", local: C, peer: S, ts: T0 + 2, ...f });
  feedByStage([diagram], [...lessonTen(), traced("connect", { call: "connect" })]);
  feedByStage([diagram], [stage(3, 11), traced("send", { size: 3, call: "sendall" })]);
  assert.deepEqual(drawnLanes(diagram.model), ["s1@alice"]);
});

test("a socket's own first call under an id the ended stage had is a new socket (a restarted agent)", () => {
  const diagram = diagramView(() => T0 + 2);
  feedByStage([diagram], lessonTen());
  feedByStage([diagram], [stage(3, 11), ...lateOfTen(), event("listen", { endpoint: "e1@sandbox", local: S2, call: "listen" })]);
  assert.deepEqual(drawnLanes(diagram.model), ["e1@sandbox"]);
});

test("a stage after a stage without events about it leaves nothing out of the next", () => {
  const diagram = diagramView(() => T0 + 2);
  feedByStage([diagram], lessonTen());
  feedByStage([diagram], [stage(3, 11)]);
  feedByStage([diagram], [stage(4, 11), ...lateOfTen()]); // (two stages on: their sockets are no longer left out)
  assert.ok(drawnLanes(diagram.model).includes("e1@sandbox/c1"));
});
