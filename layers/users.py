"""The user store: accounts, roles and the audit trail in one SQLite file.

No server is needed: the file (``users.sqlite`` beside the plan directory, or the path in
``ANJU_USERS``) holds two tables, ``users`` and ``audit``.  Passwords are stored as
``scrypt`` hashes (standard library, a random 16-byte salt per user); the plaintext is
never written anywhere.

Roles
-----
``leader``
    every aggregate page.
``bureau:transport``, ``bureau:water``, ``bureau:health``
    the bureau's own page and layers.
``planner``
    the coverage and relocation pages, and scenario runs.
``admin``
    users and the audit trail.

The personal-data permission (``personal``) is separate from the role: only it unlocks
household names, ID numbers and phones.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layers.errors import AnjuError

ROLES = ("leader", "bureau:transport", "bureau:water", "bureau:health", "planner", "admin")

#: scrypt cost: 2**14 x 8 (16 MiB, about 50 ms), the parameters OWASP lists as a minimum.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1

#: Failed sign-ins (per user name, or per address) allowed within the window.
MAX_FAILURES = 5
FAILURE_WINDOW_S = 15 * 60

MIN_PASSWORD_LEN = 8

USERS_FILE = "users.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    personal INTEGER NOT NULL DEFAULT 0,
    pw_hash TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    user TEXT,
    ip TEXT,
    action TEXT NOT NULL,
    what TEXT,
    numbers TEXT,
    ok INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS audit_ts ON audit (ts);
"""


_READY: set[str] = set()


class UserStoreError(AnjuError, ValueError):
    """A user, role or password the store refuses (the message says which and why)."""


@dataclass(frozen=True)
class User:
    """One account (never carries the password hash out of the store)."""

    name: str
    role: str
    personal: bool = False


@dataclass(frozen=True)
class AuditRow:
    ts: float
    user: str | None
    ip: str | None
    action: str
    what: str | None
    numbers: dict[str, Any] | None
    ok: bool


def default_path(plan_dir: Path | str | None = None) -> Path:
    """Where the store lives: ``ANJU_USERS``, else ``users.sqlite`` beside ``plan_dir``
    (in its parent folder, so ``anju run`` replacing OUT never touches it), else ./users.sqlite."""
    env = os.environ.get("ANJU_USERS")
    if env:
        return Path(env)
    if plan_dir is not None:
        return Path(plan_dir).resolve().parent / USERS_FILE
    return Path(USERS_FILE)


# --------------------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` (base64) of ``password`` with a fresh random salt."""
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(dk).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison)."""
    try:
        kind, n, r, p, salt, want = stored.split("$")
        if kind != "scrypt":
            return False
        dk = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(base64.b64decode(want)),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(dk, base64.b64decode(want))


_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(12)))
    return _DUMMY_HASH[0]


# --------------------------------------------------------------------------- the store


class UserStore:
    """Accounts and the audit trail in one SQLite file (created on first write)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def exists(self) -> bool:
        return self.path.is_file()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        new = not self.path.exists()
        if new:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=10)
        try:
            if new:
                os.chmod(self.path, 0o600)  # hashes and the audit trail: owner only
            key = str(self.path.resolve())
            if new or key not in _READY:  # the schema once per file and process
                con.executescript(_SCHEMA)
                _READY.add(key)
            with con:
                yield con
        finally:
            con.close()

    # accounts --------------------------------------------------------------

    @staticmethod
    def _check(name: str, role: str) -> None:
        if not name or not name.strip() or len(name) > 64 or any(c.isspace() for c in name):
            raise UserStoreError(f"user name {name!r}: expected 1-64 characters without spaces")
        if role not in ROLES:
            raise UserStoreError(f"role {role!r}: expected one of {', '.join(ROLES)}")

    @staticmethod
    def _check_password(password: str) -> None:
        if len(password) < MIN_PASSWORD_LEN:
            raise UserStoreError(
                f"password: expected at least {MIN_PASSWORD_LEN} characters, found {len(password)}"
            )

    def add(self, name: str, role: str, password: str, *, personal: bool = False) -> User:
        """Create an account.

        Raises
        ------
        UserStoreError
            On a bad name, an unknown role, a short password or an existing name.
        """
        self._check(name, role)
        self._check_password(password)
        with self._db() as con:
            if con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UserStoreError(f"user {name!r} exists already")
            con.execute(
                "INSERT INTO users (name, role, personal, pw_hash, created) VALUES (?,?,?,?,?)",
                (name, role, int(personal), hash_password(password), time.time()),
            )
        return User(name, role, personal)

    def remove(self, name: str) -> None:
        with self._db() as con:
            if con.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
                raise UserStoreError(f"user {name!r}: no such user")

    def set_password(self, name: str, password: str) -> None:
        self._check_password(password)
        with self._db() as con:
            cur = con.execute(
                "UPDATE users SET pw_hash = ? WHERE name = ?", (hash_password(password), name)
            )
            if cur.rowcount == 0:
                raise UserStoreError(f"user {name!r}: no such user")

    def get(self, name: str) -> User | None:
        if not self.exists():
            return None
        with self._db() as con:
            row = con.execute(
                "SELECT name, role, personal FROM users WHERE name = ?", (name,)
            ).fetchone()
        return User(row[0], row[1], bool(row[2])) if row else None

    def list_users(self) -> list[User]:
        if not self.exists():
            return []
        with self._db() as con:
            rows = con.execute("SELECT name, role, personal FROM users ORDER BY name").fetchall()
        return [User(r[0], r[1], bool(r[2])) for r in rows]

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when ``password`` is right, else None (same work for unknown names)."""
        row = None
        if self.exists():
            with self._db() as con:
                row = con.execute(
                    "SELECT name, role, personal, pw_hash FROM users WHERE name = ?", (name,)
                ).fetchone()
        if row is None:
            verify_password(password, _dummy_hash())
            return None
        if not verify_password(password, row[3]):
            return None
        return User(row[0], row[1], bool(row[2]))

    # audit -----------------------------------------------------------------

    def record(
        self,
        action: str,
        *,
        user: str | None = None,
        ip: str | None = None,
        what: str | None = None,
        numbers: dict[str, Any] | None = None,
        ok: bool = True,
    ) -> None:
        """Append one row to the audit trail."""
        with self._db() as con:
            con.execute(
                "INSERT INTO audit (ts, user, ip, action, what, numbers, ok) VALUES (?,?,?,?,?,?,?)",
                (
                    time.time(),
                    user,
                    ip,
                    action,
                    what,
                    json.dumps(numbers, ensure_ascii=False, default=str) if numbers else None,
                    int(ok),
                ),
            )

    def audit(self, *, limit: int = 200, user: str | None = None) -> list[AuditRow]:
        """The newest ``limit`` audit rows, newest first."""
        if not self.exists():
            return []
        sql = "SELECT ts, user, ip, action, what, numbers, ok FROM audit"
        args: tuple[Any, ...] = ()
        if user:
            sql += " WHERE user = ?"
            args = (user,)
        sql += " ORDER BY id DESC LIMIT ?"
        with self._db() as con:
            rows = con.execute(sql, (*args, int(limit))).fetchall()
        return [
            AuditRow(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]) if r[5] else None, bool(r[6]))
            for r in rows
        ]

    def recent_failures(
        self, *, user: str, ip: str | None, window_s: float = FAILURE_WINDOW_S
    ) -> int:
        """Failed sign-ins for ``user`` or from ``ip`` within the last ``window_s`` seconds
        (the larger of the two counts)."""
        if not self.exists():
            return 0
        since = time.time() - window_s
        with self._db() as con:
            by_user = con.execute(
                "SELECT COUNT(*) FROM audit WHERE action = 'login' AND ok = 0 AND ts > ? AND user = ?",
                (since, user),
            ).fetchone()[0]
            by_ip = 0
            if ip:
                by_ip = con.execute(
                    "SELECT COUNT(*) FROM audit WHERE action = 'login' AND ok = 0 AND ts > ? AND ip = ?",
                    (since, ip),
                ).fetchone()[0]
        return int(max(by_user, by_ip))
