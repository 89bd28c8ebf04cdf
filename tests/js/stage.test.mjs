// node --test: the page's copy of the classroom stage (static/js/stage.js, StageCopy) keeps the
// newest stage object, whichever way it arrived: a GET answer, this page's own POST, live events.
import assert from "node:assert/strict";
import { test } from "node:test";
import { StageCopy, withName } from "../../static/js/models/stage.js";

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

const rename = (n, address, name) => live("classroom", { stage: n, part: "name", named: [address, name] });

test("a name change is applied to the stage held, says 'names', and a GET on its way keeps it", () => {
  const { copy, seen } = watched();
  const named = [];
  copy.on("names", (now) => named.push(now.names));
  copy.fromLoad(stage(3, { names: { "10.0.0.1": "Ann" } }), copy.ticket());
  const ticket = copy.ticket(); // a reconnect asks again...
  copy.fromEvents([rename(3, "10.0.0.2", "Bo"), rename(3, "10.0.0.1", null)], true); // ...and two changes arrive first
  assert.deepEqual(named, [{ "10.0.0.1": "Ann", "10.0.0.2": "Bo" }, { "10.0.0.2": "Bo" }]);
  assert.deepEqual(seen, [[3, null, "load"]], "a name change is not a new stage object for the banner");
  // the answer was made before the changes: it is taken, and they are applied to it again
  assert.equal(copy.fromLoad(stage(3, { names: { "10.0.0.1": "Ann", "10.0.0.3": "Cy" } }), ticket), true);
  assert.deepEqual(copy.stage.names, { "10.0.0.2": "Bo", "10.0.0.3": "Cy" });
  // history replayed is not taken; a change of an older stage is ignored
  copy.fromEvents([rename(3, "10.0.0.4", "Di")], false);
  copy.fromEvents([rename(2, "10.0.0.4", "Di")], true);
  assert.deepEqual(copy.stage.names, { "10.0.0.2": "Bo", "10.0.0.3": "Cy" });
});

test("a name change of a stage this page has not seen begin asks for the stage", () => {
  const { copy } = watched();
  let behind = 0;
  copy.on("behind", () => behind++);
  copy.fromLoad(stage(3), copy.ticket());
  copy.fromEvents([rename(4, "10.0.0.1", "Ann")], true); // the `stage` event of 4 was dropped
  assert.equal(behind, 1);
  assert.equal(copy.stage.stage, 3);
  copy.fromEvents([rename(3, "10.0.0.1", 5), live("classroom", { stage: 3, part: "name", named: ["x"] })], true);
  assert.deepEqual(copy.stage.names, {}, "a change that does not hold together is not applied");
  assert.deepEqual(copy.stage.teacher, { view: "log", focus: null }, "...nor taken for a whole stage");
  assert.deepEqual(withName(null, ["10.0.0.1", "Ann"]), { "10.0.0.1": "Ann" });
});
