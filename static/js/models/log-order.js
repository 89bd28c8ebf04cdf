// The log's order: causal, not arrival. The lab stamps each event with the time its call STARTED
// when this side initiates it (connect, send, close) and the time it RETURNED when it waits for the
// other side (accept, recv, a peer's close), so sorting by (ts, seq) puts a send above the recvs it
// caused and a connect above its accept. Events arrive in seq order, and a batch may split a cause
// from its effect: a late cause is inserted above rows already shown. Stages never mix: every row
// of a stage sorts after that stage's divider, whatever the clocks say. Pure (no DOM).

/**
 * Does `a` come before `b` in the log? `cutOf(ev)` is the stage index of an event (Stages.cutOf),
 * `isDivider(ev)` whether it is a stage's divider row.
 */
export function causallyBefore(a, b, cutOf, isDivider) {
  const stage = cutOf(a) - cutOf(b);
  if (stage) return stage < 0;
  const divider = Number(isDivider(b)) - Number(isDivider(a));
  if (divider) return divider < 0;
  const at = (Number(a.ts) || 0) - (Number(b.ts) || 0);
  if (at) return at < 0;
  return a.seq < b.seq;
}

/**
 * Insert `ev` into `rows` (already in causal order) where it belongs; returns its index. Most
 * events belong at the end, so the search walks back from there (a flood costs one comparison each).
 */
export function insertCausal(rows, ev, cutOf, isDivider) {
  let i = rows.length;
  while (i > 0 && causallyBefore(ev, rows[i - 1], cutOf, isDivider)) i--;
  if (i === rows.length) rows.push(ev);
  else rows.splice(i, 0, ev);
  return i;
}

/**
 * Insert a whole batch into `rows` (already in causal order): the same rows as inserting each with
 * insertCausal, at the cost of a sort of the batch, a binary search and one merge of the rows after
 * the first new one. A class of traced programs posts batches that reach back up to a second among
 * thousands of rows: one walk back per event was most of the page's time. Returns the final index of
 * each new row, ascending.
 */
export function insertAllCausal(rows, events, cutOf, isDivider) {
  if (!events.length) return [];
  const before = (a, b) => causallyBefore(a, b, cutOf, isDivider);
  const sorted = events.slice().sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(sorted[0], rows[mid])) hi = mid;
    else lo = mid + 1;
  }
  const tail = rows.splice(lo);
  const at = [];
  let i = 0;
  let j = 0;
  while (j < sorted.length) {
    if (i < tail.length && !before(sorted[j], tail[i])) rows.push(tail[i++]);
    else {
      at.push(rows.length);
      rows.push(sorted[j++]);
    }
  }
  while (i < tail.length) rows.push(tail[i++]);
  return at;
}
