"""Alert rules over the gateway's request log (one dict per request: model, prompt_tokens,
cached_tokens, time, deploy_version)."""

# Page when a model's prompt-cache hit rate (cached / prompt tokens) falls below this.
HIT_RATE_FLOOR = 0.5


def cache_hit_rates(requests: list[dict]) -> dict[str, float]:
    """Hit rate per model."""
    totals: dict[str, list[int]] = {}
    for r in requests:
        t = totals.setdefault(r["model"], [0, 0])
        t[0] += r["prompt_tokens"]
        t[1] += r["cached_tokens"]
    return {m: (c / p if p else 0.0) for m, (p, c) in totals.items()}


def cache_hit_rate_alerts(requests: list[dict], floor: float = HIT_RATE_FLOOR) -> list[str]:
    """One alert per model whose hit rate is below `floor`."""
    return [
        f"prompt-cache hit rate of {m} is {rate:.0%} (floor {floor:.0%})"
        for m, rate in sorted(cache_hit_rates(requests).items())
        if rate < floor
    ]
