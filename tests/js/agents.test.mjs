// node --test: the lab agents' model (static/js/agents.js) and the resume bookkeeping of the event
// stream (static/js/event-cursor.js): every event shown once, in order per agent, across a restart.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AgentsModel, clockOf } from "../../static/js/models/agents.js";
import { EventCursor } from "../../static/js/models/event-cursor.js";

const list = [{ name: "pc2", host: "h2", state: "up", since: 100, endpoints: 0 },
  { name: "pc1", host: "h1", state: "up", since: 100, endpoints: 1 }];
const agentEvent = (agent, what, ts, extra = {}) => ({ seq: 0, ts, kind: "agent", endpoint: "", agent, agent_seq: null,
  args: { event: what, host: "h" }, ...extra });

test("an embedded dashboard (agents null) keeps the model off: no owners, no states, no default", () => {
  const model = new AgentsModel();
  model.setList(null);
  assert.equal(model.enabled, false);
  assert.equal(model.applyEvents([{ seq: 1, kind: "listen", endpoint: "e1", agent: "pc1" }]), false);
  assert.equal(model.ownerOf("e1"), "");
  assert.equal(model.defaultAgent(), "");
});

test("the list comes sorted; the only agent up is the default, several up means none", () => {
  const model = new AgentsModel();
  model.setList(list);
  assert.deepEqual(model.list().map((a) => a.name), ["pc1", "pc2"]);
  assert.equal(model.defaultAgent(), "");
  model.setList([list[0]]);
  assert.equal(model.defaultAgent(), "pc2");
});

test("agent events change states live (down since its ts); a dropped report or a repeat is no change", () => {
  const model = new AgentsModel();
  model.setList(list);
  let changes = 0;
  model.onChange(() => changes++);
  assert.equal(model.applyEvents([agentEvent("pc2", "down", 1700000000)]), true);
  assert.equal(model.stateOf("pc2"), "down");
  assert.equal(model.get("pc2").since, 1700000000);
  assert.equal(model.defaultAgent(), "pc1");
  assert.equal(model.applyEvents([agentEvent("pc2", "down", 1700000001)]), false);
  assert.equal(model.applyEvents([agentEvent("pc1", "dropped", 1700000002, { args: { event: "dropped", count: 5 } })]), false);
  assert.equal(model.applyEvents([agentEvent("pc3", "up", 1700000003)]), true); // a new agent appears
  assert.deepEqual(model.up(), ["pc1", "pc3"]);
  assert.equal(changes, 2);
});

test("owners come from the events' agent field, never from the id", () => {
  const model = new AgentsModel();
  model.setList(list);
  model.applyEvents([{ seq: 1, kind: "listen", endpoint: "e1@pc1", agent: "pc2" }, { seq: 2, kind: "listen", endpoint: "e9" }]);
  assert.equal(model.ownerOf("e1@pc1"), "pc2");
  assert.equal(model.ownerOf("e9"), "");
});

test("hostile entries do no harm: bad names, shapes and a flood of ids stay bounded", () => {
  const model = new AgentsModel();
  model.setList([null, 7, { name: "<img src=x>" }, { name: "x".repeat(41) }, { name: "ok" }]);
  assert.deepEqual(model.list().map((a) => a.name), ["ok"]);
  assert.equal(model.applyEvents([null, 3, { kind: "agent", agent: "../../etc", args: { event: "up" } },
    { kind: "agent", agent: "ok", args: null }, { kind: "agent", agent: "ok", args: { event: "exploded" } }]), false);
  const flood = Array.from({ length: 30000 }, (_, i) => ({ seq: i + 1, kind: "send", endpoint: `e${i}`, agent: "ok" }));
  model.applyEvents(flood);
  assert.ok(model.owners.size <= 20000);
  assert.equal(model.ownerOf("e29999"), "ok");
});

test("clockOf words a time as hh:mm:ss, and nothing for a missing one", () => {
  assert.match(clockOf(1700000000), /^\d\d:\d\d:\d\d$/);
  assert.equal(clockOf(null), "");
});

// -- resume ----------------------------------------------------------------------------------

const ev = (seq, agent, agentSeq, ts = 1000 + agentSeq) => ({ seq, agent, agent_seq: agentSeq, ts, kind: "send" });
const pairs = (events) => events.map((e) => `${e.agent}:${e.agent_seq}`);

test("within one boot: seqs once each, a gap counted as dropped", () => {
  const cursor = new EventCursor();
  assert.equal(cursor.seeBoot("b1"), "same");
  assert.equal(cursor.take([ev(1, "pc1", 1), ev(2, "pc2", 1)], { history: true }).length, 2);
  assert.equal(cursor.take([ev(2, "pc2", 1), ev(5, "pc1", 2)]).length, 1);
  assert.equal(cursor.dropped, 2);
  assert.equal(cursor.seeBoot("b1"), "same");
});

test("a restart over agents: resume from the last agent_seq of each, every event once, in order per agent", () => {
  const cursor = new EventCursor();
  cursor.seeBoot("b1");
  const shown = cursor.take([ev(1, "pc1", 1), ev(2, "pc2", 1), ev(3, "pc1", 2), ev(4, "pc2", 2)], { history: true });
  // the dashboard restarts; the agents went on (pc1: 3, 4; pc2: 3); its new bus renumbers from 1
  assert.equal(cursor.seeBoot("b2"), "agents");
  assert.equal(cursor.lastSeq, 0);
  // with its ts: an agent that restarted meanwhile numbers from 1 again, later, and is not filtered
  assert.deepEqual(JSON.parse(cursor.resumeArg()), { pc1: [2, 1002], pc2: [2, 1002] });
  // the new run relays the streams from their start: the server filtered the catch-up, but live
  // batches may still carry old entries (its bridge was still reading): the page drops them itself
  const caughtUp = cursor.take([ev(4, "pc1", 3), ev(6, "pc2", 3)], { history: true });
  const live = cursor.take([ev(1, "pc1", 1), ev(5, "pc1", 2), ev(6, "pc2", 3), ev(7, "pc1", 4),
    { seq: 8, kind: "agent", agent: "pc2", agent_seq: null, ts: 3000 }]);
  shown.push(...caughtUp, ...live);
  // (an agent event is the new dashboard's own: it has no agent_seq and passes by its seq)
  assert.deepEqual(pairs(shown), ["pc1:1", "pc2:1", "pc1:2", "pc2:2", "pc1:3", "pc2:3", "pc1:4", "pc2:null"]);
  assert.equal(cursor.dropped, 0); // 4 -> 6 in the (server-filtered) history is not a gap
});

test("an agent that restarted numbers from 1 again, later in time: its new events are not taken for old ones", () => {
  const cursor = new EventCursor();
  cursor.seeBoot("b1");
  cursor.take([ev(1, "pc1", 1, 1000), ev(2, "pc1", 2, 1001)]);
  cursor.seeBoot("b2");
  const fresh = cursor.take([ev(1, "pc1", 1, 1000), ev(2, "pc1", 2, 1001), ev(3, "pc1", 1, 2000)]);
  assert.deepEqual(fresh.map((e) => e.ts), [2000]);
});

test("an embedded restart is a new lab: nothing to resume, counts start again", () => {
  const cursor = new EventCursor();
  cursor.seeBoot("b1");
  cursor.take([{ seq: 1, kind: "listen" }, { seq: 9, kind: "send" }]);
  assert.equal(cursor.dropped, 7);
  assert.equal(cursor.seeBoot("b2"), "new-lab");
  assert.equal(cursor.resumeArg(), "");
  assert.equal(cursor.dropped, 0);
  assert.equal(cursor.take([{ seq: 1, kind: "listen" }], { history: true }).length, 1);
});

test("a server without boot (older dashboards) never looks restarted", () => {
  const cursor = new EventCursor();
  assert.equal(cursor.seeBoot(undefined), "same");
  cursor.seeBoot("b1");
  assert.equal(cursor.seeBoot(null), "same");
  assert.equal(cursor.boot, "b1");
});

test("over agents, a restart is resumed even before any agent's event was seen", () => {
  const cursor = new EventCursor();
  cursor.overAgents = true;
  cursor.seeBoot("b1");
  assert.equal(cursor.seeBoot("b2"), "agents");
  assert.equal(cursor.resumeArg(), "");
});
