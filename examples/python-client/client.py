#!/usr/bin/env python3
"""A daemon client in Python (standard library only).

Starts a turn on `opencode-bridge serve` and prints its replies as they stream
from GET /v1/turns/<trace_id>/events (Server-Sent Events), until `done`.

    BRIDGE_TOKEN=... python3 client.py "[scenario:tool] run the tool"

Environment: BRIDGE_URL (default http://127.0.0.1:4141), BRIDGE_TOKEN.
Exit status: 0 the turn ended final, 1 it ended error or the daemon refused.
"""
import json
import os
import sys
import urllib.error
import urllib.request
import uuid

BASE = os.environ.get("BRIDGE_URL", "http://127.0.0.1:4141").rstrip("/")
TOKEN = os.environ.get("BRIDGE_TOKEN")


def request(method, path, body=None, accept="application/json"):
    headers = {"Accept": accept}
    if TOKEN:
        headers["Authorization"] = f"Bearer {TOKEN}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return urllib.request.urlopen(urllib.request.Request(BASE + path, data=data, headers=headers, method=method), timeout=600)


def sse_events(response):
    """Yield (event, data) pairs of a text/event-stream response, as the SSE spec frames them."""
    event, data = "message", []
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith(":"):
            continue  # a comment (heartbeat)
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


def main():
    text = sys.argv[1] if len(sys.argv) > 1 else "[scenario:tool] Run the tool, please."
    trace_id = f"py-{uuid.uuid4().hex[:8]}"
    try:
        started = json.load(request("POST", "/v1/turns", {"text": text, "trace_id": trace_id}))
    except urllib.error.HTTPError as err:
        print(f"the daemon refused the turn: HTTP {err.code}: {err.read().decode()}", file=sys.stderr)
        return 1
    except urllib.error.URLError as err:
        print(f"cannot reach the daemon at {BASE}: {err.reason}", file=sys.stderr)
        return 1
    print(f"turn {started['trace_id']} in session {started['session_id']}")
    outcome = "error"
    with request("GET", f"/v1/turns/{trace_id}/events", accept="text/event-stream") as stream:
        for event, data in sse_events(stream):
            payload = json.loads(data)
            if event == "reply":
                kind = payload["kind"]
                if kind in ("delta", "reasoning"):
                    print(f"{payload['seq']:>3} {kind:<11} {payload['content']!r}")
                elif kind == "tool_call":
                    print(f"{payload['seq']:>3} tool_call   {payload['tool']} {json.dumps(payload['input'])}")
                elif kind == "tool_result":
                    print(f"{payload['seq']:>3} tool_result {payload['tool']} {payload['status']}")
                elif kind == "final":
                    print(f"{payload['seq']:>3} final       {payload['content']!r}")
                elif kind == "error":
                    print(f"{payload['seq']:>3} error       {payload['code']}: {payload['error']}")
            elif event == "done":
                outcome = payload["outcome"]
                print(f"done: {outcome} after {payload['replies']} replies")
                break
    return 0 if outcome == "final" else 1


if __name__ == "__main__":
    sys.exit(main())
