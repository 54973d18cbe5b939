"""Sends a built prompt to the provider, with retries."""

import random
import time

RETRY_STATUSES = {429, 500, 503}
MAX_ATTEMPTS = 3


def send(client, prompt: dict) -> dict:
    for attempt in range(1, MAX_ATTEMPTS + 1):
        response = client.post("/v1/chat/completions", json=prompt)
        if response.status_code not in RETRY_STATUSES or attempt == MAX_ATTEMPTS:
            return response.json()
        time.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")
