"""A PostgreSQL primary with a synchronous standby, for the failover tests and
benchmarks/bench_failover.py (tests/server/pg_support.py has the one shared
server of the ordinary PostgreSQL tests; a failover kills servers, so it gets
its own). Imported by module name: ``tests/`` is on ``sys.path``.

The binaries come from the ``pgserver`` package. As root, PostgreSQL refuses
to run, so (as pgserver itself does) every server command runs as the
unprivileged ``pgserver`` user. Each server listens on a unix socket in a
directory of its own and on no TCP port: nothing leaves the machine, and two
servers need no free ports (both use the default port number in different
directories).

The replication is the one docs/deployment.md describes: streaming from a
physical replication slot, ``synchronous_standby_names`` naming the standby,
``synchronous_commit = on``, so a commit returns only once the standby has
flushed it. "Killing the primary" SIGKILLs its whole process group (the
postmaster and every backend, as when its machine dies); "promoting" is
``pg_ctl promote`` on the standby.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Final

from pg_orphans import claim, reap_orphans

STANDBY_NAME: Final = "studio_standby"
"""The standby's ``application_name``, named in the primary's ``synchronous_standby_names``."""

_COMMON_SETTINGS: Final = """
listen_addresses = ''
port = 5432
max_connections = 60
shared_buffers = 16MB
wal_level = replica
max_wal_senders = 4
max_replication_slots = 4
hot_standby = on
synchronous_commit = on
wal_receiver_status_interval = 1s
# a standby whose primary went away tries again soon (default 5 s)
wal_retrieve_retry_interval = 100ms
# The tests kill PostgreSQL processes, never the machine: data written to the
# kernel survives them, so fsync would only slow the tests down. Production
# keeps fsync on (docs/deployment.md).
fsync = off
"""


def _pg_bin() -> Path:
    try:
        import pgserver
    except ImportError as exc:  # the test extra brings it
        raise RuntimeError(
            f"the PostgreSQL binaries come from the 'pgserver' package ({exc}): "
            "pip install -e '.[test]'"
        ) from None
    return Path(pgserver.__file__).parent / "pginstall" / "bin"


def _system_user() -> str | None:
    """The user the servers run as: ``pgserver`` (created if needed) when we are root."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():  # pgserver warns of a missing XDG_RUNTIME_DIR it won't use
        warnings.simplefilter("ignore")
        from pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


class PgNode:
    """One PostgreSQL server: its data directory, socket directory and log."""

    def __init__(self, root: Path, name: str, user: str | None) -> None:
        self.name = name
        self.data = root / name
        self.socket_dir = root / f"{name}-socket"
        self.log = root / f"{name}.log"
        self._user = user
        self._bin = _pg_bin()
        self.socket_dir.mkdir()
        self._own(self.socket_dir)

    def _own(self, path: Path) -> None:
        if self._user is not None:
            shutil.chown(path, self._user, self._user)

    def run(self, tool: str, *args: str, timeout: float = 60) -> str:
        """Run a PostgreSQL tool as the server's user; its output (stderr in the error)."""
        done = subprocess.run(
            [str(self._bin / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            user=self._user,
            cwd=self.data.parent,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{tool} {' '.join(args)} failed ({done.returncode}):\n{done.stderr}\n"
                f"{self.log_tail()}"
            )
        return done.stdout

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def configure(self, settings: str) -> None:
        """Append to postgresql.auto.conf (read last: its settings win)."""
        with (self.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(settings)

    def start(self) -> None:
        self.log.touch()
        self._own(self.log)
        self.run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def stop(self) -> None:
        """Stop at once (no checkpoint: the data directory is thrown away)."""
        if self.pid() is not None:
            self.run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection to it is cut."""
        self.run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", "fast", "-w", "-t", "60",
            "restart",
        )  # fmt: skip

    def pid(self) -> int | None:
        """The postmaster's pid while it runs."""
        import psutil

        try:
            pid = int((self.data / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            alive = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return None
        return pid if alive else None

    def kill(self) -> None:
        """SIGKILL the postmaster and all its processes (pg_ctl made it the
        leader of a process group of its own), as when the machine dies."""
        import psutil

        pid = self.pid()
        if pid is None:
            raise RuntimeError(f"PostgreSQL {self.name} is not running")
        children = psutil.Process(pid).children(recursive=True)
        os.killpg(pid, signal.SIGKILL)
        for proc in [psutil.Process(pid), *children]:
            try:
                proc.kill()  # in case one had left the group
            except psutil.NoSuchProcess:
                pass
        deadline = time.monotonic() + 10
        while self.pid() is not None:  # a zombie nobody reaps counts as dead
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL {self.name} survived SIGKILL")
            time.sleep(0.01)
        # Where nobody reaps orphans (pid 1 of some containers), the dead
        # postmaster stays a zombie that a restart would take for a running
        # server: its lock files go (it is dead, as the loop above checked).
        (self.data / "postmaster.pid").unlink(missing_ok=True)
        (self.socket_dir / ".s.PGSQL.5432.lock").unlink(missing_ok=True)

    def dsn(self, database: str = "postgres") -> str:
        return f"host={self.socket_dir} port=5432 user=postgres dbname={database}"

    def query(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn(database), autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql)
            return cur.fetchall() if cur.description is not None else []


class ReplicatedPostgres:
    """A primary streaming to a synchronous standby (:meth:`start`); the
    failover is :meth:`kill_primary` then :meth:`promote_standby`."""

    def __init__(self, root: Path | None = None) -> None:
        if root is None:
            reap_orphans()  # servers of an earlier run that was killed
            root = Path(tempfile.mkdtemp(prefix="studio-pg-repl-"))
            claim(root)
        self.root = root
        os.chmod(self.root, 0o755)  # the servers' user must reach its directories
        self._user = _system_user()
        self.primary = PgNode(self.root, "primary", self._user)
        self.standby = PgNode(self.root, "standby", self._user)

    def start(self, *, with_standby: bool = True) -> ReplicatedPostgres:
        primary, standby = self.primary, self.standby
        primary.data.mkdir(mode=0o700)
        primary._own(primary.data)
        primary.run(
            "initdb", "-D", str(primary.data), "-U", "postgres", "--auth=trust",
            "--encoding=utf8", "--no-sync",
        )  # fmt: skip
        sync_names = f"'{STANDBY_NAME}'" if with_standby else "''"
        primary.configure(
            f"{_COMMON_SETTINGS}unix_socket_directories = '{primary.socket_dir}'\n"
            f"synchronous_standby_names = {sync_names}\n"
        )
        primary.start()
        if not with_standby:
            return self
        # A copy of the primary that follows it from a replication slot (-C -S):
        # the primary keeps the WAL the standby has not received yet.
        standby.data.mkdir(mode=0o700)
        standby._own(standby.data)
        primary.run(
            "pg_basebackup", "-D", str(standby.data), "-d", primary.dsn(), "-X", "stream",
            "-C", "-S", STANDBY_NAME, "--no-sync",
        )  # fmt: skip
        (standby.data / "standby.signal").touch()
        standby._own(standby.data / "standby.signal")
        # The standby starts out with no standby of its own: once promoted it
        # must not wait for one (a manager such as Patroni sets this).
        standby.configure(
            f"unix_socket_directories = '{standby.socket_dir}'\n"
            "synchronous_standby_names = ''\n"
            f"primary_conninfo = '{primary.dsn()} application_name={STANDBY_NAME}'\n"
            f"primary_slot_name = '{STANDBY_NAME}'\n"
        )
        standby.start()
        self.wait_synchronous()
        return self

    def wait_synchronous(self, timeout: float = 30) -> None:
        """Until the primary reports the standby as its synchronous one."""
        deadline = time.monotonic() + timeout
        while True:
            rows = self.primary.query(
                "SELECT sync_state FROM pg_stat_replication WHERE application_name = "
                f"'{STANDBY_NAME}'"
            )
            if rows and rows[0][0] == "sync":
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the standby did not become synchronous: {rows}\n{self.standby.log_tail()}"
                )
            time.sleep(0.05)

    def dsn(self, database: str) -> str:
        """The multi-host DSN a server uses: both servers, the writable one wins."""
        return (
            f"host={self.primary.socket_dir},{self.standby.socket_dir} port=5432,5432 "
            f"user=postgres dbname={database} target_session_attrs=read-write "
            "connect_timeout=5"
        )

    def create_database(self, name: str) -> str:
        self.primary.query(f'CREATE DATABASE "{name}"')
        return name

    def kill_primary(self) -> None:
        self.primary.kill()

    def promote_standby(self) -> None:
        """``pg_ctl promote``: the standby ends recovery and accepts writes."""
        self.standby.run("pg_ctl", "-D", str(self.standby.data), "-w", "-t", "60", "promote")

    def close(self) -> None:
        for node in (self.standby, self.primary):
            try:
                node.stop()
            except (RuntimeError, subprocess.TimeoutExpired):
                if node.pid() is not None:
                    node.kill()
        shutil.rmtree(self.root, ignore_errors=True)
