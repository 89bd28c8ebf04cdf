// The sequence diagram as data: one lane per socket, one row per drawn event, and the links
// between rows (which send's bytes each recv got, connect -> accept, close -> "recv() returned 0").
// Pure (no DOM): the live page and a replay build the same picture from the same events.
//
// Which send's bytes each recv got, and connect -> accept, close -> "recv() returned 0": ladder-links.js;
// the packets among the rows: wire-model.js; what an event says of its socket: event-socket.js.
//
// How a kind is drawn comes from the server's registry (kinds.js); what a row means comes from the
// event's fields (closed_by, args), never from its English `detail`.
//
// Closed sockets leave: a lane whose socket closed (a lane-end kind) or whose endpoint was removed
// (a "state" snapshot with `removed`) is kept LANE_LINGER seconds, then sweep() takes it away with
// its rows. The model keeps no timer: sweep(now) is called by ladder.js, with the page's clock.
// During a lesson (a "stage" event with a lesson began the stage) nothing leaves before the next stage,
// and a student's traced program never leaves before it.
import { drawOf, endsLane } from "./kinds.js";
import { addr, laneOf } from "./event-socket.js";
import { LinkTrack } from "./ladder-links.js";
import { WireTrack } from "./wire-model.js";
import { noteTraced, placeByTime, programOf } from "./trace-groups.js";

const MAX_ITEMS = 3000; // rows kept in memory (far more than are drawn)
export const LANE_LINGER = 5; // seconds a closed socket's lane stays in the diagram
const MAX_EARLIER = 5000; // sockets of the stage that ended remembered (a lesson has a few; a busy lab, more)

/** Bytes on the wire of a download's header line ("OK <size> <sha256>\n"), from the event's args. */
function headerBytes(ev) {
  const a = ev.args || {};
  return Number.isFinite(a.size) && typeof a.sha256 === "string" ? `OK ${a.size} ${a.sha256}\n`.length : 0;
}

/** A download's bytes coming in (its header line and its progress) are drawn as receives. */
const downloadIn = (ev) => ev.kind === "header" || ev.kind === "progress";

/** Note the lab socket (endpoint or download id) `ev` is about; never a student's traced program,
 * which no stage closes (its calls go on in the next stage). */
function noteSocket(set, ev) {
  if (typeof ev?.endpoint === "string" && ev.endpoint && !programOf(ev) && set.size < MAX_EARLIER) set.add(ev.endpoint);
}

export class LadderModel {
  /** `clock()`: seconds, on the events' clock (the server's while live, the replay's in a replay). */
  constructor({ clock = () => Date.now() / 1000 } = {}) {
    this.clock = clock;
    this.reset();
  }

  /**
   * Start afresh; a new classroom stage keeps the endpoint kinds learnt from the endpoint list, and
   * `ended` (true, or the events of the ended stage that came in the new stage's batch before its
   * `stage` event) says to leave out what comes later about that stage's sockets.
   */
  reset({ keepKinds = false, ended = null } = {}) {
    const kinds = keepKinds && this.kinds ? this.kinds : new Map();
    // The sockets of the stage that ended, closed by the new one: whatever still comes about them
    // (the FIN/ACK the capture reads after the clear, an agent's events relayed late, another
    // dashboard's stage seen before its agent's closes) belongs to that stage, and the diagram of
    // this one leaves it out (its packets drew a lane "outside the lab"). The server sends a stage's
    // closes before its `stage` event where it can (webapp/agents.py waits for an agent's); packets
    // recorded later cannot be, so the page is where the stage is kept clean for every lab.
    const earlier = new Set(ended && this.stageSockets ? this.stageSockets : []);
    for (const ev of Array.isArray(ended) ? ended : []) noteSocket(earlier, ev);
    while (earlier.size > MAX_EARLIER) earlier.delete(earlier.values().next().value);
    this.earlier = earlier;
    this.stageSockets = new Set(); // the lab's sockets (endpoint and download ids) this stage has shown
    this.lanes = new Map(); // id -> lane
    this.items = []; // rows, in drawing order
    this.bySeq = new Map();
    this.forgotten = 0; // rows dropped from memory (counted in "N earlier events")
    this.links = new LinkTrack(); // which rows are the two ends of one thing (ladder-links.js)
    this.pairs = this.links.pairs; // (wire-model.js hangs the handshake and the FIN off them)
    this.byPair = new Map(); // "local|peer" -> TCP lane id
    this.udpByPort = new Map(); // local port -> UDP lane id
    this.kinds = kinds; // endpoint id -> kind, from GET /api/endpoints
    this.ending = new Map(); // lane id -> when its socket closed (seconds): it leaves LANE_LINGER later
    this.gone = new Set(); // lanes that left: their late events draw nothing, nothing points at them
    // A lesson is on the stage: its few sockets' closings are its point (lesson 3: "Stop closes every
    // socket"), so their lanes stay until the next stage ends the lesson (nine lessons, K).
    this.lesson = false;
    this.wire = new WireTrack(); // the packets (wire-model.js): where each goes among the calls
    this.version = 0;
  }

  /** Endpoint kinds from the live endpoint list (events alone can only guess a few). */
  setEndpoints(list) {
    for (const ep of list) this.kinds.set(ep.id, ep.kind);
    for (const lane of this.lanes.values()) if (!lane.conn && this.kinds.has(lane.endpoint)) lane.kind = this.kinds.get(lane.endpoint);
    this.version++;
  }

  add(ev) {
    if (!ev || typeof ev.kind !== "string") return false;
    if (ev.kind === "stage") this.lesson = Boolean(ev.params?.lesson);
    if (this.earlier.has(ev.endpoint)) {
      // a socket's own first call under an id the ended stage had is a new socket (a restarted agent
      // numbers from e1 again): it is this stage's; anything else is the ended stage's, left out
      if (!(drawOf(ev.kind) === "lane-start" && !ev.conn)) return false;
      this.earlier.delete(ev.endpoint);
    }
    noteSocket(this.stageSockets, ev);
    if (ev.state?.removed) this.endEndpoint(String(ev.state.id ?? ev.endpoint ?? ""), this.timeOf(ev));
    if (this.gone.has(laneOf(ev))) return false;
    // a framed message adds to the recv it came out of; quiet kinds (progress of a socket's
    // numbers, snapshots) draw nothing, except a download's bytes in
    if (ev.kind === "message") {
      this.countMessage(ev);
      return false;
    }
    if (drawOf(ev.kind) === "none" && !downloadIn(ev)) return false;
    if (!ev.endpoint) return false; // of the lab, not of a socket (a stopped capture): the log says it, no lane
    if (drawOf(ev.kind) === "wire") return this.addPacket(ev);
    const lane = this.lane(ev);
    const item = { seq: ev.seq, ev, lane: lane.id, role: this.roleOf(ev), sources: [], dests: [], messages: 0 };
    if (item.role === "recv" && ev.kind === "header") item.bytes = headerBytes(ev);
    else item.bytes = Number(ev.size) || 0;
    this.items.push(item);
    if (lane.program) placeByTime(this.items); // (it arrived late, in its program's batch)
    this.bySeq.set(item.seq, item);
    lane.last = item.seq;
    if (lane.first === null) lane.first = item.seq;
    if (endsLane(ev.kind)) {
      lane.closed = item.seq;
      if (!this.ending.has(lane.id)) this.ending.set(lane.id, this.timeOf(ev));
    }
    if (ev.kind === "lost") lane.lost++;
    this.links.link(this.items, item, lane);
    this.wire.callAdded(this, item, lane);
    if (this.items.length > MAX_ITEMS) this.forget(this.items.length - MAX_ITEMS + 200);
    this.version++;
    return true;
  }

  /** A packet row (wire-model.js places it): it belongs to its socket's lane but makes none, nor starts or ends one. */
  addPacket(ev) {
    const item = { seq: ev.seq, ev, lane: laneOf(ev), role: "packet", sources: [], dests: [], messages: 0, bytes: 0 };
    this.items.push(item);
    this.bySeq.set(item.seq, item);
    if (!this.wire.addPacket(this, item)) {
      this.items.pop(); // not a packet, or the same frame reported twice
      this.bySeq.delete(item.seq);
      return false;
    }
    if (this.items.length > MAX_ITEMS) this.forget(this.items.length - MAX_ITEMS + 200);
    this.version++;
    return true;
  }

  roleOf(ev) {
    const draw = drawOf(ev.kind);
    if (draw === "arrow") return ev.kind === "send" ? "send" : "recv";
    if (downloadIn(ev)) return "recv";
    if (draw === "lane-end") return ev.peer ? "close" : "note"; // a listening or UDP socket: no FIN to draw
    if (draw === "lane-start") return ev.kind === "listen" ? "note" : ev.kind; // connect, accept
    // marks with a shape of their own; every other mark is a note beside its lane
    return ev.kind === "lost" || ev.kind === "shutdown" ? ev.kind : "note";
  }

  lane(ev) {
    const id = laneOf(ev);
    let lane = this.lanes.get(id);
    if (!lane) {
      lane = { id, endpoint: String(ev.endpoint ?? ""), conn: ev.kind === "refuse" ? null : ev.conn ?? null,
        proto: ev.proto === "udp" ? "udp" : "tcp", kind: "", local: null, peer: null,
        order: this.lanes.size, first: null, last: null, closed: null, lost: 0 };
      this.lanes.set(id, lane);
    }
    if (!lane.kind || !lane.known) this.guessKind(lane, ev);
    noteTraced(lane, ev); // a student's program (trace-groups.js): its name, and the thread of this lane
    if (ev.kind !== "refuse" && ev.local && !lane.local) lane.local = ev.local;
    if (lane.proto === "tcp" && ev.peer && !lane.peer && ev.kind !== "refuse") lane.peer = ev.peer;
    if (lane.proto === "tcp" && lane.local && lane.peer) this.byPair.set(`${addr(lane.local)}|${addr(lane.peer)}`, id);
    if (lane.proto === "udp" && lane.local) this.udpByPort.set(String(lane.local[1]), id);
    return lane;
  }

  guessKind(lane, ev) {
    const known = this.kinds.get(lane.endpoint);
    if (lane.conn) lane.kind = "connection";
    else if (known) lane.kind = known;
    else if (ev.kind === "listen") lane.kind = `${lane.proto}-server`;
    else if (ev.kind === "connect" && ev.args?.download) lane.kind = "download";
    else if (!lane.kind) lane.kind = downloadIn(ev) ? "download" : `${lane.proto}-client`;
    lane.known = Boolean(lane.conn || known || ev.kind === "listen" || ev.kind === "connect");
  }

  countMessage(ev) {
    const lane = this.lanes.get(laneOf(ev));
    if (!lane) return;
    for (let i = this.items.length - 1; i >= 0 && i >= this.items.length - 200; i--) {
      const item = this.items[i];
      if (item.lane === lane.id && item.role === "recv") {
        item.messages++;
        this.version++;
        return;
      }
    }
  }

  forget(n) {
    for (const item of this.items.splice(0, n)) this.bySeq.delete(item.seq);
    this.forgotten += n;
  }

  /** The time an event happened (its ts), or now for an event without one. */
  timeOf(ev) {
    return Number.isFinite(ev.ts) && ev.ts > 0 ? ev.ts : this.clock();
  }

  /** Every lane of an endpoint (its own socket, its connections) ended at `at`: it was removed. */
  endEndpoint(endpoint, at) {
    for (const lane of this.lanes.values()) {
      if (lane.endpoint === endpoint && !this.ending.has(lane.id)) this.ending.set(lane.id, at);
    }
  }

  /** Take away the lanes that ended LANE_LINGER seconds before `now`, with their rows; their ids. */
  sweep(now = this.clock()) {
    const left = [];
    if (this.lesson) return left;
    for (const [id, at] of this.ending) {
      // a student's traced program stays, its lanes marked ended, until the next stage: the class may
      // still be looking at what it did (and "no socket calls yet" would be false)
      if (now - at >= LANE_LINGER && !this.lanes.get(id)?.program) left.push(id);
    }
    if (!left.length) return left;
    const leaving = new Set(left);
    for (const id of left) this.removeLane(id);
    this.items = this.items.filter((item) => {
      if (!leaving.has(item.lane)) return true;
      this.bySeq.delete(item.seq);
      return false;
    });
    this.version++;
    return left;
  }

  removeLane(id) {
    const lane = this.lanes.get(id);
    this.ending.delete(id);
    this.gone.add(id);
    if (!lane) return;
    this.lanes.delete(id);
    if (lane.proto === "tcp" && lane.local && lane.peer) this.links.forgetConnection(lane.local, lane.peer);
  }

  /** The lab lane at the other end of a TCP lane, or null (a program outside the lab, or one that left). */
  partnerOf(lane) {
    if (!lane.local || !lane.peer || lane.proto !== "tcp") return null;
    const id = this.byPair.get(`${addr(lane.peer)}|${addr(lane.local)}`);
    return (id && this.lanes.get(id)) || null;
  }

  /** The UDP lane bound to `peer`'s port, or null. */
  udpLaneAt(peer) {
    const id = peer ? this.udpByPort.get(String(peer[1])) : null;
    return (id && this.lanes.get(id)) || null;
  }

  /**
   * Where the far end of a row with no partner row is drawn: a lab lane's id, "ext host:port" for a
   * program outside the lab, or null: nothing to draw, e.g. the lab socket there has left (the
   * diagram never draws an arrow to a lane that is gone, nor passes it off as an outside program).
   */
  farEndOf(item) {
    const lane = this.lanes.get(item.lane);
    if (!lane) return null;
    const ev = item.ev;
    const id = lane.proto === "udp" ? (ev.peer ? this.udpByPort.get(String(ev.peer[1])) : undefined)
      : lane.local && lane.peer ? this.byPair.get(`${addr(lane.peer)}|${addr(lane.local)}`) : undefined;
    if (id !== undefined) return this.lanes.has(id) ? id : null;
    const peer = lane.proto === "udp" ? ev.peer : lane.peer;
    return peer ? `ext ${addr(peer)}` : null;
  }

  /** Lanes that exchanged anything with `laneId` (for the focus on one connection). */
  partnersOf(laneId) {
    const found = new Set([laneId]);
    const lane = this.lanes.get(laneId);
    const partner = lane && this.partnerOf(lane);
    if (partner) found.add(partner.id);
    for (const item of this.items) {
      if (item.lane !== laneId) continue;
      for (const link of [...item.sources, ...item.dests]) {
        const other = this.bySeq.get(link.seq);
        if (other) found.add(other.lane);
      }
    }
    return found;
  }

  /** The newest `max` rows on `lanes` (a Set, or null for all), and how many earlier rows are hidden; `wire`: with packets. */
  visible(max, lanes = null, wire = true) {
    const keep = (item) => (!lanes || lanes.has(item.lane)) && (wire || item.role !== "packet");
    const rows = lanes || !wire ? this.items.filter(keep) : this.items;
    const shown = rows.slice(-max);
    const earlier = rows.length - shown.length + (lanes ? 0 : this.forgotten);
    return { rows: shown, earlier };
  }
}
