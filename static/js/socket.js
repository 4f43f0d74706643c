// A websocket that reconnects by itself with exponential backoff and jitter.
// The server sends a fresh snapshot on every connect, so nothing missed while away is lost.

export function backoffDelay(attempt, { base = 500, max = 15000, random = Math.random } = {}) {
  const ceiling = Math.min(max, base * 2 ** attempt);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export class JobSocket {
  constructor(path, { onMessage, onState = () => {} }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onState = onState;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.done = false;
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible" || this.done) return;
      // A tab that slept may have missed messages: ask for a snapshot, or reconnect now.
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: "snapshot" }));
      else if (!this.ws || this.ws.readyState === WebSocket.CLOSED) this._reconnectNow();
    });
    window.addEventListener("online", () => { if (!this.done) this._reconnectNow(); });
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    return `${scheme}://${location.host}${this.path}`;
  }

  connect() {
    if (this.done) return;
    this.onState(this.attempt ? "retrying" : "connecting");
    const ws = new WebSocket(this.url());
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      this.attempt = 0;
      this.onState("open");
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      this.onMessage(message);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.done) return;
      if (event.code === 4403 || event.code === 4401) {
        this.onState("denied");
        return;
      }
      this._schedule();
    });
  }

  _schedule() {
    clearTimeout(this.timer);
    this.onState("retrying");
    const delay = backoffDelay(this.attempt);
    this.attempt += 1;
    this.timer = setTimeout(() => this.connect(), delay);
  }

  _reconnectNow() {
    clearTimeout(this.timer);
    if (this.ws && this.ws.readyState <= WebSocket.OPEN) return;
    this.connect();
  }

  /** Stop for good (the job finished): close and never reconnect. */
  finish() {
    this.done = true;
    clearTimeout(this.timer);
    this.onState("closed");
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
  }
}
