// Where this page is in the dashboard's event stream, and how it resumes. Pure (no DOM, no I/O):
// events.js feeds it and asks it; node tests drive it with hand-made batches.
//
// A dashboard numbers its events 1, 2, 3... from its start (`seq`), and names that run (`boot`).
// Within one boot a seq is seen at most once and a gap means events were dropped. When the boot
// changes the dashboard restarted and its seqs began again at 1:
// - over lab agents, the agents' streams still hold what happened, and every event keeps its
//   agent's own number (`agent_seq`): the page resumes from the last agent_seq it has of each agent
//   (GET /api/events?after=0&resume={agent: seq}) and drops any event of an agent it already showed;
// - embedded, the lab restarted with the dashboard: nothing to resume, the page starts afresh.

/** Per agent: the newest agent_seq shown and its ts. An agent that restarts numbers from 1 again,
 * later in time: an event is old when its number AND its time are not past the newest shown. */
function isOld(record, ev) {
  return record !== undefined && ev.agent_seq <= record.seq && !(ev.ts > record.ts);
}

export class EventCursor {
  constructor() {
    this.boot = null; // the dashboard run the seqs belong to
    this.lastSeq = 0;
    this.dropped = 0;
    this.agents = new Map(); // agent -> {seq, ts}
    this.overAgents = false; // the session said so (a page may restart before it saw any agent's event)
  }

  /**
   * What a boot the server answered means: "same" (or the first one seen: remembered), "agents"
   * (a restart over agents: resume) or "new-lab" (an embedded restart: start afresh).
   */
  seeBoot(boot) {
    if (typeof boot !== "string" || !boot) return "same";
    if (this.boot === null || this.boot === boot) {
      this.boot = boot;
      return "same";
    }
    this.boot = boot;
    this.lastSeq = 0; // the new run's seqs start again at 1
    if (this.overAgents || this.agents.size) return "agents";
    this.dropped = 0;
    return "new-lab";
  }

  /** The `resume` argument: {agent: [last agent_seq shown, its ts]}, or "" when there is nothing
   * to resume. The server judges an event old as isOld() does, so an agent that restarted meanwhile
   * (numbering from 1 again, later in time) is not filtered out. */
  resumeArg() {
    if (!this.agents.size) return "";
    return JSON.stringify(Object.fromEntries([...this.agents].map(([name, r]) => [name, [r.seq, r.ts]])));
  }

  /**
   * The events of `batch` not shown yet, in order. `history`: a page of GET /api/events, whose
   * skipped seqs were counted by the server (`dropped`) or filtered out by `resume`, so no gap counts.
   */
  take(batch, { history = false } = {}) {
    const fresh = [];
    for (const ev of batch) {
      if (!ev || typeof ev.seq !== "number" || ev.seq <= this.lastSeq) continue;
      if (!history && ev.seq > this.lastSeq + 1) this.dropped += ev.seq - this.lastSeq - 1;
      this.lastSeq = ev.seq;
      if (typeof ev.agent === "string" && typeof ev.agent_seq === "number") {
        const record = this.agents.get(ev.agent);
        if (isOld(record, ev)) continue; // shown before the dashboard restarted
        this.agents.set(ev.agent, { seq: ev.agent_seq, ts: typeof ev.ts === "number" ? ev.ts : 0 });
      }
      fresh.push(ev);
    }
    return fresh;
  }

  /** After a page of history: the server's `last` (newest seq it holds) when it sent nothing newer. */
  reached(last) {
    if (typeof last === "number" && last > this.lastSeq) this.lastSeq = last;
  }
}
