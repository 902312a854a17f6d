// The wasml console: one frame a second from /ui/stream (a snapshot of the host and the
// events written since the last frame), drawn with plain DOM and SVG. Every value from the
// host is written with textContent or as an attribute value, never parsed as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const HISTORY = 60; // sparkline points: a minute at one frame a second
const MAX_EVENT_ROWS = 500;

const state = {
  previous: null, // the last snapshot, for rates
  series: { rps: [], errors: [], p50: [], p95: [], p99: [] },
  events: [], // newest last
  history: [], // version changes seen in the events, newest last
  token: "", // the admin token, in memory only
  versions: [],
};

const $ = (id) => document.getElementById(id);

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function svgEl(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
  return node;
}

// ---- tabs (arrow keys move between them, as the ARIA tab pattern says) ----
function setupTabs() {
  const tabs = Array.from(document.querySelectorAll('[role="tab"]'));
  const select = (tab) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    location.hash = tab.getAttribute("aria-controls");
  };
  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(tab));
    tab.addEventListener("keydown", (e) => {
      const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      const next = tabs[(i + step + tabs.length) % tabs.length];
      select(next);
      next.focus();
    });
  });
  const wanted = tabs.find((t) => "#" + t.getAttribute("aria-controls") === location.hash);
  if (wanted) select(wanted);
}

// ---- numbers ----
function quantile(q, buckets) {
  // As Prometheus's histogram_quantile: linear within the bucket holding the rank.
  const total = buckets.length ? buckets[buckets.length - 1][1] : 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lowerBound = 0, lowerCount = 0;
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      const inBucket = count - lowerCount;
      return inBucket > 0 ? lowerBound + (bound - lowerBound) * ((rank - lowerCount) / inBucket) : bound;
    }
    lowerBound = bound;
    lowerCount = count;
  }
  return buckets[buckets.length - 1][0];
}

function bucketDelta(now, before) {
  return now.buckets.map(([bound, count], i) => [bound, count - (before && before.buckets[i] ? before.buckets[i][1] : 0)]);
}

const ms = (seconds) => (seconds === null ? "–" : (seconds * 1000).toFixed(seconds < 0.01 ? 2 : 1) + " ms");
const percent = (x) => (x === null || x === undefined ? "–" : (100 * x).toFixed(x < 0.1 ? 2 : 1) + " %");
function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return n.toFixed(i ? 1 : 0) + " " + units[i];
}

function push(name, value) {
  const series = state.series[name];
  series.push(value === null ? 0 : value);
  if (series.length > HISTORY) series.shift();
}

function sparkline(svg, values) {
  svg.replaceChildren();
  const width = 100, height = 30;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const max = Math.max(...values, 1e-12);
  const points = values.map((v, i) => `${(i / Math.max(HISTORY - 1, 1)) * width},${height - (v / max) * (height - 2) - 1}`);
  svg.append(svgEl("polyline", { points: points.join(" ") }));
}

function bars(svg, items) {
  // items: [{label, value}]
  svg.replaceChildren();
  const width = 320, height = 160, bottom = 20, top = 14;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const max = Math.max(...items.map((i) => i.value), 1);
  const slot = width / Math.max(items.length, 1);
  items.forEach((item, i) => {
    const h = ((height - bottom - top) * item.value) / max;
    const x = i * slot + slot * 0.15;
    const rect = svgEl("rect", { x, y: height - bottom - h, width: slot * 0.7, height: Math.max(h, 0.5) });
    const title = svgEl("title");
    title.textContent = `${item.label}: ${item.value}`;
    rect.append(title);
    const label = svgEl("text", { x: x + slot * 0.35, y: height - 6, "text-anchor": "middle" });
    label.textContent = item.label;
    const value = svgEl("text", { x: x + slot * 0.35, y: height - bottom - h - 3, "text-anchor": "middle" });
    value.textContent = String(item.value);
    svg.append(rect, label, value);
  });
}

// ---- overview ----
function drawOverview(snapshot) {
  const before = state.previous;
  const seconds = before ? Math.max(snapshot.uptime_seconds - before.uptime_seconds, 1e-3) : null;
  const requests = snapshot.requests;
  let rps = null, errorRate = null, p50 = null, p95 = null, p99 = null;
  if (before) {
    const answered = requests.total - before.requests.total;
    rps = answered / seconds;
    errorRate = answered > 0 ? (requests.server_errors - before.requests.server_errors) / answered : 0;
    const delta = bucketDelta(snapshot.latency, before.latency);
    p50 = quantile(0.5, delta);
    p95 = quantile(0.95, delta);
    p99 = quantile(0.99, delta);
  }
  $("rps").textContent = rps === null ? "–" : rps.toFixed(rps < 10 ? 1 : 0);
  $("errors").textContent = percent(errorRate);
  $("p50").textContent = ms(p50);
  $("p95").textContent = ms(p95);
  $("p99").textContent = ms(p99);
  $("users").textContent = String(snapshot.active_users);
  $("rss").textContent = bytes(snapshot.rss_bytes);
  $("total").textContent = String(requests.total);
  if (before) {
    push("rps", rps); push("errors", errorRate); push("p50", p50); push("p95", p95); push("p99", p99);
    for (const name of Object.keys(state.series)) sparkline($(name + "-spark"), state.series[name]);
  }
  const model = snapshot.default_model;
  bars($("classes"), snapshot.classes.filter((c) => c.model === model).map((c) => ({ label: c.label, value: c.count })));
  const confidence = [];
  let below = 0;
  for (const [bound, count] of snapshot.confidence.buckets) {
    confidence.push({ label: String(bound), value: count - below });
    below = count;
  }
  bars($("confidence"), confidence);
}

// ---- models ----
function drawModels(snapshot) {
  state.versions = snapshot.versions;
  const rows = snapshot.versions.map((v) => {
    const tr = document.createElement("tr");
    let stateText = v.state;
    if (v.canary_percent) stateText += ` (${v.canary_percent} %)`;
    if (v.shadow_percent) stateText += ` (shadow ${v.shadow_percent} %)`;
    const live = v.live_accuracy ? `${percent(v.live_accuracy.accuracy)} on ${v.live_accuracy.outcomes}` : v.live_error ? `MAE ${v.live_error.mae.toFixed(3)} on ${v.live_error.outcomes}` : "–";
    // Worst inputs first, as the host sorts them.
    const drift = v.drift ? `${v.drift.level}: ` + (v.drift.inputs || []).slice(0, 5).map((i) => `${i.input} ${i.psi.toFixed(3)}`).join(", ") : "–";
    const pool = v.instances ? `${v.instances.busy} / ${v.instances.idle + v.instances.busy} / ${v.instances.size}` : "–";
    const gate = (v.checks || []).map((c) => `${c.check}: ${c.passed ? "passed" : "failed"}${c.detail ? " (" + c.detail + ")" : ""}`).join("; ") + (v.reason ? ` ${v.reason}` : "");
    const cells = [v.model, v.version, stateText, new Date(v.since).toLocaleString(), v.card_accuracy !== undefined ? percent(v.card_accuracy) : v.card_mae !== undefined ? `MAE ${v.card_mae}` : "–", live, drift, pool, gate.trim() || "–"];
    cells.forEach((text, i) => tr.append(el("td", text, i === 2 ? "state-" + v.state : undefined)));
    return tr;
  });
  $("version-rows").replaceChildren(...rows);
  drawTimeline();
  const models = new Set(snapshot.versions.map((v) => v.model));
  const select = $("filter-model");
  const known = new Set(Array.from(select.options).map((o) => o.value));
  for (const model of models) if (!known.has(model)) select.append(el("option", model));
  drawAdminRows();
}

// ---- events ----
// The version changes the lifecycle logged ("model version canary", fields.state), newest
// first; before any was seen, each version's last change from the snapshot.
function drawTimeline() {
  const items = state.history.length
    ? [...state.history].reverse().map((e) => `${e["@timestamp"]} — ${e.model} ${e.model_version} ${e.fields.state}${e.error ? " (" + e.error + ")" : ""}`)
    : [...state.versions].sort((a, b) => new Date(b.since) - new Date(a.since)).map((v) => `${v.since} — ${v.model} ${v.version} ${v.state}`);
  $("timeline").replaceChildren(...items.map((text) => el("li", text)));
}

function addEvents(events) {
  for (const { event } of events) {
    state.events.push(event);
    if (event.fields && event.fields.state && String(event.message).startsWith("model version")) state.history.push(event);
  }
  if (state.history.length > 100) state.history.splice(0, state.history.length - 100);
  drawTimeline();
  if (state.events.length > MAX_EVENT_ROWS) state.events.splice(0, state.events.length - MAX_EVENT_ROWS);
  drawEvents();
}

function drawEvents() {
  const level = $("filter-level").value, status = $("filter-status").value, model = $("filter-model").value;
  const shown = state.events.filter((e) =>
    (!level || e.level === level) &&
    (!status || String(e.status || "").startsWith(status)) &&
    (!model || e.model === model));
  const rows = shown.slice(-200).reverse().map((e) => {
    const tr = document.createElement("tr");
    if (e.level === "error" || (e.status && e.status >= 500)) tr.className = "error";
    const message = e.error ? `${e.message}: ${e.error}` : e.message;
    const time = String(e["@timestamp"] || "").slice(11, 23); // UTC, to the millisecond
    const cells = [time, e.level, e.status, e.model, e.model_version, e.duration !== undefined ? ms(e.duration) : "", e.request_id, message];
    cells.forEach((text, i) => tr.append(el("td", text === undefined ? "" : text, i === 1 ? "level-" + e.level : undefined)));
    return tr;
  });
  $("event-rows").replaceChildren(...rows);
}

// ---- try it ----
async function setupTry() {
  const [doc, status] = await Promise.all([
    fetch("/openapi.json").then((r) => r.json()),
    fetch("/status").then((r) => r.json()),
  ]);
  const served = status.models.find((m) => m.name === status.default_model);
  state.labels = served ? served.labels : [];
  const schema = doc.components.schemas.Features || { properties: {} };
  const required = new Set(schema.required || []);
  const fields = Object.entries(schema.properties || {}).map(([name, spec]) => {
    const label = el("label", name);
    let input;
    const choices = spec.enum || (spec.oneOf || []).flatMap((s) => s.enum || []);
    if (choices.length) {
      input = document.createElement("select");
      for (const choice of choices) {
        const option = el("option", choice);
        option.value = choice;
        input.append(option);
      }
    } else {
      input = document.createElement("input");
      input.type = "number";
      input.step = spec.type === "integer" ? "1" : "any";
      if (spec.minimum !== undefined) input.min = spec.minimum;
      if (spec.maximum !== undefined) input.max = spec.maximum;
      const low = spec.minimum !== undefined ? spec.minimum : 0;
      const high = spec.maximum !== undefined ? spec.maximum : low;
      input.value = spec.type === "integer" ? Math.round((low + high) / 2) : (low + high) / 2;
    }
    input.name = name;
    input.dataset.kind = choices.length ? "category" : "number";
    input.required = required.has(name);
    label.append(input);
    return label;
  });
  $("try-fields").replaceChildren(...fields);
  $("try-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const row = {};
    for (const input of $("try-fields").querySelectorAll("input, select")) {
      if (input.value === "") continue;
      row[input.name] = input.dataset.kind === "number" ? Number(input.value) : input.value;
    }
    const answer = $("try-answer");
    const reply = await fetch("/predict", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(row) });
    const body = await reply.json();
    const box = el("div", undefined, "answer");
    box.id = "try-result";
    if (!reply.ok) {
      box.append(el("p", `${reply.status}: ${body.error ? body.error.message : JSON.stringify(body)}`, "problem"));
    } else if (body.label !== undefined) {
      box.append(el("p", `${body.label} (confidence ${percent(body.confidence)})`));
      box.dataset.label = body.label;
      const labels = state.labels || [];
      const list = el("ul");
      (body.probabilities || []).forEach((p, i) => list.append(el("li", `${labels[i] !== undefined ? labels[i] : i}: ${percent(p)}`)));
      box.append(list);
    } else {
      box.append(el("p", `value ${body.value}`));
      box.dataset.value = body.value;
    }
    box.append(el("p", `model ${body.model ? body.model.name + " " + body.model.version : ""}, request ${body.request_id || ""}`));
    answer.replaceChildren(box);
  });
}

// ---- admin (through the admin API, with the token typed in) ----
async function admin(method, path, body, contentType) {
  const headers = { authorization: "Bearer " + state.token };
  if (contentType) headers["content-type"] = contentType;
  const reply = await fetch(path, { method, headers, body });
  const text = await reply.text();
  $("admin-result").textContent = `${method} ${path}: ${reply.status} ${text.slice(0, 300)}`;
  return reply;
}

function drawAdminRows() {
  const rows = state.versions.map((v) => {
    const tr = document.createElement("tr");
    tr.append(el("td", v.model), el("td", v.version), el("td", v.state, "state-" + v.state));
    const actions = el("td");
    const base = `/admin/models/${encodeURIComponent(v.model)}`;
    const version = `${base}/versions/${encodeURIComponent(v.version)}`;
    const button = (text, handler) => {
      const b = el("button", text);
      b.type = "button";
      b.addEventListener("click", handler);
      actions.append(b, " ");
    };
    if (v.state === "ready") {
      button("Activate", () => admin("POST", `${version}/activate`));
      button("Canary 10 %", () => admin("PUT", `${base}/canary`, JSON.stringify({ version: v.version, percent: 10 }), "application/json"));
      button("Shadow 100 %", () => admin("PUT", `${base}/shadow`, JSON.stringify({ version: v.version, percent: 100 }), "application/json"));
    }
    if (v.state === "canary") button("Stop canary", () => admin("DELETE", `${base}/canary`));
    if (v.state === "active") button("Roll back", () => admin("POST", `${base}/rollback`));
    if (v.state !== "active" && v.state !== "retired") button("Retire", () => admin("DELETE", version));
    tr.append(actions);
    return tr;
  });
  $("admin-rows").replaceChildren(...rows);
}

function setupAdmin() {
  $("admin-token").addEventListener("input", (e) => { state.token = e.target.value; });
  $("admin-token-form").addEventListener("submit", (e) => e.preventDefault());
  $("upload-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const file = $("upload-file").files[0];
    if (!file) return;
    const path = `/admin/models/${encodeURIComponent($("upload-model").value)}/versions/${encodeURIComponent($("upload-version").value)}`;
    await admin("PUT", path, await file.arrayBuffer(), "application/octet-stream");
  });
}

// ---- the stream ----
function connect() {
  const source = new EventSource("/ui/stream");
  source.addEventListener("open", () => {
    // A new stream starts from the whole tail again.
    state.events = [];
    state.history = [];
    state.previous = null;
    $("connection").textContent = "live";
  });
  source.addEventListener("error", () => { $("connection").textContent = "reconnecting…"; });
  source.addEventListener("frame", (message) => {
    const frame = JSON.parse(message.data);
    drawOverview(frame.snapshot);
    drawModels(frame.snapshot);
    if (frame.events.events.length) addEvents(frame.events.events);
    state.previous = frame.snapshot;
    document.body.dataset.frames = String(Number(document.body.dataset.frames || 0) + 1);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupTabs();
  setupAdmin();
  for (const id of ["filter-level", "filter-status", "filter-model"]) $(id).addEventListener("change", drawEvents);
  setupTry().catch((error) => { $("try-answer").textContent = "the input schema could not be read: " + error; });
  connect();
});
