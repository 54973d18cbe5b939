"""The nightly digest: every open ticket summarized at 02:00 UTC for the morning shift."""

import datetime as dt

START = dt.time(2, 0)
# Seconds between two sessions of the batch.
BATCH_INTERVAL_S = 0


def schedule(day: dt.date, tickets: list[dict]) -> list[tuple[dt.datetime, dict]]:
    """When each ticket's summary session starts."""
    t0 = dt.datetime.combine(day, START, tzinfo=dt.timezone.utc)
    return [(t0 + dt.timedelta(seconds=i * BATCH_INTERVAL_S), t) for i, t in enumerate(tickets)]
