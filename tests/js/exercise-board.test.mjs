// node --test: the class board's model (static/js/models/exercise-board.js): rows from the results
// and from live `exercise` events (each replaces one student's whole row), students x checks, the
// passed counts and the common mistakes, worded from the registry (lab/exercises/registry.py itself)
// in both languages.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { ExerciseBoard, fill, hintHead } from "../../static/js/models/exercise-board.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const VENV_PYTHON = `${ROOT}.venv/bin/python`;
const PYTHON = process.env.PYTHON || (existsSync(VENV_PYTHON) ? VENV_PYTHON : "python3");

/** GET /api/exercises as the registry makes it: each summary with the REASONS sentences. */
const EXERCISES = JSON.parse(execFileSync(PYTHON, ["-c", `import json
from lab.exercises.registry import EXERCISES, REASONS
print(json.dumps([{**e.summary(), "reasons": REASONS} for e in EXERCISES.values()]))`], { cwd: ROOT, encoding: "utf-8" }));

const ECHO = EXERCISES.find((e) => e.key === "echo-server");
const CODES = ECHO.checks.map((c) => c.code);

function board(stage = 3) {
  const b = new ExerciseBoard();
  b.setExercises(EXERCISES);
  b.setStage({ stage, exercise: { key: "echo-server", servers: [], file: null } });
  return b;
}

/** One student's row, as the checker records it: every check pending but those given. */
function row(name, states = {}, reasons = {}, stage = 3) {
  const checks = Object.fromEntries(CODES.map((code) => [code, states[code] ?? "pending"]));
  return { stage, exercise: "echo-server", name, address: `10.0.0.${name.length}`, checks,
    hints: CODES.filter((code) => checks[code] === "fail"), reasons, passed_at: {} };
}

let seq = 0;
const ev = (params) => ({ seq: ++seq, kind: "exercise", endpoint: "", proto: "", params });

test("the registry's exercises reach the board with their checks in order", () => {
  const b = board();
  assert.equal(b.exercise.key, "echo-server");
  assert.deepEqual(b.checks, CODES);
  assert.ok(CODES.includes("recv-loop") && CODES.includes("three-clients"));
});

test("an event replaces its student's whole row; the passed count follows", () => {
  const b = board();
  const seen = [];
  b.on("row", (name, added) => seen.push([name, added]));
  b.applyEvents([ev(row("Ann", { "server-call-order": "pass", "echo-exact": "pass", "recv-loop": "fail" }))]);
  assert.equal(b.passed("Ann"), 2);
  assert.equal(b.state("Ann", "recv-loop"), "fail");
  b.applyEvents([ev(row("Ann", { "server-call-order": "pass", "recv-loop": "pass" }))]);
  assert.equal(b.passed("Ann"), 2, "the newer row is the whole truth: echo-exact is pending again");
  assert.equal(b.state("Ann", "echo-exact"), "pending");
  assert.deepEqual(seen, [["Ann", true], ["Ann", false]]);
});

test("events of another stage or exercise, and rows that are not rows, are left out", () => {
  const b = board();
  b.applyEvents([ev(row("Old", {}, {}, 2)), ev({ ...row("Other"), exercise: "relay" }), ev({ checks: {} }),
    ev({ ...row(""), name: "" }), { kind: "send", params: row("Send") }, null]);
  assert.deepEqual(b.order, []);
  b.applyEvents([ev({ ...row("Bob"), checks: { "recv-loop": "maybe", closed: "pass" } })]);
  assert.equal(b.state("Bob", "recv-loop"), "pending", "an unknown state counts as waiting");
  assert.equal(b.passed("Bob"), 1);
});

test("a new stage, or the exercise ending, empties the board", () => {
  const b = board();
  b.applyEvents([ev(row("Ann"))]);
  b.setStage({ stage: 3, exercise: { key: "echo-server" }, teacher: { view: "board" } }); // the teacher moved: kept
  assert.deepEqual(b.order, ["Ann"]);
  b.setStage({ stage: 4, exercise: null });
  assert.equal(b.exercise, null);
  assert.deepEqual(b.order, []);
  b.applyEvents([ev(row("Ann", {}, {}, 4))]);
  assert.deepEqual(b.order, [], "no exercise: no rows");
});

test("results taken, but a row that came live while the GET was on its way is kept", () => {
  const b = board();
  const ticket = b.ticket();
  b.applyEvents([ev(row("Ann", { closed: "pass" }))]);
  const students = [row("Ann"), row("Bob", { closed: "fail" })].map(({ stage, exercise, ...rest }) => rest);
  assert.equal(b.setResults({ exercise: "echo-server", students }, ticket), true);
  assert.equal(b.state("Ann", "closed"), "pass", "the live row is newer than the answer");
  assert.equal(b.state("Bob", "closed"), "fail");
  assert.equal(b.setResults({ exercise: "relay", students }, b.ticket()), false, "another exercise's results");
  const old = b.ticket();
  b.setStage({ stage: 5, exercise: { key: "echo-server" } });
  assert.equal(b.setResults({ exercise: "echo-server", students }, old), false, "asked during the previous stage");
});

test("an event no newer than the last one taken for its student is left out (a catch-up repeating)", () => {
  const b = board();
  const newer = { seq: 20, kind: "exercise", params: row("Ann", { closed: "pass" }) };
  const older = { seq: 12, kind: "exercise", params: row("Ann", { closed: "fail" }) };
  b.applyEvents([newer, older, { ...newer }]);
  assert.equal(b.state("Ann", "closed"), "pass");
  b.applyEvents([{ seq: 21, kind: "exercise", params: row("Ann", { closed: "fail" }) }]);
  assert.equal(b.state("Ann", "closed"), "fail");
});

test("students are listed by name, numbers in order, each new one inserted in place", () => {
  const b = board();
  b.applyEvents(["pc10", "Zoe", "pc2", "ann", "Bob", "pc1"].map((name) => ev(row(name))));
  assert.deepEqual(b.order, ["ann", "Bob", "pc1", "pc2", "pc10", "Zoe"]);
});

test("common mistakes: counted across the class, most first, ties in the registry's order", () => {
  const b = board();
  const fails = (...codes) => Object.fromEntries(codes.map((c) => [c, "fail"]));
  b.applyEvents([
    ev(row("A", fails("closed", "recv-loop"))),
    ev(row("B", fails("recv-loop", "echo-split"))),
    ev(row("C", fails("recv-loop", "closed", "echo-split"))),
    ev(row("D", fails("sends-bytes"))),
    ev(row("E", fails("three-clients"))),
  ]);
  const found = b.mistakes().map((m) => [m.code, m.count]);
  // closed, echo-split 2 each: echo-split comes first in the registry; three-clients before sends-bytes
  assert.deepEqual(found, [["recv-loop", 3], ["echo-split", 2], ["closed", 2], ["three-clients", 1], ["sends-bytes", 1]]);
  b.applyEvents([ev(row("C", { "recv-loop": "pass" }))]);
  assert.deepEqual(b.mistakes().map((m) => [m.code, m.count]).slice(0, 3), [["recv-loop", 2], ["echo-split", 1], ["three-clients", 1]]);
});

test("a reason with params: counted per reason, worded from a row's values, in both languages", () => {
  const b = board();
  const cut = { "echo-split": { reason: "cut-short", params: { got: 5, sent: 31 } } };
  b.applyEvents([
    ev(row("Ann", { "echo-split": "fail" }, cut)),
    ev(row("Bob", { "echo-split": "fail" }, { "echo-split": { reason: "no-answer", params: { seconds: 5 } } })),
    ev(row("Cy", { "echo-split": "fail" }, { "echo-split": { reason: "cut-short", params: { got: 9, sent: 31 } } })),
  ]);
  const [mistake] = b.mistakes();
  assert.equal(mistake.count, 3);
  assert.deepEqual(mistake.reasons.map((r) => [r.reason, r.count]), [["cut-short", 2], ["no-answer", 1]]);
  const first = mistake.reasons[0];
  assert.equal(b.reasonText(first.reason, first.params, "en"), "Got back 5 of 31 bytes, then the server closed the connection.");
  assert.equal(b.reasonText(first.reason, first.params, "zh"), "收回 31 字节中的 5 字节后，服务器关闭了连接。");
  assert.equal(b.reasonText("no-such-reason", {}, "en"), "");
  const en = b.checkWords("echo-split", "en");
  const zh = b.checkWords("echo-split", "zh");
  assert.equal(en.head, "Only the first piece came back");
  assert.equal(zh.head, "只返回了第一段");
  assert.match(en.hint, /loop/);
  assert.equal(b.checkWords("recv-loop", "en").head, "One recv() for a message sent in pieces");
});

test("fill leaves a missing value as written and never reads an object", () => {
  assert.equal(fill("got {got} of {sent}", { got: 3 }), "got 3 of {sent}");
  assert.equal(fill("{x}", { x: { toString: () => "no" } }), "{x}");
  assert.equal(fill("{constructor}", {}), "{constructor}");
  assert.equal(hintHead("No colon here."), "No colon here.");
});

test("every exercise and check is worded in both languages", () => {
  const b = new ExerciseBoard();
  b.setExercises(EXERCISES);
  for (const exercise of EXERCISES) {
    b.setStage({ stage: exercise.n, exercise: { key: exercise.key } });
    for (const code of b.checks) {
      for (const lang of ["en", "zh"]) {
        const w = b.checkWords(code, lang);
        assert.ok(w.text && w.hint && w.head, `${exercise.key} ${code} ${lang}`);
      }
      assert.notEqual(b.checkWords(code, "en").head, b.checkWords(code, "zh").head);
    }
  }
});

test("100 students: each event changes one row, and the board stays consistent", () => {
  const b = board();
  const names = Array.from({ length: 100 }, (_, i) => `student${i + 1}`);
  let changedRows = 0;
  b.on("row", () => changedRows++);
  b.applyEvents(names.map((name) => ev(row(name))));
  // each student passes one more check per round: 100 x 8 events, one row each
  for (const [round, code] of CODES.entries()) {
    for (const [i, name] of names.entries()) {
      const states = Object.fromEntries(CODES.slice(0, round + 1).map((c) => [c, "pass"]));
      if (i % 4 === 0) states[code] = "fail";
      b.applyEvents([ev(row(name, states))]);
    }
  }
  assert.equal(changedRows, 100 + 100 * CODES.length);
  assert.equal(b.order.length, 100);
  assert.equal(b.order[0], "student1");
  assert.equal(b.order[99], "student100");
  assert.equal(b.passed("student2"), CODES.length);
  assert.equal(b.passed("student1"), CODES.length - 1);
  assert.deepEqual(b.mistakes().map((m) => [m.code, m.count]), [[CODES.at(-1), 25]]);
});
