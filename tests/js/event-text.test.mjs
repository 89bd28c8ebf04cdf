// node --test: every kind worded from its fields, in English and in Chinese; `detail` never read.
import assert from "node:assert/strict";
import { test } from "node:test";
import { eventText, wordedKinds } from "../../static/js/models/event-text.js";
import { translator } from "../../static/js/i18n.js";
import { KINDS, event, everyKind } from "./fixtures.mjs";

const en = translator("en");
const zh = translator("zh");
// Latin words a Chinese sentence may keep: socket calls and constants, errno names, protocol names.
const ALLOWED = /^(TCP|UDP|HTTP|Redis|RST|FIN|SYN|ACK|PSH|SHA|TCP_INFO|SOCK_DGRAM|SHUT_WR|ESTABLISHED|ECONNRESET|ECONNREFUSED|GET|txt|[a-z_]+|c\d+|e\d+|d\d+|s\d+|[a-f0-9]+)$/;

test("every registered kind has a wording of its own", () => {
  for (const kind of Object.keys(KINDS)) assert.ok(wordedKinds().includes(kind), `no wording for ${kind}`);
});

test("every kind reads as a full sentence in both languages, with no placeholder or key left", () => {
  for (const ev of everyKind()) {
    for (const tr of [en, zh]) {
      const text = eventText(ev, tr);
      assert.ok(text && text !== ev.kind, `${ev.kind} in ${tr.code}: "${text}"`);
      assert.doesNotMatch(text, /\{\w+\}|\bev\.|\berr\.|undefined|null|NaN/, `${ev.kind} in ${tr.code}: "${text}"`);
      assert.ok(!text.includes(ev.detail), "the English detail is never shown");
    }
    const zhText = eventText(ev, zh);
    for (const word of zhText.replace(/[a-z_]+\([^)]*\)/g, "").match(/[A-Za-z][A-Za-z_0-9]*/g) || []) {
      assert.match(word, ALLOWED, `an English word in the Chinese sentence of ${ev.kind}: ${zhText}`);
    }
  }
});

test("a recv says the call, its buffer and what it returned (as the lab's detail did)", () => {
  const ev = event("recv", { call: "recv", args: { bufsize: 65536 }, result: 9, size: 9 });
  assert.equal(eventText(ev, en), "recv(65536) returned 9 bytes");
  assert.equal(eventText(ev, zh), "recv(65536) 返回 9 字节");
  assert.equal(eventText({ ...ev, result: 1 }, en), "recv(65536) returned 1 byte"); // plural rules
});

test("who closed comes from closed_by, and a lab close says why from its code", () => {
  assert.equal(eventText(event("close", { closed_by: "peer" }), en), "recv() returned 0 bytes: closed by the peer");
  assert.equal(eventText(event("close", { closed_by: "peer" }), zh), "recv() 返回 0 字节：对端关闭了连接");
  assert.match(eventText(event("close", { closed_by: "reset", errno: "ECONNRESET" }), zh), /重置（ECONNRESET）/);
  assert.match(eventText(event("close", { closed_by: "local", code: "idle-timeout" }), zh), /空闲时间过长/);
  assert.match(eventText(event("close", { args: { socket: "listening" }, params: { established: 2 } }), en), /2 established connections go on/);
});

test("a problem code the tables know is worded from err.<code> with its params", () => {
  const tables = { "err.port-in-use": "Port {port} on {host} is taken." };
  const tr = { t: (id, p) => tables[id].replace(/\{(\w+)\}/g, (_, k) => String(p[k])), has: (id) => id in tables };
  const ev = event("error", { call: "bind", errno: "EADDRINUSE", code: "port-in-use", params: { port: 5000, host: "127.0.0.1" } });
  assert.equal(eventText(ev, tr), "Port 5000 on 127.0.0.1 is taken.");
  // without a translation of the code, the call and errno still say what happened
  assert.equal(eventText({ ...ev, code: "unknown-code" }, en), "bind() failed: EADDRINUSE");
});

test("a kind the page does not know yet is shown by its name, not dropped", () => {
  assert.equal(eventText(event("no-such-kind", {}), zh), "no-such-kind");
});

test("a traced program's coming and going is worded as a program's, not a lab agent's", () => {
  const ev = (args) => ({ ...event("agent", { args }), agent: "ann" });
  assert.equal(eventText(ev({ event: "up", host: "10.0.0.7", trace: true }), en),
    "ann's program is running under the tracer (from 10.0.0.7)");
  assert.equal(eventText(ev({ event: "down", host: "10.0.0.7", trace: true, why: "ended" }), en), "ann's program ended");
  assert.match(eventText(ev({ event: "down", trace: true, why: "silent" }), zh), /不再报告/);
  assert.equal(eventText(ev({ event: "down", trace: true }), en), "ann's program ended, or its tracer stopped");
  assert.equal(eventText(ev({ event: "up", host: "h1" }), en), "Lab agent ann is up (host h1)"); // (an agent stays an agent)
  for (const why of ["ended", "silent", undefined]) {
    for (const tr of [en, zh]) assert.doesNotMatch(eventText(ev({ event: "down", trace: true, why }), tr), /\{\w+\}|\bev\./);
  }
});

test("a stage that runs an exercise is named by it in the log's divider, in both languages", () => {
  const params = { stage: 4, lesson: null, exercise: { key: "echo-server", n: 1, title: { en: "Echo server", zh: "回显服务器" } } };
  const ev = event("stage", { endpoint: "", proto: "", params });
  assert.equal(eventText(ev, en), "Stage 4 · Exercise 1: Echo server");
  assert.equal(eventText(ev, zh), "第 4 阶段 · 练习 1：回显服务器");
  assert.equal(eventText(event("stage", { endpoint: "", proto: "", params: { ...params, stage: null } }), en), "Exercise 1: Echo server");
});
