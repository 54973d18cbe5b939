"""A session store implemented in Python (SQLite here) keeps the transcript of a run that
is killed with SIGKILL mid-tool; a new process resumes the run from it and finishes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Dict, List

import pytest

import sre_harness as sh

STORE = '''
import json, sqlite3
import sre_harness as sh

class SqliteStore(sh.SessionStore):
    """One row per record, committed (and synced) before append returns."""

    def __init__(self, path):
        self.path = path
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS records (session TEXT, n INTEGER, body TEXT, PRIMARY KEY (session, n))")

    def load(self, session_id):
        with sqlite3.connect(self.path) as db:
            rows = db.execute("SELECT body FROM records WHERE session = ? ORDER BY n", (session_id,))
            return [json.loads(body) for (body,) in rows]

    def append(self, session_id, records):
        with sqlite3.connect(self.path) as db:
            db.execute("PRAGMA synchronous=FULL")
            (n,) = db.execute("SELECT COALESCE(MAX(n), 0) FROM records WHERE session = ?", (session_id,)).fetchone()
            db.executemany("INSERT INTO records VALUES (?, ?, ?)",
                           [(session_id, n + 1 + i, json.dumps(r)) for i, r in enumerate(records)])
'''

AGENT = '''
import sys, time
from pathlib import Path
import sre_harness as sh
from store import SqliteStore

work = Path(sys.argv[1])

@sh.tool(description="Wait until the operator says go.", read_only=True)
def wait_for_go() -> str:
    with open(work / "runs", "a") as f:
        f.write("run\\n")
    while not (work / "go").exists():
        time.sleep(0.05)
    return "go given"

script = """
turns:
  - say: Waiting for the operator.
    tool_calls:
      - {tool: wait_for_go, args: {}}
  - expect: {last_message_contains: ["go given"]}
    final: resumed and finished
"""
agent = sh.Agent(script=script, tools=[wait_for_go], session_store=SqliteStore(str(work / "sessions.db")),
                 session_dir=work / "unused")
if sys.argv[2] == "run":
    agent.run_sync("Wait for the go.", session_id="s-1")
else:
    print(agent.resume_sync("s-1").answer)
'''


def records(db: Path) -> List[Dict[str, Any]]:
    with sqlite3.connect(db) as c:
        return [json.loads(b) for (b,) in c.execute("SELECT body FROM records WHERE session = 's-1' ORDER BY n")]


def test_a_python_store_survives_kill_9_and_the_run_resumes_from_it(tmp_path: Path) -> None:
    (tmp_path / "store.py").write_text(STORE)
    (tmp_path / "agent.py").write_text(AGENT)
    run = subprocess.Popen([sys.executable, "agent.py", str(tmp_path), "run"], cwd=tmp_path,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "runs").exists():
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline, "the tool never started"
        time.sleep(0.05)
    run.send_signal(signal.SIGKILL)
    run.wait()
    # What the store kept: the task and the model's message asking for the call, no result
    # (a read-only call needs no started record: it is safe to run again).
    rows = records(tmp_path / "sessions.db")
    kept = [r["record"] for r in rows]
    assert kept == ["start", "task", "message"], kept
    assert "wait_for_go" in json.dumps(rows[-1])
    (tmp_path / "go").write_text("")
    resumed = subprocess.run([sys.executable, "agent.py", str(tmp_path), "resume"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "resumed and finished"
    # The call, safe to repeat (read-only), ran again on resume; the transcript is whole.
    assert (tmp_path / "runs").read_text().count("run") == 2
    after = records(tmp_path / "sessions.db")
    assert len(after) > len(kept)
    assert "go given" in json.dumps(after)


def test_two_agents_sharing_a_store_do_not_write_one_session_at_once(tmp_path: Path) -> None:
    import threading

    class Memory(sh.SessionStore):
        def __init__(self) -> None:
            self.sessions: Dict[str, List[Dict[str, Any]]] = {}

        def load(self, session_id: str) -> List[Dict[str, Any]]:
            return list(self.sessions.get(session_id, []))

        def append(self, session_id: str, records: List[Dict[str, Any]]) -> None:
            self.sessions.setdefault(session_id, []).extend(records)

    release = threading.Event()

    @sh.tool(description="Wait.")
    def hold() -> str:
        release.wait(30)
        return "held"

    store = Memory()
    script = "turns:\n  - tool_calls:\n      - {tool: hold, args: {}}\n  - final: done\n"
    first = sh.Agent(script=script, tools=[hold], session_store=store, session_dir=tmp_path / "a")
    second = sh.Agent(script=script, tools=[hold], session_store=store, session_dir=tmp_path / "b")
    result: Dict[str, Any] = {}
    t = threading.Thread(target=lambda: result.update(o=first.run_sync("go", session_id="shared")))
    t.start()
    while "hold" not in json.dumps(store.sessions.get("shared", [])):
        time.sleep(0.02)
    with pytest.raises(sh.SessionError, match="busy|another run"):
        second.run_sync("go too", session_id="shared")
    release.set()
    t.join(30)
    assert result["o"].answer == "done"


def test_a_store_that_fails_fails_the_run_with_a_session_error(tmp_path: Path) -> None:
    class Broken(sh.SessionStore):
        def load(self, session_id: str) -> List[Dict[str, Any]]:
            return []

        def append(self, session_id: str, records: List[Dict[str, Any]]) -> None:
            raise OSError("disk full")

    class Garbage(sh.SessionStore):
        def load(self, session_id: str) -> List[Dict[str, Any]]:
            return [{"record": "nonsense"}]

    class NotDicts(sh.SessionStore):
        def load(self, session_id: str) -> List[Dict[str, Any]]:
            return ["text"]  # type: ignore[list-item]

        def append(self, session_id: str, records: List[Dict[str, Any]]) -> None:
            pass

        def append(self, session_id: str, records: List[Dict[str, Any]]) -> None:
            pass

    agent = sh.Agent(script="turns:\n  - final: x\n", session_store=Broken(), session_dir=tmp_path / "a")
    with pytest.raises(sh.SessionError, match="OSError: disk full"):
        agent.run_sync("hi")
    agent = sh.Agent(script="turns:\n  - final: x\n", session_store=Garbage(), session_dir=tmp_path / "b")
    with pytest.raises(sh.SessionError, match="record 0 is not a session record"):
        agent.run_sync("hi")
    agent = sh.Agent(script="turns:\n  - final: x\n", session_store=NotDicts(), session_dir=tmp_path / "c")
    with pytest.raises(sh.SessionError, match="must return a list of dicts"):
        agent.run_sync("hi")
    with pytest.raises(sh.ConfigError, match="session_store must be an sre_harness.SessionStore"):
        sh.Agent(script="turns: []", session_store=object())  # type: ignore[arg-type]
