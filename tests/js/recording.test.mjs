// node --test: the recording module's CSV and JSON Lines, as a spreadsheet and a re-import see them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cell, eventFields, parseRecording, setEventFields, toCsv, toJsonl } from "../../static/js/models/recording.js";
import { EVENT_FIELDS } from "./fixtures.mjs";

setEventFields(EVENT_FIELDS); // (as GET /api/session hands them to the page)

const event = (fields) => ({ seq: 1, ts: 1700000000, endpoint: "e1", conn: null, proto: "tcp", kind: "recv",
  local: ["127.0.0.1", 5000], peer: ["127.0.0.1", 40000], size: 5, data: "hello", hex: "68 65 6c 6c 6f", detail: "", ...fields });

test("every cell that a spreadsheet would run as a formula is guarded, addresses included", () => {
  for (const bad of ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"]) assert.equal(cell(bad)[0] === "'" || cell(bad).startsWith("\"'"), true, bad);
  assert.equal(cell(["=cmd|' /C calc'!A0", 5]), "'=cmd|' /C calc'!A0:5");
  assert.equal(cell(-5), "-5"); // a number is a number, not a formula
  const csv = toCsv([event({ endpoint: "=HYPERLINK(\"x\")", conn: "+c1", peer: ["@evil", 1], kind: "-recv", detail: "=2" })]);
  const row = csv.split("\r\n")[1];
  for (const cellText of row.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const unquoted = cellText.startsWith("\"") ? cellText.slice(1, -1).replace(/""/g, "\"") : cellText;
    assert.ok(!/^[=+\-@\t\r]/.test(unquoted), `unguarded cell ${cellText}`);
  }
});

test("JSON Lines round-trip, and bad lines are counted, not fatal", () => {
  const events = [event({ seq: 2 }), event({ seq: 1, data: "日本" })];
  const { events: back, skipped } = parseRecording(toJsonl(events) + "not json\n{\"seq\": \"x\"}\n");
  assert.deepEqual(back.map((e) => e.seq), [1, 2]);
  assert.equal(back[0].data, "日本");
  assert.equal(skipped, 2);
});

test("the export columns are the lab's event fields, in its order, as GET /api/session names them", () => {
  const ev = event({ seq: 3, result: ["127.0.0.1", 40000], args: { bufsize: 65536 } });
  assert.deepEqual(Object.keys(JSON.parse(toJsonl([ev]))), EVENT_FIELDS);
  assert.deepEqual(toCsv([ev]).split("\r\n")[0].split(","), ["iso_time", ...EVENT_FIELDS, "stage", "peer_name"]);
  // a field the lab adds is exported and imported (as text) without the page naming it
  setEventFields([...EVENT_FIELDS, "new_field"]);
  try {
    const { events: [back] } = parseRecording(toJsonl([{ ...ev, new_field: "x", other: "left out" }]));
    assert.equal(back.new_field, "x");
    assert.equal("other" in back, false);
    assert.deepEqual(back.result, ["127.0.0.1", 40000]);
    assert.equal(toCsv([ev]).split("\r\n")[0].split(",").at(-3), "new_field");
  } finally {
    setEventFields(EVENT_FIELDS);
  }
  // anything but a list of field names is left out, not guessed (nor made a formula in the header)
  setEventFields(["seq", "=cmd()", 5, null]);
  assert.deepEqual(eventFields(), ["seq"]);
  setEventFields(undefined);
  assert.deepEqual(eventFields(), []);
  setEventFields(EVENT_FIELDS);
});
