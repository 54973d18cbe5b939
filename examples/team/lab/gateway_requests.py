"""The gateway's incoming requests over two weeks, deterministic (no randomness): one JSON
object per line, in time order, each with its route (`answer` on the large model,
`classify` on the small one), tenant, time and question.

    python3 gateway_requests.py START_DATE DAYS > requests-in.jsonl
"""

import datetime as dt
import json
import sys

TENANTS = [
    ("t-1042", "Initech", "business", "eu-west", ["kubernetes", "postgres", "queues"]),
    ("t-2210", "Globex", "enterprise", "us-east", ["kubernetes", "postgres", "object-storage"]),
    ("t-3307", "Umbrella", "team", "eu-central", ["kubernetes", "queues"]),
    ("t-4481", "Hooli", "enterprise", "us-west", ["kubernetes", "postgres", "queues", "cdn"]),
    ("t-5120", "Vandelay", "team", "ap-south", ["postgres", "object-storage"]),
    ("t-6634", "Stark", "business", "eu-west", ["kubernetes", "cdn"]),
]
ACTIVITY = [
    "rolled out deployment api to image api:{n} (3/3 replicas ready)",
    "scaled deployment worker from {m} to {n} replicas",
    "database orders-db reached {n}% of its connection limit",
    "queue invoices had {n} messages waiting at peak, oldest {m} s",
    "alert rule p99-latency fired on api (p99 {n}0 ms)",
    "rolled back deployment checkout to revision {m}",
    "raised the CPU quota in its region to {n} vCPU",
    "invoice for last month issued: {n}{m} USD",
    "slow query on orders-db: {n}0 ms mean over {m} calls",
    "opened ticket #{n}{m} about intermittent 502s on the ingress",
    "rotated the credentials of service account deployer-{m}",
    "cdn cache hit ratio at {n}% for static assets",
    "backup of orders-db completed in {m} min ({n} GiB)",
    "node pool general-{m} upgraded to version 1.{n}",
]
QUESTIONS = [
    "Why did the p99 latency of api go up this morning, and is it our deployment or your platform?",
    "Our invoice is higher than last month. Which product grew, and by how much?",
    "The worker deployment keeps restarting. What do the logs say about the last crash?",
    "Are we close to any quota in our region? We plan to double the worker replicas.",
    "orders-db feels slow since yesterday. Which queries got slower?",
    "Is there an incident affecting queues in our region right now?",
    "How many messages are waiting in the invoices queue, and since when?",
    "Can you explain the egress line on our invoice?",
]


def tenant_at(i: int, t: tuple) -> dict:
    tid, name, plan, region, products = t
    activity = [
        ACTIVITY[(i + k) % len(ACTIVITY)].format(n=(i * 7 + k * 3) % 90 + 10, m=(i + k) % 9 + 1)
        for k in range(36)
    ]
    tickets = [f"#{4000 + i % 37}"] if i % 3 == 0 else []
    return {"id": tid, "name": name, "plan": plan, "region": region,
            "products": products, "tickets": tickets, "activity": activity}


def main() -> None:
    start = dt.datetime.fromisoformat(sys.argv[1]).replace(tzinfo=dt.timezone.utc)
    days = int(sys.argv[2])
    i = 0
    for day in range(days):
        for slot in range(24):
            # One request an hour: two of three on the answer route, one on classify.
            at = start + dt.timedelta(days=day, hours=slot, minutes=(i * 17) % 60)
            route = "classify" if slot % 3 == 2 else "answer"
            req = {"time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "route": route,
                   "question": QUESTIONS[i % len(QUESTIONS)]}
            if route == "answer":
                req["tenant"] = tenant_at(i, TENANTS[i % len(TENANTS)])
            print(json.dumps(req))
            i += 1


if __name__ == "__main__":
    main()
