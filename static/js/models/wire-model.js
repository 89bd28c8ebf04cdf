// The wire layer of the sequence diagram as data: where each captured packet (kind "packet",
// CONTRACT "The wire") goes among the socket-call rows, which send()s its bytes came from, and
// which segment was lost and sent again. Pure (no DOM): node tests feed it recorded event lists.
//
// The capture thread and the socket threads record independently, so a packet's event may come
// before or after the call that caused it. The picture must still read in causal order:
//   connect()  ->  SYN, SYN-ACK, ACK  ->  accept()        (the handshake happens inside connect())
//   send()     ->  its segments       ->  the recv()s that got their bytes
//   close()    ->  FIN (or RST)       ->  the peer's "recv() returned 0" (or its reset)
// A packet is appended (below every call that caused it) and then lifted above any row already
// drawn that it caused; a call that comes late is lifted above the packets it caused.
//
// TCP sequence numbers are relative (the SYN is 0, the first data byte 1), so a segment's bytes are
// stream offsets [seq - 1, seq - 1 + len): the same offsets the diagram gives send() and recv().
import { addr, closedByPeer } from "./event-socket.js";

const KEEP = 600; // segments, sends and recvs remembered per direction
const LOOK_BACK = 600; // rows searched when moving one row above another
const RESET_ERRNO = new Set(["ECONNREFUSED", "ECONNRESET"]);

const num = (v) => (Number.isFinite(v) ? v : null);
const isAddr = (a) => Array.isArray(a) && a.length >= 2 && Number.isFinite(Number(a[1]));

/**
 * The packet an event carries, checked: {proto, flags: ["SYN", "ACK"], syn, ack, fin, rst, psh, seq,
 * ackNo, win, len, src, dst, analysis: ["retransmission"]}; null when it is not one (drawn as nothing).
 */
export function packetOf(ev) {
  const a = ev?.args;
  if (!a || typeof a !== "object" || !isAddr(a.src) || !isAddr(a.dst)) return null;
  const flags = typeof a.flags === "string" ? a.flags.split(/[,|\s]+/).filter(Boolean).map((f) => f.toUpperCase()) : [];
  const analysis = Array.isArray(a.analysis) ? a.analysis.map(String) : typeof a.analysis === "string" && a.analysis ? [a.analysis] : [];
  const has = (f) => flags.includes(f);
  const len = num(a.len) ?? (Number(ev.size) || 0);
  return { proto: ev.proto === "udp" ? "udp" : "tcp", flags, syn: has("SYN"), ack: has("ACK"), fin: has("FIN"), rst: has("RST"),
    psh: has("PSH"), seq: num(a.seq), ackNo: num(a.ack), win: num(a.win), len: Math.max(0, len), src: a.src, dst: a.dst, analysis };
}

/** "SYN,ACK": the flags as Wireshark lists them, or "UDP" for a datagram. */
export const flagsText = (p) => (p.proto === "udp" ? "UDP" : p.flags.join(",") || "—");

const dirKey = (from, to) => `${addr(from)}>${addr(to)}`;

/** Where `item` is in `items` (searched from the end, where new rows are), or -1. */
function indexOf(items, item) {
  for (let i = items.length - 1; i >= 0 && i >= items.length - LOOK_BACK; i--) if (items[i] === item) return i;
  return -1;
}

/** Move `item` just above the earliest of `targets` that is drawn above it (arrows keep pointing down). */
export function moveAbove(items, item, targets) {
  const at = indexOf(items, item);
  if (at < 0) return false;
  let to = at;
  for (const target of targets) {
    if (!target) continue;
    const i = indexOf(items, target);
    if (i >= 0 && i < to) to = i;
  }
  if (to === at) return false;
  items.splice(at, 1);
  items.splice(to, 0, item);
  return true;
}

function bounded(list, entry) {
  list.push(entry);
  if (list.length > KEEP * 1.25) list.splice(0, list.length - KEEP);
}

const overlaps = (a, b) => Math.min(a.end, b.end) - Math.max(a.start, b.start) > 0;

/** One per LadderModel: the packets seen, per direction, and the calls they are matched with. */
export class WireTrack {
  constructor() {
    this.dirs = new Map(); // "a>b" -> {segments, sends, recvs, sent, got, maxAck, syn, fin, shake}
    this.recent = []; // keys of the newest packets: the same frame reported twice is drawn once
    // rows a packet already stands before, per purpose (a refused connect has its SYN and its RST)
    this.claimed = { syn: new WeakSet(), rst: new WeakSet(), udp: new WeakSet() };
  }

  dir(key) {
    let d = this.dirs.get(key);
    if (!d) this.dirs.set(key, (d = { segments: [], sends: [], recvs: [], sent: 0, got: 0, maxAck: null, syn: null, fin: null, shake: 0 }));
    return d;
  }

  /** The same frame seen twice (once per lab socket, or once per direction of the loopback): true. */
  seen(ev, p) {
    const key = [dirKey(p.src, p.dst), p.flags.join(","), p.seq, p.ackNo, p.len, p.analysis.join(","), ev.ts].join(" ");
    if (this.recent.includes(key)) return true;
    this.recent.push(key);
    if (this.recent.length > 32) this.recent.shift();
    return false;
  }

  /** A new packet row, just appended to model.items: place it and match it. False: drop it (a repeat). */
  addPacket(model, item) {
    const p = packetOf(item.ev);
    if (!p || this.seen(item.ev, p)) return false;
    item.packet = p;
    item.bytes = p.len;
    item.wire = { sends: [], lost: false, resent: null, handshake: false };
    if (p.proto === "udp") return this.placeDatagram(model, item, p), true;
    const out = this.dir(dirKey(p.src, p.dst));
    const back = this.dir(dirKey(p.dst, p.src));
    if (p.ack && p.ackNo !== null && (out.maxAck === null || p.ackNo > out.maxAck)) out.maxAck = p.ackNo;
    if (p.analysis.includes("retransmission")) this.resent(item, p, out, back);
    const below = []; // rows already drawn that this packet caused: it goes above them
    if (p.syn || (p.ack && !p.len && !p.fin && !p.rst && out.shake === 1 && back.shake === 1)) {
      // SYN, SYN-ACK, and the ACK that answers the SYN-ACK: the handshake, before accept()
      item.wire.handshake = true;
      if (p.syn && !p.ack) out.syn ??= item;
      out.shake = p.syn ? Math.max(out.shake, 1) : 2;
      const client = p.syn && p.ack ? p.dst : p.src;
      const server = p.syn && p.ack ? p.src : p.dst;
      below.push(model.pairs.get(`c ${addr(client)}>${addr(server)}`)?.resp);
      if (p.syn && !p.ack) below.push(this.claim(model, item, "syn", (ev) => ev.call === "connect" && Boolean(ev.errno), p.src));
    }
    if (p.len > 0 && p.seq !== null) {
      const range = { item, start: p.seq - 1, end: p.seq - 1 + p.len };
      bounded(out.segments, range);
      for (const s of out.sends) if (overlaps(s, range)) this.carry(s.item, item);
      for (const r of out.recvs) if (overlaps(r, range)) below.push(r.item);
    } else if (p.seq !== null && (p.fin || p.syn)) {
      bounded(out.segments, { item, start: p.seq - 1, end: p.seq });
    }
    if ((p.fin || p.rst) && !p.analysis.includes("retransmission")) out.fin ??= item;
    if (p.fin) below.push(model.pairs.get(`f ${addr(p.src)}>${addr(p.dst)}`)?.resp);
    if (p.rst) below.push(this.claim(model, item, "rst", (ev) => ev.closed_by === "reset" || RESET_ERRNO.has(ev.errno), p.dst));
    moveAbove(model.items, item, below);
    return true;
  }

  /** The newest unclaimed row at the lab socket bound to `at` that `test` picks (a reset, a refused connect). */
  claim(model, packetItem, purpose, test, at) {
    const items = model.items;
    const claimed = this.claimed[purpose];
    for (let i = items.length - 2; i >= 0 && i >= items.length - 200; i--) {
      const row = items[i];
      if (row.packet || claimed.has(row) || !test(row.ev)) continue;
      const local = row.ev.local ?? model.lanes.get(row.lane)?.local;
      // a socket whose connect() failed may not know its own address: then its lane is the packet's
      if (local ? String(local[1]) !== String(at[1]) : row.lane !== packetItem.lane) continue;
      claimed.add(row);
      return row;
    }
    return null;
  }

  /**
   * A retransmission: the newest earlier segment holding its first byte was lost, unless the receiver
   * acked the bytes sent again. The kernel may resend only a tail of a segment (a tail loss probe, or
   * a resend cut to the MSS or the window): it starts inside the first copy, not at its start.
   */
  resent(item, p, out, back) {
    const at = p.seq - 1; // (segments hold byte offsets: relative seq 1 is offset 0)
    for (let i = out.segments.length - 1; i >= 0; i--) {
      const first = out.segments[i];
      const holds = first.start <= at && at < Math.max(first.end, first.start + 1); // (a SYN or FIN: one place)
      if (first.item === item || !holds) continue;
      const ends = p.seq + Math.max(1, p.len);
      item.wire.resent = { of: first.item.seq, ms: Math.max(0, Math.round(((item.ev.ts ?? 0) - (first.item.ev.ts ?? 0)) * 1000)) };
      // the receiver acked those bytes before they came again: they arrived, the ACK was what was lost
      first.item.wire.lost = !(back.maxAck !== null && back.maxAck >= ends);
      return;
    }
  }

  /** Segment `segment` carries bytes of send row `send` (a retransmission is not one more part of it). */
  carry(send, segment) {
    if (!segment.wire.sends.includes(send.seq)) segment.wire.sends.push(send.seq);
    if (segment.packet.analysis.includes("retransmission")) return;
    send.segments ??= [];
    if (!send.segments.includes(segment.seq)) send.segments.push(segment.seq);
  }

  /** A UDP datagram: after its sendto(), before the recvfrom() that got it. */
  placeDatagram(model, item, p) {
    const d = this.dir(`u ${p.src[1]}>${p.dst[1]}`);
    const send = d.sends.find((s) => s.bytes === p.len);
    if (send) {
      d.sends.splice(d.sends.indexOf(send), 1);
      this.carry(send, item);
    } else {
      bounded(d.segments, item);
    }
    const recv = model.items.slice(-200).find((row) => row.role === "recv" && row.lane !== item.lane && !this.claimed.udp.has(row)
      && row.bytes === p.len && row.ev.local && String(row.ev.local[1]) === String(p.dst[1]) && row.ev.peer
      && String(row.ev.peer[1]) === String(p.src[1]));
    if (recv) {
      this.claimed.udp.add(recv);
      moveAbove(model.items, item, [recv]);
    }
  }

  /**
   * A socket-call row was added (and linked): note the bytes of a send()/recv(), and lift a call
   * above the packets it caused that came first (connect -> its SYN, send -> its segments,
   * close -> its FIN or RST).
   */
  callAdded(model, item, lane) {
    const ev = item.ev;
    const local = ev.local ?? lane.local;
    const peer = ev.peer ?? lane.peer;
    if (!local || !peer) return;
    if (lane.proto === "udp") {
      if (item.role === "send") this.udpSend(model, item, local, peer);
      return;
    }
    const out = this.dir(dirKey(local, peer));
    const back = this.dir(dirKey(peer, local));
    if (item.role === "send" && item.bytes > 0) {
      const range = { item, start: out.sent, end: out.sent + item.bytes };
      out.sent = range.end;
      bounded(out.sends, range);
      const caused = out.segments.filter((s) => overlaps(s, range) && s.item.packet.len > 0);
      for (const s of caused) this.carry(item, s.item);
      moveAbove(model.items, item, caused.map((s) => s.item));
    } else if (item.role === "recv" && item.bytes > 0) {
      const range = { item, start: back.got, end: back.got + item.bytes };
      back.got = range.end;
      bounded(back.recvs, range);
    } else if (item.role === "connect") {
      moveAbove(model.items, item, [out.syn]);
    } else if ((item.role === "close" || item.role === "shutdown") && !closedByPeer(ev)) {
      moveAbove(model.items, item, [out.fin]);
    }
  }

  udpSend(model, item, local, peer) {
    const d = this.dir(`u ${local[1]}>${peer[1]}`);
    const index = d.segments.findIndex((s) => s.bytes === item.bytes);
    if (index < 0) {
      bounded(d.sends, item);
      return;
    }
    const [datagram] = d.segments.splice(index, 1);
    this.carry(item, datagram);
    moveAbove(model.items, item, [datagram]);
  }
}

/**
 * The lanes a packet row is drawn between: [from, to], each a lab lane's id, "ext host:port", or null
 * (the lab socket it belongs to has no lane yet: its call is still on the way).
 * `drawnBy(laneId)`: the lane's first row is at or above this packet's row (a socket accept() made
 * later is not there yet: the handshake goes to the listening socket, the one that answers it).
 */
export function wireEnds(model, item, drawnBy = () => true) {
  const p = item.packet;
  const own = model.lanes.get(item.lane);
  const ownAddr = item.ev.local ?? own?.local;
  const at = (a, b) => {
    if (p.proto === "udp") {
      const id = model.udpByPort.get(String(a[1]));
      return id && model.lanes.has(id) ? id : `ext ${addr(a)}`;
    }
    const id = model.byPair.get(`${addr(a)}|${addr(b)}`);
    if (id && model.lanes.has(id) && drawnBy(id)) return id;
    const mine = own && ownAddr && addr(ownAddr) === addr(a);
    if (mine && drawnBy(own.id)) return own.id;
    for (const lane of model.lanes.values()) {
      if (lane.proto === "tcp" && !lane.conn && !lane.peer && lane.local && String(lane.local[1]) === String(a[1])) return lane.id;
    }
    if (mine) return own.id;
    // the lab's own socket whose first call is not in yet: nothing to draw to (not "outside the lab")
    if (!own && ownAddr && addr(ownAddr) === addr(a)) return null;
    return `ext ${addr(a)}`;
  };
  return [at(p.src, p.dst), at(p.dst, p.src)];
}
