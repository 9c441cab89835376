/**
 * The operator's console: one page served at `GET /console`, its script at
 * `GET /console.js` (./console-script.ts) — no inline script, so the page's CSP
 * allows scripts from the daemon only. The page holds no data and no secret;
 * everything it shows comes from the daemon's own API with the daemon's bearer
 * token (typed in, or given as `/console#token=…`, kept in the tab's
 * sessionStorage): `GET /v1/turn-list` (the turn list as a stream), `GET
 * /v1/turns/:id/events`, `POST /v1/turns/:id/requests/:request_id`, `POST
 * /v1/turns/:id/abort`. Every value is put on the page as text, never as HTML.
 */
/**
 * The page's own headers. Its Content-Security-Policy: scripts from the daemon only,
 * no inline script. Never framed (its buttons answer requests).
 */
export const CONSOLE_HEADERS = {
  "x-frame-options": "DENY",
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "referrer-policy": "no-referrer",
};

export const CONSOLE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>opencode-bridge console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:0;display:flex;height:100vh;color:#222}
#side{width:320px;flex:none;border-right:1px solid #ddd;overflow:auto;padding:8px;box-sizing:border-box;background:#fafafa}
#main{flex:1;min-width:0;overflow:auto;padding:12px 16px;box-sizing:border-box}
h1{font-size:16px;margin:4px 0 8px} h2{font-size:13px;margin:12px 0 4px;color:#666;text-transform:uppercase}
.turn{padding:6px;border-radius:4px;cursor:pointer;margin-bottom:4px;border:1px solid #e4e4e4;background:#fff}
.turn.sel{border-color:#36c;background:#eef3ff} .turn small{color:#777;display:block;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.turn.waiting{border-color:#e9a700}
.badge{font-size:11px;padding:1px 5px;border-radius:8px;background:#ddd;margin-left:4px}
.badge.ask{background:#fc3} .badge.final{background:#bdeabd} .badge.err{background:#f5b5b5} .badge.run{background:#cde}
#banner{display:none;background:#fff3c4;border:1px solid #e9a700;padding:6px 8px;border-radius:6px;margin:0 0 8px}
#banner.on{display:block} #banner a{margin-right:8px;cursor:pointer;color:#036;text-decoration:underline}
.meta{color:#666;font-size:12px;margin:-4px 0 8px} .head{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.head h1{margin:0;overflow-wrap:anywhere} button.abort{background:#fbe3e3;border:1px solid #c33;border-radius:4px}
.delta{white-space:pre-wrap;overflow-wrap:anywhere} .reasoning{white-space:pre-wrap;color:#777;font-style:italic}
.tool{border-left:3px solid #999;padding:4px 8px;margin:6px 0;background:#f6f6f6;font-family:ui-monospace,monospace;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
.tool.error{border-color:#c33} .tool.completed{border-color:#3a3}
.request{border:2px solid #e9a700;background:#fff8e0;padding:8px;margin:8px 0;border-radius:6px}
.request.done{border-color:#aaa;background:#f3f3f3;color:#666} .request .from{font-size:12px;color:#555}
.request .always{font-size:12px;color:#7a5200;margin-top:4px}
.request button{margin:4px 4px 0 0} .request input{width:60%;min-width:12em;max-width:100%;box-sizing:border-box}
.end{margin-top:10px;padding:6px;border-radius:4px} .end.final{background:#e3f6e3} .end.error{background:#fbe3e3}
#tokenbox{margin-bottom:8px} #tokenbox input{width:180px} #status{color:#a00;font-size:12px}
@media (max-width:700px){body{flex-direction:column;height:auto;min-height:100vh}
#side{width:auto;max-height:38vh;border-right:0;border-bottom:1px solid #ddd} #main{padding:8px}}
</style></head><body>
<div id="side"><h1>opencode-bridge</h1>
<div id="tokenbox"><input id="token" type="password" placeholder="bearer token" aria-label="token"> <button id="save">Use</button></div>
<div id="status"></div>
<h2>In flight</h2><div id="running"></div><h2>Recent</h2><div id="recent"></div></div>
<div id="main"><div id="banner" role="alert"></div><p id="hint">Select a turn to follow it.</p><div id="view"></div></div>
<script src="/console.js"></script>
</body></html>
`;
