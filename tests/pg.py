"""A throwaway PostgreSQL + PostGIS cluster for tests, on a local Unix socket.

:func:`start_cluster` runs ``initdb`` in a fresh temporary folder, starts the server with
no TCP listener (``listen_addresses = ''``, a socket in the same folder), creates the
``postgis`` extension in database ``anju`` and returns a :class:`Cluster` whose
``url`` the store connects to; :meth:`Cluster.stop` stops it and removes the folder.

``initdb`` refuses to run as root, so as root the cluster runs as ``nobody`` (through
``runuser``); the folder is made readable to it. :func:`find_binaries` finds the newest
Debian PostgreSQL (``/usr/lib/postgresql/<major>/bin``) that also has PostGIS installed;
tests skip, saying what to install, only when there is none (``scripts/test.sh`` installs
the packages when run as root, as on CI).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "anju"
DATABASE = "anju"


def find_binaries() -> tuple[Path | None, str]:
    """The ``bin`` folder of the newest PostgreSQL with PostGIS, or (None, why not)."""
    if not PG_ROOT.is_dir():
        return (
            None,
            f"PostgreSQL is not installed ({PG_ROOT} missing): apt-get install postgresql postgis",
        )
    majors = sorted(
        (p for p in PG_ROOT.iterdir() if p.name.isdigit() and (p / "bin" / "initdb").is_file()),
        key=lambda p: int(p.name),
        reverse=True,
    )
    if not majors:
        return None, f"no initdb under {PG_ROOT}/*/bin: apt-get install postgresql"
    for major in majors:
        control = Path(f"/usr/share/postgresql/{major.name}/extension/postgis.control")
        if control.is_file():
            return major / "bin", ""
    return None, (
        f"PostGIS is not installed for PostgreSQL {majors[0].name}: "
        f"apt-get install postgresql-{majors[0].name}-postgis-3"
    )


@dataclass
class Cluster:
    """A running throwaway cluster."""

    root: Path
    bindir: Path
    socket_dir: Path
    port: int
    as_user: str | None

    @property
    def url(self) -> str:
        """libpq URL of database ``anju`` over the socket (no password: trust, local only)."""
        return f"postgresql://{SUPERUSER}@/{DATABASE}?host={self.socket_dir}&port={self.port}"

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", self.as_user, "--"] if self.as_user else []) + list(args)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            ),
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster(bindir: Path, *, port: int = 5432) -> Cluster:
    """initdb + start a cluster in a new temporary folder; create database and PostGIS.

    Raises
    ------
    RuntimeError
        With initdb's or the server's own words when it does not start.
    """
    root = Path(tempfile.mkdtemp(prefix="anju-pg-"))
    as_user = None
    if os.geteuid() == 0:
        as_user = "nobody"
        ids = pwd.getpwnam(as_user)
        os.chmod(root, 0o755)
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if as_user:
        os.chown(sock, ids.pw_uid, ids.pw_gid)
        data.mkdir(mode=0o700)
        os.chown(data, ids.pw_uid, ids.pw_gid)
        (root / "log").touch()
        os.chown(root / "log", ids.pw_uid, ids.pw_gid)
    cluster = Cluster(root, bindir, sock, port, as_user)

    def run(*args: str) -> None:
        res = subprocess.run(cluster._cmd(*args), capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise RuntimeError(
                f"{Path(args[0]).name} failed: {res.stderr.strip() or res.stdout.strip()}"
            )

    try:
        run(
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        opts = (
            f"-c listen_addresses='' -c unix_socket_directories={sock} -p {port} "
            "-c fsync=off -c full_page_writes=off -c max_connections=40"
        )
        run(
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            opts,
            "-l",
            str(root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        env_url = f"postgresql://{SUPERUSER}@/postgres?host={sock}&port={port}"
        _psql(bindir, env_url, f"CREATE DATABASE {DATABASE}")
        _psql(bindir, cluster.url, "CREATE EXTENSION postgis")
    except BaseException:
        log = root / "log"
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        cluster.stop()
        if tail:
            raise RuntimeError(f"PostgreSQL did not start; server log:\n{tail}") from None
        raise
    return cluster


def _psql(bindir: Path, url: str, sql: str) -> None:
    for attempt in range(20):
        res = subprocess.run(
            [str(bindir / "psql"), url, "-v", "ON_ERROR_STOP=1", "-qc", sql],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if res.returncode == 0:
            return
        if "starting up" not in res.stderr:
            raise RuntimeError(f"psql {sql!r}: {res.stderr.strip()}")
        time.sleep(0.25 * (attempt + 1))
    raise RuntimeError(f"psql {sql!r}: the server did not accept connections")
