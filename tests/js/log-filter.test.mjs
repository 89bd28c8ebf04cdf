// node --test: the log's filter as a pure function: lanes, socket, connection, kind, and a text
// search over the preview (in the chosen encoding) and the sentence the page shows.
import assert from "node:assert/strict";
import { test } from "node:test";
import { eventMatches } from "../../static/js/views/log-filter.js";
import { event } from "./fixtures.mjs";

const recv = event("recv", { endpoint: "e1", conn: "c2", size: 4, hex: "c4 e3 ba c3", data: "\ufffd\ufffd", call: "recv", args: { bufsize: 65536 }, result: 4 });
const listen = event("listen", { endpoint: "e1", local: ["127.0.0.1", 5000], call: "listen", args: { address: ["127.0.0.1", 5000], backlog: 128 } });

test("filters by lane, socket, connection and kind", () => {
  assert.equal(eventMatches(recv, {}), true);
  assert.equal(eventMatches(recv, { focus: new Set(["e1/c2"]) }), true);
  assert.equal(eventMatches(recv, { focus: new Set(["e1"]) }), false);
  assert.equal(eventMatches(recv, { endpoint: "e2" }), false);
  assert.equal(eventMatches(recv, { conn: "c1" }), false);
  assert.equal(eventMatches(recv, { kind: "recv" }), true);
  assert.equal(eventMatches(listen, { kind: "recv" }), false);
});

test("the search reads the preview in the chosen encoding and the page's own sentence, never detail", () => {
  assert.equal(eventMatches(recv, { needle: "你好", encoding: "gbk" }), true);
  assert.equal(eventMatches(recv, { needle: "你好", encoding: "utf-8" }), false);
  assert.equal(eventMatches(recv, { needle: "recv(65536)" }), true);
  assert.equal(eventMatches(listen, { needle: "127.0.0.1:5000" }), true);
  assert.equal(eventMatches(recv, { needle: "english the page must never show" }), false);
});
