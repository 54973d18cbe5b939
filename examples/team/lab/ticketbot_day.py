"""A day of ticketbot's agent sessions, as its code at REPO would run them: one JSON object
per line, in time order (session_id, time, route, system, task, tools, model, stream,
timeout_s, max_attempts), for `sre-lab ticketbot-day`. Deterministic: the day's tickets
come from its date.

    python3 ticketbot_day.py REPO 2026-11-15 > sessions.jsonl

Every 15 minutes a support engineer opens a ticket in the console (one in three is a new
ticket to triage, the others are summarized); at 02:00 the nightly digest summarizes the
30 open tickets (ticketbot/batch.py). Two tickets of the day carry a pasted log.
"""

import datetime as dt
import json
import sys

sys.path.insert(0, sys.argv[1])
from ticketbot import batch, config, routes, tools  # noqa: E402

TITLES = [
    "Checkout returns 502 for some customers",
    "Invoice shows the wrong VAT rate",
    "Cannot rotate API key from the dashboard",
    "Webhook deliveries delayed by minutes",
    "Export to CSV misses the last page",
    "Login loop after enabling SSO",
    "Search results stale since yesterday",
    "Mobile app crashes on the orders screen",
]
LOG = "\n".join(
    f"2026-11-14T23:{m:02d}:07Z ERROR worker-3 orders.sync: upstream timeout after 30000 ms "
    f"(attempt {m % 4 + 1}, order batch {4100 + m})" for m in range(30)
)


def ticket(day: dt.date, n: int, long: bool = False) -> dict:
    k = day.toordinal() * 131 + n
    body = (f"Customer {k % 997} reports: {TITLES[k % len(TITLES)].lower()}. "
            f"Started around {(k % 12) + 1}:00 UTC; {k % 40 + 3} users affected. "
            "They tried clearing caches and a second browser.")
    if long:
        body += "\n\nPasted log:\n" + LOG
    return {"id": f"T-{k % 100000:05d}", "title": TITLES[k % len(TITLES)], "body": body}


def session(sid: str, at: dt.datetime, route: str, t: dict) -> dict:
    return {
        "session_id": sid,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "route": route,
        "system": routes.SYSTEM[route],
        "task": routes.task(route, t),
        "tools": tools.tools_for(route),
        "model": config.MODEL,
        "stream": config.STREAM,
        "timeout_s": config.REQUEST_TIMEOUT_S,
        "max_attempts": config.MAX_ATTEMPTS,
    }


def main() -> None:
    day = dt.date.fromisoformat(sys.argv[2])
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=dt.timezone.utc)
    out = []
    for slot in range(96):
        route = "triage" if slot % 3 == 0 else "summarize"
        t = ticket(day, slot, long=slot in (38, 71))
        out.append((midnight + dt.timedelta(minutes=15 * slot), 0, route, t))
    open_tickets = [ticket(day, 1000 + i) for i in range(30)]
    for at, t in batch.schedule(day, open_tickets):
        out.append((at, 1, "summarize", t))
    out.sort(key=lambda s: (s[0], s[1]))
    for i, (at, kind, route, t) in enumerate(out):
        name = "digest" if kind else route
        print(json.dumps(session(f"{name}-{day:%m%d}-{i + 1:03d}", at, route, t)))


if __name__ == "__main__":
    main()
