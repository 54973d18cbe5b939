"""Prompt builder of the gateway: the model and messages of each route."""

from gateway.context import tenant_context
from gateway.sections import INSTRUCTIONS, POLICIES, TOOL_GUIDE

ANSWER_MODEL = "gpt-4.1"
CLASSIFY_MODEL = "gpt-4.1-mini"

CATEGORIES = """Classify the question of a tenant's engineer into exactly one category:
- deployments: rollouts, replicas, images, crashes of a service
- databases: managed databases, connections, slow queries, backups, replication
- queues: queue depth, consumers, message age, dead letters
- billing: invoices, prices, usage charges, credits
- quotas: limits per region, quota increases
- incidents: platform outages, status page, degraded products
- other: anything else
Answer with the category name only."""


def answer_messages(req: dict) -> dict:
    """The answer route. The tenant context comes before the policies, so that the
    policies read as applying to the tenant just named."""
    system = "\n\n".join([INSTRUCTIONS, TOOL_GUIDE, tenant_context(req), POLICIES])
    return {
        "model": ANSWER_MODEL,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": req["question"]},
        ],
    }


def classify_messages(req: dict) -> dict:
    """The classify route, on the small model."""
    return {
        "model": CLASSIFY_MODEL,
        "messages": [
            {"role": "system", "content": CATEGORIES},
            {"role": "user", "content": req["question"]},
        ],
    }


def build(req: dict) -> dict:
    return answer_messages(req) if req["route"] == "answer" else classify_messages(req)
