// node --test: the small pure modules: kinds registry, emitter, lab state from events, decoders,
// and the i18n formatting (plurals, numbers) in both languages.
import assert from "node:assert/strict";
import { test } from "node:test";
import { bytesOf, decodeText, hexDump, isCut } from "../../static/js/models/decode.js";
import { Emitter } from "../../static/js/emitter.js";
import { translator } from "../../static/js/i18n.js";
import { drawOf, framingsOf, isLifecycle, kindNames, modesOf, setKinds, setModes, startsLane } from "../../static/js/models/kinds.js";
import { LabState } from "../../static/js/models/lab-state.js";
import { KINDS, event } from "./fixtures.mjs";

test("kinds: the page knows what the session said, and nothing it did not", () => {
  setKinds(KINDS);
  assert.deepEqual(kindNames(), Object.keys(KINDS));
  assert.equal(drawOf("send"), "arrow");
  assert.equal(drawOf("close"), "lane-end");
  assert.equal(isLifecycle("accept"), true);
  assert.equal(isLifecycle("recv"), false);
  assert.equal(startsLane("connect"), true);
  assert.equal(startsLane("send"), false);
  assert.equal(drawOf("no-such-kind"), "mark"); // unknown: still shown
  setKinds({ weird: null, ok: { draw: "arrow" } });
  assert.deepEqual(kindNames(), ["ok"]);
  setKinds(undefined);
  assert.deepEqual(kindNames(), []);
  setModes({ "tcp-server": ["echo", "http"] }, { echo: ["raw", "line"] });
  assert.deepEqual(modesOf("tcp-server"), ["echo", "http"]);
  assert.equal(modesOf("udp-client"), null);
  assert.deepEqual(framingsOf("echo"), ["raw", "line"]);
  setModes(null, null);
  assert.equal(modesOf("tcp-server"), null);
});

test("emitter: a second subscriber never replaces the first, and unsubscribing works", () => {
  const signals = new Emitter();
  const seen = [];
  const off = signals.on("x", (a, b) => seen.push(["first", a, b]));
  signals.on("x", (a) => seen.push(["second", a]));
  signals.emit("x", 1, 2);
  off();
  signals.emit("x", 3);
  assert.deepEqual(seen, [["first", 1, 2], ["second", 1], ["second", 3]]);
});

test("lab state: snapshots replace cards, traffic moves counters, the last snapshot removes", () => {
  const lab = new LabState();
  lab.load([{ id: "e1", kind: "tcp-server", state: "listening", bytes_in: 0, bytes_out: 0, connections: [] }]);
  const conn = { id: "c1", peer: ["127.0.0.1", 4], sends: 0, recvs: 0, messages: 0, bytes_in: 0, bytes_out: 0, tcp_info: null };
  assert.equal(lab.apply([event("state", { state: { id: "e1", kind: "tcp-server", state: "listening", bytes_in: 0, bytes_out: 0, connections: [conn] } })]), true);
  lab.apply([event("recv", { conn: "c1", size: 12 }), event("message", { conn: "c1" }), event("send", { conn: "c1", size: 12 }),
    event("tcp_info", { conn: "c1", args: { state: "ESTABLISHED", rtt_us: 40 } })]);
  const c = lab.list()[0].connections[0];
  assert.deepEqual([c.recvs, c.messages, c.sends, c.bytes_in, c.bytes_out, c.tcp_info.rtt_us], [1, 1, 1, 12, 12, 40]);
  assert.equal(lab.list()[0].bytes_in, 12);
  // a snapshot (without TCP_INFO: no syscall) keeps what tcp_info events brought
  lab.apply([event("state", { state: { id: "e1", kind: "tcp-server", state: "listening", connections: [{ ...conn, recvs: 1 }] } })]);
  assert.equal(lab.list()[0].connections[0].tcp_info.rtt_us, 40);
  lab.apply([event("state", { state: { id: "e2", kind: "udp-client", state: "ready", datagrams_out: 0 } })]);
  assert.deepEqual(lab.list().map((ep) => ep.id), ["e1", "e2"]);
  lab.apply([event("send", { endpoint: "e2", proto: "udp", size: 3 })]);
  assert.equal(lab.list()[1].datagrams_out, 1);
  lab.apply([event("state", { state: { id: "e1", kind: "tcp-server", state: "stopped", removed: true } })]);
  assert.deepEqual(lab.list().map((ep) => ep.id), ["e2"]);
  // a download's snapshot (no endpoint kind) is not an endpoint
  assert.equal(lab.apply([event("state", { endpoint: "d1", state: { id: "d1", state: "done", bytes: 5 } })]), false);
});

test("lab state: an endpoint made while the list was on its way still shows (its snapshot came first)", () => {
  // the page asked for the newest seq (10), then the list; meanwhile e2 was made (seq 11) and the list
  // was read just before it: the stream's snapshot of e2 reached the page before the list did
  const lab = new LabState();
  const e1 = { id: "e1", kind: "tcp-server", state: "listening", connections: [] };
  lab.load([e1], 5);
  lab.apply([event("state", { seq: 11, state: { id: "e2", kind: "tcp-server", state: "listening", connections: [] } }),
    event("state", { seq: 8, state: { id: "e9", kind: "udp-server", state: "ready" } })]);
  lab.load([e1], 10);
  assert.deepEqual(lab.list().map((ep) => ep.id), ["e1", "e2"], "e2 applied again; e9 (seq 8) is the list's to say");
  lab.load([e1], 12);
  assert.deepEqual(lab.list().map((ep) => ep.id), ["e1"], "a list newer than the snapshot is the truth");
});

test("decode: UTF-8, GBK, Latin-1 and hex from the same preview bytes", () => {
  const gbk = { hex: "c4 e3 ba c3", data: "\ufffd\ufffd", size: 4 };
  assert.equal(decodeText(gbk, "gbk"), "你好");
  assert.equal(decodeText(gbk, "latin1"), "\u00c4\u00e3\u00ba\u00c3");
  assert.equal(decodeText(gbk, "hex"), "c4 e3 ba c3");
  assert.equal(decodeText({ hex: "e4 bd a0 e5 a5 bd", data: "你好", size: 6 }, "utf-8"), "你好");
  // a cut preview that ends inside a character holds the partial character back
  const cut = { hex: "e4 bd a0 e5", data: "你\ufffd", size: 100 };
  assert.equal(isCut(cut), true);
  assert.equal(decodeText(cut, "utf-8"), "你");
  assert.equal(bytesOf("zz"), null);
  assert.match(hexDump("68 69"), /^0000 {2}68 69 +hi$/);
});

test("i18n: plurals and numbers follow the language", () => {
  const en = translator("en");
  const zh = translator("zh");
  assert.equal(en.t("ladder.bytes", { n: 1 }), "1 byte");
  assert.equal(en.t("ladder.bytes", { n: 1048576 }), "1,048,576 bytes");
  assert.equal(zh.t("ladder.bytes", { n: 2 }), "2 字节");
  assert.equal(zh.t("no.such.key"), "no.such.key");
  assert.equal(zh.has("ev.recv.text"), true);
});
