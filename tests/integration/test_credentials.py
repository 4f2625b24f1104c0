"""Credentials and TLS against real servers: a nats-server with authorization (an nkey seed
file, user/password from the environment and from a file), a wrong password (one clear line, a
non-zero exit, no hang; ``record`` goes on recording), a nats-server in decentralised (JWT) mode
with ``.creds`` files (a good one, and unknown, revoked, expired or unusable ones), NATS over
TLS with a throwaway CA and a token file, and PostgreSQL with ``sslmode=verify-full``, a
password from a ``.pgpass`` file and an insert-only role."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import nacl.exceptions
import nkeys
import psycopg
import pytest
import trustme

from inwatch.journal import Journal
from inwatch.journal import server as pg
from inwatch.journal.server import store_name

from .conftest import central_rows, journal_rows, storm, wait_for
from .natsjwt import Operator, claims_id, jwt_decode
from .servers import NatsServer, PgCluster, pg_bindir


class Record:
    """The real ``inwatch record -r ROOT --to URL`` with *env* added to the environment."""

    def __init__(self, tmp: Path, host: str, to: str, env: dict[str, str]) -> None:
        base = tmp / host
        self.root, self.db, self.log = base / "tree", base / "journal.db", base / "record.log"
        self.root.mkdir(parents=True)
        argv = [sys.executable, "-m", "inwatch", "record", "-r", str(self.root)]
        argv += ["--db", str(self.db), "--host", host, "--to", to]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=out, env={**os.environ, **env})
        wait_for(lambda: b"Recording to" in self.log.read_bytes() or self.proc.poll() is not None,
                 60, "record to start")  # fmt: skip
        assert self.proc.poll() is None, self.err()

    def err(self) -> str:
        return self.log.read_text(errors="replace")

    def shipped(self, sink: str, rows: int) -> bool:
        """The journal holds *rows* rows and the sink acknowledged every one (the cursor)."""
        with Journal(self.db, create=False) as j:
            return j.last_seq() == rows and j.cursor(sink) == rows

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


def _collect(url: str, db_url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "inwatch", "collect", "--from", url, "--into", db_url]
    with open(log, "wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=out, env={**os.environ, **env})


def _nkey(tmp: Path) -> tuple[Path, str]:
    """A fresh user nkey: (its seed file, 0600, as nsc writes it; its public key)."""
    seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
    path = tmp / "agent.nk"
    path.write_bytes(seed + b"\n")
    path.chmod(0o600)
    return path, nkeys.from_seed(bytearray(seed)).public_key.decode()


@pytest.fixture
def auth_nats(nats_binary: str, tmp_path: Path) -> Iterator[tuple[NatsServer, Path]]:
    """A nats-server that takes user agent/s3cret and one nkey user; (server, seed file)."""
    seed, public = _nkey(tmp_path)
    server = NatsServer(
        nats_binary,
        "authorization { users = [\n"
        '  { user: agent, password: "s3cret" }\n'
        f'  {{ nkey: "{public}" }}\n'
        "] }\n",
    )
    try:
        yield server.start(), seed
    finally:
        server.close()


def test_nats_credentials_from_env_password_file_and_nkey_seed(auth_nats, pg_url, tmp_path):  # type: ignore[no-untyped-def]
    server, seed = auth_nats
    password = tmp_path / "password"
    password.write_text("s3cret\n")
    password.chmod(0o600)
    user = {"INWATCH_NATS_USER": "agent"}
    ways = {
        "env-password": {**user, "INWATCH_NATS_PASSWORD": "s3cret"},
        "password-file": {**user, "INWATCH_NATS_PASSWORD_FILE": str(password)},
        "nkey": {"INWATCH_NATS_NKEY": str(seed)},
    }
    records = {host: Record(tmp_path, host, server.url, env) for host, env in ways.items()}
    try:
        for i, rec in enumerate(records.values()):
            storm(rec.root, 0, 5 + i)  # CREATE, MODIFY, CLOSE_WRITE each
        for i, (host, rec) in enumerate(records.items()):
            rows = 3 * (5 + i)
            done = lambda rec=rec, rows=rows: rec.shipped("nats:INWATCH", rows)  # noqa: E731
            wait_for(done, 30, f"{host}: {rows} rows acked")
    finally:
        codes = {host: rec.stop() for host, rec in records.items()}
    assert codes == dict.fromkeys(ways, 0), [r.err() for r in records.values()]
    # A collector with the nkey takes every host's rows into PostgreSQL.
    collector = _collect(server.url, pg_url, ways["nkey"], tmp_path / "collect.log")
    try:
        want = sorted(r for rec in records.values() for r in journal_rows(rec.db))
        wait_for(lambda: sorted(central_rows(pg_url)) == want, 60, "every row collected")
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(60) == 0, (tmp_path / "collect.log").read_text()


def test_a_wrong_password_is_one_clear_line_and_a_failure_never_a_hang(auth_nats, tmp_path):  # type: ignore[no-untyped-def]
    server, _ = auth_nats
    wrong = {"INWATCH_NATS_USER": "agent", "INWATCH_NATS_PASSWORD": "wrong"}
    refused = (
        "the server refused the credentials (Authorization Violation; INWATCH_NATS_USER=agent)"
    )
    # collect: nothing it could do; one line, exit 1, at once.
    started = time.monotonic()
    log = tmp_path / "collect.log"
    collector = _collect(server.url, "postgresql://127.0.0.1:1/none", wrong, log)
    try:
        assert collector.wait(30) == 1, log.read_text()
    finally:
        if collector.poll() is None:
            collector.kill()
            collector.wait()
    assert time.monotonic() - started < 20
    lines = log.read_text().splitlines()
    assert lines[1:] == [f"inwatch collect: {server.url}: {refused}"], lines
    # record: the local journal goes on (the documented behaviour for a sink it cannot ship
    # to), the refusal is reported in one line at most every few seconds, and the exit
    # status after SIGTERM is 1: the configuration needs fixing.
    rec = Record(tmp_path, "wrongpw", server.url, wrong)
    try:
        storm(rec.root, 0, 4)
        wait_for(lambda: len(journal_rows(rec.db)) == 12, 30, "12 rows recorded locally")
        wait_for(lambda: refused in rec.err(), 30, "the refusal on stderr")
    finally:
        assert rec.stop() == 1, rec.err()
    reports = [line for line in rec.err().splitlines() if "cannot ship" in line]
    assert reports and all(refused in line and "backlog" in line for line in reports)
    assert rec.err().splitlines()[-1] == f"inwatch record: --to {server.url} (stream INWATCH):" \
        f" cannot connect: {refused}"  # fmt: skip
    assert "12 rows not shipped yet" in rec.err()
    with Journal(rec.db, create=False) as j:
        assert j.cursor("nats:INWATCH") == 0 and j.last_seq() == 12


# -- decentralised authentication: .creds files (user JWT + nkey seed) --------------------------
@pytest.fixture
def jwt_nats(nats_binary: str) -> Iterator[tuple[NatsServer, Operator]]:
    """A nats-server trusting a fresh operator (``resolver: MEMORY``), with the system account
    and the account INWATCH (JetStream enabled) preloaded; (server, operator) — the operator
    writes .creds files for users of INWATCH. Not started: a revocation lives in the account
    JWT the server preloads, so each test makes its users, then calls ``_start_jwt``."""
    operator = Operator()
    operator.account("INWATCH")
    server = NatsServer(nats_binary)
    try:
        yield server, operator
    finally:
        server.close()


def _start_jwt(server: NatsServer, operator: Operator, extra: str = "") -> NatsServer:
    """Write the operator's configuration (as it stands: accounts, revocations) and start."""
    conf = server.dir / "n.conf"
    conf.write_text(conf.read_text() + operator.server_config() + extra)
    return server.start()


async def _stream_count(url: str, creds: Path, stream: str) -> int:
    import nats

    nc = await nats.connect(url, user_credentials=str(creds), allow_reconnect=False)
    try:
        return int((await nc.jetstream(timeout=5).stream_info(stream)).state.messages)
    finally:
        await nc.close()


def test_jwts_are_made_as_nats_io_jwt_makes_them(tmp_path):  # type: ignore[no-untyped-def]
    # Golden: the operator JWT of nats-server's test/configs/nkeys/op.jwt (made by nats-io/jwt
    # v1, whose ClaimsData also held "type"): the same hash gives its jti.
    v1 = {"aud": "TESTS", "exp": 1859121275, "iat": 1543761275,
          "iss": "OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG",
          "name": "Synadia Communications Inc.", "nbf": 1543761275,
          "sub": "OCAT33MTVU2VUOIMGNGUNXJ66AH2RLSDAF3MUBCYAY5QMIL65NQM6XQG",
          "type": "operator"}  # fmt: skip
    assert claims_id(v1) == "XNLZ6XYPHTMDJQRNQOHUOJQGWCU7MI5W5JXCZNXBYUKEQW67I25Q"
    operator = Operator()
    operator.account("INWATCH")
    user = operator.write_creds(tmp_path / "u.creds", "INWATCH", "u", exp=2000000000)
    text = (tmp_path / "u.creds").read_text().splitlines()
    assert (text[0], text[2]) == ("-----BEGIN NATS USER JWT-----", "------END NATS USER JWT------")
    assert text[8:11] == ["-----BEGIN USER NKEY SEED-----", user.seed.decode(),
                          "------END USER NKEY SEED------"]  # fmt: skip
    header, claims = jwt_decode(text[1])
    assert header == {"typ": "JWT", "alg": "ed25519-nkey"}
    assert (claims["iss"], claims["sub"]) == (operator.accounts["INWATCH"].public, user.public)
    assert claims["nats"]["type"] == "user" and claims["nats"]["version"] == 2
    v2 = {k: claims[k] for k in ("exp", "iat", "iss", "name", "sub")}  # ClaimsData, no "nats"
    assert list(claims)[:6] == ["exp", "jti", "iat", "iss", "name", "sub"]
    assert claims["jti"] == claims_id(v2)
    _, account = jwt_decode(operator.account_jwt("INWATCH"))
    assert account["iss"] == operator.key.public and account["nats"]["limits"]["disk_storage"]
    # A token whose claims were altered no longer verifies.
    head, _, sig = text[1].split(".")
    forged = base64.urlsafe_b64encode(json.dumps({**claims, "exp": 0}).encode()).decode()
    with pytest.raises(nacl.exceptions.BadSignatureError):
        jwt_decode(f"{head}.{forged.rstrip('=')}.{sig}")


def test_nats_creds_file_jwt_login_ships_every_row(jwt_nats, pg_url, tmp_path):  # type: ignore[no-untyped-def]
    server, operator = jwt_nats
    agent, collector_creds = tmp_path / "agent.creds", tmp_path / "collect.creds"
    operator.write_creds(agent, "INWATCH", "agent")
    operator.write_creds(collector_creds, "INWATCH", "collector")
    _start_jwt(server, operator, "debug: true\n")  # the server logs each JWT it accepts
    rec = Record(tmp_path, "jwt-host", server.url, {"INWATCH_NATS_CREDS": str(agent)})
    try:
        storm(rec.root, 0, 7)  # CREATE, MODIFY, CLOSE_WRITE each
        wait_for(lambda: rec.shipped("nats:INWATCH", 21), 30, "21 rows acked with a .creds login")
    finally:
        assert rec.stop() == 0, rec.err()
    assert "cannot ship" not in rec.err(), rec.err()
    # The stream (created by the agent in the account INWATCH) holds every row, once.
    assert asyncio.run(_stream_count(server.url, agent, "INWATCH")) == 21
    # A collector logged in as another user of the account takes them into PostgreSQL.
    log = tmp_path / "collect.log"
    collector = _collect(server.url, pg_url, {"INWATCH_NATS_CREDS": str(collector_creds)}, log)
    try:
        want = sorted(journal_rows(rec.db))
        assert len(want) == 21
        wait_for(lambda: sorted(central_rows(pg_url)) == want, 30, "the 21 rows collected")
    finally:
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(60) == 0, log.read_text()
    log = server.log()
    assert "authentication error" not in log, log[-3000:]
    for creds, user in ((agent, "agent"), (collector_creds, "collector")):
        # Each logged in with the user JWT of its .creds file (and not some other way).
        accepted = f'Authenticated JWT: Client "{_user_key(creds)}" (claim-name: "{user}"'
        assert accepted in log, (user, log[-3000:])


def _user_key(creds: Path) -> str:
    """The public key of the user whose JWT *creds* holds."""
    return str(jwt_decode(creds.read_text().splitlines()[1])[1]["sub"])


def test_an_unknown_revoked_or_expired_creds_file_is_refused_like_a_wrong_password(  # type: ignore[no-untyped-def]
    jwt_nats, tmp_path
):
    server, operator = jwt_nats
    kinds = {name: tmp_path / f"{name}.creds" for name in ("unknown", "revoked", "expired")}
    # unknown: a user of an account (under another operator) this server never heard of.
    stranger = Operator()
    stranger.account("INWATCH")
    stranger.write_creds(kinds["unknown"], "INWATCH", "stranger")
    # revoked: the account JWT revokes every JWT of this user issued up to a minute from now.
    revoked = operator.write_creds(kinds["revoked"], "INWATCH", "revoked")
    operator.revoke("INWATCH", revoked, int(time.time()) + 60)
    # expired: a JWT whose exp has passed.
    operator.write_creds(kinds["expired"], "INWATCH", "expired", exp=int(time.time()) - 60)
    _start_jwt(server, operator, "debug: true\n")  # the server logs why it refuses each

    def refused(creds: Path) -> str:
        why = f"Authorization Violation; INWATCH_NATS_CREDS={creds}"
        return f"the server refused the credentials ({why})"

    # collect: one line, exit 1, at once (the first line says what it was going to do).
    for name, creds in kinds.items():
        log = tmp_path / f"collect-{name}.log"
        started = time.monotonic()
        collector = _collect(server.url, "postgresql://127.0.0.1:1/none",
                             {"INWATCH_NATS_CREDS": str(creds)}, log)  # fmt: skip
        try:
            assert collector.wait(30) == 1, (name, log.read_text())
        finally:
            if collector.poll() is None:
                collector.kill()
                collector.wait()
        assert time.monotonic() - started < 20, name
        lines = log.read_text().splitlines()
        assert lines[1:] == [f"inwatch collect: {server.url}: {refused(creds)}"], (name, lines)
    # record: goes on recording locally, reports the refusal, exits 1 when stopped.
    records: dict[str, Record] = {}
    try:
        for name, creds in kinds.items():
            records[name] = Record(tmp_path, name, server.url, {"INWATCH_NATS_CREDS": str(creds)})
            storm(records[name].root, 0, 4)
        for name, rec in records.items():
            wait_for(lambda rec=rec: len(journal_rows(rec.db)) == 12, 30, f"{name}: 12 rows")
            why = refused(kinds[name])
            wait_for(lambda rec=rec, why=why: why in rec.err(), 30, f"{name}: the refusal")
    finally:
        codes = {name: rec.stop() for name, rec in records.items()}
    assert codes == dict.fromkeys(kinds, 1), [r.err() for r in records.values()]
    for name, rec in records.items():
        lines = rec.err().splitlines()
        assert lines[-1] == f"inwatch record: --to {server.url} (stream INWATCH):" \
            f" cannot connect: {refused(kinds[name])}", (name, lines)  # fmt: skip
        assert "12 rows not shipped yet" in rec.err(), (name, rec.err())
        with Journal(rec.db, create=False) as j:
            assert j.cursor("nats:INWATCH") == 0 and j.last_seq() == 12, name
    # The server refused each for the reason meant, not for a flaw in how the JWTs are made.
    log = server.log()
    for reason in ("Account JWT lookup error: account missing", "User authentication revoked",
                   "User JWT no longer valid: &{Issues:[claim is expired]}"):  # fmt: skip
        assert reason in log, (reason, log[-3000:])


def test_a_credentials_file_that_cannot_be_used_is_one_line_before_any_watch(jwt_nats, tmp_path):  # type: ignore[no-untyped-def]
    server, operator = jwt_nats
    _start_jwt(server, operator)
    unreadable, creds = tmp_path / "unreadable.creds", tmp_path / "agent.creds"
    operator.write_creds(unreadable, "INWATCH", "agent")
    unreadable.chmod(0)
    operator.write_creds(creds, "INWATCH", "agent")
    seed = operator.user("INWATCH", "agent")[0].seed.decode()
    seed_file = tmp_path / "agent.nk"  # an nkey seed file (INWATCH_NATS_NKEY's)
    seed_file.write_text(seed + "\n")
    no_jwt = tmp_path / "no-jwt.creds"  # a .creds file whose JWT block was lost
    no_jwt.write_text(f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n")
    (tmp_path / "a-directory").mkdir()
    no_caps = ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]
    not_creds = "is not a NATS .creds file"
    seed_hint = "(one line SU...); a .creds file goes in INWATCH_NATS_CREDS"
    cases = {  # name: (variable, its file, what the line says, argv prefix)
        "missing": ("CREDS", tmp_path / "missing.creds", "(No such file or directory)", []),
        "directory": ("CREDS", tmp_path / "a-directory", "(Is a directory)", []),
        # root reads any file; without CAP_DAC_OVERRIDE (as a hardened service) it cannot.
        "unreadable": ("CREDS", unreadable, "(Permission denied)", no_caps),
        # nats-py 2.16 fails on this one with a TypeError from nkeys, retried for ever...
        "seed as creds": ("CREDS", seed_file, not_creds, []),
        # ... and loops for ever in its event loop looking for the JWT line in this one.
        "no JWT": ("CREDS", no_jwt, not_creds, []),
        # The other way round: ErrInvalidSeed at each connection, retried for ever.
        "creds as seed": ("NKEY", creds, f"is not an nkey user seed file {seed_hint}", []),
    }
    root = tmp_path / "tree"
    root.mkdir()
    for name, (variable, path, says, prefix) in cases.items():
        env = {**os.environ, f"INWATCH_NATS_{variable}": str(path)}
        db = tmp_path / f"{name}.db"
        record = [*prefix, sys.executable, "-m", "inwatch", "record", "-r", str(root), "--db",
                  str(db), "--to", server.url]  # fmt: skip
        collect = [*prefix, sys.executable, "-m", "inwatch", "collect", "--from", server.url,
                   "--into", "postgresql://127.0.0.1:1/none"]  # fmt: skip
        for argv in (record, collect):
            done = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
            command = argv[len(prefix) + 3]
            # One line, status 1; before any watch: no "Setting up watches", no baseline.
            lines = (done.stdout + done.stderr).splitlines()
            assert done.returncode == 1 and len(lines) == 1, (name, command, lines)
            (line,) = lines
            assert line.startswith(f"inwatch {command}: "), (name, line)
            assert str(path) in line and says in line, (name, line)
        with Journal(db, create=False) as j:
            assert j.last_seq() == 0, name


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _tls_files(ca: trustme.CA, where: Path) -> tuple[Path, Path, Path]:
    """(CA file, server certificate, server key) for 127.0.0.1 and localhost."""
    cert = ca.issue_cert("127.0.0.1", "localhost")
    paths = where / "ca.pem", where / "server.pem", where / "server.key"
    ca.cert_pem.write_to_path(str(paths[0]))
    cert.cert_chain_pems[0].write_to_path(str(paths[1]))
    cert.private_key_pem.write_to_path(str(paths[2]))
    return paths


def test_nats_over_tls_with_a_throwaway_ca_and_a_token_file(ca, nats_binary, tmp_path):  # type: ignore[no-untyped-def]
    ca_file, cert, key = _tls_files(ca, tmp_path)
    server = NatsServer(
        nats_binary,
        f'tls {{ cert_file: "{cert}", key_file: "{key}" }}\nauthorization {{ token: "t0k3n" }}\n',
    )
    server.start()
    url = f"tls://127.0.0.1:{server.port}"
    token = tmp_path / "token"
    token.write_text("t0k3n\n")
    try:
        env = {"INWATCH_NATS_TLS_CA": str(ca_file), "INWATCH_NATS_TOKEN_FILE": str(token)}
        rec = Record(tmp_path, "tls-host", url, env)
        try:
            storm(rec.root, 0, 5)
            wait_for(lambda: rec.shipped("nats:INWATCH", 15), 30, "15 rows acked over TLS")
        finally:
            assert rec.stop() == 0, rec.err()
        # Without the CA, the server's certificate does not verify: one line, exit 1.
        log = tmp_path / "collect.log"
        env = {"INWATCH_NATS_TLS_CA": "", "INWATCH_NATS_TOKEN_FILE": str(token)}
        collector = _collect(url, "postgresql://127.0.0.1:1/none", env, log)
        try:
            assert collector.wait(30) == 1, log.read_text()
        finally:
            if collector.poll() is None:
                collector.kill()
                collector.wait()
        (line,) = log.read_text().splitlines()[1:]
        assert "TLS: the server's certificate does not verify" in line, line
        assert "certificate verify failed" in line or "self-signed" in line or "issuer" in line
    finally:
        server.close()


@pytest.fixture(scope="module")
def tls_pg(ca: trustme.CA) -> Iterator[PgCluster]:
    """A PostgreSQL with ssl=on (a certificate from *ca*), where only TLS connections are
    accepted over TCP: the superuser without a password, everyone else with one (scram)."""
    bindir = pg_bindir()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed")
    cluster = PgCluster(bindir)
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cluster.configure(
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
        "password_encryption = 'scram-sha-256'",
        "local all all trust\n"
        "hostssl all postgres 127.0.0.1/32 trust\n"
        "hostssl all all 127.0.0.1/32 scram-sha-256\n",
        {"server.crt": cert.cert_chain_pems[0].bytes(), "server.key": cert.private_key_pem.bytes()},
    )
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()


def test_postgresql_verify_full_pgpass_and_an_insert_only_role(ca, tls_pg, tmp_path):  # type: ignore[no-untyped-def]
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    tls = f"sslmode=verify-full&sslrootcert={ca_file}"
    db = "t_" + uuid.uuid4().hex[:12]
    admin_url = f"postgresql://postgres@127.0.0.1:{tls_pg.port}/postgres?{tls}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {db}")
        conn.execute("CREATE ROLE writer LOGIN PASSWORD 'w-pass'")
    owner_url = admin_url.replace("/postgres?", f"/{db}?")
    with psycopg.connect(owner_url, autocommit=True) as conn:
        assert conn.info.pgconn.ssl_in_use
        pg.ensure_schema(conn)
        conn.execute("GRANT INSERT ON inwatch_events, inwatch_gaps TO writer")
        conn.execute("GRANT SELECT ON inwatch_meta TO writer")
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{tls_pg.port}:{db}:writer:w-pass\n")
    pgpass.chmod(0o600)
    writer_url = f"postgresql://writer@127.0.0.1:{tls_pg.port}/{db}?{tls}"
    rec = Record(tmp_path, "tls-pg", writer_url, {"PGPASSFILE": str(pgpass)})
    try:
        storm(rec.root, 0, 5)
        wait_for(lambda: rec.shipped(store_name(writer_url), 15), 30, "15 rows in PostgreSQL")
    finally:
        assert rec.stop() == 0, rec.err()
    assert "cannot ship" not in rec.err()
    assert sorted(central_rows(owner_url)) == sorted(journal_rows(rec.db))
    # A CA that did not sign the server's certificate: refused, in one line.
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    untrusted = owner_url.replace(str(ca_file), str(other))
    bad = subprocess.run(
        [sys.executable, "-m", "inwatch", "query", "--db", untrusted],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "certificate verify failed" in bad.stderr
