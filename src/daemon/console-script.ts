/**
 * The console's script (served as `GET /console.js`, see ./console.ts). Plain
 * browser JavaScript, no framework. What it keeps true for an operator:
 * - the turn list follows `GET /v1/turn-list`, so every turn is listed, even one
 *   that came and went in a moment; it reconnects after a drop;
 * - a turn waiting for a person is surfaced wherever you are: the tab title
 *   counts the waiting turns, a banner links them, and the view opens the
 *   waiting turn by itself unless the one you follow waits too;
 * - each turn shows its start, duration, model and usage, and can be aborted;
 * - a tool's output is drawn where it happened (after the card that allowed
 *   it); answers are said in words.
 */
export const CONSOLE_JS = String.raw`"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("bridge-token") || "";
const m = /[#&]token=([^&]+)/.exec(location.hash);
if (m) { token = decodeURIComponent(m[1]); sessionStorage.setItem("bridge-token", token); history.replaceState(null, "", location.pathname); }
$("token").value = token;
$("save").onclick = () => { token = $("token").value.trim(); sessionStorage.setItem("bridge-token", token); watchList(); };
const headers = (json) => Object.assign(token ? { authorization: "Bearer " + token } : {}, json ? { "content-type": "application/json" } : {});
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
const turns = new Map();
let following = null, stream = null, listStream = null, autoFollowed = false;
const seen = new Set();

/** Reads an SSE body with fetch (EventSource cannot send a token): onFrame(event, data) per frame. */
async function readSse(r, onFrame) {
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value.replace(/\r\n?/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const frame = buf.slice(0, i); buf = buf.slice(i + 2);
      let event = "message"; const data = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
      }
      if (data.length) onFrame(event, data.join("\n"));
    }
  }
}

async function watchList() {
  if (listStream) listStream.abort();
  const ac = new AbortController(); listStream = ac;
  try {
    // The stream says the whole list at once (event: turns), then its changes as they happen.
    const r = await fetch("/v1/turn-list", { headers: headers(false), signal: ac.signal });
    if (r.status === 401) { $("status").textContent = "The daemon wants its token."; return; }
    if (!r.ok) throw new Error("HTTP " + r.status);
    $("status").textContent = "";
    await readSse(r, (event, data) => {
      const x = JSON.parse(data);
      if (event === "turns") { turns.clear(); for (const t of x.turns) turns.set(t.trace_id, t); }
      else if (event === "turn") turns.set(x.trace_id, x);
      render();
    });
  } catch (e) { if (e.name === "AbortError") return; $("status").textContent = "Cannot reach the daemon: " + e.message; }
  if (listStream === ac) setTimeout(watchList, 1000);
}

const waiting = (t) => t.state === "running" && t.pending_requests && t.pending_requests.length > 0;
const secs = (ms) => ms < 1000 ? ms + " ms" : (ms / 1000).toFixed(1) + " s";
function meta(t) {
  const parts = ["started " + new Date(t.accepted_at).toLocaleTimeString()];
  parts.push(t.duration_ms !== undefined ? "took " + secs(t.duration_ms) : "running for " + secs(Date.now() - Date.parse(t.accepted_at)));
  if (t.model) parts.push(t.model);
  if (t.usage) parts.push(t.usage.input + " in / " + t.usage.output + " out tokens" + (t.usage.reasoning ? " / " + t.usage.reasoning + " reasoning" : ""));
  return parts.join(" · ");
}

function render() {
  const all = [...turns.values()].sort((a, b) => Date.parse(b.accepted_at) - Date.parse(a.accepted_at));
  for (const id of ["running", "recent"]) $(id).replaceChildren();
  for (const t of all) {
    const d = el("div", "turn" + (t.trace_id === following ? " sel" : "") + (waiting(t) ? " waiting" : ""));
    d.dataset.trace = t.trace_id;
    d.append(el("b", "", t.trace_id));
    if (t.state === "running") d.append(el("span", "badge run", "running"));
    else d.append(el("span", "badge " + (t.outcome === "final" ? "final" : "err"), t.outcome));
    if (waiting(t)) d.append(el("span", "badge ask", t.pending_requests.length + " waiting"));
    d.append(el("small", "", t.text || ""));
    d.append(el("small", "", meta(t)));
    d.onclick = () => follow(t.trace_id);
    $(t.state === "running" ? "running" : "recent").append(d);
  }
  const asking = all.filter(waiting);
  document.title = (asking.length ? "(" + asking.length + " waiting) " : "") + "opencode-bridge console";
  const banner = $("banner");
  banner.replaceChildren();
  banner.classList.toggle("on", asking.length > 0);
  if (asking.length) {
    banner.append(el("b", "", asking.length === 1 ? "A turn waits for you: " : asking.length + " turns wait for you: "));
    for (const t of asking) { const a = el("a", "", t.trace_id); a.onclick = () => follow(t.trace_id); banner.append(a); }
  }
  const current = following && turns.get(following);
  // A request that just started waiting opens its turn, unless the turn you follow waits too (then the banner says it).
  const fresh = asking.find((t) => t.pending_requests.some((r) => !seen.has(r.request_id)));
  for (const t of asking) for (const r of t.pending_requests) seen.add(r.request_id);
  if (fresh && !(current && waiting(current))) follow(fresh.trace_id);
  else if (!following && !autoFollowed) { const live = all.find((t) => t.state === "running"); if (live) { autoFollowed = true; follow(live.trace_id); } }
  const now = following && turns.get(following);
  const m2 = now && $("meta"); if (m2) m2.textContent = meta(now);
  const ab = $("abort"); if (ab && now && now.state !== "running") ab.remove();
}

function said(x) {
  const a = x.answer;
  if (!a) return { ended: "Settled: the turn ended first.", elsewhere: "Answered in another OpenCode client.", timeout: "Rejected: nobody answered in time." }[x.by] || "Settled (" + x.by + ").";
  const who = { host: "", policy: " by the policy", nobody: " (nobody could answer)", timeout: " (nobody answered in time)", ended: " (the turn was stopped)" }[x.by] || "";
  if (a.answers) return "Answered" + who + ": " + a.answers.map((xs) => xs.join(", ")).join("; ");
  if (a.reply === "once") return "Allowed once" + who + ".";
  if (a.reply === "always") return "Allowed always" + who + ".";
  return (x.request_kind === "question" ? "Dismissed" : "Rejected") + who + (a.message ? ": " + a.message : ".");
}

async function follow(traceId) {
  if (following === traceId && stream) return;
  if (stream) stream.abort();
  following = traceId;
  $("hint").textContent = "";
  const view = $("view");
  const head = el("div", "head"); head.append(el("h1", "", "Turn " + traceId));
  const t = turns.get(traceId);
  if (!t || t.state === "running") {
    const ab = el("button", "abort", "Abort"); ab.id = "abort";
    ab.onclick = async () => { ab.disabled = true; const r = await fetch("/v1/turns/" + encodeURIComponent(traceId) + "/abort", { method: "POST", headers: headers(false) }); if (!r.ok) ab.textContent = "Abort: HTTP " + r.status; };
    head.append(ab);
  }
  const metaLine = el("div", "meta", t ? meta(t) : ""); metaLine.id = "meta";
  const out = el("div", "out");
  view.replaceChildren(head, metaLine, out);
  for (const d of document.querySelectorAll(".turn")) d.classList.toggle("sel", d.dataset.trace === traceId);
  const ac = new AbortController(); stream = ac;
  const parts = new Map(), calls = new Map(), requests = new Map();
  const onFrame = (event, data) => {
    const x = JSON.parse(data);
    if (event === "reply") {
      if (x.kind === "delta" || x.kind === "reasoning") {
        let p = parts.get(x.part_id);
        if (!p) { p = el("div", x.kind); parts.set(x.part_id, p); out.append(p); }
        p.textContent += x.content;
      } else if (x.kind === "tool_call") {
        calls.set(x.call_id, x);
        out.append(el("div", "tool", "▶ " + x.tool + " " + JSON.stringify(x.input, null, 1)));
      } else if (x.kind === "tool_result") {
        // Drawn where it happened: after the call and after any card that allowed it.
        out.append(el("div", "tool " + (x.status === "completed" ? "completed" : "error"), (x.status === "completed" ? "✔ " + x.tool + "\n" + (x.output || "") : "✘ " + x.tool + ": " + (x.error || ""))));
      } else if (x.kind === "final") {
        out.append(el("div", "end final", "Turn finished (final)."));
      } else if (x.kind === "error") {
        out.append(el("div", "end error", "Turn ended: " + x.code + ": " + x.error));
      }
    } else if (event === "request") {
      const card = requestCard(traceId, x.request);
      requests.set(x.request.request_id, card); out.append(card);
    } else if (event === "request_resolved") {
      const card = requests.get(x.request_id);
      if (card) { card.classList.add("done"); for (const b of card.querySelectorAll("button,input")) b.disabled = true; card.append(el("div", "said", said(x))); }
    }
  };
  try {
    const r = await fetch("/v1/turns/" + encodeURIComponent(traceId) + "/events", { headers: headers(false), signal: ac.signal });
    if (!r.ok) { out.append(el("div", "end error", "Cannot follow: HTTP " + r.status)); return; }
    await readSse(r, onFrame);
  } catch (e) { if (e.name !== "AbortError") out.append(el("div", "end error", "Stream failed: " + e.message)); }
  if (stream === ac) stream = null;
}

function requestCard(traceId, q) {
  const card = el("div", "request");
  card.dataset.request = q.request_id;
  const send = async (answer) => {
    const r = await fetch("/v1/turns/" + encodeURIComponent(traceId) + "/requests/" + encodeURIComponent(q.request_id),
      { method: "POST", headers: headers(true), body: JSON.stringify(answer) });
    if (!r.ok) card.append(el("div", "", "Not taken: HTTP " + r.status + " " + ((await r.json().catch(() => ({}))).error || "")));
  };
  if (q.subagent) card.append(el("div", "from", "From subagent " + ([q.subagent.description, q.subagent.agent].filter(Boolean).join(", ") || q.subagent.session_id)));
  const msg = el("input"); msg.placeholder = "message to the model (with a rejection)";
  if (q.kind === "permission") {
    card.append(el("b", "", "Permission: " + q.permission));
    card.append(el("div", "tool", (q.metadata && q.metadata.command) || q.patterns.join("\n")));
    const b = (label, reply) => { const x = el("button", "", label); x.onclick = () => send(msg.value ? { reply, message: msg.value } : { reply }); card.append(x); };
    b("Allow once", "once"); b("Allow always", "always"); b("Reject", "reject");
    if (q.always && q.always.length) card.append(el("div", "always", "Allow always would allow from now on: " + q.always.join(", ")));
    card.append(el("br")); card.append(msg);
  } else {
    card.append(el("b", "", "Question"));
    const answers = [];
    q.questions.forEach((qq, n) => {
      card.append(el("div", "", (qq.header ? qq.header + ": " : "") + qq.question + (qq.multiple ? " (choose one or more)" : "")));
      answers[n] = [];
      for (const o of qq.options) {
        const x = el("button", "", o.label); x.title = o.description || "";
        x.onclick = () => {
          if (q.questions.length === 1 && !qq.multiple) { send({ answers: [[o.label]] }); return; }
          const i = answers[n].indexOf(o.label);
          if (i >= 0) answers[n].splice(i, 1); else if (qq.multiple) answers[n].push(o.label); else answers[n] = [o.label];
          for (const b2 of x.parentNode.querySelectorAll("button")) b2.style.fontWeight = "";
          x.style.fontWeight = "bold";
        };
        card.append(x);
      }
    });
    if (q.questions.length > 1 || q.questions.some((qq) => qq.multiple)) { const s = el("button", "", "Send answers"); s.onclick = () => send({ answers }); card.append(s); }
    const d = el("button", "", "Dismiss"); d.onclick = () => send({ reply: "reject" }); card.append(d);
  }
  return card;
}
watchList();
setInterval(() => { const t = following && turns.get(following); const m3 = $("meta"); if (t && m3) m3.textContent = meta(t); }, 1000);
`;
