"""The tools ticketbot's agent may call, as JSON schemas sent to the provider."""

LOOKUP_TICKET = {
    "name": "lookup_ticket",
    "description": "The ticket with this id: title, body, customer, status, history.",
    "input_schema": {
        "type": "object",
        "properties": {"id": {"type": "string", "description": "ticket id, e.g. T-1042"}},
        "required": ["id"],
    },
}

TAG_TICKET = {
    "name": "tag_ticket",
    "description": "Set the tags of a ticket (replaces the ones it has).",
    "input_schema": {
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "ticket id"},
            "tags": {"type": "array", "description": "tags, e.g. billing, outage, bug"},
        },
        "required": ["id", "tags"],
    },
}


def tools_for(route: str) -> list[dict]:
    """The tools of a route: summarizing reads; triage also tags."""
    return [LOOKUP_TICKET] if route == "summarize" else [LOOKUP_TICKET, TAG_TICKET]
