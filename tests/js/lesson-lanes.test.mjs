// node --test: during a lesson, closed sockets stay in the diagram until the next stage (lesson 3's
// point is that "Stop" closes every socket: the class must still see it a minute later); outside a
// lesson they leave LANE_LINGER seconds after they closed.
import assert from "node:assert/strict";
import { beforeEach, test } from "node:test";
import { LANE_LINGER, LadderModel } from "../../static/js/models/ladder-model.js";
import { event, useKinds } from "./fixtures.mjs";

const S = ["127.0.0.1", 5000];
const C = ["127.0.0.1", 40000];
const T = 1700000000;

beforeEach(useKinds);

function closedClient(stageParams) {
  const model = new LadderModel({ clock: () => T });
  model.add(event("stage", { endpoint: "", proto: "", params: stageParams, ts: T }));
  model.add(event("connect", { endpoint: "e2", local: C, peer: S, ts: T + 0.1 }));
  model.add(event("close", { endpoint: "e2", local: C, peer: S, call: "close", closed_by: "peer", ts: T + 1 }));
  return model;
}

test("in a lesson, a closed socket's lane stays until the next stage", () => {
  const model = closedClient({ stage: 4, lesson: { n: 3, key: "stop" } });
  assert.deepEqual(model.sweep(T + 1 + 60 * LANE_LINGER), []);
  assert.ok(model.lanes.has("e2"));
  model.reset({ keepKinds: true }); // the next stage: everything of the lesson goes
  model.add(event("stage", { endpoint: "", proto: "", params: { stage: 5, lesson: null }, ts: T + 2 }));
  assert.equal(model.lanes.has("e2"), false);
});

test("without a lesson, a closed socket's lane leaves LANE_LINGER seconds after", () => {
  const model = closedClient({ stage: 4, lesson: null });
  assert.deepEqual(model.sweep(T + 1 + LANE_LINGER), ["e2"]);
});
