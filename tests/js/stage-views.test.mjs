// node --test: the views of the current stage only. A "stage" event resets the
// diagram's model and the numbers, fed live, in one catch-up batch or across batches; the log's
// kinds come from the registry's "log" field; the stage numbering the log and the CSV share.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { beginsStage, logOf, setKinds } from "../../static/js/models/kinds.js";
import { LadderModel } from "../../static/js/models/ladder-model.js";
import { setEventFields, toCsv } from "../../static/js/models/recording.js";
import { Stages, feedByStage, stageNumbers } from "../../static/js/models/stages.js";
import { EVENT_FIELDS, KINDS, event, useKinds } from "./fixtures.mjs";

setEventFields(EVENT_FIELDS); // (as GET /api/session hands them to the page)

const S = ["127.0.0.1", 5000];
beforeEach(useKinds);

const stage = (n, lesson = null) => event("stage", { endpoint: "", proto: "", params: { stage: n, lesson } });

/** A small lesson's worth of events on endpoints `server` and `client` (one connection, one echo). */
function lesson(server, client, port) {
  const C = ["127.0.0.1", port];
  return [
    event("listen", { endpoint: server, local: S, call: "listen" }),
    event("connect", { endpoint: client, local: C, peer: S, call: "connect" }),
    event("accept", { endpoint: server, conn: "c1", local: S, peer: C, call: "accept" }),
    event("send", { endpoint: client, local: C, peer: S, size: 2, call: "sendall" }),
    event("recv", { endpoint: server, conn: "c1", local: S, peer: C, size: 2, call: "recv" }),
  ];
}

/** A view as classroom.js sees one: the diagram's model, with the interface the views share. */
function modelView() {
  const model = new LadderModel();
  return { model, add: (events) => events.forEach((ev) => model.add(ev)), reset: () => model.reset(), newStage: () => model.reset({ keepKinds: true }) };
}

function logView() {
  const rows = [];
  return { rows, keepsStages: true, add: (events) => rows.push(...events), reset: () => { throw new Error("the log never resets at a stage"); } };
}

test("the registry's log field says how the log shows a kind; an unknown kind is a row", () => {
  assert.equal(logOf("state"), "none");
  assert.equal(logOf("classroom"), "none");
  assert.equal(logOf("stage"), "divider");
  assert.equal(logOf("send"), "row");
  assert.equal(logOf("a-kind-the-server-adds-later"), "row");
  assert.equal(beginsStage("stage"), true);
  assert.equal(beginsStage("send"), false);
  // a registry from an older server without the field: every kind a row, no stages
  setKinds({ send: { lifecycle: false, draw: "arrow", changes: false }, weird: { log: "sideways" } });
  assert.equal(logOf("send"), "row");
  assert.equal(logOf("weird"), "row");
  setKinds(KINDS);
});

test("a stage event resets the diagram, in one catch-up batch or across live batches; the log keeps all", () => {
  const first = lesson("e1", "e2", 40001);
  const second = lesson("e3", "e4", 40002);
  const events = [...first, stage(2), ...second];
  for (const batches of [[events], [first, [stage(3)], second], [first.slice(0, 3), [...first.slice(3), stage(4), ...second.slice(0, 1)], second.slice(1)]]) {
    const diagram = modelView();
    const log = logView();
    let began = 0;
    for (const batch of batches) began += Number(feedByStage([log, diagram], batch));
    assert.equal(began, 1);
    assert.deepEqual([...diagram.model.lanes.keys()], ["e3", "e4", "e3/c1"], "only the second stage's lanes");
    assert.equal(diagram.model.items.every((item) => ["e3", "e4", "e3/c1"].includes(item.lane)), true);
    assert.equal(log.rows.length, events.length, "the log got every event, earlier stages too");
  }
});

test("a stage keeps the endpoint kinds the diagram learnt from the endpoint list", () => {
  const diagram = modelView();
  diagram.model.setEndpoints([{ id: "e9", kind: "udp-client" }]);
  feedByStage([diagram], [stage(2), event("send", { endpoint: "e9", proto: "udp", local: ["0.0.0.0", 41000], peer: S, size: 1 })]);
  assert.equal(diagram.model.lanes.get("e9").kind, "udp-client");
});

test("stage numbers: by delivery order, from the stage event's params; the first stage is the one before", () => {
  const before = event("send", { size: 1 });
  const two = stage(2, { n: 5, key: "download" });
  const during = event("recv", { size: 1 });
  const stages = new Stages();
  for (const ev of [before, two, during]) stages.note(ev);
  assert.deepEqual([before, two, during].map((ev) => stages.stageOf(ev)), [1, 2, 2]);
  assert.deepEqual([before, two, during].map((ev) => stages.isEarlier(ev)), [true, false, false]);
  const three = stage(7);
  stages.note(three);
  assert.equal(stages.isEarlier(during), true);
  assert.equal(stages.stageOf(three), 7);
  // a recording that starts in stage 6 (its stage 7 event says so); one with no stage at all is stage 1
  assert.deepEqual(stageNumbers([event("send"), stage(7), event("recv")]), [6, 7, 7]);
  assert.deepEqual(stageNumbers([event("send")]), [1]);
});

test("the CSV keeps every event and gains a stage column (last, so the other columns stay put)", () => {
  const events = [event("send", { size: 1 }), stage(2), event("recv", { size: 1 })];
  const lines = toCsv(events).trim().split("\r\n");
  const header = lines[0].split(",");
  assert.deepEqual(header.slice(0, 4), ["iso_time", "seq", "ts", "endpoint"]);
  assert.equal(header.at(-2), "stage"); // (peer_name after it, the very last column)
  assert.equal(lines.length, 4);
  assert.deepEqual(lines.slice(1).map((line) => line.split(",").at(-2)), ["1", "2", "2"]);
});
