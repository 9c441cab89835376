/**
 * The operator's console: one self-contained page served at `GET /console`.
 * The page holds no data and no secret; everything it shows comes from the
 * daemon's own API with the daemon's bearer token (typed in, or given as
 * `/console#token=…`, kept in the tab's sessionStorage): `GET /v1/turns` (polled),
 * `GET /v1/turns/:id/events` (read with fetch, since EventSource cannot send a
 * token), `POST /v1/turns/:id/requests/:request_id`, `POST /v1/turns/:id/abort`.
 * No framework; every value is put on the page as text, never as HTML.
 */
export const CONSOLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>opencode-bridge console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;display:flex;height:100vh;color:#222}
#side{width:320px;border-right:1px solid #ddd;overflow:auto;padding:8px;box-sizing:border-box;background:#fafafa}
#main{flex:1;overflow:auto;padding:12px 16px}
h1{font-size:16px;margin:4px 0 8px} h2{font-size:13px;margin:12px 0 4px;color:#666;text-transform:uppercase}
.turn{padding:6px;border-radius:4px;cursor:pointer;margin-bottom:4px;border:1px solid #e4e4e4;background:#fff}
.turn.sel{border-color:#36c;background:#eef3ff} .turn small{color:#777;display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.badge{font-size:11px;padding:1px 5px;border-radius:8px;background:#ddd;margin-left:4px}
.badge.ask{background:#fc3} .badge.final{background:#bdeabd} .badge.err{background:#f5b5b5} .badge.run{background:#cde}
.delta{white-space:pre-wrap} .reasoning{white-space:pre-wrap;color:#777;font-style:italic}
.tool{border-left:3px solid #999;padding:4px 8px;margin:6px 0;background:#f6f6f6;font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap}
.tool.error{border-color:#c33} .tool.completed{border-color:#3a3}
.request{border:2px solid #e9a700;background:#fff8e0;padding:8px;margin:8px 0;border-radius:6px}
.request.done{border-color:#aaa;background:#f3f3f3;color:#666}
.request button{margin:4px 4px 0 0} .request input{width:60%}
.end{margin-top:10px;padding:6px;border-radius:4px} .end.final{background:#e3f6e3} .end.error{background:#fbe3e3}
#tokenbox{margin-bottom:8px} #tokenbox input{width:180px} #status{color:#a00;font-size:12px}
</style></head><body>
<div id="side"><h1>opencode-bridge</h1>
<div id="tokenbox"><input id="token" type="password" placeholder="bearer token" aria-label="token"> <button id="save">Use</button></div>
<div id="status"></div>
<h2>In flight</h2><div id="running"></div><h2>Recent</h2><div id="recent"></div></div>
<div id="main"><p id="hint">Select a turn to follow it.</p><div id="view"></div></div>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
let token = sessionStorage.getItem("bridge-token") || "";
const m = /[#&]token=([^&]+)/.exec(location.hash);
if (m) { token = decodeURIComponent(m[1]); sessionStorage.setItem("bridge-token", token); history.replaceState(null, "", location.pathname); }
$("token").value = token;
$("save").onclick = () => { token = $("token").value.trim(); sessionStorage.setItem("bridge-token", token); refresh(); };
const headers = (json) => Object.assign(token ? { authorization: "Bearer " + token } : {}, json ? { "content-type": "application/json" } : {});
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };
let following = null, stream = null, autoFollowed = false;

async function refresh() {
  try {
    const r = await fetch("/v1/turns", { headers: headers(false) });
    if (r.status === 401) { $("status").textContent = "The daemon wants its token."; return; }
    const body = await r.json();
    $("status").textContent = "";
    render(body.turns || []);
  } catch (e) { $("status").textContent = "Cannot reach the daemon: " + e.message; }
}
function render(turns) {
  for (const id of ["running", "recent"]) $(id).replaceChildren();
  for (const t of turns) {
    const d = el("div", "turn" + (t.trace_id === following ? " sel" : ""));
    d.dataset.trace = t.trace_id;
    d.append(el("b", "", t.trace_id));
    if (t.state === "running") d.append(el("span", "badge run", "running"));
    else d.append(el("span", "badge " + (t.outcome === "final" ? "final" : "err"), t.outcome));
    if (t.pending_requests && t.pending_requests.length) d.append(el("span", "badge ask", t.pending_requests.length + " waiting"));
    d.append(el("small", "", t.text || ""));
    d.onclick = () => follow(t.trace_id);
    $(t.state === "running" ? "running" : "recent").append(d);
  }
  const live = turns.find((t) => t.state === "running");
  if (!following && live && !autoFollowed) { autoFollowed = true; follow(live.trace_id); }
}

async function follow(traceId) {
  if (stream) stream.abort();
  following = traceId;
  $("hint").textContent = "";
  const view = $("view");
  view.replaceChildren(el("h1", "", "Turn " + traceId));
  const out = el("div", "out"); view.append(out);
  for (const d of document.querySelectorAll(".turn")) d.classList.toggle("sel", d.dataset.trace === traceId);
  const ac = new AbortController(); stream = ac;
  const parts = new Map(), tools = new Map(), requests = new Map();
  const onFrame = (event, data) => {
    const x = JSON.parse(data);
    if (event === "reply") {
      if (x.kind === "delta" || x.kind === "reasoning") {
        let p = parts.get(x.part_id);
        if (!p) { p = el("div", x.kind); parts.set(x.part_id, p); out.append(p); }
        p.textContent += x.content;
      } else if (x.kind === "tool_call") {
        const b = el("div", "tool", "▶ " + x.tool + " " + JSON.stringify(x.input, null, 1));
        tools.set(x.call_id, b); out.append(b);
      } else if (x.kind === "tool_result") {
        const b = tools.get(x.call_id) || out.appendChild(el("div", "tool", x.tool));
        b.classList.add(x.status === "completed" ? "completed" : "error");
        b.append(el("div", "", (x.status === "completed" ? "✔ " + (x.output || "") : "✘ " + (x.error || ""))));
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
      if (card) { card.classList.add("done"); for (const b of card.querySelectorAll("button,input")) b.disabled = true;
        card.append(el("div", "", "Answered (" + x.by + ")" + (x.answer ? ": " + JSON.stringify(x.answer) : ""))); }
    } else if (event === "done") { refresh(); }
  };
  try {
    const r = await fetch("/v1/turns/" + encodeURIComponent(traceId) + "/events", { headers: headers(false), signal: ac.signal });
    if (!r.ok) { out.append(el("div", "end error", "Cannot follow: HTTP " + r.status)); return; }
    const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value.replace(/\\r\\n?/g, "\\n");
      let i;
      while ((i = buf.indexOf("\\n\\n")) >= 0) {
        const frame = buf.slice(0, i); buf = buf.slice(i + 2);
        let event = "message"; const data = [];
        for (const line of frame.split("\\n")) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) onFrame(event, data.join("\\n"));
      }
    }
  } catch (e) { if (e.name !== "AbortError") out.append(el("div", "end error", "Stream failed: " + e.message)); }
}

function requestCard(traceId, q) {
  const card = el("div", "request");
  card.dataset.request = q.request_id;
  const send = async (answer) => {
    const r = await fetch("/v1/turns/" + encodeURIComponent(traceId) + "/requests/" + encodeURIComponent(q.request_id),
      { method: "POST", headers: headers(true), body: JSON.stringify(answer) });
    if (!r.ok) card.append(el("div", "", "Not taken: HTTP " + r.status + " " + ((await r.json().catch(() => ({}))).error || "")));
  };
  const msg = el("input"); msg.placeholder = "message to the model (with a rejection)";
  if (q.subagent) card.append(el("div", "from", "From subagent " + ([q.subagent.description, q.subagent.agent].filter(Boolean).join(", ") || q.subagent.session_id)));
  if (q.kind === "permission") {
    card.append(el("b", "", "Permission: " + q.permission));
    card.append(el("div", "tool", (q.metadata && q.metadata.command) || q.patterns.join("\\n")));
    if (q.always && q.always.length) card.append(el("div", "always", "Allow always would allow from now on: " + q.always.join(", ")));
    const b = (label, reply) => { const x = el("button", "", label); x.onclick = () => send(msg.value ? { reply, message: msg.value } : { reply }); card.append(x); };
    b("Allow once", "once"); b("Allow always", "always"); b("Reject", "reject");
    card.append(el("br")); card.append(msg);
  } else {
    card.append(el("b", "", "Question"));
    const answers = [];
    q.questions.forEach((qq, n) => {
      card.append(el("div", "", (qq.header ? qq.header + ": " : "") + qq.question));
      answers[n] = [];
      for (const o of qq.options) {
        const x = el("button", "", o.label); x.title = o.description || "";
        x.onclick = () => { if (q.questions.length === 1) send({ answers: [[o.label]] }); else { answers[n] = [o.label]; x.style.fontWeight = "bold"; } };
        card.append(x);
      }
    });
    if (q.questions.length > 1) { const s = el("button", "", "Send answers"); s.onclick = () => send({ answers }); card.append(s); }
    const d = el("button", "", "Dismiss"); d.onclick = () => send({ reply: "reject" }); card.append(d);
  }
  return card;
}
refresh();
setInterval(refresh, 2000);
</script></body></html>
`;
