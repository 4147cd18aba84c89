// The control page: built from /api/controls (the server's description of the controls), so a new parameter
// or action needs no code here. Every change goes to live as one message; every page shows the state live
// sends back, so all pages agree with the keys, MIDI, OSC, presets and beat cuts.
"use strict";
const token = new URLSearchParams(location.search).get("token");
const withToken = (path) => path + (token ? "?token=" + encodeURIComponent(token) : "");
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs, text) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
};
let ws = null;
const touched = {};  // slider name -> when the user last moved it (their hand wins over echoes for a moment)
const SEND_EVERY_MS = 40;

function send(msg) {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function addSlider(container, p) {
  const row = el("label", {class: "param", title: p.help || "", "data-row": p.name});
  const value = el("output", {"data-value": p.name}, p.value === undefined ? "" : String(p.value));
  // any value in between (the range snaps to steps otherwise: 0.3 from OSC would show as 0.2944)
  const input = el("input", {type: "range", "data-param": p.name, min: p.min, max: p.max,
                             step: p.integer ? 1 : "any", value: p.value === undefined ? p.default : p.value});
  let last = 0, timer = null;
  const push = () => {  // at most every SEND_EVERY_MS while dragging; the same value once
    last = Date.now(); timer = null;
    if (input.value !== input.dataset.sent) {
      input.dataset.sent = input.value;
      send({type: "param", name: p.name, value: Number(input.value)});
    }
  };
  input.addEventListener("input", () => {
    touched[p.name] = Date.now();
    value.textContent = input.value;
    if (!timer) timer = setTimeout(push, Math.max(0, SEND_EVERY_MS - (Date.now() - last)));
  });
  input.addEventListener("change", () => { touched[p.name] = Date.now(); push(); });
  row.append(el("span", {}, p.label), input, value);
  container.append(row);
}

function build(desc) {
  for (const p of desc.params) addSlider($("#params"), p);
  for (const name of desc.actions) {
    const b = el("button", {"data-action": name}, name);
    b.addEventListener("click", () => send({type: "action", name}));
    $("#actions").append(b);
  }
  desc.presets.forEach((name, i) => {
    const b = el("button", {"data-preset": name}, (i < 9 ? (i + 1) + " " : "") + name);
    b.addEventListener("click", () => send({type: "preset", name}));
    $("#presets").append(b);
  });
  if (!desc.lyrics) $("#lyrics-section").hidden = true;
  maxClasses = desc.max_classes;
}

// The preset's modulation rows: a slider each, rebuilt when the preset brings other rows.
let modsShown = "";
function showMods(mods) {
  const key = JSON.stringify(mods.map(m => [m.name, m.label, m.min, m.max]));
  if (key !== modsShown) {
    modsShown = key;
    $("#mods").replaceChildren();
    for (const m of mods) addSlider($("#mods"), m);
    $("#mods-section").hidden = mods.length === 0;
  }
}

let maxClasses = 12, chosen = [];
function showState(s) {
  showMods(s.mods || []);
  const values = Object.assign({}, s.params, Object.fromEntries((s.mods || []).map(m => [m.name, m.value])));
  for (const [name, v] of Object.entries(values)) {
    const input = document.querySelector(`[data-param="${name}"]`);
    if (!input || Date.now() - (touched[name] || 0) < 400) continue;
    input.value = v;
    if (input.value !== input.dataset.sent) delete input.dataset.sent;  // changed elsewhere: send it again
    document.querySelector(`[data-value="${name}"]`).textContent = v;
  }
  document.querySelectorAll("[data-preset]").forEach(b => b.classList.toggle("on", b.dataset.preset === s.preset));
  const freeze = document.querySelector('[data-action="freeze"]');
  if (freeze) freeze.classList.toggle("on", s.frozen);
  const link = document.querySelector('[data-action="link"]');
  if (link) link.classList.toggle("on", !!(s.hud.link && s.hud.link.enabled));
  chosen = s.classes.map(c => c.id);
  const list = $("#chosen");
  list.replaceChildren(...s.classes.map(c => {
    const li = el("li", {"data-class": c.id}, c.name + " ");
    const x = el("button", {title: "drop"}, "×");
    x.addEventListener("click", () => chosen.length > 1 &&
      send({type: "classes", spec: chosen.filter(i => i !== c.id).join(",")}));
    li.append(x);
    return li;
  }));
  const h = s.hud, f = (x, d) => x === null || x === undefined ? "-" : Number(x).toFixed(d);
  const rows = [["render", f(h.render_fps, 1) + " fps"], ["display", f(h.display_fps, 1) + " fps"],
                ["latency", f(h.latency_ms, 0) + " ms"], ["input", Math.round(100 * h.level) + "%" + (h.status && h.status !== "ok" ? " — " + h.status : "")],
                ["engine", h.backend], ["preset", s.preset + (s.frozen ? " (frozen)" : "")],
                ["tempo", h.link ? `Link ${f(h.link.tempo, 1)} BPM, ${h.link.peers} peers` : (h.bpm ? f(h.bpm, 0) + " BPM" : "-")]];
  for (const o of h.outputs || []) rows.push([o.kind, `${o.sent} sent, ${o.dropped} dropped`]);
  rows.push(["pages", String(s.pages)]);
  $("#hud").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {"data-figure": k}, v)]));
}

let shownUrl = null;
function showFrame(blob) {
  const url = URL.createObjectURL(blob), img = $("[data-preview]");
  img.onload = () => { if (shownUrl) URL.revokeObjectURL(shownUrl); shownUrl = url; };
  img.src = url;
}

function connect() {
  ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + withToken("/ws"));
  ws.binaryType = "blob";
  ws.onopen = () => { $("#conn").textContent = "connected"; send({type: "preview", on: $("#preview-on").checked}); };
  ws.onclose = () => { $("#conn").textContent = "disconnected — retrying"; setTimeout(connect, 1000); };
  ws.onmessage = (ev) => {
    if (typeof ev.data !== "string") return showFrame(ev.data);
    const m = JSON.parse(ev.data);
    if (m.type === "state") showState(m);
    else if (m.type === "found") showFound(m.classes);
    else if (m.type === "note") $("#note").textContent = m.text;
  };
}

function showFound(classes) {
  $("#found").replaceChildren(...classes.map(c => {
    const li = el("li", {"data-found": c.id}, c.name + (c.synonyms.length ? " (" + c.synonyms.join(", ") + ")" : ""));
    li.addEventListener("click", () => {  // add it to the set (the oldest goes when the set is full)
      const ids = chosen.filter(i => i !== c.id).concat([c.id]).slice(-maxClasses);
      send({type: "classes", spec: ids.join(",")});
    });
    return li;
  }));
}

let searchTimer = null;
$("#search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  const q = $("#search").value.trim();
  searchTimer = setTimeout(() => q ? send({type: "search", q}) : $("#found").replaceChildren(), 150);
});
$("#classes-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const spec = $("#classes-spec").value.trim();
  if (spec) send({type: "classes", spec});
});
$("#lyrics-go").addEventListener("click", () => {
  const text = $("#lyrics").value;
  if (text.trim()) { send({type: "lyrics", text}); $("#note").textContent = "choosing classes from the lyrics…"; }
});
$("#preview-on").addEventListener("change", (ev) => send({type: "preview", on: ev.target.checked}));

fetch(withToken("/api/controls")).then(r => r.json()).then(desc => { build(desc); connect(); });
