// Subscriptions on the page: a tiny emitter built on EventTarget, so every subscriber is kept (a
// second one never replaces the first) and one that throws does not stop the others (the browser
// reports it and goes on). Pure: EventTarget exists in browsers and in Node alike.

/** What a listener receives: the values passed to emit(), as `args`. */
class Signal extends Event {
  constructor(type, args) {
    super(type);
    this.args = args;
  }
}

export class Emitter extends EventTarget {
  /** Call fn(...args) on every emit(type, ...args); returns a function that unsubscribes. */
  on(type, fn) {
    const listener = (signal) => fn(...signal.args);
    this.addEventListener(type, listener);
    return () => this.removeEventListener(type, listener);
  }

  emit(type, ...args) {
    this.dispatchEvent(new Signal(type, args));
  }
}
