// The sre console: sign-in, the thread list and the router. The thread view is in
// thread.js, the report and timeline chart in report.js. Everything from the server is put
// in the page as text (textContent, never innerHTML), so nothing a model, a tool or a
// payload wrote can run here.
"use strict";

const main = document.getElementById("main");
const KEY = "sre-console-token";
const NAME = "sre-console-name";
let stop = null; // stops the current view's live updates

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(typeof c === "string" || typeof c === "number" ? String(c) : c);
  }
  return e;
}

function token() { return sessionStorage.getItem(KEY); }
// The name a person signs decisions with (one token is shared: this is their word).
function whoAmI() { return sessionStorage.getItem(NAME) || ""; }

// Errors and changes people should hear about, in one small live region.
function say(message, isError) {
  const s = document.getElementById("say");
  s.className = isError ? "error-box" : "muted";
  s.textContent = message;
}

async function api(path, options) {
  if (!token()) throw new Error("signed out");
  const opts = Object.assign({ headers: {} }, options || {});
  opts.headers = Object.assign({ Authorization: "Bearer " + token() }, opts.headers);
  const r = await fetch(path, opts);
  if (r.status === 401) { sessionStorage.removeItem(KEY); route(); throw new Error("unauthorized"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

// ---- login ----
function login(message) {
  const input = el("input", { type: "password", id: "token", autocomplete: "off", "aria-label": "API token", required: "" });
  const name = el("input", { type: "text", id: "name", autocomplete: "name", maxlength: "100", "aria-label": "Your name" });
  name.value = whoAmI();
  const form = el("form", { class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    sessionStorage.setItem(NAME, name.value.trim());
    try { await api("/api/threads?limit=1"); location.hash = "#/"; route(); }
    catch (e) { sessionStorage.removeItem(KEY); login("That token was refused."); }
  } },
    el("h1", {}, "Sign in"),
    el("label", { for: "token" }, "API token (SRE_API_TOKEN)"), input,
    el("label", { for: "name" }, "Your name (recorded with your approvals)"), name,
    el("button", { class: "primary", type: "submit" }, "Sign in"),
    message ? el("p", { class: "error-box", role: "alert" }, message) : null);
  main.replaceChildren(form);
  input.focus();
}

// ---- thread list ----
function age(iso) {
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return Math.round(s) + "s";
  if (s < 5400) return Math.round(s / 60) + "m";
  if (s < 129600) return Math.round(s / 3600) + "h";
  return Math.round(s / 86400) + "d";
}

function listView() {
  const search = el("input", { type: "search", placeholder: "Search title, service, agent, id", "aria-label": "Search" });
  const status = el("select", { "aria-label": "Status" },
    ...["", "queued", "running", "parked", "completed", "failed"].map(s => el("option", { value: s }, s || "any status")));
  const origin = el("select", { "aria-label": "Kind" },
    el("option", { value: "" }, "incidents and tasks"), el("option", { value: "incident" }, "incidents"), el("option", { value: "task" }, "scheduled tasks"));
  const body = el("tbody", { id: "threads" });
  const table = el("table", {}, el("thead", {}, el("tr", {},
    ...["thread", "status", "incident or task", "severity", "service", "plan", "agent", "mode", "cost", "updated"].map(h => el("th", {}, h)))), body);
  let incidents = {};
  main.replaceChildren(el("h1", {}, "Threads"), el("div", { class: "filters" }, search, status, origin), table);
  let rows = [];
  const draw = () => {
    const q = search.value.toLowerCase();
    body.replaceChildren(...rows
      .filter(t => !status.value || t.status === status.value)
      .filter(t => !origin.value || (origin.value === "task") === t.incident.startsWith("task:"))
      .filter(t => {
        const i = incidents[t.incident] || {};
        return !q || [t.id, t.agent, t.task, i.title, i.service, i.severity, i.plan && i.plan.name].join(" ").toLowerCase().includes(q);
      })
      .map(t => {
        const i = incidents[t.incident] || {};
        const task = t.incident.startsWith("task:");
        const title = i.title || (task ? "scheduled task " + t.incident.slice(5) + ": " : "") + t.task;
        return el("tr", { "data-thread": t.id },
          el("td", {}, el("a", { href: "#/thread/" + encodeURIComponent(t.id) }, t.id)),
          el("td", { class: "status-" + t.status }, t.status),
          el("td", {}, title.length > 140 ? title.slice(0, 140) + "…" : title),
          el("td", {}, [i.severity, typeof i.priority === "number" ? "P" + i.priority : i.priority].filter(Boolean).join(" · ")),
          el("td", {}, i.service || ""),
          el("td", {}, (i.plan && i.plan.name) || ""),
          el("td", {}, t.agent),
          el("td", {}, t.mode),
          el("td", { class: "cost" }, "$" + (t.cost_usd || 0).toFixed(4)),
          el("td", { title: t.updated_at }, age(t.updated_at)));
      }));
  };
  search.addEventListener("input", draw);
  status.addEventListener("change", draw);
  origin.addEventListener("change", draw);
  let live = true, timer = null, shown = null;
  const load = async () => {
    try {
      const [threads, known] = await Promise.all([api("/api/threads?limit=200"), api("/api/incidents?limit=500")]);
      rows = threads.threads;
      incidents = Object.fromEntries((known.incidents || []).map(i => [i.id, i]));
      // Redrawn only when something changed: focus and screen readers are left alone.
      const sig = JSON.stringify([rows.map(t => [t.id, t.status, t.updated_at, t.cost_usd]), Object.keys(incidents)]);
      if (sig !== shown) { shown = sig; draw(); }
    } catch (e) { if (live) say("threads: " + e.message, true); }
    if (live) timer = setTimeout(load, 2000);
  };
  load();
  return () => { live = false; clearTimeout(timer); };
}

function route() {
  if (stop) { stop(); stop = null; }
  const out = document.getElementById("logout");
  if (!token()) { out.hidden = true; document.getElementById("who").textContent = ""; login(); return; }
  out.hidden = false;
  document.getElementById("who").textContent = whoAmI() ? "signed in as " + whoAmI() : "";
  const m = /^#\/thread\/(.+)$/.exec(location.hash);
  let id = null;
  if (m) { try { id = decodeURIComponent(m[1]); } catch (e) { id = null; } }
  stop = id ? threadView(id) : listView();
}

document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); route(); });
window.addEventListener("hashchange", route);
route();
