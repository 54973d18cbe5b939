// The sre console: threads, an investigation unfolding live, approvals, the report.
// Everything from the server is put in the page as text (textContent, never innerHTML), so
// nothing a model, a tool or a payload wrote can run here.
"use strict";

const main = document.getElementById("main");
const KEY = "sre-console-token";
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
  const form = el("form", { class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(KEY, input.value.trim());
    try { await api("/api/threads?limit=1"); location.hash = "#/"; route(); }
    catch (e) { sessionStorage.removeItem(KEY); login("That token was refused."); }
  } },
    el("h1", {}, "Sign in"),
    el("label", { for: "token" }, "API token (SRE_API_TOKEN)"), input,
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
  const search = el("input", { type: "search", placeholder: "Search task, agent, id", "aria-label": "Search" });
  const status = el("select", { "aria-label": "Status" },
    ...["", "queued", "running", "parked", "completed", "failed"].map(s => el("option", { value: s }, s || "any status")));
  const body = el("tbody", { id: "threads" });
  const table = el("table", {}, el("thead", {}, el("tr", {},
    ...["thread", "status", "incident", "severity", "service", "agent", "mode", "updated"].map(h => el("th", {}, h)))), body);
  let incidents = {};
  main.replaceChildren(el("h1", {}, "Threads"), el("div", { class: "filters" }, search, status), table);
  let rows = [];
  const draw = () => {
    const q = search.value.toLowerCase();
    body.replaceChildren(...rows
      .filter(t => !status.value || t.status === status.value)
      .filter(t => {
        const i = incidents[t.incident] || {};
        return !q || [t.id, t.agent, t.task, i.title, i.service, i.severity].join(" ").toLowerCase().includes(q);
      })
      .map(t => {
        const i = incidents[t.incident] || {};
        const title = i.title || t.task;
        return el("tr", { "data-thread": t.id },
          el("td", {}, el("a", { href: "#/thread/" + encodeURIComponent(t.id) }, t.id)),
          el("td", { class: "status-" + t.status }, t.status),
          el("td", {}, title.length > 140 ? title.slice(0, 140) + "…" : title),
          el("td", {}, [i.severity, i.priority].filter(Boolean).join(" · ")),
          el("td", {}, i.service || ""),
          el("td", {}, t.agent),
          el("td", {}, t.mode),
          el("td", { title: t.updated_at }, age(t.updated_at)));
      }));
  };
  search.addEventListener("input", draw);
  status.addEventListener("change", draw);
  let live = true, timer = null, shown = null;
  const load = async () => {
    try {
      const [threads, known] = await Promise.all([api("/api/threads?limit=200"), api("/api/incidents?limit=500")]);
      rows = threads.threads;
      incidents = Object.fromEntries((known.incidents || []).map(i => [i.id, i]));
      // Redrawn only when something changed: focus and screen readers are left alone.
      const sig = JSON.stringify([rows.map(t => [t.id, t.status, t.updated_at]), Object.keys(incidents)]);
      if (sig !== shown) { shown = sig; draw(); }
    } catch (e) { if (live) say("threads: " + e.message, true); }
    if (live) timer = setTimeout(load, 2000);
  };
  load();
  return () => { live = false; clearTimeout(timer); };
}

// ---- a thread ----
function markdown(text) {
  // A small Markdown reader that builds DOM nodes: headings, lists, code blocks,
  // paragraphs, `code` and **bold**. Text stays text.
  const out = el("div", { class: "report-body" });
  const lines = text.split("\n");
  let list = null;
  let para = [];
  const inline = (s) => {
    const frag = document.createDocumentFragment();
    const re = /(`[^`]+`|\*\*[^*]+\*\*)/g;
    let at = 0, m;
    while ((m = re.exec(s))) {
      frag.append(s.slice(at, m.index));
      const t = m[0];
      frag.append(t.startsWith("`") ? el("code", {}, t.slice(1, -1)) : el("strong", {}, t.slice(2, -2)));
      at = m.index + t.length;
    }
    frag.append(s.slice(at));
    return frag;
  };
  const flush = () => {
    if (para.length) { out.append(el("p", {}, inline(para.join(" ")))); para = []; }
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("```")) {
      flush();
      const code = [];
      while (++i < lines.length && !lines[i].startsWith("```")) code.push(lines[i]);
      out.append(el("pre", {}, code.join("\n")));
      continue;
    }
    const h = /^(#{1,4})\s+(.*)$/.exec(line);
    const li = /^\s*(?:[-*]|\d+\.)\s+(.*)$/.exec(line);
    if (h) { flush(); out.append(el("h" + (h[1].length + 1), {}, inline(h[2]))); }
    else if (li) {
      if (para.length) { out.append(el("p", {}, inline(para.join(" ")))); para = []; }
      if (!list) { list = el("ul"); out.append(list); }
      list.append(el("li", {}, inline(li[1])));
    } else if (!line.trim()) flush();
    else { list = null; para.push(line.trim()); }
  }
  flush();
  return out;
}

function describe(e) {
  // One event as a step: [css class, label, content nodes].
  const k = e.kind || {};
  const agent = e.agent || "";
  const nested = agent.includes("/") ? " sub" : "";
  switch (k.type) {
    case "session_started": return ["" + nested, "agent " + agent, [k.parent ? "started by " + k.parent.session_id : k.source]];
    case "turn_started": return null;
    case "model_response": return k.text ? ["" + nested, agent + " says", [el("p", {}, k.text)]] : null;
    case "tool_started": return ["tool" + nested, agent + " calls " + k.name, [el("pre", {}, JSON.stringify(k.input, null, 2))]];
    case "tool_finished": return ["tool" + nested, k.name + (k.is_error ? " failed" : " returned") + " in " + Math.round(k.duration) + " ms",
      [el("details", {}, el("summary", {}, (k.recorded || "").split("\n")[0].slice(0, 160) || "(empty)"), el("pre", {}, k.recorded || ""))]];
    case "tool_refused": return ["hook" + nested, k.name + " refused", [k.reason]];
    case "hook_decision": return ["hook" + nested, "hook " + k.hook + " (" + k.event + "): " + (k.action && k.action.action), [k.output || ""]];
    case "hook_failed": return ["error" + nested, "hook " + k.hook + " failed", [k.error]];
    case "budget_action": return ["" + nested, "budget: " + k.verdict, [k.note]];
    case "approval_requested": return ["hook" + nested, "approval requested for " + k.name, []];
    case "finished": return ["" + nested, agent + " finished (" + ((k.cause && k.cause.cause) || "?").replace(/_/g, " ") + ")", []];
    case "failed": return ["error" + nested, agent + " failed", [k.message]];
    case "warning": return ["error" + nested, "warning", [k.message]];
    default:
      if (e.approval) return ["hook", "approval " + e.approval + " " + e.decision, [e.note || ""]];
      return null;
  }
}

// The thread's events over server-sent events, read with fetch (the token goes in a
// header, which EventSource cannot send). After a drop it reconnects from the last event
// seen (Last-Event-ID), backing off up to 30 s; a refusal (404, 401...) ends it. `stream.stop()`
// ends it; `stream.start()` takes it up again from where it was.
function follower(id, onEvent) {
  const steps = () => document.getElementById("steps");
  let last = 0, received = 0, raw = 0, controller = null;
  const note = () => {
    const s = steps();
    if (s) { s.dataset.last = String(last); s.dataset.received = String(received); s.dataset.raw = String(raw); }
  };
  async function run(signal) {
    let wait = 1000;
    while (!signal.aborted) {
      try {
        const headers = { Authorization: "Bearer " + token() };
        if (last) headers["Last-Event-ID"] = String(last);
        const r = await fetch("/api/threads/" + encodeURIComponent(id) + "/events", { headers, signal });
        if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
          if (r.body) r.body.cancel();
          say("the event stream was refused: " + r.status, true);
          return;
        }
        if (!r.ok || !r.body) throw new Error(r.statusText);
        wait = 1000;
        const reader = r.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          // Line endings as the standard allows them: \r\n, \r or \n.
          buf += dec.decode(value, { stream: true });
          const held = buf.endsWith("\r") ? "\r" : "";
          buf = buf.slice(0, buf.length - held.length).replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const frame = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            let num = null, data = [];
            for (const line of frame.split("\n")) {
              if (line.startsWith("id:")) num = parseInt(line.slice(3).trim(), 10);
              else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
            }
            if (!data.length) continue;
            if (num !== null && !Number.isNaN(num)) {
              raw++; // every numbered frame the server sent, before de-duplication
              if (num <= last) { note(); continue; }
              last = num;
            }
            let event;
            try { event = JSON.parse(data.join("\n")); } catch (err) { continue; }
            received++;
            onEvent(event, num);
            note();
          }
          buf += held;
        }
      } catch (err) {
        if (signal.aborted) return;
      }
      await new Promise(r => setTimeout(r, wait));
      wait = Math.min(wait * 2, 30000);
    }
  }
  return {
    start() { if (!controller) { controller = new AbortController(); run(controller.signal); } },
    stop() { if (controller) { controller.abort(); controller = null; } },
  };
}

function threadView(id) {
  const head = el("div", { id: "thread-head" });
  const steps = el("ol", { class: "steps", id: "steps" });
  const approvals = el("section", { id: "approvals", "aria-label": "Approvals" });
  const report = el("section", { id: "report", "aria-label": "Report" });
  const follow_up = el("textarea", { rows: "2", "aria-label": "Follow-up message", placeholder: "Ask a follow-up" });
  const hooks = el("section", { id: "hooks", "aria-label": "On-demand hooks" });
  const usage = el("table", { id: "usage", "aria-label": "Tokens and cost per agent" });
  const spent = {};
  const drawUsage = () => {
    usage.replaceChildren(el("tr", {}, ...["agent", "calls", "in", "out", "$"].map(h => el("th", {}, h))),
      ...Object.entries(spent).map(([agent, u]) => el("tr", { "data-agent": agent },
        el("td", {}, agent), el("td", {}, u.calls), el("td", {}, u.input), el("td", {}, u.output),
        el("td", {}, u.cost.toFixed(4)))));
  };
  const side = el("aside", {},
    el("h2", {}, "Usage"), usage,
    el("h2", {}, "Approvals"), approvals,
    el("h2", {}, "Hooks"), hooks,
    el("h2", {}, "Follow up"),
    el("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      if (!follow_up.value.trim()) return;
      const send = ev.target.querySelector("button");
      send.disabled = true;
      try {
        await api("/api/threads/" + encodeURIComponent(id) + "/messages", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: follow_up.value }) });
        follow_up.value = ""; say("sent", false);
      } catch (e) { say("not sent: " + e.message, true); }
      send.disabled = false;
      refresh();
    } }, follow_up, el("button", { type: "submit" }, "Send")));
  main.replaceChildren(el("p", {}, el("a", { href: "#/" }, "← threads")), head,
    el("div", { class: "layout" }, el("div", {}, el("h2", {}, "Investigation"), steps, el("h2", {}, "Report"), report), side));
  // Subagents' steps nest under the tool call that started them (their own lane); a
  // handoff hop's steps follow in a lane of their own.
  const lanes = {}, calls = {};
  const laneOf = (e) => {
    if (lanes[e.session_id]) return lanes[e.session_id];
    const k = e.kind || {};
    if (k.type !== "session_started") return steps;
    const p = k.parent;
    const under = p && p.call_id ? calls[p.session_id + " " + p.call_id] : null;
    if (!p || (p.call_id && !under)) return steps;
    const lane = el("ol", { class: "steps lane", "data-session": e.session_id, "aria-label": "agent " + e.agent });
    if (under) under.append(lane);
    else steps.append(el("li", { class: "step hop" }, el("div", { class: "kind" }, "handoff to " + e.agent), lane));
    lanes[e.session_id] = lane;
    return lane;
  };
  const stream = follower(id, (e, num) => {
    if (e.kind && (e.kind.type === "model_response" || e.kind.type === "auxiliary_model_call")) {
      const u = e.kind.usage || {};
      const row = spent[e.agent] || (spent[e.agent] = { calls: 0, input: 0, output: 0, cost: 0 });
      row.calls += 1;
      row.input += (u.input_tokens || 0) + (u.cache_read_tokens || 0) + (u.cache_write_tokens || 0);
      row.output += u.output_tokens || 0;
      row.cost += e.kind.cost_usd || 0;
      drawUsage();
    }
    const d = describe(e);
    if (!d) return;
    const [cls, label, content] = d;
    const li = el("li", { class: "step " + cls, "data-event": num === null ? "" : String(num) },
      el("div", { class: "kind" }, label), ...content);
    laneOf(e).append(li);
    if (e.kind && e.kind.type === "tool_started") calls[e.session_id + " " + e.kind.id] = li;
    if (e.approval || (e.kind && e.kind.type === "approval_requested")) refresh();
  });
  stream.start();
  const decide = async (a, approve, why, buttons) => {
    const reason = approve ? null : why.value.trim();
    if (!approve && !reason) { why.focus(); why.setAttribute("aria-invalid", "true"); say("Give a reason to deny: the agent reads it.", true); return; }
    why.removeAttribute("aria-invalid");
    buttons.forEach(b => { b.disabled = true; });
    const path = "/api/approvals/" + encodeURIComponent(a.id) + (approve ? "/approve" : "/deny");
    try {
      await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(approve ? {} : { reason }) });
      say((approve ? "approved " : "denied ") + a.id, false);
    } catch (e) {
      say(a.id + ": " + e.message, true);
      buttons.forEach(b => { b.disabled = false; });
    }
    refresh();
  };
  // One refresh at a time; one asked for meanwhile runs after it (no stale answer wins).
  let busy = null, again = false, live = true, timer = null, stopping = null;
  function refresh() {
    if (busy) { again = true; return busy; }
    busy = load().finally(() => {
      busy = null;
      if (again && live) { again = false; refresh(); }
    });
    return busy;
  }
  async function load() {
    let t;
    try { t = await api("/api/threads/" + encodeURIComponent(id)); } catch (e) { if (live) head.replaceChildren(el("p", { class: "error-box" }, e.message)); return; }
    if (!live) return;
    // A finished thread's stream is let go (browsers allow few connections per host); a
    // follow-up takes it up again.
    // (After a grace period: the last events may still be on their way.)
    if (t.status === "completed" || t.status === "failed") {
      if (!stopping) stopping = setTimeout(() => stream.stop(), 5000);
    } else {
      clearTimeout(stopping); stopping = null; stream.start();
    }
    head.replaceChildren(el("h1", {}, t.id),
      el("p", {}, el("span", { class: "status-" + t.status, id: "status" }, t.status), " · ", t.agent, " · ", t.mode),
      el("p", { class: "muted" }, t.task));
    // Redrawn only when they change: a reason being typed is not wiped out.
    const sig = JSON.stringify((t.approvals || []).map(a => [a.id, a.status, a.note]));
    if (sig !== drawn) { drawn = sig; drawApprovals(t); }
    const hsig = JSON.stringify([t.on_demand_hooks, t.hooks]);
    if (hsig !== hooksDrawn) { hooksDrawn = hsig; drawHooks(t); }
    drawReport(t);
  }
  let drawn = null, hooksDrawn = null;
  function drawHooks(t) {
    // The home's on-demand hooks, switched on or off for this thread only.
    const all = t.on_demand_hooks || [];
    if (!all.length) { hooks.replaceChildren(el("p", { class: "muted" }, "none on demand")); return; }
    hooks.replaceChildren(...all.map(name => {
      const box = el("input", { type: "checkbox", id: "hook-" + name, "data-hook": name });
      box.checked = (t.hooks || []).includes(name);
      box.addEventListener("change", async () => {
        box.disabled = true;
        try {
          await api("/api/threads/" + encodeURIComponent(id) + "/hooks/" + encodeURIComponent(name),
            { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ enabled: box.checked }) });
        } catch (e) { box.checked = !box.checked; }
        box.disabled = false;
        refresh();
      });
      return el("div", {}, box, " ", el("label", { for: "hook-" + name }, name));
    }));
  }
  function drawApprovals(t) {
    approvals.replaceChildren(...(t.approvals || []).map(a => el("div", { class: "approval", "data-approval": a.id },
      el("div", {}, el("strong", {}, a.tool), " by ", a.agent, " · ", a.status),
      el("pre", {}, JSON.stringify(a.input, null, 2)),
      a.reason ? el("p", { class: "muted" }, a.reason) : null,
      a.status === "pending" ? (() => {
        const why = el("input", { type: "text", class: "deny-reason", placeholder: "Why deny? The agent reads it.", "aria-label": "Reason to deny " + a.id });
        const approve = el("button", { class: "primary approve", "aria-label": "Approve " + a.tool + " (" + a.id + ")" }, "Approve");
        const deny = el("button", { class: "danger deny", "aria-label": "Deny " + a.tool + " (" + a.id + ")" }, "Deny");
        approve.addEventListener("click", () => decide(a, true, why, [approve, deny, why]));
        deny.addEventListener("click", () => decide(a, false, why, [approve, deny, why]));
        return el("div", {}, approve, " ", why, " ", deny);
      })() : (a.note ? el("p", {}, "note: ", a.note) : null))));
    if (!t.approvals || !t.approvals.length) approvals.replaceChildren(el("p", { class: "muted" }, "none"));
  }
  let reported = null;
  function drawReport(t) {
    const key = JSON.stringify([t.answer, t.error]);
    if (key === reported) return;
    reported = key;
    if (t.answer) {
      const md = t.answer;
      const download = el("button", { onclick: () => {
        const url = URL.createObjectURL(new Blob([md], { type: "text/markdown" }));
        el("a", { href: url, download: t.id + ".md" }).click();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      } }, "Download Markdown");
      report.replaceChildren(el("div", { class: "report" }, markdown(md)), download);
    } else if (t.error) report.replaceChildren(el("p", { class: "error-box" }, t.error));
    else report.replaceChildren(el("p", { class: "muted" }, "not yet"));
  }
  const tick = () => { refresh().finally(() => { if (live) timer = setTimeout(tick, 2000); }); };
  tick();
  return () => { live = false; clearTimeout(timer); clearTimeout(stopping); stream.stop(); };
}

function route() {
  if (stop) { stop(); stop = null; }
  const out = document.getElementById("logout");
  if (!token()) { out.hidden = true; login(); return; }
  out.hidden = false;
  const m = /^#\/thread\/(.+)$/.exec(location.hash);
  let id = null;
  if (m) { try { id = decodeURIComponent(m[1]); } catch (e) { id = null; } }
  stop = id ? threadView(id) : listView();
}

document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY); route(); });
window.addEventListener("hashchange", route);
route();
