/* Trackside pages: shared connection, session model and formatting.
 *
 * Rule: everything a user typed (athlete names, tags, ids) is drawn with
 * textContent or as attribute values, never through innerHTML.
 */
"use strict";

const TS = (() => {
  const WIRE_VERSION = 1;

  // ---- small DOM helpers -------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function $(sel) { return document.querySelector(sel); }

  // ---- formatting ----------------------------------------------------------
  function fmtClock(s, decimals = 1) {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    const sign = s < 0 ? "-" : "";
    const a = Math.abs(s);
    const m = Math.floor(a / 60);
    const rest = a - 60 * m;
    const secs = rest.toFixed(decimals).padStart(decimals ? 3 + decimals : 2, "0");
    return m ? `${sign}${m}:${secs}` : `${sign}${rest.toFixed(decimals)}`;
  }
  function fmtDev(s) {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    const r = Math.round(s * 10) / 10;
    return (r >= 0 ? "+" : "−") + Math.abs(r).toFixed(1);
  }
  /* ahead / on / behind, with the on-plan band +-onPlanS (deviation = actual - plan). */
  function devClass(s, onPlanS) {
    if (s === null || s === undefined || !isFinite(s)) return "none";
    if (s > onPlanS) return "behind";
    if (s < -onPlanS) return "ahead";
    return "on";
  }
  const SEGMENT_LABEL = { start: "Start", turn1: "Turn 1", backstretch: "Back straight",
    turn2: "Turn 2", home: "Home straight", runoff: "Run-off" };
  const MARK_LABEL = { mile_start: "Mile start", finish: "Finish line",
    backstretch: "Back straight", back_turn: "Back turn", home_straight: "Home straight",
    mile_end: "Mile end" };

  // ---- token (coach) -------------------------------------------------------
  function token() { return localStorage.getItem("trackside.token") || ""; }
  function setToken(t) {
    if (t) localStorage.setItem("trackside.token", t); else localStorage.removeItem("trackside.token");
  }
  /* A notebook-style URL (?token=...) is stored, then removed from the address bar. */
  function takeTokenFromUrl() {
    const url = new URL(location.href);
    const t = url.searchParams.get("token");
    if (t) {
      setToken(t);
      url.searchParams.delete("token");
      history.replaceState(null, "", url.pathname + (url.search || "") + url.hash);
    }
  }
  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    const response = await fetch("/api/v1" + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const message = (data && data.error) || `HTTP ${response.status}`;
      const error = new Error(message);
      error.status = response.status;
      error.field = data && data.field;
      throw error;
    }
    return data;
  }

  // ---- the session model ---------------------------------------------------
  /* Holds the roster and every split, keyed so applying a split twice is harmless. */
  class Model {
    constructor() { this.reset(); }
    reset() {
      this.session = null;
      this.athletes = new Map(); // id -> {id, name, lane, variant, status, plan, splits: Map}
      this.order = [];
      this.nodes = {};
      this.serverOffsetS = 0;
      this.counters = {};
    }
    loadSnapshot(msg) {
      this.reset();
      const state = msg.state || {};
      this.session = state.session || null;
      this.counters = state.counters || {};
      this.nodes = msg.nodes || {};
      if (typeof msg.server_time_s === "number") this.serverOffsetS = msg.server_time_s - Date.now() / 1000;
      const list = Array.isArray(state.athletes) ? state.athletes : Object.values(state.athletes || {});
      for (const a of list) {
        const entry = {
          id: String(a.id), name: String(a.name ?? a.id), lane: a.lane, variant: a.variant,
          status: a.status || "waiting", start_s: a.start_s ?? null,
          plan: (a.plan && a.plan.segments) ? a.plan.segments : [],
          planTotalS: a.plan ? (a.plan.segments || []).reduce((m, s) => Math.max(m, s.cum_target_s || 0), 0) : null,
          tags: a.tags || [], splits: new Map(), last: null,
          fiveKS: a.plan ? a.plan.five_k_s : null, nextCue: a.next_cue || null,
        };
        this.athletes.set(entry.id, entry);
        this.order.push(entry.id);
        for (const s of (a.splits || a.updates || [])) this.applySplit(s);
      }
      return this;
    }
    splitKey(s) { return `${s.lap}:${s.segment}`; }
    applySplit(s) {
      const a = this.athletes.get(String(s.athlete));
      if (!a) return null;
      const key = this.splitKey(s);
      const old = a.splits.get(key);
      if (old && (old.seq || 0) > (s.seq || 0)) return a;
      a.splits.set(key, s);
      if (!a.last || (s.time_s || 0) >= (a.last.time_s || 0) || a.last === old) a.last = s;
      if (a.status === "waiting") a.status = "running";
      return a;
    }
    athleteList() { return this.order.map((id) => this.athletes.get(id)); }
    /* Sorted splits of an athlete (by time, then index). */
    splitsOf(a) {
      return [...a.splits.values()].sort((x, y) => (x.index ?? 0) - (y.index ?? 0) || x.time_s - y.time_s);
    }
    serverNow() { return Date.now() / 1000 + this.serverOffsetS; }
  }

  // ---- the ghost between crossings ------------------------------------------------
  /* Metres a runner exactly on plan has covered elapsedS after the gun (plan segments
   * carry cum_target_s and cum_distance_m; linear inside a segment, like the core). */
  function planDistanceAt(plan, elapsedS) {
    if (!plan.length || !(elapsedS > 0)) return 0;
    let prevT = 0, prevD = 0;
    for (const seg of plan) {
      if (elapsedS <= seg.cum_target_s) {
        const span = seg.cum_target_s - prevT;
        return prevD + (span > 0 ? (elapsedS - prevT) / span : 1) * (seg.cum_distance_m - prevD);
      }
      prevT = seg.cum_target_s; prevD = seg.cum_distance_m;
    }
    const last = plan[plan.length - 1];  // past the plan: the last segment's pace, like the core
    return prevD + (last.target_s > 0 ? (elapsedS - prevT) * last.distance_m / last.target_s : 0);
  }
  /* The ghost gap now (m, positive: ahead of the ghost), moving between crossings.
   * The ghost runs the plan on the server's clock. The runner is assumed to run on
   * at the ratio to plan of their last split (the core fills missed marks the same
   * way), clamped to 0.5-2: at the crossing this is exactly the split's ghost_gap_m,
   * and a runner slower than plan sees the ghost pull away second by second. The
   * runner is never placed past the next mark: no split for it has come yet. */
  function ghostGapNow(a, serverNowS) {
    const s = a.last;
    if (!s || typeof s.ghost_gap_m !== "number") return null;
    if (a.start_s === null || a.start_s === undefined || a.status === "finished" || !s.next_cue) return s.ghost_gap_m;
    const sinceS = serverNowS - s.time_s;
    if (!(sinceS > 0) || !(s.cum_target_s >= 0)) return s.ghost_gap_m;
    const ratio = s.split_s > 0 && s.target_s > 0 ? Math.min(2, Math.max(0.5, s.target_s / s.split_s)) : 1;
    let runner = planDistanceAt(a.plan, s.cum_target_s + ratio * sinceS);
    const next = a.plan[(s.index ?? -1) + 1];
    if (next) runner = Math.min(runner, next.cum_distance_m);
    return runner - planDistanceAt(a.plan, serverNowS - a.start_s);
  }

  // ---- the connection ------------------------------------------------------
  /* Connects with automatic reconnect; every (re)connect starts with a snapshot. */
  function connect(opts) {
    const status = opts.statusEl;
    const setStatus = (cls, text) => {
      if (!status) return;
      status.className = "conn " + cls;
      status.textContent = text;
      document.body.dataset.conn = cls;
    };
    setStatus("connecting", "connecting…");
    const socket = io({
      // A function, so every reconnect sends what the page follows now.
      // batch: several splits of one burst may come as one `splits` event (a list)
      auth: (cb) => cb({ role: opts.role, batch: true,
        athletes: typeof opts.athletes === "function" ? opts.athletes() : (opts.athletes || []) }),
      transports: ["websocket", "polling"],
      reconnection: true, reconnectionDelay: 500, reconnectionDelayMax: 3000,
      timeout: 5000,
    });
    const check = (handler) => (msg) => {
      if (!msg || msg.v !== WIRE_VERSION) { console.warn("ignored message", msg); return; }
      handler(msg);
    };
    socket.on("connect", () => setStatus("live", "live"));
    socket.on("disconnect", () => setStatus("offline", "offline — reconnecting…"));
    socket.io.on("reconnect_attempt", (n) => setStatus("offline", `offline — reconnecting (${n})…`));
    socket.on("connect_error", () => setStatus("offline", "offline — reconnecting…"));
    socket.on("snapshot", check((m) => { setStatus("live", "live"); opts.onSnapshot(m); }));
    const onSplit = opts.onSplit || (() => {});
    socket.on("split", check(onSplit));
    socket.on("splits", (list) => {
      if (!Array.isArray(list)) { console.warn("ignored splits", list); return; }
      const ok = list.filter((m) => m && m.v === WIRE_VERSION);
      if (opts.onSplits) opts.onSplits(ok); else ok.forEach(onSplit);
    });
    socket.on("health", check(opts.onHealth || (() => {})));
    socket.on("notice", check(opts.onNotice || (() => {})));
    socket.on("rejected", check(opts.onRejected || (() => {})));
    return socket;
  }

  /* NTP-style offset to the server clock over the socket (lowest delay of n probes). */
  async function measureOffset(socket, n = 5) {
    let best = null;
    for (let i = 0; i < n; i++) {
      const t0 = Date.now() / 1000;
      const reply = await new Promise((resolve) => socket.timeout(2000).emit("clock", {}, (err, r) => resolve(err ? null : r)));
      const t3 = Date.now() / 1000;
      if (!reply) continue;
      const offset = ((reply.t1 - t0) + (reply.t2 - t3)) / 2;
      const delay = (t3 - t0) - (reply.t2 - reply.t1);
      if (!best || delay < best.delay) best = { offset, delay };
    }
    return best;
  }

  return { el, clear, $, fmtClock, fmtDev, devClass, SEGMENT_LABEL, MARK_LABEL, token, setToken,
    takeTokenFromUrl, api, Model, connect, measureOffset, planDistanceAt, ghostGapNow };
})();
