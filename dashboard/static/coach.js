/* The coach page: live table, split grid, pace chart, setup, tap pad, sensors. */
"use strict";

(() => {
  const { el, clear, $, fmtClock, fmtDev, devClass, SEGMENT_LABEL, MARK_LABEL } = TS;
  TS.takeTokenFromUrl();
  const model = new TS.Model();
  let selected = null;
  let chart = null;
  let tapMark = localStorage.getItem("trackside.tapMark") || "finish";
  let clockOffset = null;
  const onPlanInput = $("#on-plan");
  onPlanInput.value = localStorage.getItem("trackside.onPlan") || "0.5";
  const onPlan = () => Math.max(0, parseFloat(onPlanInput.value) || 0);

  // ---- messages ------------------------------------------------------------
  /* A soft message (a core notice) never hides a reply to the coach's own action. */
  function say(text, kind = "info", soft = false) {
    const box = $("#message");
    if (soft && box.textContent && box.dataset.soft !== "1") return;
    box.dataset.soft = soft ? "1" : "0";
    box.textContent = text;
    box.className = "message " + kind;
    clearTimeout(say.timer);
    say.timer = setTimeout(() => { box.textContent = ""; box.className = "message"; }, 6000);
  }

  // ---- tabs ----------------------------------------------------------------
  for (const tab of document.querySelectorAll(".tab")) {
    tab.addEventListener("click", () => {
      document.querySelectorAll(".tab").forEach((t) => t.classList.toggle("active", t === tab));
      document.querySelectorAll(".tab-page").forEach((p) => p.classList.toggle("active", p.id === "tab-" + tab.dataset.tab));
      if (tab.dataset.tab === "live") renderDetail();
    });
  }

  // ---- live table ------------------------------------------------------------
  function nextSegment(a) {
    const done = a.splits.size;
    const seg = a.plan[done];
    if (a.status === "finished" || !seg) return a.status === "finished" ? "finished" : "–";
    return SEGMENT_LABEL[seg.segment] || seg.segment;
  }
  function currentLap(a) {
    const seg = a.plan[Math.min(a.splits.size, Math.max(a.plan.length - 1, 0))];
    const laps = a.plan.length ? a.plan[a.plan.length - 1].lap : 4;
    if (a.status === "finished") return `${laps}/${laps}`;
    return seg ? `${seg.lap}/${laps}` : "–";
  }
  function devCell(value) {
    return el("td", { class: "dev " + devClass(value, onPlan()), text: fmtDev(value) });
  }
  function renderAthletes() {
    const body = clear($("#athlete-rows"));
    for (const a of model.athleteList()) {
      const s = a.last;
      const row = el("tr", { class: a.id === selected ? "selected" : "", "data-athlete": a.id,
        onclick: () => { selected = a.id; renderAthletes(); renderDetail(); } },
        el("td", { class: "name" }, el("strong", { text: a.name }), el("span", { class: "muted", text: ` L${a.lane ?? "?"}` })),
        el("td", { class: "status " + a.status, text: a.status }),
        el("td", { text: currentLap(a) }),
        el("td", { text: nextSegment(a) }),
        el("td", { class: "num", text: s ? fmtClock(s.split_s, 2) : "–" }),
        devCell(s ? s.deviation_s : null),
        devCell(s ? s.cum_deviation_s : null),
        el("td", { class: "num", text: s ? fmtClock(s.projected_finish_s) : fmtClock(a.planTotalS) }),
        el("td", { class: "num", text: s && isFinite(s.ghost_gap_m) ? `${s.ghost_gap_m >= 0 ? "+" : ""}${s.ghost_gap_m.toFixed(1)} m` : "–" }),
        el("td", {}, el("button", { class: "plain small", text: "DNF", title: "did not finish",
          onclick: (ev) => { ev.stopPropagation(); control("dnf", { athlete: a.id }); } })));
      body.append(row);
    }
    if (!model.order.length) {
      body.append(el("tr", {}, el("td", { colspan: 10, class: "muted", text: "No session yet: set one up in Setup." })));
    }
  }

  // ---- split grid and chart ----------------------------------------------------
  function renderDetail() {
    const a = model.athletes.get(selected) || model.athleteList()[0];
    const body = clear($("#split-rows"));
    if (!a) { $("#detail-title").textContent = "Splits"; drawChart(null); return; }
    selected = a.id;
    $("#detail-title").textContent = `Splits · ${a.name}`;
    for (const seg of a.plan) {
      const s = a.splits.get(`${seg.lap}:${seg.segment}`);
      const flags = s && s.flags && s.flags.length ? ` (${s.flags.join(", ")})` : "";
      body.append(el("tr", { class: s ? "" : "pending" },
        el("td", { text: seg.lap }),
        el("td", { text: SEGMENT_LABEL[seg.segment] || seg.segment }),
        el("td", { class: "effort " + seg.effort, text: seg.effort }),
        el("td", { class: "num", text: fmtClock(seg.target_s, 2) }),
        el("td", { class: "num", text: s ? fmtClock(s.split_s, 2) + flags : "" }),
        s ? devCell(s.deviation_s) : el("td"),
        s ? devCell(s.cum_deviation_s) : el("td")));
    }
    drawChart(a);
  }
  function drawChart(a) {
    const canvas = $("#pace-chart");
    if (typeof Chart === "undefined") return;
    const labels = a ? a.plan.map((s) => `L${s.lap} ${SEGMENT_LABEL[s.segment] || s.segment}`) : [];
    const planPace = a ? a.plan.map((s) => s.pace_s_per_400m) : [];
    const actual = a ? a.plan.map((s) => {
      const u = a.splits.get(`${s.lap}:${s.segment}`);
      return u ? u.pace_s_per_400m : null;
    }) : [];
    if (!chart) {
      chart = new Chart(canvas, {
        type: "line",
        data: { labels, datasets: [
          { label: "plan pace", data: planPace, borderColor: "#6b7280", borderDash: [6, 4], pointRadius: 3, pointStyle: "rectRot" },
          { label: "actual pace", data: actual, borderColor: "#2563eb", backgroundColor: "#2563eb", pointRadius: 4, spanGaps: false },
        ] },
        options: { animation: false, responsive: true, maintainAspectRatio: false,
          scales: { y: { reverse: true, title: { display: true, text: "s / 400 m (faster ↑)" } } },
          plugins: { legend: { position: "bottom" } } },
      });
    } else {
      chart.data.labels = labels;
      chart.data.datasets[0].data = planPace;
      chart.data.datasets[1].data = actual;
      chart.update("none");
    }
  }

  // ---- sensors -----------------------------------------------------------------
  function renderSensors() {
    const body = clear($("#sensor-rows"));
    const names = Object.keys(model.nodes).sort();
    for (const name of names) {
      const h = model.nodes[name] || {};
      const ok = h.connected !== false && h.ok !== false;
      const details = Object.entries(h)
        .filter(([k, v]) => !["connected", "received_s", "ok", "link"].includes(k) && (typeof v !== "object" || v === null))
        .map(([k, v]) => `${k}: ${typeof v === "number" ? +v.toFixed(3) : v}`).join(" · ");
      body.append(el("tr", {},
        el("td", { text: name }),
        el("td", { class: ok ? "ok" : "bad", text: ok ? "connected" : "DOWN" }),
        el("td", { class: "small-text", text: details }),
        el("td", { text: h.received_s ? new Date(h.received_s * 1000).toLocaleTimeString() : "–" })));
    }
    if (!names.length) body.append(el("tr", {}, el("td", { colspan: 4, class: "muted", text: "No sensor nodes have reported." })));
    const down = names.filter((n) => model.nodes[n].connected === false || model.nodes[n].ok === false).length;
    $(".tab[data-tab=sensors]").textContent = down ? `Sensors (${down} down)` : "Sensors";
  }

  // ---- tap pad -------------------------------------------------------------------
  function renderTap() {
    const marks = clear($("#tap-marks"));
    for (const mark of ["mile_start", "finish", "backstretch", "back_turn", "home_straight", "mile_end"]) {
      marks.append(el("button", { class: "seg" + (mark === tapMark ? " active" : ""), text: MARK_LABEL[mark],
        onclick: () => { tapMark = mark; localStorage.setItem("trackside.tapMark", mark); renderTap(); } }));
    }
    const pad = clear($("#tap-athletes"));
    for (const a of model.athleteList()) {
      pad.append(el("button", { class: "tap", "data-athlete": a.id, onclick: () => tap(a) },
        el("span", { class: "tap-name", text: a.name }), el("span", { class: "muted", text: `lane ${a.lane ?? "?"}` })));
    }
  }
  async function tap(a) {
    const timeS = Date.now() / 1000 + (clockOffset ? clockOffset.offset : model.serverOffsetS);
    const item = el("li", { text: `${new Date(timeS * 1000).toLocaleTimeString()} ${a.name} @ ${MARK_LABEL[tapMark]}…` });
    $("#tap-log").prepend(item);
    try {
      await TS.api("POST", "/crossings", { mark: tapMark, time_s: timeS, athlete: a.id, source: "tap" });
      item.textContent = item.textContent.replace("…", " ✓");
    } catch (e) {
      item.textContent = item.textContent.replace("…", " ✗ " + e.message);
      item.className = "bad";
    }
  }

  // ---- control calls -------------------------------------------------------------------
  async function control(what, body = {}) {
    if (!model.session) { say("Set up a session first.", "error"); return; }
    try {
      const now = Date.now() / 1000 + (clockOffset ? clockOffset.offset : model.serverOffsetS);
      await TS.api("POST", `/sessions/${encodeURIComponent(model.session.id)}/${what}`, { time_s: now, ...body });
      const done = { start: "Started", false_start: "False start: back to the line",
        end: "Session ended", dnf: "DNF recorded" }[what] || what;
      say(`${done} at ${new Date(now * 1000).toLocaleTimeString()}`, "ok");
    } catch (e) { say(`${what}: ${e.message}`, "error"); }
  }
  $("#start").addEventListener("click", () => control("start"));
  $("#setup-start").addEventListener("click", () => control("start"));
  $("#false-start").addEventListener("click", () => control("false_start"));
  $("#end").addEventListener("click", () => control("end"));
  onPlanInput.addEventListener("input", () => { localStorage.setItem("trackside.onPlan", onPlanInput.value); renderAll(); });

  // ---- setup form ----------------------------------------------------------------------
  function rosterRow(v = {}) {
    if (v.id) v = { ...v };
    const lane = el("select", { class: "lane" });
    for (let i = 1; i <= 8; i++) lane.append(el("option", { value: i, text: i, selected: i === (v.lane || 1) }));
    const variant = el("select", { class: "variant" },
      el("option", { value: "standard", text: "Mile start" }),
      el("option", { value: "lane8", text: "Lane 8, 3.5 laps" }),
      el("option", { value: "lane8_exit", text: "Lane 8, exit" }));
    variant.value = v.variant || "standard";
    variant.addEventListener("change", () => { if (variant.value.startsWith("lane8")) lane.value = "8"; });
    const row = el("tr", { "data-id": v.id || "" },
      el("td", {}, el("input", { class: "name", value: v.name || "", placeholder: "name", maxlength: 120 })),
      el("td", {}, el("input", { class: "five-k", value: v.five_k || "20:00", size: 6 })),
      el("td", {}, lane), el("td", {}, variant),
      el("td", {}, el("input", { class: "tags", value: (v.tags || []).join(", "), placeholder: "E200…, E201…" })),
      el("td", {}, el("button", { type: "button", class: "plain small", text: "✕", onclick: () => row.remove() })));
    $("#roster-rows").append(row);
  }
  $("#add-athlete").addEventListener("click", () => rosterRow());
  function parsePace(text) {
    text = (text || "").trim();
    if (!text) return null;
    const parts = text.split(":").map(Number);
    return parts.length === 2 ? parts[0] * 60 + parts[1] : parts[0];
  }
  $("#setup-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    document.querySelectorAll(".invalid").forEach((n) => n.classList.remove("invalid"));
    const rows = [...document.querySelectorAll("#roster-rows tr")];
    const athletes = rows.map((r, i) => ({
      id: r.dataset.id || `a${i + 1}`, name: r.querySelector(".name").value, five_k: r.querySelector(".five-k").value,
      lane: parseInt(r.querySelector(".lane").value, 10), variant: r.querySelector(".variant").value,
      tags: r.querySelector(".tags").value.split(",").map((t) => t.trim()).filter(Boolean),
    }));
    const plan = {};
    const target = parsePace($("#opt-target").value);
    if (target) plan.target_s = target;
    const surge = parsePace($("#opt-surge").value);
    if (surge) plan.surge_pace_s_per_400m = surge;
    const max = parsePace($("#opt-max").value);
    if (max) plan.max_pace_s_per_400m = max;
    if ($("#opt-lap3").checked) plan.lap3_turn2_5k = true;
    try {
      const reply = await TS.api("POST", "/sessions", { name: $("#session-title").value, plan, athletes });
      say(`Session set up: ${reply.session.athletes.length} athletes. Press START at the gun.`, "ok");
    } catch (e) {
      say(e.status === 401 || e.status === 403 ? `${e.message}: enter the coach token below.` : e.message, "error");
      const m = /^athletes\[(\d+)\]\.(\w+)/.exec(e.field || "");
      if (m && rows[+m[1]]) {
        const cls = { five_k: ".five-k", five_k_s: ".five-k", name: ".name", tags: ".tags", lane: ".lane", variant: ".variant" }[m[2]];
        const input = cls && rows[+m[1]].querySelector(cls);
        if (input) input.classList.add("invalid");
      }
    }
  });
  rosterRow({ name: "", five_k: "20:00", lane: 1 });
  let rosterTouched = false;
  $("#roster-rows").addEventListener("input", () => { rosterTouched = true; });
  $("#add-athlete").addEventListener("click", () => { rosterTouched = true; });
  /* Until the coach edits the form, it shows the current roster (so a re-setup edits it). */
  function fillRoster() {
    if (rosterTouched || !model.order.length) return;
    clear($("#roster-rows"));
    $("#session-title").value = model.session ? model.session.name : "";
    for (const a of model.athleteList()) {
      const fiveK = a.fiveKS ? fmtClock(a.fiveKS, 0) : "20:00";
      rosterRow({ id: a.id, name: a.name, five_k: fiveK, lane: a.lane, variant: a.variant, tags: a.tags });
    }
  }

  // ---- token -----------------------------------------------------------------------------
  function renderToken() {
    $("#token-state").textContent = TS.token() ? "token saved on this device" : "no token: you can watch but not change anything";
  }
  $("#save-token").addEventListener("click", () => { TS.setToken($("#token").value.trim()); $("#token").value = ""; renderToken(); });
  renderToken();

  // ---- wiring --------------------------------------------------------------------------
  function renderAll() {
    $("#session-name").textContent = model.session ? model.session.name || model.session.id : "no session";
    renderAthletes(); renderDetail(); renderTap(); renderSensors(); fillRoster();
  }
  let pendingRender = false;
  function scheduleRender() {
    if (pendingRender) return;
    pendingRender = true;
    requestAnimationFrame(() => { pendingRender = false; renderAthletes(); renderDetail(); });
  }
  const socket = TS.connect({
    role: "coach", statusEl: $("#conn"),
    onSnapshot: (m) => { model.loadSnapshot(m); renderAll(); },
    onSplit: (s) => { if (model.applySplit(s)) scheduleRender(); },
    onSplits: (list) => { if (list.map((s) => model.applySplit(s)).some(Boolean)) scheduleRender(); },
    onHealth: (h) => { model.nodes[h.node] = h.health; renderSensors(); },
    onRejected: (r) => say(`Rejected crossing: ${r.reason}`, "warn", true),
    onNotice: (n) => { if (n.text) say(String(n.text), "info", true); },
  });
  socket.on("connect", async () => { clockOffset = await TS.measureOffset(socket); });
  setInterval(() => {
    const now = model.serverNow();
    $("#clock").textContent = new Date(now * 1000).toLocaleTimeString();
  }, 250);
  window.trackside = { model, socket };
})();
