// node --test: the page's copy of the classroom stage (static/js/stage.js, StageCopy) keeps the
// newest stage object, whichever way it arrived: a GET answer, this page's own POST, live events.
import assert from "node:assert/strict";
import { test } from "node:test";
import { StageCopy } from "../../static/js/stage.js";

const stage = (n, extra = {}) => ({ stage: n, seq: n * 10, started: n, endpoints: 0,
  teacher: { view: "log", focus: null }, lesson: null, ...extra });
const live = (kind, params, seq = 1) => ({ seq, kind, endpoint: "", proto: "", params });

function watched() {
  const copy = new StageCopy();
  const seen = [];
  copy.on("stage", (next, previous, how) => seen.push([next.stage, previous?.stage ?? null, how]));
  return { copy, seen };
}

test("a GET answer is taken when nothing newer came while it was on its way", () => {
  const { copy, seen } = watched();
  assert.equal(copy.fromLoad(stage(3), copy.ticket()), true);
  assert.deepEqual(seen, [[3, null, "load"]]);
  assert.equal(copy.stage.stage, 3);
});

test("a GET answer older than a live event that overtook it is dropped", () => {
  const { copy } = watched();
  copy.fromLoad(stage(3), copy.ticket());
  const ticket = copy.ticket(); // a reconnect asks again...
  const step = stage(3, { teacher: { view: "ladder", focus: null } });
  copy.fromEvents([live("classroom", step)], true); // ...and an event arrives first
  assert.equal(copy.fromLoad(stage(3), ticket), false, "the answer may predate the event");
  assert.equal(copy.stage.teacher.view, "ladder");
  assert.equal(copy.fromLoad(stage(4), ticket), true, "a later stage number is newer whatever the timing");
});

test("history replayed after a reload is not taken: it is older than what the GET said", () => {
  const { copy, seen } = watched();
  copy.fromLoad(stage(5), copy.ticket());
  copy.fromEvents([live("stage", stage(2)), live("classroom", stage(4)), live("stage", stage(5))], false);
  assert.equal(copy.stage.stage, 5);
  assert.deepEqual(seen, [[5, null, "load"]]);
});

test("live events are taken in order; an older stage number and other kinds are not", () => {
  const { copy, seen } = watched();
  copy.fromEvents([live("stage", stage(2)), live("send", stage(9)), live("classroom", stage(2, { endpoints: 4 })),
    live("classroom", stage(1)), live("stage", { no: "stage" })], true);
  assert.deepEqual(seen, [[2, null, "stage"], [2, 2, "classroom"]]);
  assert.equal(copy.stage.endpoints, 4);
});

test("this page's own answers count, unless a later stage already began", () => {
  const { copy, seen } = watched();
  copy.fromEvents([live("stage", stage(6))], true);
  assert.equal(copy.fromAnswer(stage(5)), false);
  assert.equal(copy.fromAnswer(stage(6, { endpoints: 2 })), true);
  assert.equal(copy.fromAnswer(null), false);
  assert.deepEqual(seen.map(([n, , how]) => [n, how]), [[6, "stage"], [6, "answer"]]);
});

test("the stage event that began a stage never undoes what this page's own answer said of it", () => {
  const { copy, seen } = watched();
  copy.fromAnswer(stage(7, { lesson: { n: 1, state: "ready" } })); // POST /api/stage answered first
  copy.fromEvents([live("stage", stage(7, { lesson: { n: 1, state: "building" } }))], true);
  assert.equal(copy.stage.lesson.state, "ready");
  copy.fromEvents([live("classroom", stage(7, { lesson: { n: 1, state: "ready" }, endpoints: 2 }))], true);
  assert.deepEqual(seen.map(([n, , how]) => [n, how]), [[7, "answer"], [7, "classroom"]]);
});
