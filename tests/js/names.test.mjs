// node --test: names instead of numbers (static/js/names.js): a peer [host, port] is named by its
// host from the stage's names, the views hear when names change, the CSV names each row by the
// names its stage ended with.
import assert from "node:assert/strict";
import { test } from "node:test";
import { NameBook, cleanNames, hostPort, isolate, nameIn, peerNames, plainHost } from "../../static/js/models/names.js";
import { setEventFields, toCsv } from "../../static/js/models/recording.js";
import { EVENT_FIELDS } from "./fixtures.mjs";

setEventFields(EVENT_FIELDS); // (as GET /api/session hands them to the page)

const stageObject = (n, names) => ({ stage: n, seq: 0, started: 0, endpoints: 0, teacher: { view: "log", focus: null },
  lesson: null, names });
let seq = 0;
const ev = (kind, fields = {}) => ({ seq: ++seq, ts: 1700000000, endpoint: "e1", conn: null, proto: "tcp", kind,
  local: ["0.0.0.0", 40123], peer: null, size: 0, data: null, hex: null, detail: "", ...fields });

test("a peer is named by its host, whatever its port; IPv4-mapped IPv6 peers too", () => {
  const names = cleanNames({ "10.77.0.2": "Ann", "fd00::5": "Bo" });
  assert.equal(nameIn(names, ["10.77.0.2", 53422]), "Ann");
  assert.equal(nameIn(names, ["10.77.0.2", 1]), "Ann");
  assert.equal(nameIn(names, ["::ffff:10.77.0.2", 53422]), "Ann");
  assert.equal(nameIn(names, ["FD00::5", 9]), "Bo");
  assert.equal(nameIn(names, "10.77.0.2"), "Ann");
  assert.equal(nameIn(names, ["10.77.0.3", 53422]), null);
  assert.equal(nameIn(names, null), null);
  assert.equal(plainHost("[::1]"), "::1");
});

test("what the stage sends is checked: only text names count", () => {
  const names = cleanNames({ "10.0.0.1": "Ann", "10.0.0.2": "", "10.0.0.3": 5, "10.0.0.4": null, "10.0.0.5": { x: 1 } });
  assert.deepEqual([...names], [["10.0.0.1", "Ann"]]);
  for (const bad of [null, undefined, "Ann", ["Ann"], 5]) assert.equal(cleanNames(bad).size, 0);
});

test("the book labels peers and says when the names change, not when the same names come again", () => {
  const book = new NameBook();
  let heard = 0;
  book.on("names", () => heard++);
  assert.equal(book.label(["10.77.0.2", 53422]), "10.77.0.2:53422");
  assert.equal(book.set({ "10.77.0.2": "<b>Ann</b>" }), true);
  assert.equal(book.label(["10.77.0.2", 53422]), "\u2068<b>Ann</b>\u2069"); // text, as typed, isolated
  assert.equal(book.set({ "10.77.0.2": "<b>Ann</b>" }), false);
  assert.equal(heard, 1);
  book.set({ "10.77.0.9": "Cy", "10.77.0.2": "Ann" });
  assert.deepEqual(book.entries(), [["10.77.0.2", "Ann"], ["10.77.0.9", "Cy"]]);
  book.set(undefined); // a stage object without names (an older server): nobody is named
  assert.equal(book.label(["10.77.0.2", 5]), "10.77.0.2:5");
  assert.equal(heard, 3);
  assert.equal(hostPort(["::1", 80]), "[::1]:80");
});

test("each event is named by the names its stage ended with; a new stage forgets them", () => {
  const before = ev("recv", { peer: ["10.77.0.2", 5000] }); // a recording that starts mid-stage 4
  const named = ev("classroom", { endpoint: "", proto: "", params: stageObject(4, { "10.77.0.2": "Ann" }) });
  const accept = ev("accept", { peer: ["10.77.0.2", 5001] });
  const renamed = ev("classroom", { endpoint: "", proto: "", params: stageObject(4, { "10.77.0.2": "Anna" }) });
  const next = ev("stage", { endpoint: "", proto: "", params: stageObject(5, {}) });
  const later = ev("recv", { peer: ["10.77.0.2", 5002] });
  const listen = ev("listen");
  assert.deepEqual(peerNames([before, named, accept, renamed, next, later, listen]), ["Anna", "", "Anna", "", "", "", ""]);
  // a recording that begins with a new stage: what came before it belongs to an unknown stage
  const early = ev("recv", { peer: ["10.77.0.2", 5003] });
  assert.deepEqual(peerNames([early, ev("stage", { params: stageObject(6, { "10.77.0.2": "Ann" }) })]), ["", ""]);
});

test("the CSV gets peer_name as its last column; the columns before it stay where they were", () => {
  const named = ev("classroom", { endpoint: "", proto: "", params: stageObject(2, { "10.77.0.2": "=Ann, \"the\" <b>" }) });
  const row = ev("recv", { peer: ["10.77.0.2", 5000], size: 2, data: "hi" });
  const lines = toCsv([named, row]).trimEnd().split("\r\n");
  const header = lines[0].split(",");
  assert.equal(header.at(-1), "peer_name");
  assert.equal(header.at(-2), "stage");
  // guarded against formulas and quoted, like every other cell, and in bidi isolation (FSI ... PDI)
  assert.ok(lines[2].endsWith(",\"\u2068'=Ann, \"\"the\"\" <b>\u2069\""), lines[2]);
  assert.ok(lines[1].endsWith(","), "no name for a row without a peer");
});

test("a name change carries only the change; the CSV applies it to the names its stage had", () => {
  const begun = ev("stage", { endpoint: "", proto: "", params: stageObject(8, { "10.77.0.2": "Ann" }) });
  const rename = (address, name) => ev("classroom", { endpoint: "", proto: "", params: { stage: 8, part: "name", named: [address, name] } });
  const accept = ev("accept", { peer: ["10.77.0.3", 5001] });
  const recv = ev("recv", { peer: ["10.77.0.2", 5002] });
  const events = [begun, accept, recv, rename("10.77.0.3", "محمد"), rename("10.77.0.2", null), rename("10.77.0.9", "Bo")];
  assert.deepEqual(peerNames(events), ["", "محمد", "", "", "", ""]);
  // a recording that starts with a name change knows that one name of its stage
  assert.deepEqual(peerNames([ev("recv", { peer: ["10.77.0.9", 1] }), rename("10.77.0.9", "Bo")]), ["Bo", ""]);
  // and the CSV shows a right-to-left name isolated, so it cannot reorder the cells around it
  const csv = toCsv(events).trimEnd().split("\r\n");
  assert.ok(csv[2].endsWith(`,${isolate("محمد")}`), csv[2]);
});
