// The sre console: the report (Markdown read into DOM nodes), its standalone HTML and
// Markdown downloads, and the incident's timeline chart (SVG built node by node).
// Text from the server only ever becomes text nodes.
"use strict";

function markdown(text) {
  // Headings, lists, code blocks, paragraphs, `code` and **bold**. Text stays text.
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

function clock(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? "" : new Date(t).toISOString().slice(11, 19);
}

// The investigation's timeline: [{at, agent, what}] as a table.
function timelineTable(rows) {
  return el("table", { class: "timeline" },
    el("tr", {}, el("th", {}, "time (UTC)"), el("th", {}, "agent"), el("th", {}, "step")),
    ...rows.map(r => el("tr", {}, el("td", {}, clock(r.at)), el("td", {}, r.agent), el("td", {}, r.what))));
}

function timelineMarkdown(rows) {
  const cell = (s) => String(s).replace(/\|/g, "\\|").replace(/\n/g, " ");
  return "\n\n## Timeline of the investigation\n\n| time (UTC) | agent | step |\n|---|---|---|\n" +
    rows.map(r => "| " + [clock(r.at), r.agent, r.what].map(cell).join(" | ") + " |").join("\n") + "\n";
}

function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  el("a", { href: url, download: name }).click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// A standalone HTML document of `nodes` (copied; their text was set as text, so the
// serializer escapes it), with the console's style inlined: it opens anywhere, offline.
function standaloneHtml(title, nodes) {
  const doc = document.implementation.createHTMLDocument(title);
  const meta = doc.createElement("meta");
  meta.setAttribute("charset", "utf-8");
  doc.head.prepend(meta);
  const csp = doc.createElement("meta");
  csp.setAttribute("http-equiv", "Content-Security-Policy");
  csp.setAttribute("content", "default-src 'none'; style-src 'unsafe-inline'");
  doc.head.append(csp);
  const style = doc.createElement("style");
  style.textContent = "body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}" +
    "pre{white-space:pre-wrap;background:#f6f8fa;padding:.4rem}code{background:#f6f8fa}" +
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #d0d7de;vertical-align:top}";
  doc.head.append(style);
  for (const n of nodes) doc.body.append(doc.importNode(n, true));
  return "<!doctype html>\n" + doc.documentElement.outerHTML;
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(typeof c === "string" ? document.createTextNode(c) : c);
  return e;
}

// The incident's timeline: the alert (fired, repeats, resolved), the investigation's steps
// and the approvals (asked, decided), on one time axis. `d` = {alert, steps, approvals, now}.
function chart(d) {
  const times = [d.now];
  if (d.alert) times.push(d.alert.fired, d.alert.last || d.alert.fired, d.alert.resolved || d.alert.fired);
  for (const s of d.steps) times.push(s.at);
  for (const a of d.approvals) times.push(a.asked, a.decided || a.asked);
  const ok = times.map(Date.parse).filter(t => !Number.isNaN(t));
  const t0 = Math.min(...ok), t1 = Math.max(...ok, t0 + 1000);
  const W = 720, left = 110, right = 12, lane = 26, top = 8;
  const x = (iso) => left + (Date.parse(iso) - t0) / (t1 - t0) * (W - left - right);
  const lanes = ["alert", "investigation", "approvals"];
  const H = top + lanes.length * lane + 22;
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "chart", "aria-label": "Timeline of the incident" });
  lanes.forEach((name, i) => {
    const y = top + i * lane + lane / 2;
    g.append(svg("text", { x: 4, y: y + 4, class: "lane-name" }, name),
      svg("line", { x1: left, x2: W - right, y1: y, y2: y, class: "axis" }));
  });
  const y = (i) => top + i * lane + lane / 2;
  if (d.alert) {
    const end = d.alert.resolved || d.now;
    g.append(svg("line", { x1: x(d.alert.fired), x2: x(end), y1: y(0), y2: y(0), class: d.alert.resolved ? "span resolved" : "span firing" }));
    g.append(svg("circle", { cx: x(d.alert.fired), cy: y(0), r: 5, class: "mark fired" }, svg("title", {}, "fired " + d.alert.fired)));
    if (d.alert.resolved) g.append(svg("circle", { cx: x(d.alert.resolved), cy: y(0), r: 5, class: "mark resolved" }, svg("title", {}, "resolved " + d.alert.resolved)));
  }
  for (const s of d.steps) {
    if (Number.isNaN(Date.parse(s.at))) continue;
    g.append(svg("rect", { x: x(s.at) - 1.5, y: y(1) - 7, width: 3, height: 14, class: "tick " + s.cls }, svg("title", {}, clock(s.at) + " " + s.what)));
  }
  for (const a of d.approvals) {
    const end = a.decided || d.now;
    g.append(svg("rect", { x: x(a.asked), y: y(2) - 5, width: Math.max(3, x(end) - x(a.asked)), height: 10, class: "ask " + a.status },
      svg("title", {}, a.tool + " " + a.status + (a.by ? " by " + a.by : ""))));
  }
  g.append(svg("text", { x: left, y: H - 4, class: "tick-label" }, clock(new Date(t0).toISOString())),
    svg("text", { x: W - right, y: H - 4, class: "tick-label end" }, clock(new Date(t1).toISOString())));
  return g;
}
