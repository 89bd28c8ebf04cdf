// node --test: the recording module's CSV and JSON Lines, as a spreadsheet and a re-import see them.
import assert from "node:assert/strict";
import { test } from "node:test";
import { cell, parseRecording, toCsv, toJsonl } from "../../static/js/recording.js";

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
