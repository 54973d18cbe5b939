"""What ticketbot asks the model for each kind of session."""

SYSTEM = {
    "summarize": "You summarize support tickets for the on-call engineer: what the customer "
    "reports, since when, what was tried, in three sentences.",
    "triage": "You triage new support tickets: read the ticket, set its tags with tag_ticket, "
    "and say which team should take it.",
}


def task(route: str, ticket: dict) -> str:
    return f"{route} ticket {ticket['id']}: {ticket['title']}\n\n{ticket['body']}"
