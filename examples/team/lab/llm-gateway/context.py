"""The per-request section of an answer prompt: who asks, when, and what they run."""


def tenant_context(req: dict) -> str:
    t = req["tenant"]
    lines = [
        "# Context",
        f"Tenant: {t['id']} ({t['name']}), {t['plan']} plan, region {t['region']}.",
        f"Time of the question: {req['time']}.",
        "Products: " + ", ".join(t["products"]) + ".",
        "Open support tickets: " + (", ".join(t["tickets"]) or "none") + ".",
        "Recent activity of the tenant (newest first):",
    ]
    lines += [f"- {a}" for a in t["activity"]]
    return "\n".join(lines)
