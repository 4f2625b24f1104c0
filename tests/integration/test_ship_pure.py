"""The pure parts of shipping (wire format, URLs, credentials, LIKE patterns) and the Shipper's
cursor and backlog logic against a scripted sink, on a real journal file."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inwatch import Event, Mask
from inwatch.journal import Journal, wire
from inwatch.journal._optional import MissingExtraError, require
from inwatch.journal.natsconn import parse_nats_url
from inwatch.journal.server import glob_to_like
from inwatch.journal.ship import Shipper, SinkError

from .conftest import journal_rows, storm, wait_for


def _values(**kw: object) -> tuple[object, ...]:
    row = dict.fromkeys(wire.COLUMNS)
    row.update(
        host="h",
        journal_id="j1",
        seq=7,
        time_ns=123,
        op="CREATE",
        path=b"/a",
        is_dir=False,
        origin="kernel",
    )
    row.update(kw)
    return tuple(row[c] for c in wire.COLUMNS)


def test_wire_round_trip_keeps_bytes_exact():
    values = _values(
        path=b"/srv/caf\xe9\xff",
        src_path=b"/srv/ok",
        digest=bytes(range(32)),
        inode=2**64 - 1,
        actor_user="root",
        size=0,
    )
    payload = wire.encode(values)
    assert b"path_b64" in payload and b'"src_path":"/srv/ok"' in payload
    assert wire.decode(payload) == values
    assert wire.decode(wire.encode(_values())) == _values()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\xff", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"v":"2"}', "format '2'"),
        (b'{"v":"1","host":"h"}', "missing journal_id, seq, time_ns, op, path"),
        (
            b'{"v":"1","host":"h","journal_id":"j","seq":"1","time_ns":1,"op":"x","path":"/"}',
            "integers",
        ),
    ],
)
def test_wire_refuses_what_it_cannot_read(payload, message):
    with pytest.raises(wire.WireError, match=message):
        wire.decode(payload)


def test_subject_and_message_id():
    assert wire.subject_for("web1.example.com") == "inwatch.web1_example_com.events"
    assert wire.subject_for("a*b>c d") == "inwatch.a_b_c_d.events"
    assert wire.msg_id("web1.example.com", "j1", 42) == "web1.example.com:j1:42"


def test_glob_to_like():
    assert glob_to_like(b"/srv/*.log") == (b"/srv/%.log", False)
    assert glob_to_like(b"/a_b%c?") == (b"/a\\_b\\%c_", False)
    assert glob_to_like(b"/x/[ab]1") == (b"/x/_1", True)
    assert glob_to_like(b"/x/[a") == (b"/x/[a", False)


def test_nats_urls():
    t = parse_nats_url("nats://n1:4222,n2,nats://n3:5222", env={})
    assert t.servers == ("nats://n1:4222", "nats://n2:4222", "nats://n3:5222")
    assert parse_nats_url("tls://n1", env={}).tls
    with pytest.raises(ValueError, match="never taken from the command line"):
        parse_nats_url("nats://u:secret@n1:4222")
    with pytest.raises(ValueError, match="expected nats://"):
        parse_nats_url("http://n1")


def test_nats_credentials_come_from_env_or_files(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    env = {"INWATCH_NATS_USER": "agent", "INWATCH_NATS_PASSWORD_FILE": str(pw)}
    opts = parse_nats_url("nats://n1", env=env).connect_options()
    assert (opts["user"], opts["password"]) == ("agent", "s3cret")
    opts = parse_nats_url("nats://n1", env={"INWATCH_NATS_TOKEN": "t"}).connect_options()
    assert opts["token"] == "t"
    env = {"INWATCH_NATS_CREDS": str(tmp_path / "missing.creds")}
    with pytest.raises(ValueError, match="cannot read"):
        parse_nats_url("nats://n1", env=env).connect_options()
    with pytest.raises(ValueError, match="INWATCH_NATS_PASSWORD or INWATCH_NATS_PASSWORD_FILE"):
        parse_nats_url("nats://n1", env={"INWATCH_NATS_USER": "a"}).connect_options()


def test_a_missing_extra_names_the_pip_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "nats", None)  # import nats -> ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'inwatch\[nats\]'"):
        require("nats")


class ScriptedSink:
    """Takes at most ``accept`` rows per send, then fails; ``down`` fails everything."""

    name = "scripted"

    def __init__(self) -> None:
        self.got: list[int] = []
        self.accept: int | None = None
        self.down = False
        #: Everything delivered, in order: ("row", seq) and ("gap", gap_id, end_ns).
        self.log: list[tuple[object, ...]] = []

    def display(self) -> str:
        return "scripted://"

    def send(self, rows):
        if self.down:
            raise SinkError("connection refused")
        n = len(rows) if self.accept is None else min(self.accept, len(rows))
        self.got += [r.seq for r in rows[:n]]
        self.log += [("row", r.seq) for r in rows[:n]]
        if n < len(rows):
            raise SinkError("no acknowledgement", n)

    def send_gaps(self, gaps):
        if self.down:
            raise SinkError("connection refused")
        self.log += [("gap", g.gap_id, g.end_ns) for g in gaps]

    def close(self) -> None:
        pass


def _journal(tmp_path: Path, n: int) -> Journal:
    j = Journal(tmp_path / "j.db", host="h")
    now = time.time()
    j.append(
        Event(
            -1,
            int(Mask.CREATE),
            0,
            f"f{i}",
            str(tmp_path),
            time=now,
            pathname=str(tmp_path / f"f{i}"),
        )
        for i in range(n)
    )
    return j


def _wait(pred, what):
    deadline = time.monotonic() + 10
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_shipper_advances_the_cursor_past_acknowledged_rows_only(tmp_path):
    j = _journal(tmp_path, 50)
    sink = ScriptedSink()
    sink.accept = 7  # every send is half acknowledged
    err = io.StringIO()
    sh = Shipper(j, sink, batch=20, poll=0.01, backoff=(0.001, 0.002), stderr=err).start()
    try:
        _wait(lambda: j.cursor("scripted") == 50, "all rows")
        assert sink.got == list(range(1, 51))  # in order, each once: the prefix rule
        assert sh.stop(1.0) is True
    finally:
        j.close()


def test_shipper_reports_the_backlog_and_resumes(tmp_path):
    j = _journal(tmp_path, 30)
    sink = ScriptedSink()
    sink.down = True
    err = io.StringIO()
    sh = Shipper(j, sink, poll=0.01, backoff=(0.001, 0.005), report_every=0.2, stderr=err)
    sh.start()
    try:
        _wait(lambda: err.getvalue().count("backlog") >= 2, "two backlog reports")
        started = time.monotonic()
        _wait(lambda: err.getvalue().count("backlog") >= 4, "four backlog reports")
        assert time.monotonic() - started >= 0.3  # at most one report per report_every
        line = err.getvalue().splitlines()[0]
        assert "cannot ship to scripted://: connection refused; backlog 30 rows" in line
        assert j.cursor("scripted") == 0
        sink.down = False
        _wait(lambda: "caught up" in err.getvalue(), "the caught-up line")
        assert sink.got == list(range(1, 31))
        assert sh.stop(1.0) is True
    finally:
        j.close()


def test_shipper_stop_says_what_stays_behind(tmp_path):
    j = _journal(tmp_path, 5)
    sink = ScriptedSink()
    sink.down = True
    err = io.StringIO()
    sh = Shipper(j, sink, poll=0.01, backoff=(0.001, 0.005), stderr=err).start()
    try:
        _wait(lambda: sh.error is not None, "the first failure")
        assert sh.stop(0.2) is False
        assert "5 rows not shipped yet; they stay in the journal" in err.getvalue()
        assert j.cursor("scripted") == 0
    finally:
        j.close()
    # A new Shipper on the reopened journal starts from the durable cursor.
    j = Journal(tmp_path / "j.db")
    try:
        sink.down = False
        sh = Shipper(j, sink, poll=0.01, stderr=err).start()
        _wait(lambda: j.cursor("scripted") == 5, "the restart to ship")
        assert sh.stop(1.0) is True
    finally:
        j.close()


def test_an_agent_whose_cluster_is_unreachable_records_reports_and_stops(procs):
    from .servers import free_port

    agent = procs.agent("lonely", f"nats://127.0.0.1:{free_port()}").start()
    storm(agent.root, 0, 20)
    wait_for(lambda: len(journal_rows(agent.db)) == 40, 30, "local recording")
    wait_for(lambda: "backlog 40 rows" in agent.err(), 30, "the backlog report")
    started = time.monotonic()
    assert agent.stop() == 0
    assert time.monotonic() - started < 12  # one more try (a bounded connect), then out
    assert "40 rows not shipped yet; they stay in the journal" in agent.err()


def _event(tmp_path: Path, name: str, mask: int = int(Mask.CREATE), origin: str = "kernel"):
    return Event(-1, mask, 0, name, str(tmp_path), origin=origin, time=time.time())  # type: ignore[arg-type]


def test_gap_wire_round_trip_and_refusals():
    gap = wire.GapRow("web1", "j1", 3, 10, 20, "overflow", "the kernel queue overflowed")
    payload = wire.encode_gap(gap)
    assert wire.decode_any(payload) == gap
    assert wire.decode_any(wire.encode(_values())) == _values()
    assert wire.gap_msg_id(gap) == "web1:j1:gap:3:20"
    with pytest.raises(wire.WireError, match="not an event row"):
        wire.decode(payload)  # an older reader's entry point refuses it, never misreads it
    with pytest.raises(wire.WireError, match="gap without end_ns"):
        wire.decode_any(b'{"v":"1","type":"gap","host":"h","journal_id":"j","gap_id":1,'
                        b'"start_ns":1,"kind":"crash","detail":""}')  # fmt: skip
    with pytest.raises(wire.WireError, match="unknown message type"):
        wire.decode_any(b'{"v":"1","type":"what"}')


def _gap_after_rows(log: list[tuple[object, ...]], gap_id: int, last_seq: int) -> bool:
    """Every row up to *last_seq* is delivered before the first delivery of gap *gap_id*."""
    at = next(i for i, e in enumerate(log) if e[0] == "gap" and e[1] == gap_id)
    before = {e[1] for e in log[:at] if e[0] == "row"}
    return set(range(1, last_seq + 1)) <= before


def test_shipper_sends_each_gap_after_the_events_committed_before_it(tmp_path):
    j = _journal(tmp_path, 10)
    j.add_gap(1, 2, "downtime", "nothing recorded")  # gap 1, after rows 1..10
    j.append([_event(tmp_path, f"g{i}") for i in range(5)])
    sink = ScriptedSink()
    sink.down = True
    err = io.StringIO()
    sh = Shipper(j, sink, batch=4, poll=0.01, linger=0.01, backoff=(0.001, 0.005), stderr=err)
    sh.start()
    try:
        _wait(lambda: sh.error is not None, "the first failure")
        sink.down = False
        _wait(lambda: j.cursor("scripted") == 15 and sh.gap_cursor == 1, "rows and gap 1")
        assert _gap_after_rows(sink.log, 1, 10)
        # A gap committed while the Shipper runs, between two batches of rows.
        j.append([_event(tmp_path, f"h{i}") for i in range(7)])
        j.add_gap(3, 4, "crash", "record ended without stopping")
        j.append([_event(tmp_path, f"k{i}") for i in range(3)])
        sh.wake()
        _wait(lambda: j.cursor("scripted") == 25 and sh.gap_cursor == 2, "rows and gap 2")
        assert _gap_after_rows(sink.log, 2, 22)
        assert sink.got == list(range(1, 26))  # each row once, in order
        assert [e[1] for e in sink.log if e[0] == "gap"] == [1, 2]
        assert j.cursor("scripted#gaps") == 2  # durable, next to the rows' cursor
        assert sh.stop(1.0) is True
    finally:
        j.close()


def test_a_growing_overflow_gap_is_shipped_again_with_its_new_end(tmp_path):
    j = _journal(tmp_path, 3)
    sink = ScriptedSink()
    sh = Shipper(j, sink, poll=0.01, linger=0.01, stderr=io.StringIO()).start()
    try:
        j.append([_event(tmp_path, "", int(Mask.Q_OVERFLOW))])
        sh.wake()
        _wait(lambda: any(e[0] == "gap" for e in sink.log), "the overflow gap")
        (first,) = j.gaps()
        # The rescan after the overflow extends the gap (Store._gap_bookkeeping).
        time.sleep(0.002)  # a later time stamp than the overflow's
        j.append([_event(tmp_path, f"r{i}", origin="rescan") for i in range(4)])
        (grown,) = j.gaps()
        assert grown.end_ns > first.end_ns
        sh.wake()
        _wait(lambda: ("gap", 1, grown.end_ns) in sink.log, "the grown gap")
        assert [e for e in sink.log if e[0] == "gap"] == [
            ("gap", 1, first.end_ns),
            ("gap", 1, grown.end_ns),
        ]
        assert _gap_after_rows(sink.log, 1, 4)
        assert sh.stop(1.0) is True
    finally:
        j.close()
    # After a restart the newest overflow gap is sent once more (the sinks drop the copy:
    # same message id, same primary key); nothing else is.
    j = Journal(tmp_path / "j.db")
    try:
        sink.log.clear()
        sh = Shipper(j, sink, poll=0.01, linger=0.01, stderr=io.StringIO()).start()
        _wait(lambda: sink.log == [("gap", 1, grown.end_ns)], "the one re-send")
        assert sh.stop(1.0) is True
    finally:
        j.close()


_WITHOUT = """
import sys
sys.modules[{module!r}] = None  # as if the extra were not installed: import fails
from inwatch.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    ("module", "argv", "extra"),
    [
        ("nats", ["record", "-r", "{root}", "--db", "{db}", "--to", "nats://127.0.0.1:1"], "nats"),
        ("psycopg", ["record", "{root}", "--db", "{db}", "--to", "postgresql://h/db"], "postgres"),
        ("nats", ["collect", "--from", "nats://h:1", "--into", "postgresql://h/db"], "nats"),
        ("psycopg", ["collect", "--from", "nats://h:1", "--into", "postgresql://h/db"], "postgres"),
        ("psycopg", ["query", "--db", "postgresql://h/db"], "postgres"),
    ],
)
def test_the_commands_name_the_missing_extra_in_one_line(tmp_path, module, argv, extra):
    root = tmp_path / "tree"
    root.mkdir()
    argv = [a.format(root=root, db=tmp_path / "j.db") for a in argv]
    res = subprocess.run(
        [sys.executable, "-c", _WITHOUT.format(module=module), *argv],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 1, res
    (line,) = [x for x in res.stderr.splitlines() if x.startswith("inwatch")][-1:]
    assert f"pip install 'inwatch[{extra}]'" in line, res.stderr
    assert "Traceback" not in res.stderr
    assert "Watches established" not in res.stderr  # refused before any watch is set up
