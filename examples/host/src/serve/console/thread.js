// The sre console: one thread, live. Its events arrive over server-sent events and become
// steps (subagents and handoffs in nested lanes); approvals, hooks, the pinned investigation
// state, usage, the report and the incident's timeline sit around them.
"use strict";

function threadPath(id) { return "/api/threads/" + encodeURIComponent(id); }

// One event as a step: {cls, label, content, what} (`what`: a line for the timeline), or null.
function describe(e, threadId) {
  const k = e.kind || {};
  const agent = e.agent || "";
  const step = (cls, label, content, what) => ({ cls, label, content: content || [], what: what === undefined ? label : what });
  switch (k.type) {
    case "session_started": return step("", "agent " + agent, [k.parent ? "started by " + k.parent.session_id : k.source], null);
    case "model_response": return k.text ? step("", agent + " says", [el("p", {}, k.text)], null) : null;
    case "tool_started": {
      // A long input (a script, a patch) folds away behind its first line.
      const input = JSON.stringify(k.input, null, 2);
      const shown = input.length <= 600 ? el("pre", {}, input)
        : el("details", {}, el("summary", {}, JSON.stringify(k.input).slice(0, 120) + "…"), el("pre", {}, input));
      return step("tool", agent + " calls " + k.name, [shown]);
    }
    case "tool_finished": {
      const first = (k.recorded || "").split("\n")[0].slice(0, 160) || "(empty)";
      const content = [el("details", {}, el("summary", {}, first), el("pre", {}, k.recorded || ""))];
      if (typeof k.output_bytes === "number") {
        // Offloaded (or withheld from the model): the preview above, the whole on demand.
        content.push(el("button", { class: "full-output", onclick: () => fullOutput(threadId, e.session_id, k.id, k.name) },
          "Full output (" + k.output_bytes + " bytes)"));
      }
      return step("tool", k.name + (k.is_error ? " failed" : " returned") + " in " + Math.round(k.duration) + " ms", content, null);
    }
    case "tool_refused": return step("hook", k.name + " refused", [k.reason]);
    case "hook_decision": {
      const a = k.action || {};
      const content = [];
      if (a.reason) content.push(el("p", {}, a.reason));
      for (const c of k.additional_context || []) content.push(el("p", { class: "context" }, "context added: " + c));
      if (k.system_message) content.push(el("p", {}, k.system_message));
      if (k.output) content.push(el("pre", {}, k.output));
      const verdict = { continue: "allowed", block: "blocked", ask: "asks for approval", stop: "stopped the run" }[a.action] || a.action;
      return step("hook", "hook " + k.hook + " (" + k.event + "): " + verdict, content);
    }
    case "hook_failed": return step("error", "hook " + k.hook + " failed", [k.error]);
    case "budget_action": return step("budget", "budget: " + k.verdict + " (" + k.tokens_before + " → " + k.tokens_after + " tokens)", [k.note]);
    case "approval_requested": return step("hook", "approval requested for " + k.name, []);
    case "finished": return step("", agent + " finished (" + ((k.cause && k.cause.cause) || "?").replace(/_/g, " ") + ")", []);
    case "failed": return step("error", agent + " failed", [k.message]);
    case "warning": return step("error", "warning", [k.message], null);
    default:
      if (e.approval) return step("hook", "approval " + e.approval + " " + e.decision + (e.by ? " by " + e.by : ""), [e.note || ""]);
      if (e.learned) return e.learned.error ? step("error", "learning failed", [e.learned.error])
        : step("memory", "learned " + e.learned.entries + " entries into memory (" + (e.learned.topics || []).join(", ") + ")", []);
      if (e.runbook) return step("memory", "runbook written", [e.runbook]);
      return null;
  }
}

async function fullOutput(threadId, session, call, tool) {
  try {
    const r = await fetch(threadPath(threadId) + "/outputs/" + encodeURIComponent(session) + "/" + encodeURIComponent(call),
      { headers: { Authorization: "Bearer " + token() } });
    if (!r.ok) throw new Error((await r.json().catch(() => ({}))).error || r.statusText);
    download(tool + "-" + call + ".txt", "text/plain", await r.text());
  } catch (e) { say("full output: " + e.message, true); }
}

// The pinned investigation state, rebuilt as `update_investigation_state` builds it: each
// call that succeeded applies its input (hypotheses upserted by id, evidence and timeline
// appended once, next steps replaced; `mode: replace` replaces the sections given).
function applyPinned(state, args) {
  const replace = args.mode === "replace";
  // Entries compare by their fields, as the tool's do (key order and a missing source
  // make no difference).
  const same = (a, b) => a.fact === b.fact && (a.source ?? null) === (b.source ?? null) &&
    a.time === b.time && a.event === b.event;
  if (Array.isArray(args.remove_hypotheses)) state.hypotheses = state.hypotheses.filter(h => !args.remove_hypotheses.includes(h.id));
  if (Array.isArray(args.hypotheses)) {
    if (replace) state.hypotheses = args.hypotheses.slice();
    else for (const h of args.hypotheses) {
      const i = state.hypotheses.findIndex(x => x.id === h.id);
      if (i >= 0) state.hypotheses[i] = h; else state.hypotheses.push(h);
    }
  }
  for (const key of ["evidence", "timeline"]) {
    if (!Array.isArray(args[key])) continue;
    if (replace) state[key] = args[key].slice();
    else for (const x of args[key]) if (!state[key].some(y => same(x, y))) state[key].push(x);
  }
  if (Array.isArray(args.next_steps)) state.next_steps = args.next_steps.slice();
}

function pinnedView(states, agents) {
  const shown = Object.entries(states).filter(([, s]) => s.hypotheses.length || s.evidence.length || s.timeline.length || s.next_steps.length);
  if (!shown.length) return [el("p", { class: "muted" }, "nothing pinned yet")];
  return shown.map(([session, s]) => el("div", { class: "pinned", "data-session": session },
    shown.length > 1 ? el("h3", {}, agents[session] || session) : null,
    s.hypotheses.length ? el("ul", { class: "hypotheses" }, ...s.hypotheses.map(h => el("li", { "data-status": h.status },
      el("span", { class: "badge " + h.status }, h.status), " ", el("strong", {}, h.id), " ", h.statement))) : null,
    s.evidence.length ? el("div", {}, el("h4", {}, "Evidence"), el("ul", {}, ...s.evidence.map(x => el("li", {}, x.fact, x.source ? el("span", { class: "muted" }, " (" + x.source + ")") : null)))) : null,
    s.timeline.length ? el("div", {}, el("h4", {}, "Timeline"), el("ul", {}, ...s.timeline.map(x => el("li", {}, el("strong", {}, x.time), " ", x.event)))) : null,
    s.next_steps.length ? el("div", {}, el("h4", {}, "Next"), el("ul", {}, ...s.next_steps.map(x => el("li", {}, x)))) : null));
}

// The thread's events over server-sent events, read with fetch (the token goes in a
// header, which EventSource cannot send). After a drop it reconnects from the last event
// seen (Last-Event-ID), backing off up to 30 s; a refusal (404, 401...) ends it until the
// next `start()`. `stop()` ends it; `start()` takes it up again from where it was.
function follower(id, onEvent) {
  const steps = () => document.getElementById("steps");
  let last = 0, received = 0, raw = 0, controller = null, connected = false;
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
        const r = await fetch(threadPath(id) + "/events?outputs=preview", { headers, signal });
        if (r.status >= 400 && r.status < 500 && r.status !== 408 && r.status !== 429) {
          if (r.body) r.body.cancel();
          if (r.status !== 404) say("the event stream was refused: " + r.status, true);
          if (controller && controller.signal === signal) controller = null;
          return;
        }
        if (!r.ok || !r.body) throw new Error(r.statusText);
        connected = true;
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
    // Whether it ever got the stream (a thread looked for before it existed had not).
    connected() { return connected; },
  };
}

// Work asked for many times in a frame runs once, at the next frame.
function coalesced(fn) {
  let asked = false;
  return () => {
    if (asked) return;
    asked = true;
    requestAnimationFrame(() => { asked = false; fn(); });
  };
}

function threadView(id) {
  const head = el("div", { id: "thread-head" });
  const timeline = el("figure", { id: "chart", "aria-label": "Timeline chart" });
  const steps = el("ol", { class: "steps", id: "steps" });
  const approvals = el("section", { id: "approvals", "aria-label": "Approvals" });
  const report = el("section", { id: "report", "aria-label": "Report" });
  const follow_up = el("textarea", { rows: "2", "aria-label": "Follow-up message", placeholder: "Ask a follow-up" });
  const hooks = el("section", { id: "hooks", "aria-label": "On-demand hooks" });
  const pinned = el("section", { id: "pinned", "aria-label": "Investigation state" });
  const usage = el("table", { id: "usage", "aria-label": "Tokens and cost per agent" });
  const spent = {}, states = {}, agents = {}, pinnedCalls = {};
  const history = []; // {at, agent, what, cls}: the investigation's timeline
  let thread = null, incident = null;
  const drawUsage = coalesced(() => {
    usage.replaceChildren(el("tr", {}, ...["agent", "calls", "in", "out", "$"].map(h => el("th", {}, h))),
      ...Object.entries(spent).map(([agent, u]) => el("tr", { "data-agent": agent },
        el("td", {}, agent), el("td", {}, u.calls), el("td", {}, u.input), el("td", {}, u.output),
        el("td", {}, u.cost.toFixed(4)))));
  });
  const drawPinned = coalesced(() => pinned.replaceChildren(...pinnedView(states, agents)));
  const drawChart = coalesced(() => {
    if (!thread) return;
    const alert = incident ? { fired: incident.first_seen, last: incident.last_seen, resolved: incident.resolved_at } : null;
    timeline.replaceChildren(chart({
      now: new Date().toISOString(), alert,
      steps: history.filter(h => h.at),
      approvals: (thread.approvals || []).map(a => ({ asked: a.created_at, decided: a.decided_at, status: a.status, tool: a.tool, by: a.decided_by })),
    }), el("figcaption", { class: "muted" }, incident ? "alert · investigation steps · approvals" : "investigation steps · approvals"));
  });
  const side = el("aside", {},
    el("h2", {}, "Approvals"), approvals,
    el("h2", {}, "Investigation state"), pinned,
    el("h2", {}, "Usage"), usage,
    el("h2", {}, "Hooks"), hooks,
    el("h2", {}, "Follow up"),
    el("form", { onsubmit: async (ev) => {
      ev.preventDefault();
      if (!follow_up.value.trim()) return;
      const send = ev.target.querySelector("button");
      send.disabled = true;
      try {
        await api(threadPath(id) + "/messages", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ text: follow_up.value }) });
        follow_up.value = ""; say("sent", false);
      } catch (e) { say("not sent: " + e.message, true); }
      send.disabled = false;
      refresh();
    } }, follow_up, el("button", { type: "submit" }, "Send")));
  pinned.append(...pinnedView(states, agents));
  main.replaceChildren(el("p", {}, el("a", { href: "#/" }, "← threads")), head, timeline,
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
  let lastEventAt = Date.now();
  const stream = follower(id, (e, num) => {
    lastEventAt = Date.now();
    const k = e.kind || {};
    if (e.session_id && e.agent) agents[e.session_id] = e.agent;
    if (k.type === "model_response" || k.type === "auxiliary_model_call") {
      const u = k.usage || {};
      const row = spent[e.agent] || (spent[e.agent] = { calls: 0, input: 0, output: 0, cost: 0 });
      row.calls += 1;
      row.input += (u.input_tokens || 0) + (u.cache_read_tokens || 0) + (u.cache_write_tokens || 0);
      row.output += u.output_tokens || 0;
      row.cost += k.cost_usd || 0;
      drawUsage();
    }
    if (k.name === "update_investigation_state") {
      const key = e.session_id + " " + k.id;
      if (k.type === "tool_started") pinnedCalls[key] = k.input || {};
      else if (k.type === "tool_finished" && pinnedCalls[key]) {
        if (!k.is_error) {
          const s = states[e.session_id] || (states[e.session_id] = { hypotheses: [], evidence: [], timeline: [], next_steps: [] });
          applyPinned(s, pinnedCalls[key]);
          drawPinned();
        }
        delete pinnedCalls[key];
      }
    }
    const d = describe(e, id);
    if (!d) return;
    if (d.what) { history.push({ at: e.at, agent: e.agent || "", what: d.what, cls: d.cls }); drawChart(); }
    const li = el("li", { class: "step " + d.cls, "data-event": num === null ? "" : String(num) },
      el("div", { class: "kind" }, e.at ? el("time", { datetime: e.at }, clock(e.at) + " ") : null, d.label), ...d.content);
    laneOf(e).append(li);
    if (k.type === "tool_started") calls[e.session_id + " " + k.id] = li;
    if (e.approval || k.type === "approval_requested") refresh();
  });
  stream.start();
  const decide = async (a, body, controls) => {
    controls.forEach(b => { b.disabled = true; });
    const approve = !("reason" in body);
    const by = whoAmI();
    if (by) body.by = by;
    try {
      await api("/api/approvals/" + encodeURIComponent(a.id) + (approve ? "/approve" : "/deny"),
        { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      say((approve ? "approved " : "denied ") + a.id, false);
    } catch (e) {
      say(a.id + ": " + e.message, true);
      controls.forEach(b => { b.disabled = false; });
    }
    refresh();
  };
  // One refresh at a time; one asked for meanwhile runs after it (no stale answer wins).
  let busy = null, again = false, live = true, timer = null, released = false, missing = false;
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
    try { t = await api(threadPath(id)); } catch (e) {
      // A thread linked to before it exists (a page opened on a fresh alert) is looked for
      // again soon.
      missing = e.message === "no such thread";
      if (live) head.replaceChildren(el("p", { class: "error-box" }, e.message + (missing ? " (yet)" : "")));
      return;
    }
    if (!live) return;
    missing = false;
    thread = t;
    if (/^inc-/.test(t.incident)) incident = await api("/api/incidents/" + encodeURIComponent(t.incident)).catch(() => incident);
    // A finished thread's stream is let go once quiet for 5 s (its past all read: browsers
    // allow few connections per host); a follow-up takes it up again. One that never got
    // its stream (looked for before it existed) gets it first.
    if (t.status === "completed" || t.status === "failed") {
      if (!stream.connected()) stream.start();
      else if (!released && Date.now() - lastEventAt >= 5000) { released = true; stream.stop(); }
    } else {
      released = false; stream.start();
    }
    const origin = incident ? [incident.title, [incident.severity, incident.service].filter(Boolean).join(" · ")].filter(Boolean).join(" — ")
      : t.incident.startsWith("task:") ? "scheduled task " + t.incident.slice(5) : t.incident;
    head.replaceChildren(el("h1", {}, t.id),
      el("p", {}, el("span", { class: "status-" + t.status, id: "status" }, t.status), " · ", t.agent, " · ", t.mode,
        " · $", (t.cost_usd || 0).toFixed(4)),
      el("p", {}, origin),
      el("p", { class: "muted" }, t.task));
    drawApprovals(t);
    const hsig = JSON.stringify([t.on_demand_hooks, t.hooks]);
    if (hsig !== hooksDrawn) { hooksDrawn = hsig; drawHooks(t); }
    drawReport(t);
    drawChart();
  }
  let hooksDrawn = null;
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
          await api(threadPath(id) + "/hooks/" + encodeURIComponent(name),
            { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ enabled: box.checked }) });
        } catch (e) { box.checked = !box.checked; }
        box.disabled = false;
        refresh();
      });
      return el("div", {}, box, " ", el("label", { for: "hook-" + name }, name));
    }));
  }
  function pendingControls(a) {
    const why = el("input", { type: "text", class: "deny-reason", placeholder: "Why deny? The agent reads it.", "aria-label": "Reason to deny " + a.id });
    const edited = el("textarea", { class: "edit-input", rows: "5", hidden: "", "aria-label": "Edited input of " + a.id });
    edited.value = JSON.stringify(a.input, null, 2);
    const approve = el("button", { class: "primary approve", "aria-label": "Approve " + a.tool + " (" + a.id + ")" }, "Approve");
    const edit = el("button", { class: "edit", "aria-expanded": "false", "aria-label": "Edit the input of " + a.id }, "Edit");
    const deny = el("button", { class: "danger deny", "aria-label": "Deny " + a.tool + " (" + a.id + ")" }, "Deny");
    const controls = [approve, edit, deny, why, edited];
    edit.addEventListener("click", () => {
      edited.hidden = !edited.hidden;
      edit.setAttribute("aria-expanded", String(!edited.hidden));
      approve.textContent = edited.hidden ? "Approve" : "Approve edited";
      if (!edited.hidden) edited.focus();
    });
    approve.addEventListener("click", () => {
      if (edited.hidden) return decide(a, {}, controls);
      let input;
      try { input = JSON.parse(edited.value); } catch (e) { input = null; }
      if (!input || typeof input !== "object" || Array.isArray(input)) {
        edited.setAttribute("aria-invalid", "true"); edited.focus();
        say("The edited input must be a JSON object (the tool's arguments).", true);
        return;
      }
      edited.removeAttribute("aria-invalid");
      decide(a, { input }, controls);
    });
    deny.addEventListener("click", () => {
      const reason = why.value.trim();
      if (!reason) { why.focus(); why.setAttribute("aria-invalid", "true"); say("Give a reason to deny: the agent reads it.", true); return; }
      why.removeAttribute("aria-invalid");
      decide(a, { reason }, controls);
    });
    return el("div", {}, el("div", {}, approve, " ", edit, " ", deny), edited, why);
  }
  // Each approval is redrawn only when it changes: a reason or an edit being typed in one
  // is kept (and keeps the focus) while others come and go.
  const approvalNodes = new Map();
  function drawApprovals(t) {
    const list = t.approvals || [];
    if (!list.length) { approvalNodes.clear(); approvals.replaceChildren(el("p", { class: "muted" }, "none")); return; }
    const next = list.map(a => {
      const sig = JSON.stringify([a.status, a.note, a.decided_by, a.decided_at, a.approved_input]);
      const known = approvalNodes.get(a.id);
      if (known && known.sig === sig) return known.node;
      const node = approvalNode(a);
      approvalNodes.set(a.id, { sig, node });
      return node;
    });
    next.forEach((node, i) => { if (approvals.children[i] !== node) approvals.insertBefore(node, approvals.children[i] || null); });
    while (approvals.children.length > next.length) approvals.lastChild.remove();
  }
  function approvalNode(a) {
    return el("div", { class: "approval " + a.status, "data-approval": a.id },
      el("div", {}, el("strong", {}, a.tool), " by ", a.agent, " · ", el("span", { class: "decision" }, a.status)),
      el("pre", {}, JSON.stringify(a.input, null, 2)),
      a.reason ? el("p", { class: "muted" }, a.reason) : null,
      a.status === "pending" ? pendingControls(a) : el("div", { class: "decided" },
        el("p", {}, a.status, a.decided_by ? " by " + a.decided_by : "", a.decided_at ? " at " + a.decided_at.replace("T", " ").slice(0, 19) + " UTC" : ""),
        a.approved_input ? el("div", {}, "with the input edited to:", el("pre", {}, JSON.stringify(a.approved_input, null, 2))) : null,
        a.note ? el("p", {}, "note: ", a.note) : null));
  }
  let reported = null;
  function drawReport(t) {
    const key = JSON.stringify([t.answer, t.error, t.status]);
    if (key === reported) return;
    reported = key;
    if (t.answer) {
      const md = t.answer;
      const body = el("div", { class: "report" }, markdown(md));
      // The timeline as it stands when the report is asked for (the steps are all in).
      const asMarkdown = el("button", { class: "download-md", onclick: () => download(t.id + ".md", "text/markdown", md + timelineMarkdown(history)) }, "Download Markdown");
      const asHtml = el("button", { class: "download-html", onclick: () => download(t.id + ".html", "text/html",
        standaloneHtml(t.id + " report", [el("h1", {}, t.id + ": " + (incident ? incident.title : t.task)), markdown(md), el("h2", {}, "Timeline of the investigation"), timelineTable(history)])) }, "Download HTML");
      const shownTimeline = el("details", { class: "report-timeline" }, el("summary", {}, "Timeline of the investigation"));
      shownTimeline.addEventListener("toggle", () => { if (shownTimeline.open) shownTimeline.replaceChildren(shownTimeline.firstChild, timelineTable(history)); });
      // "Turn this investigation into a runbook": written by the team's model into the
      // memory's knowledge files, where the next investigations see it.
      const asRunbook = el("button", { class: "write-runbook" }, "Write runbook");
      asRunbook.addEventListener("click", async () => {
        asRunbook.disabled = true;
        try {
          const r = await api(threadPath(id) + "/runbook", { method: "POST" });
          say("runbook: " + r.runbook, false);
        } catch (e) { say("runbook: " + e.message, true); }
        asRunbook.disabled = false;
      });
      report.replaceChildren(body, shownTimeline, el("p", {}, asMarkdown, " ", asHtml, " ", t.status === "completed" ? asRunbook : null));
    } else if (t.error) report.replaceChildren(el("p", { class: "error-box" }, t.error));
    else report.replaceChildren(el("p", { class: "muted" }, "not yet"));
  }
  const tick = () => { refresh().finally(() => { if (live) timer = setTimeout(tick, missing ? 500 : 2000); }); };
  tick();
  return () => { live = false; clearTimeout(timer); stream.stop(); };
}
