// The live-room client: fairlot.v1.json over one WebSocket, with automatic resume.
//
// Why it tracks `seq`: a reconnect subscribes with since=<last seq seen>, so the server
// replays exactly the missed events (docs/protocol.md); an event that would leave a gap
// triggers a re-subscribe instead of being applied. Commands keep their id across
// reconnects: a retry of an id the server already acked gets the same ack (idempotent).
// A ping every few seconds catches a stalled socket that never reports closing.

const PING_EVERY_MS = 5000;
const PONG_TIMEOUT_MS = 4000;

export class Live {
  constructor({ room, token = null, seq = 0, handlers = {} }) {
    this.room = room;
    this.token = token;
    this.seq = seq;
    this.h = handlers;
    this.ws = null;
    this.state = "idle";
    this.pending = new Map(); // command id -> {msg, resolve, reject}
    this.attempt = 0;
    this.offsetMs = 0; // server clock - local clock
    this.pingNonce = 0;
    this.pongDue = null;
    this.closedByUs = false;
    this.timers = [];
  }

  now() { return Date.now() + this.offsetMs; }

  setStatus(state, detail = "") {
    this.state = state;
    this.h.status?.(state, detail);
  }

  connect() {
    this.closedByUs = false;
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
    this.setStatus(this.attempt ? "reconnecting" : "connecting");
    const ws = new WebSocket(url, ["fairlot.v1.json"]);
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: "hello", version: 1 };
      if (this.token) hello.token = this.token;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (e) => this.onMessage(JSON.parse(e.data));
    ws.onclose = () => this.onClose(ws);
    ws.onerror = () => {}; // onclose follows and schedules the retry
  }

  onMessage(msg) {
    switch (msg.type) {
      case "welcome": {
        this.offsetMs = msg.server_time - Date.now();
        this.user = msg.user_id;
        const sub = { type: "subscribe", room: this.room };
        if (this.seq > 0) sub.since = this.seq;
        this.send(sub);
        this.attempt = 0;
        this.setStatus("live");
        this.h.welcome?.(msg);
        for (const p of this.pending.values()) this.send(p.msg); // same ids: safe to repeat
        this.startPing();
        break;
      }
      case "event": this.onEvent(msg); break;
      case "batch": for (const e of msg.events) this.onEvent(e); break;
      case "snapshot":
        if (msg.room !== this.room) return;
        this.h.snapshot?.(msg, this.seq);
        this.seq = Math.max(this.seq, msg.seq);
        break;
      case "ack": this.settle(msg.id, (p) => p.resolve(msg)); break;
      case "reject": this.settle(msg.id, (p) => p.reject(Object.assign(new Error(msg.message), { code: msg.code, retryAfterMs: msg.retry_after_ms }))); break;
      case "pong": if (msg.nonce === this.pingNonce) this.pongDue = null; break;
      case "error": this.h.error?.(msg); break;
      default: break;
    }
  }

  onEvent(e) {
    if (e.room !== this.room) return;
    if (e.seq === 0) { this.h.notice?.(e); return; } // out-of-log notices (waiting room)
    if (e.seq <= this.seq) return; // already applied (a replay overlapping what we had)
    if (e.seq !== this.seq + 1) { // a gap: ask again from what we have
      this.send({ type: "subscribe", room: this.room, since: this.seq });
      return;
    }
    this.seq = e.seq;
    this.h.event?.(e);
  }

  settle(id, fn) {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    fn(p);
  }

  /** Send a room command; resolves with its ack, rejects with its typed reject. */
  command(msg) {
    const id = msg.id || `w-${crypto.getRandomValues(new Uint32Array(2)).join("")}`;
    const full = { ...msg, id, room: this.room };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { msg: full, resolve, reject });
      if (this.state === "live") this.send(full);
    });
  }

  send(msg) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  startPing() {
    this.stopPing();
    const timer = setInterval(() => {
      if (this.pongDue !== null && Date.now() > this.pongDue) { // stalled: drop and resume
        this.ws?.close();
        return;
      }
      this.pingNonce += 1;
      this.pongDue = Date.now() + PONG_TIMEOUT_MS;
      this.send({ type: "ping", nonce: this.pingNonce });
    }, PING_EVERY_MS);
    this.timers.push(timer);
  }

  stopPing() {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.pongDue = null;
  }

  onClose(ws) {
    if (ws !== this.ws) return;
    this.stopPing();
    if (this.closedByUs) { this.setStatus("idle"); return; }
    this.attempt += 1;
    const delay = Math.min(5000, 200 * 2 ** Math.min(this.attempt - 1, 5)) + Math.floor(Math.random() * 150);
    this.setStatus("reconnecting", delay);
    setTimeout(() => { if (!this.closedByUs) this.connect(); }, delay);
  }

  /** Reconnect now (e.g. with a new token after signing in). */
  restart(token) {
    this.token = token;
    this.closedByUs = true;
    const old = this.ws;
    this.ws = null;
    old?.close();
    this.attempt = 0;
    this.connect();
  }
}
