/* The trackside screen: one to four athletes, readable from 20 m in sunlight.
 *
 * URL: /screen?athletes=a1,a2&on_plan=0.5&speak=1 (no athletes: the first four).
 */
"use strict";

(() => {
  const { el, clear, $, fmtDev, fmtClock, devClass } = TS;
  const SEG = TS.SEGMENT_LABEL;
  const params = new URL(location.href).searchParams;
  let follow = (params.get("athletes") || params.get("athlete") || "").split(",").filter(Boolean).slice(0, 4);
  const onPlanS = parseFloat(params.get("on_plan") || "0.5");
  let speak = params.get("speak") === "1";
  const model = new TS.Model();
  let lastSpoken = new Map();

  function shown() {
    const list = model.athleteList();
    if (follow.length) return follow.map((id) => model.athletes.get(id)).filter(Boolean);
    return list.slice(0, 4);
  }
  function cueOf(a) {
    if (a.last && a.last.next_cue) return a.last.next_cue;
    if (a.status === "finished") return { effort: "done", text: "FINISHED" };
    if (!a.last && a.plan.length) {
      const effort = a.plan[0].effort;
      const text = { "5k": "COAST — 5K pace", surge: "SURGE — faster, shorter, quicker", max: "ALL OUT", kick: "KICK" }[effort] || effort;
      return { effort, text };
    }
    return null;
  }
  function lapText(a) {
    const laps = a.plan.length ? a.plan[a.plan.length - 1].lap : 4;
    if (a.status === "finished") return "FINISH";
    const seg = a.plan[Math.min(a.splits.size, a.plan.length - 1)];
    return seg ? `LAP ${seg.lap}/${laps}` : "";
  }
  // ---- the ghost gap, moving between crossings ------------------------------------------
  let clockOffsetS = null;  // NTP-style over the socket; until then the snapshot's estimate
  function serverNow() { return clockOffsetS === null ? model.serverNow() : Date.now() / 1000 + clockOffsetS; }
  function ghostText(gap) {
    return gap === null ? "" : `ghost ${Math.abs(gap).toFixed(1)} m ${gap >= 0 ? "behind you" : "ahead"}`;
  }
  /* Four times a second: only the ghost text changes, the rest waits for a split. */
  function tickGhosts() {
    const now = serverNow();
    for (const span of document.querySelectorAll('[data-role="ghost"]')) {
      const a = model.athletes.get(span.closest("[data-athlete]").dataset.athlete);
      if (!a) continue;
      const gap = TS.ghostGapNow(a, now);
      span.textContent = ghostText(gap);
      if (gap === null) delete span.dataset.gapM; else span.dataset.gapM = gap.toFixed(2);
    }
  }
  setInterval(tickGhosts, 250);

  function render() {
    const box = clear($("#panels"));
    const list = shown();
    box.dataset.count = String(Math.max(list.length, 1));
    for (const a of list) {
      const s = a.last;
      const cue = cueOf(a);
      const gap = TS.ghostGapNow(a, serverNow());
      box.append(el("section", { class: "panel", "data-athlete": a.id },
        el("div", { class: "panel-head" },
          el("span", { class: "who", text: a.name }),
          el("span", { class: "lap", text: lapText(a) })),
        el("div", { class: "deviation " + devClass(s ? s.deviation_s : null, onPlanS), "data-role": "deviation",
          text: s ? fmtDev(s.deviation_s) : (a.status === "waiting" ? "READY" : "–") }),
        el("div", { class: "caption", text: s ? `last ${SEG[s.segment] || s.segment} vs plan, s` : "" }),
        el("div", { class: "cue effort-" + (cue ? cue.effort : "none"), "data-role": "cue", text: cue ? cue.text : "" }),
        el("div", { class: "panel-foot" },
          el("span", { class: "total " + devClass(s ? s.cum_deviation_s : null, onPlanS), text: s ? `total ${fmtDev(s.cum_deviation_s)}` : "" }),
          el("span", { class: "ghost", "data-role": "ghost", "data-gap-m": gap === null ? null : gap.toFixed(2),
            text: ghostText(gap) }),
          el("span", { class: "proj", text: s ? `→ ${fmtClock(s.projected_finish_s)}` : "" }))));
      if (speak && cue && s && lastSpoken.get(a.id) !== s.seq) {
        lastSpoken.set(a.id, s.seq);
        say(`${list.length > 1 ? a.name + ". " : ""}${fmtDev(s.deviation_s).replace("−", "minus ")}. ${cue.text.replace("—", ",")}`);
      }
    }
    if (!list.length) box.append(el("section", { class: "panel" }, el("div", { class: "cue", text: "Waiting for a session…" })));
    renderPicker();
  }
  function renderPicker() {
    const picker = clear($("#picker"));
    for (const a of model.athleteList()) {
      const on = follow.includes(a.id);
      picker.append(el("button", { class: "plain small" + (on ? " active" : ""), text: a.name,
        onclick: (ev) => {
          ev.stopPropagation();
          follow = on ? follow.filter((x) => x !== a.id) : [...follow, a.id].slice(-4);
          socket.emit("follow", { athletes: follow });
          const url = new URL(location.href);
          if (follow.length) url.searchParams.set("athletes", follow.join(",")); else url.searchParams.delete("athletes");
          history.replaceState(null, "", url);
          render();
        } }));
    }
  }

  // ---- speech, wake lock, full screen ---------------------------------------------
  function say(text) {
    if (!("speechSynthesis" in window)) return;
    speechSynthesis.cancel();
    const u = new SpeechSynthesisUtterance(text);
    u.rate = 1.1;
    speechSynthesis.speak(u);
  }
  const speakBtn = $("#speak");
  function renderSpeak() { speakBtn.textContent = `Speak cues: ${speak ? "on" : "off"}`; speakBtn.setAttribute("aria-pressed", String(speak)); }
  speakBtn.addEventListener("click", (ev) => { ev.stopPropagation(); speak = !speak; renderSpeak(); if (speak) say("Cues on"); });
  renderSpeak();

  /* Keep the display awake. The Wake Lock API needs a secure context (https, or
   * localhost): a screen opened as http://<laptop-ip>:5000 on the LAN has none. Then
   * a tiny muted looping video plays (media playback keeps many devices awake; not
   * all), and the bar says so in words, so nobody trusts a lock that is not held. */
  let wakeLock = null;
  let video = null;
  const awakeEl = $("#awake");
  function showAwake(state, text) {
    document.body.dataset.wakeLock = state;
    awakeEl.dataset.state = state;
    awakeEl.textContent = text;
  }
  async function keepAwake() {
    try {
      if ("wakeLock" in navigator && document.visibilityState === "visible" && !wakeLock) {
        wakeLock = await navigator.wakeLock.request("screen");
        wakeLock.addEventListener("release", () => { wakeLock = null; });
      }
    } catch (e) { /* refused (no gesture yet, battery saver...): retry on the next tap */ }
    if (wakeLock) {
      if (video) video.pause();
      showAwake("on", "screen kept awake");
      return;
    }
    if (!video) {
      video = el("video", { class: "keepawake", muted: true, loop: true, playsinline: true,
        src: "/static/keepawake.webm", "aria-hidden": "true" });
      video.muted = true;
      document.body.append(video);
    }
    try {
      await video.play();
      showAwake("video", window.isSecureContext
        ? "screen lock refused: keeping awake with a video (tap to retry)"
        : "no screen lock over http: keeping awake with a video, may still sleep");
    } catch (e) {
      showAwake("off", window.isSecureContext
        ? "screen may sleep: tap to keep it awake"
        : "screen may sleep (no lock over http): tap, or set the display to never sleep");
    }
  }
  document.addEventListener("visibilitychange", keepAwake);
  document.addEventListener("click", () => {
    keepAwake();
    if (!document.fullscreenElement && document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(() => {});
    }
  });
  keepAwake();

  // ---- connection --------------------------------------------------------------------
  const socket = TS.connect({
    role: "screen", athletes: () => follow, statusEl: $("#conn"),
    onSnapshot: (m) => { model.loadSnapshot(m); render(); },
    onSplit: (s) => { if (model.applySplit(s)) render(); },
    onSplits: (list) => { if (list.map((s) => model.applySplit(s)).some(Boolean)) render(); },
  });
  socket.on("connect", async () => {
    const best = await TS.measureOffset(socket);
    if (best) clockOffsetS = best.offset;
  });
  window.trackside = { model, socket };
})();
