// The links between rows of the sequence diagram: which send's bytes each recv got, connect() ->
// accept(), and a side's first shutdown()/close() -> the peer's "recv() returned 0" (its FIN). Pure
// (no DOM); ladder-model.js owns the rows and lanes and hands each new row here.
//
// TCP is a byte stream, so sends and recvs are matched by byte offsets per direction: one recv
// may take the bytes of several sends (coalescing) and one send may be split across recvs.
// UDP keeps datagram boundaries: a send matches the recv of the same datagram at its peer.
// A row that arrives after its partner (a send recorded after the recv that got it) is moved
// above it, so every arrow points down.
import { addr, closedByPeer } from "./event-socket.js";

const MAX_QUEUE = 2000; // unmatched sends or recvs kept per direction

export class LinkTrack {
  constructor() {
    this.flows = new Map(); // direction key -> {sends, recvs, sent, got}
    this.pairs = new Map(); // "connect"/"fin" key -> {init, resp}
  }

  /** Match the new row (just appended to `items`) with its partners; an initiator that arrives late is drawn before them. */
  link(items, item, lane) {
    const ev = item.ev;
    if (item.role === "send" || item.role === "recv") {
      if (lane.proto === "udp") this.matchDatagram(items, item);
      else if (item.bytes > 0 && ev.local && ev.peer) this.matchStream(items, item);
    } else if (item.role === "connect" && ev.local && ev.peer) {
      this.pair(items, `c ${addr(ev.local)}>${addr(ev.peer)}`, item, "init");
    } else if (item.role === "accept" && ev.local && ev.peer) {
      this.pair(items, `c ${addr(ev.peer)}>${addr(ev.local)}`, item, "resp");
    } else if ((item.role === "close" || item.role === "shutdown") && lane.local && lane.peer) {
      // FIN: the first shutdown()/close() of a side, to the peer's "recv() returned 0"
      if (closedByPeer(ev)) this.pair(items, `f ${addr(lane.peer)}>${addr(lane.local)}`, item, "resp");
      else this.pair(items, `f ${addr(lane.local)}>${addr(lane.peer)}`, item, "init");
    } else if (ev.kind === "done" && lane.local && lane.peer) {
      // a download is done when its recv() returned 0: the server's FIN arrived
      item.role = "eof";
      this.pair(items, `f ${addr(lane.peer)}>${addr(lane.local)}`, item, "resp");
    }
  }

  pair(items, key, item, side) {
    let pair = this.pairs.get(key);
    if (!pair) this.pairs.set(key, (pair = { init: null, resp: null }));
    if (pair[side]) return; // only the first one of each side makes the handshake or the FIN
    pair[side] = item;
    if (pair.init && pair.resp) {
      pair.resp.sources.push({ seq: pair.init.seq, bytes: 0 });
      pair.init.dests.push({ seq: pair.resp.seq, bytes: 0 });
      if (side === "init") placeBefore(items, item, [pair.resp]);
    }
  }

  flow(key) {
    let flow = this.flows.get(key);
    if (!flow) this.flows.set(key, (flow = { sends: [], recvs: [], sent: 0, got: 0 }));
    return flow;
  }

  matchStream(items, item) {
    const ev = item.ev;
    const sending = item.role === "send";
    const flow = this.flow(sending ? `t ${addr(ev.local)}>${addr(ev.peer)}` : `t ${addr(ev.peer)}>${addr(ev.local)}`);
    if (sending) {
      flow.sends.push({ item, start: flow.sent, end: flow.sent + item.bytes });
      flow.sent += item.bytes;
    } else {
      flow.recvs.push({ item, start: flow.got, end: flow.got + item.bytes });
      flow.got += item.bytes;
    }
    const partners = [];
    while (flow.sends.length && flow.recvs.length) {
      const s = flow.sends[0];
      const r = flow.recvs[0];
      const overlap = Math.min(s.end, r.end) - Math.max(s.start, r.start);
      if (overlap > 0) {
        this.connect(s.item, r.item, overlap);
        partners.push(sending ? r.item : null);
      }
      const sendDone = s.end <= r.end;
      const recvDone = r.end <= s.end;
      if (sendDone) flow.sends.shift();
      if (recvDone) flow.recvs.shift();
    }
    trim(flow.sends);
    trim(flow.recvs);
    if (sending) placeBefore(items, item, partners.filter(Boolean));
  }

  matchDatagram(items, item) {
    const ev = item.ev;
    const sending = item.role === "send";
    if (!ev.local || !ev.peer) return;
    // by ports: an unbound client's local host is 0.0.0.0, while its peer sees 127.0.0.1
    const flow = this.flow(sending ? `u ${ev.local[1]}>${ev.peer[1]}` : `u ${ev.peer[1]}>${ev.local[1]}`);
    const others = sending ? flow.recvs : flow.sends;
    // the same datagram: same size and preview; reordering means it need not be the oldest one
    let index = others.findIndex((o) => o.ev.size === ev.size && o.ev.hex === ev.hex);
    if (index < 0) index = others.findIndex((o) => o.ev.size === ev.size);
    if (index < 0) {
      (sending ? flow.sends : flow.recvs).push(item);
      trim(sending ? flow.sends : flow.recvs);
      return;
    }
    // reordering moves a datagram by a few places; far older ones never arrived (dropped by the OS)
    if (index > 32) others.splice(0, index - 32);
    const [other] = others.splice(Math.min(index, 32), 1);
    if (sending) {
      this.connect(item, other, item.bytes);
      placeBefore(items, item, [other]);
    } else {
      this.connect(other, item, item.bytes);
    }
  }

  connect(send, recv, bytes) {
    send.dests.push({ seq: recv.seq, bytes });
    recv.sources.push({ seq: send.seq, bytes });
  }

  /** A TCP lane left: a new connection on the same ports (the OS reuses them) starts with fresh byte counts. */
  forgetConnection(local, peer) {
    const [a, b] = [addr(local), addr(peer)];
    for (const key of [`t ${a}>${b}`, `t ${b}>${a}`]) this.flows.delete(key);
    for (const key of [`c ${a}>${b}`, `c ${b}>${a}`, `f ${a}>${b}`, `f ${b}>${a}`]) this.pairs.delete(key);
  }
}

/** Move `item` (just appended) above the earliest of `partners` already drawn, so arrows point down. */
export function placeBefore(items, item, partners) {
  if (!partners.length) return;
  let at = items.length - 1; // (a traced program's row may have moved up by its clock already)
  while (at > 0 && at >= items.length - 500 && items[at] !== item) at--;
  if (items[at] !== item) return;
  let target = at;
  for (let i = at - 1; i >= 0 && i >= at - 500; i--) {
    if (partners.includes(items[i])) target = i;
  }
  if (target === at) return;
  items.splice(at, 1);
  items.splice(target, 0, item);
}

/** Keep the newest MAX_QUEUE, cut in bulk: a one-item splice off the front of a long queue per event is slow. */
function trim(queue) {
  if (queue.length > MAX_QUEUE * 1.25) queue.splice(0, queue.length - MAX_QUEUE);
}
