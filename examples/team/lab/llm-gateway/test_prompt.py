import unittest

from gateway.alerts import cache_hit_rate_alerts
from gateway.prompt import ANSWER_MODEL, CLASSIFY_MODEL, build

TENANT = {"id": "t-1", "name": "Initech", "plan": "team", "region": "eu-west",
          "products": ["postgres"], "tickets": [], "activity": ["deployed api v12"]}


class PromptTest(unittest.TestCase):
    def test_answer_route_uses_the_large_model_with_the_tenant_context(self):
        p = build({"route": "answer", "tenant": TENANT, "time": "2026-11-02T09:00:00Z",
                   "question": "Why is api slow?"})
        self.assertEqual(p["model"], ANSWER_MODEL)
        self.assertIn("Tenant: t-1 (Initech)", p["messages"][0]["content"])
        self.assertEqual(p["messages"][1], {"role": "user", "content": "Why is api slow?"})

    def test_classify_route_uses_the_small_model(self):
        p = build({"route": "classify", "question": "Why is my bill higher?"})
        self.assertEqual(p["model"], CLASSIFY_MODEL)


class AlertTest(unittest.TestCase):
    def test_a_model_below_the_floor_alerts(self):
        log = [{"model": "m", "prompt_tokens": 2000, "cached_tokens": 400}]
        self.assertEqual(cache_hit_rate_alerts(log), ["prompt-cache hit rate of m is 20% (floor 50%)"])


if __name__ == "__main__":
    unittest.main()
