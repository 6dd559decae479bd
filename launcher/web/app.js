/*
 * raftctl web: the page's logic. It reads JSON lines of the shared recording
 * format (docs/WEB.md): live from /events (Server-Sent Events), or a whole
 * recording from /recording played on a timeline. One model (members,
 * flights, events, faults) is fed line by line; the ring and the timers are
 * drawn every animation frame, the panels at most every 100 ms.
 */
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const EVENTS_MAX = 200;
const CELL_PX = 21; // a log cell and its gap (style.css .cell)

/* --- The model ---------------------------------------------------------- */

const model = {
  meta: null,          // the meta line
  order: [],           // member ids, ring order
  members: new Map(),  // id -> last status line (+ .rx: its time)
  faults: new Map(),   // id -> text in force
  events: [],          // newest last
  flights: [],         // messages drawn in flight
  arrivals: new Map(), // "from>to" -> visual arrival of the last message
  violation: null,
  dirty: true,
};

function resetModel() {
  model.members.clear();
  model.faults.clear();
  model.events = [];
  model.flights = [];
  model.arrivals.clear();
  model.violation = null;
  model.dirty = true;
}

function heartbeatMs() {
  return (model.meta && model.meta.heartbeat_ms) || 50;
}

/* How long a message takes to cross the ring, in timeline milliseconds. */
function flightMs() {
  return Math.min(1200, Math.max(120, heartbeatMs() * 0.7));
}

function ensureMember(id) {
  if (!model.order.includes(id)) {
    model.order.push(id);
    model.order.sort((a, b) => a - b);
    ringLayout();
  }
}

const REPLIES = { vote_reply: 1, prevote_reply: 1, append_reply: 1,
                  snapshot_reply: 1, read_index_reply: 1 };

/* Applies one line of the format; now is the timeline's present. */
function apply(line, now) {
  switch (line.k) {
  case "meta":
    model.meta = line;
    for (const m of line.members || []) ensureMember(m.id);
    showTiming();
    break;
  case "status":
    ensureMember(line.id);
    line.rx = line.t;
    model.members.set(line.id, line);
    break;
  case "msg":
    addFlight(line, now);
    break;
  case "fault":
    if (!line.text || line.text === "healed") model.faults.delete(line.id);
    else model.faults.set(line.id, line.text);
    break;
  case "event":
  case "violation":
    model.events.push(line);
    if (model.events.length > EVENTS_MAX) model.events.shift();
    if (line.k === "violation") model.violation = line;
    break;
  case "trace_dropped":
    model.events.push({ t: line.t, k: "event", kind: "info",
                        text: `trace: node ${line.id} dropped ${line.count} messages` });
    break;
  default:
    return; // unknown kinds are ignored
  }
  model.dirty = true;
}

/* A reply leaves (visually) once the request it answers has arrived. */
function addFlight(m, now) {
  const d = flightMs();
  if (m.t + 2 * d < now) return; // long gone
  let depart = m.t;
  if (REPLIES[m.type]) {
    const back = model.arrivals.get(m.to + ">" + m.from);
    if (back !== undefined && back > depart && back - depart < 2 * d) depart = back;
  }
  model.arrivals.set(m.from + ">" + m.to, depart + d);
  model.flights.push({ m, depart, arrive: depart + d, el: null });
  if (model.flights.length > 400) {
    const old = model.flights.shift();
    if (old.el) old.el.remove();
  }
}

/* --- The ring ----------------------------------------------------------- */

const ring = { pos: new Map(), els: new Map(), r: 34, R: 205 };

function ringLayout() {
  const n = model.order.length;
  ring.R = 205;
  ring.r = Math.max(16, Math.min(36, (Math.PI * ring.R) / Math.max(n, 1) * 0.55));
  const g = $("members");
  g.textContent = "";
  ring.els.clear();
  const links = $("links");
  links.textContent = "";
  model.order.forEach((id, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / n;
    const p = { x: ring.R * Math.cos(a), y: ring.R * Math.sin(a), a };
    ring.pos.set(id, p);
    const spoke = svg("line", { x1: 0, y1: 0, x2: p.x, y2: p.y, class: "spoke" });
    links.appendChild(spoke);
    ring.els.set(id, memberEl(id, p));
  });
  for (const el of ring.els.values()) g.appendChild(el.g);
  shown.delete("faults"); // the cut lines went with the links
  model.dirty = true;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

function memberEl(id, p) {
  const r = ring.r;
  const g = svg("g", { class: "member", "data-id": id, "data-role": "down",
                       transform: `translate(${p.x.toFixed(1)},${p.y.toFixed(1)})` });
  const arcR = r + 7;
  const circ = 2 * Math.PI * arcR;
  const track = svg("circle", { r: arcR, class: "track", "stroke-width": 5 });
  const arc = svg("circle", { r: arcR, class: "arc", "stroke-width": 5,
                              "stroke-dasharray": circ.toFixed(1),
                              "stroke-dashoffset": circ.toFixed(1),
                              transform: "rotate(-90)" });
  const sel = svg("circle", { r: arcR + 7, class: "sel" });
  sel.style.display = "none";
  const body = svg("circle", { r, class: "body" });
  const name = svg("text", { class: "name", y: -r * 0.22,
                             "font-size": Math.round(r * 0.52) });
  name.textContent = "n" + id;
  const term = svg("text", { class: "termtxt", y: r * 0.36,
                             "font-size": Math.max(9, Math.round(r * 0.34)) });
  // Labels under a member (above one at the top of the ring), so that they
  // never run off the sides; with many members only the role.
  const top = Math.sin(p.a) < -0.5;
  const ly = top ? -(arcR + 30) : arcR + 16;
  const role = svg("text", { class: "role", x: 0, y: ly });
  const note = svg("text", { class: "note", x: 0, y: ly + 14 });
  if (model.order.length > 9) note.style.display = "none";
  const tip = svg("title", {});
  g.append(tip, track, arc, sel, body, name, term, role, note);
  g.addEventListener("click", () => select(id));
  return { g, arc, circ, sel, term, role, note, body, tip };
}

/* The timeline's present, in the lines' "t" milliseconds. */
let now = () => 0;

/* Fraction of the election timeout elapsed, interpolated from the last
 * status line (the timer runs on between frames). */
function timerFraction(s, t) {
  if (!s.up || !s.timeout_ms) return 0;
  const elapsed = s.timer_ms + Math.max(0, t - s.rx);
  return Math.min(1, elapsed / s.timeout_ms);
}

function drawMembers(t) {
  for (const id of model.order) {
    const el = ring.els.get(id);
    const s = model.members.get(id);
    if (!el) continue;
    const role = s ? s.role : "down";
    if (el.g.getAttribute("data-role") !== role) el.g.setAttribute("data-role", role);
    const term = String(s ? s.term : 0);
    if (el.g.getAttribute("data-term") !== term) el.g.setAttribute("data-term", term);
    let frac = 0;
    if (s && s.up && role !== "leader") frac = timerFraction(s, t);
    if (role === "leader") frac = 1;
    el.arc.setAttribute("stroke-dashoffset", (el.circ * (1 - frac)).toFixed(1));
    el.arc.classList.toggle("late", role !== "leader" && frac >= 1);
    const termText = s ? (ring.r >= 28 ? "term " : "t") + s.term : "";
    if (el.term.textContent !== termText) el.term.textContent = termText;
    let roleText = role === "precandidate" ? "pre-vote" : role;
    if (s && !s.up && s.pid) roleText = "not answering";
    if (el.role.textContent !== roleText) el.role.textContent = roleText;
    let note = "";
    if (s && s.up && role !== "leader" && s.timeout_ms) {
      const ms = Math.min(s.timeout_ms, s.timer_ms + Math.max(0, t - s.rx));
      note = `${(ms / 1000).toFixed(1)} / ${(s.timeout_ms / 1000).toFixed(1)} s`;
    } else if (s && role === "leader") {
      note = `last ${s.last} · commit ${s.commit}`;
    }
    if (s && s.disk && s.disk !== "ok") note += " · disk " + s.disk;
    if (el.note.textContent !== note) el.note.textContent = note;
    el.sel.style.display = selected === id ? "" : "none";
    const tip = s ? `n${id} ${role}, term ${s.term}, vote ${s.vote ? "n" + s.vote : "none"}, ` +
      `leader ${s.leader ? "n" + s.leader : "unknown"}, last ${s.last}, commit ${s.commit}, ` +
      `applied ${s.applied}${s.pid ? ", pid " + s.pid : ""} (click to select)` : `n${id}`;
    if (el.tip.textContent !== tip) el.tip.textContent = tip;
  }
}

/* --- Messages in flight ------------------------------------------------- */

function flightEl(m) {
  const type = m.type || "append";
  const g = svg("g", { class: "msg" });
  let shape;
  const reply = REPLIES[type];
  const cls = reply ? (m.ok ? "m-ok" : "m-no") : "m-" + type.replace("prevote", "prevote");
  if (type === "vote" || type === "prevote" || type === "vote_reply" || type === "prevote_reply") {
    shape = svg("rect", { x: -7.5, y: -7.5, width: 15, height: 15, rx: 2, transform: "rotate(45)", class: cls });
    if (type === "prevote") shape.setAttribute("class", "m-prevote");
  } else if (type === "snapshot" || type === "snapshot_reply") {
    shape = svg("rect", { x: -6, y: -6, width: 12, height: 12, class: reply ? cls : "m-snapshot" });
  } else if (type === "timeout_now") {
    shape = svg("path", { d: "M-7 6 L0 -7 L7 6 Z", class: "m-timeout_now" });
  } else if (type === "read_index" || type === "read_index_reply") {
    shape = svg("circle", { r: 5, class: reply ? cls : "m-read_index" });
  } else if (type === "append") {
    const n = m.n || 0;
    shape = svg("circle", { r: n > 0 ? 8 : 5, class: n > 0 ? "m-append" : "m-append hb" });
    g.appendChild(shape);
    if (n > 0) {
      const tx = svg("text", {});
      tx.textContent = n > 99 ? "99+" : String(n);
      g.appendChild(tx);
    }
    return g;
  } else {
    shape = svg("circle", { r: 4.5, class: cls });
  }
  g.appendChild(shape);
  if (type === "vote_reply" || type === "prevote_reply") {
    const tx = svg("text", {});
    tx.textContent = m.ok ? "✓" : "✗";
    g.appendChild(tx);
  }
  return g;
}

function drawFlights(t) {
  const layer = $("msgs");
  const keep = [];
  for (const f of model.flights) {
    const a = ring.pos.get(f.m.from), b = ring.pos.get(f.m.to);
    if (!a || !b || t >= f.arrive) {
      if (f.el) f.el.remove();
      continue;
    }
    keep.push(f);
    if (t < f.depart) {
      if (f.el) f.el.style.display = "none";
      continue;
    }
    if (!f.el) {
      f.el = flightEl(f.m);
      layer.appendChild(f.el);
    }
    f.el.style.display = "";
    const p = (t - f.depart) / (f.arrive - f.depart);
    // From the edge of one member to the edge of the other, a slight curve so
    // that a request and its reply do not overlap.
    const dx = b.x - a.x, dy = b.y - a.y, len = Math.hypot(dx, dy) || 1;
    const ux = dx / len, uy = dy / len, e = ring.r + 8;
    const sx = a.x + ux * e, sy = a.y + uy * e, ex = b.x - ux * e, ey = b.y - uy * e;
    const bend = Math.sin(Math.PI * p) * 10;
    const x = sx + (ex - sx) * p - uy * bend, y = sy + (ey - sy) * p + ux * bend;
    f.el.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)})`);
  }
  model.flights = keep;
}

/* --- Panels (at most every 100 ms) ---------------------------------------- */

function termColor(term) {
  const hue = (term * 67 + 200) % 360;
  return `hsl(${hue}, 58%, 48%)`;
}

function leaderStatus() {
  let best = null;
  for (const s of model.members.values()) {
    if (s.up && s.role === "leader" && (!best || s.term > best.term)) best = s;
  }
  return best;
}

function drawHeader() {
  const lead = leaderStatus();
  let term = 0, up = 0;
  for (const s of model.members.values()) {
    if (s.up) up++;
    term = Math.max(term, s.term || 0);
  }
  $("leader").textContent = lead ? "n" + lead.id : "none";
  $("term").textContent = String(term);
  $("commit").textContent = lead ? String(lead.commit) : "–";
  $("upcount").textContent = `${up}/${model.order.length}`;
  const v = $("violation");
  if (model.violation) {
    v.hidden = false;
    v.textContent = `Invariant broken at ${(model.violation.t / 1000).toFixed(3)} s: ${model.violation.text}`;
  } else {
    v.hidden = true;
  }
}

function drawLogs() {
  let hi = 0;
  for (const s of model.members.values()) {
    const end = s.tail_first ? s.tail_first + (s.tail || []).length - 1 : 0;
    hi = Math.max(hi, s.last || 0, end);
  }
  const width = $("logs").clientWidth || 600;
  const n = Math.max(8, Math.floor((width - 70) / CELL_PX));
  const lo = Math.max(1, hi - n + 1);
  const rows = [];
  const hdr = [`<div class="logrow hdr"><span class="who">index</span>`];
  for (let i = lo; i <= Math.max(hi, lo + n - 1); i++) {
    hdr.push(`<span class="cell">${i % 5 === 0 || i === 1 ? esc(i) : ""}</span>`);
  }
  rows.push(hdr.join("") + "</div>");
  for (const id of model.order) {
    const s = model.members.get(id);
    const cells = [];
    for (let i = lo; i <= Math.max(hi, lo + n - 1); i++) {
      cells.push(logCell(s, i));
    }
    const down = !s || !s.up ? " down" : "";
    const mark = s && s.role === "leader" ? " <i>★</i>" : "";
    const who = s ? `last ${esc(s.last)}, commit ${esc(s.commit)}` : "";
    rows.push(`<div class="logrow${down}" data-id="${esc(id)}"><span class="who" title="${who}">n${esc(id)}${mark}</span>${cells.join("")}</div>`);
  }
  setHTML("logs", rows.join(""));
}

function logCell(s, i) {
  if (!s || !s.tail_first || i > (s.last || 0)) return `<span class="cell empty"></span>`;
  const k = i - s.tail_first;
  const tail = s.tail || [];
  if (k < 0 || k >= tail.length) {
    const gone = i <= (s.snap || 0) || k < 0;
    return gone ? `<span class="cell gone" title="#${esc(i)} compacted">~</span>`
                : `<span class="cell empty"></span>`;
  }
  const term = esc(tail[k]), c = termColor(Number(tail[k]));
  const committed = i <= s.commit;
  const cls = committed ? "cell" : "cell pending";
  const style = committed ? `background:${c};border-color:${c}` : `border-color:${c};color:${c}`;
  return `<span class="${cls}" style="${style}" title="#${esc(i)} term ${term}${committed ? " committed" : ""}">${term}</span>`;
}

function drawProgress() {
  const lead = leaderStatus();
  if (!lead || !(lead.peers || []).length) {
    setHTML("progress", `<div class="none">${lead ? "no followers" : "no leader"}</div>`);
    return;
  }
  const rows = [];
  for (const p of lead.peers) {
    if (p.id === lead.id) continue;
    const s = model.members.get(p.id);
    const frac = lead.last ? Math.min(1, p.match / lead.last) : 1;
    const cls = p.match >= lead.last ? "" : s && !s.up ? " silent" : " behind";
    const pct = Number.isFinite(frac) ? (frac * 100).toFixed(0) : "0";
    rows.push(`<div class="prow${cls}" data-id="${esc(p.id)}"><b>n${esc(p.id)}</b><span class="bar"><i style="width:${pct}%"></i></span><span>${esc(p.match)} / ${esc(p.next)}</span></div>`);
  }
  setHTML("progress", rows.join(""));
}

/* The rules in force, shortest first: each cut pair once (the member that
 * blocks the most named first), identical netem rules grouped. */
function faultLines() {
  const cuts = new Map(), netem = new Map(), seen = new Set();
  for (const [id, text] of model.faults) {
    for (const part of text.split("; ")) {
      const m = /^partitioned from ([0-9,]+)$/.exec(part);
      if (m) cuts.set(id, m[1].split(",").map(Number));
      else netem.set(part, (netem.get(part) || []).concat(id));
    }
  }
  const lines = [];
  const order = [...cuts.keys()].sort((a, b) => cuts.get(b).length - cuts.get(a).length || a - b);
  for (const id of order) {
    const fresh = cuts.get(id).filter((o) => !seen.has(Math.min(id, o) + "-" + Math.max(id, o)));
    fresh.forEach((o) => seen.add(Math.min(id, o) + "-" + Math.max(id, o)));
    if (fresh.length) lines.push(`n${id} cut off from ${fresh.map((o) => "n" + o).join(", ")}`);
  }
  for (const [rule, ids] of netem) {
    lines.push(`${ids.sort((a, b) => a - b).map((i) => "n" + i).join(", ")}: ${rule}`);
  }
  return lines;
}

function drawFaults() {
  const items = faultLines().map((l) => `<li>${esc(l)}</li>`);
  const html = items.length ? items.join("") : `<li class="none">none</li>`;
  if (shown.get("faults") === html) return;
  setHTML("faults", html);
  // Cut links across the ring.
  document.querySelectorAll("#links .cut").forEach((e) => e.remove());
  const links = $("links");
  for (const [id, text] of model.faults) {
    const m = /partitioned from ([0-9,]+)/.exec(text);
    if (!m) continue;
    for (const other of m[1].split(",").map(Number)) {
      if (other < id && model.faults.has(other)) continue; // drawn once
      const a = ring.pos.get(id), b = ring.pos.get(other);
      if (a && b) links.appendChild(svg("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "cut" }));
    }
  }
}

/* Replaces an element's content only when it changed (the panels are
 * rebuilt as strings ten times a second; the DOM is touched far less). */
const shown = new Map();
function setHTML(id, html) {
  if (shown.get(id) === html) return;
  shown.set(id, html);
  $(id).innerHTML = html;
}

/* Every value put into HTML goes through esc(): in a replay all of them
 * come from the recording file. */
function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

function clockText(e) {
  if (e.wall) {
    const d = new Date(e.wall);
    return d.toTimeString().slice(0, 8) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }
  return (e.t / 1000).toFixed(3) + " s";
}

function drawEvents() {
  const items = [];
  for (let i = model.events.length - 1; i >= 0; i--) {
    const e = model.events[i];
    const kind = e.k === "violation" ? "violation" : e.kind || "info";
    items.push(`<li><time>${esc(clockText(e))}</time><span class="k k-${esc(kind)}">${esc(kind)}</span><span>${esc(e.text || "")}</span></li>`);
  }
  setHTML("events", items.join(""));
}

function showTiming() {
  const m = model.meta;
  if (!m) return;
  const el = m.election_ms || [];
  const slow = m.heartbeat_ms >= 200 ? `<span class="slow">slow motion</span>` : "";
  $("timing").innerHTML = `heartbeat <b>${esc(m.heartbeat_ms)} ms</b> · election timeout <b>${esc(el[0])}–${esc(el[1])} ms</b>${slow}`;
}

let lastPanels = 0;
function drawPanels(force) {
  const t = performance.now();
  if (!model.dirty || (!force && t - lastPanels < 100)) return;
  lastPanels = t;
  model.dirty = false;
  drawHeader();
  drawLogs();
  drawProgress();
  drawFaults();
  drawEvents();
}

/* --- The frame loop ------------------------------------------------------- */

window.raftFrames = 0;
let tick = () => {};
function frame() {
  window.raftFrames++;
  tick();
  const t = now();
  drawMembers(t);
  drawFlights(t);
  drawPanels(false);
  requestAnimationFrame(frame);
}

/* --- Controls ------------------------------------------------------------- */

let selected = 0;
function select(id) {
  selected = selected === id ? 0 : id;
  $("sel").textContent = selected ? "n" + selected : "auto";
}

/* The member an action applies to when none is selected. */
function defaultTarget(act) {
  const lead = leaderStatus();
  const byRole = (f) => model.order.find((id) => { const s = model.members.get(id); return s && f(s); });
  if (act === "start") return byRole((s) => !s.up) || 0;
  if (act === "timeout") return byRole((s) => s.up && s.role !== "leader") || 0;
  return lead ? lead.id : 0;
}

async function control(act) {
  const res = $("result");
  const q = new URLSearchParams({ token: TOKEN });
  if (act === "write") {
    if ($("wkey").value) q.set("key", $("wkey").value);
    if ($("wval").value) q.set("value", $("wval").value);
  } else if (act !== "heal") {
    const id = selected || defaultTarget(act);
    if (!id) { res.textContent = `${act}: click a member first`; res.className = "bad"; return; }
    q.set("id", id);
  }
  res.textContent = `${act}…`;
  res.className = "";
  try {
    const r = await fetch(`/api/${act}?${q}`, { method: "POST" });
    const text = await r.text();
    let out = text;
    try { const j = JSON.parse(text); out = (j.output || "").trim().split("\n").pop() || (j.ok ? "ok" : "failed"); res.className = j.ok ? "" : "bad"; } catch (e) { res.className = "bad"; }
    res.textContent = `${act}: ${out}`;
  } catch (e) {
    res.textContent = `${act}: ${e}`;
    res.className = "bad";
  }
}

/* --- Live ----------------------------------------------------------------- */

function startLive() {
  let offset = null; // performance.now() - t, smallest seen
  now = () => (offset === null ? 0 : performance.now() - offset);
  const es = new EventSource(`/events?token=${encodeURIComponent(TOKEN)}`);
  es.onopen = () => { $("conn").textContent = "live"; $("conn").className = "stat right"; };
  es.onerror = () => { $("conn").textContent = "reconnecting"; $("conn").className = "stat right bad"; };
  es.onmessage = (ev) => {
    let line;
    try { line = JSON.parse(ev.data); } catch (e) { return; }
    if (line.k === "meta" && offset !== null && model.meta) {
      resetModel(); // a reconnect: the snapshot follows
    }
    if (typeof line.t === "number" && (line.k === "status" || line.k === "msg")) {
      const o = performance.now() - line.t;
      if (offset === null || o < offset) offset = o;
    }
    apply(line, now());
  };
  document.querySelectorAll("#live-controls button").forEach((b) =>
    b.addEventListener("click", () => control(b.dataset.act)));
}

/* --- Replay --------------------------------------------------------------- */

const replay = { lines: [], next: 0, t: 0, end: 0, playing: true, speed: 1, last: 0,
                 checks: [] };

/* Every CHECK_EVERY lines the model is kept, so that seeking back starts
 * from the nearest copy instead of the first line. */
const CHECK_EVERY = 5000;

function checkpoint() {
  replay.checks.push({ next: replay.next, tLast: replay.lines[replay.next - 1].t,
    meta: model.meta, members: new Map(model.members), faults: new Map(model.faults),
    events: model.events.slice(), violation: model.violation });
}

function restore(t) {
  resetModel();
  replay.next = 0;
  // Messages sent up to two flights before t still show: start earlier.
  const before = t - 2 * flightMs();
  let best = null;
  for (const c of replay.checks) if (c.tLast <= before) best = c;
  if (!best) return;
  replay.next = best.next;
  model.meta = best.meta;
  model.members = new Map(best.members);
  model.faults = new Map(best.faults);
  model.events = best.events.slice();
  model.violation = best.violation;
}

function seek(t) {
  t = Math.max(0, Math.min(replay.end, t));
  if (t < replay.t) restore(t);
  replay.t = t;
  while (replay.next < replay.lines.length && replay.lines[replay.next].t <= t) {
    apply(replay.lines[replay.next++], t);
    const k = replay.checks.length;
    if (replay.next === (k + 1) * CHECK_EVERY) checkpoint();
  }
  $("slider").value = replay.end ? Math.round((t / replay.end) * 1000) : 0;
  $("clock").textContent = `${(t / 1000).toFixed(2)} / ${(replay.end / 1000).toFixed(1)} s`;
}

function replayTick() {
  const w = performance.now();
  const dt = replay.last ? w - replay.last : 0;
  replay.last = w;
  if (replay.playing) {
    seek(replay.t + dt * replay.speed);
    if (replay.t >= replay.end) setPlaying(false);
  }
}

function setPlaying(on) {
  replay.playing = on;
  $("play").textContent = on ? "Pause" : "Play";
}

function stepReplay() {
  setPlaying(false);
  let t = replay.end;
  for (let i = replay.next; i < replay.lines.length; i++) {
    const l = replay.lines[i];
    if (l.k === "status" && l.t > replay.t) { t = l.t; break; }
  }
  seek(t);
}

async function startReplay(info) {
  $("mode").textContent = "replay";
  $("mode").className = "badge replay";
  $("conn").textContent = info.name || "recording";
  $("live-controls").hidden = true;
  $("replay-controls").hidden = false;
  const r = await fetch(`/recording?token=${encodeURIComponent(TOKEN)}`);
  const text = await r.text();
  for (const s of text.split("\n")) {
    if (!s) continue;
    try { const l = JSON.parse(s); if (typeof l.t === "number") replay.lines.push(l); } catch (e) { /* skipped */ }
  }
  replay.lines.sort((a, b) => a.t - b.t);
  replay.end = replay.lines.length ? replay.lines[replay.lines.length - 1].t : 0;
  markTimeline();
  now = () => replay.t;
  tick = replayTick;
  $("play").onclick = () => { if (replay.t >= replay.end) seek(0); setPlaying(!replay.playing); };
  $("step").onclick = stepReplay;
  $("slider").oninput = () => seek((Number($("slider").value) / 1000) * replay.end);
  $("speed").onchange = () => { replay.speed = Number($("speed").value); };
  document.addEventListener("keydown", (e) => {
    if (e.key === " ") { e.preventDefault(); setPlaying(!replay.playing); }
    if (e.key === "ArrowRight") stepReplay();
  });
  seek(0);
}

/* Leader changes and violations as marks above the slider. */
function markTimeline() {
  const box = $("marks");
  const marks = [];
  for (const l of replay.lines) {
    const cls = l.k === "violation" ? "" : l.k === "event" && l.kind === "leader" ? "lead" : null;
    if (cls === null || !replay.end) continue;
    const left = Number.isFinite(l.t / replay.end) ? ((l.t / replay.end) * 100).toFixed(2) : "0";
    marks.push(`<i class="${cls}" style="left:${left}%" title="${esc(l.text || "")}"></i>`);
  }
  box.innerHTML = marks.join("");
}

/* --- Start ---------------------------------------------------------------- */

async function main() {
  requestAnimationFrame(frame);
  let info = { mode: "live" };
  try {
    const r = await fetch(`/info?token=${encodeURIComponent(TOKEN)}`);
    if (r.status === 403) { $("conn").textContent = "wrong or missing token"; $("conn").className = "stat right bad"; return; }
    info = await r.json();
  } catch (e) { /* live by default */ }
  if (info.mode === "replay") startReplay(info);
  else startLive();
}
main();
