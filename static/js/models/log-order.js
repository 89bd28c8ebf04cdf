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
