import datetime as dt
import unittest

from ticketbot.batch import schedule
from ticketbot.routes import task
from ticketbot.tools import tools_for


class RoutesTest(unittest.TestCase):
    def test_triage_can_tag_and_summarize_cannot(self):
        self.assertEqual([t["name"] for t in tools_for("summarize")], ["lookup_ticket"])
        self.assertEqual([t["name"] for t in tools_for("triage")], ["lookup_ticket", "tag_ticket"])

    def test_the_task_names_the_ticket(self):
        self.assertTrue(task("summarize", {"id": "T-1", "title": "x", "body": "y"}).startswith("summarize ticket T-1"))

    def test_the_digest_starts_at_two(self):
        (at, _), = schedule(dt.date(2026, 11, 15), [{"id": "T-1"}])
        self.assertEqual(at.hour, 2)


if __name__ == "__main__":
    unittest.main()
