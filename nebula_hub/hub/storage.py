"""On-disk storage of the local Hub: SQLite (WAL) metadata plus a content-addressed blob store.

Layout under the root folder:

    hub.db            repos, commits (each with its full path -> blob map), refs, users, tokens (hashes only)
    blobs/ab/cd/<sha256>   file contents, named by their sha256, written once and never modified
    tmp/              partial uploads; emptied on start (anything there belongs to a crashed upload)

Crash safety: a blob is written to `tmp/`, fsynced, verified against its sha256 and only then renamed into
`blobs/` (rename is atomic on POSIX). A commit row and the ref that makes it visible are written in one SQLite
transaction (`synchronous=FULL`), after every blob it names is on disk. A kill at any point therefore leaves the
repo at its previous commit and never a blob with the wrong content under its name.

Example:
    >>> from nebula_hub.hub.storage import HubStore
    >>> store = HubStore("/tmp/hub-root")  # doctest: +SKIP
    >>> repo = store.create_repo("model", "local", "tiny", private=False)[0]  # doctest: +SKIP
    >>> store.resolve(repo, "main")  # doctest: +SKIP
    '3f1c...'
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path


REPO_TYPES = ("model", "dataset", "space")
# Prefix of file URLs (`/{prefix}{ns}/{name}/resolve/...`) per repo type, as on huggingface.co.
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024
DEFAULT_GITATTRIBUTES = """*.7z filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
*.bin filter=lfs diff=lfs merge=lfs -text
*.bz2 filter=lfs diff=lfs merge=lfs -text
*.ckpt filter=lfs diff=lfs merge=lfs -text
*.ftz filter=lfs diff=lfs merge=lfs -text
*.gz filter=lfs diff=lfs merge=lfs -text
*.h5 filter=lfs diff=lfs merge=lfs -text
*.joblib filter=lfs diff=lfs merge=lfs -text
*.lz4 filter=lfs diff=lfs merge=lfs -text
*.mds filter=lfs diff=lfs merge=lfs -text
*.mlmodel filter=lfs diff=lfs merge=lfs -text
*.model filter=lfs diff=lfs merge=lfs -text
*.msgpack filter=lfs diff=lfs merge=lfs -text
*.npy filter=lfs diff=lfs merge=lfs -text
*.npz filter=lfs diff=lfs merge=lfs -text
*.onnx filter=lfs diff=lfs merge=lfs -text
*.ot filter=lfs diff=lfs merge=lfs -text
*.parquet filter=lfs diff=lfs merge=lfs -text
*.pb filter=lfs diff=lfs merge=lfs -text
*.pickle filter=lfs diff=lfs merge=lfs -text
*.pkl filter=lfs diff=lfs merge=lfs -text
*.pt filter=lfs diff=lfs merge=lfs -text
*.pth filter=lfs diff=lfs merge=lfs -text
*.rar filter=lfs diff=lfs merge=lfs -text
*.safetensors filter=lfs diff=lfs merge=lfs -text
saved_model/**/* filter=lfs diff=lfs merge=lfs -text
*.tar.* filter=lfs diff=lfs merge=lfs -text
*.tar filter=lfs diff=lfs merge=lfs -text
*.tflite filter=lfs diff=lfs merge=lfs -text
*.tgz filter=lfs diff=lfs merge=lfs -text
*.wasm filter=lfs diff=lfs merge=lfs -text
*.xz filter=lfs diff=lfs merge=lfs -text
*.zip filter=lfs diff=lfs merge=lfs -text
*.zst filter=lfs diff=lfs merge=lfs -text
*tfevents* filter=lfs diff=lfs merge=lfs -text
"""

_NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_SHORT_SHA_RE = re.compile(r"^[0-9a-f]{7,40}$")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_BAD_REF_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


class StoreError(Exception):
    """A request the store refuses. `status` is the HTTP status, `code` the Hub's `X-Error-Code` (or None)."""

    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def now_iso() -> str:
    """Current UTC time as the Hub writes it (`...T..:..:..000Z`; the clients reject `+00:00`)."""
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"


def git_blob_oid(data: bytes) -> str:
    """Git blob id of `data` (`sha1("blob <len>\\0" + data)`), the `oid` the Hub reports for regular files."""
    h = hashlib.sha1(f"blob {len(data)}\0".encode())
    h.update(data)
    return h.hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    """The git-LFS pointer text that stands for an LFS file in git."""
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def validate_name(kind: str, value: str) -> str:
    """Check a namespace or repo name: letters, digits, `-`, `_`, `.`; no `--`/`..`; 1-96 characters."""
    if not isinstance(value, str) or not _NAME_RE.match(value) or "--" in value or ".." in value:
        raise StoreError(
            400,
            f"Invalid {kind} {value!r}: use 1-96 letters, digits, '-', '_' or '.', starting and ending with a "
            "letter or digit, with no '--' or '..'",
        )
    if value.endswith(".git"):
        raise StoreError(400, f"Invalid {kind} {value!r}: it must not end with '.git'")
    return value


def validate_path(path: str, *, folder: bool = False) -> str:
    """Check a file path inside a repo: relative, `/`-separated, no `.`/`..` segments, no control characters."""
    if not isinstance(path, str) or not path:
        raise StoreError(400, f"Invalid path {path!r}: a non-empty relative path is required")
    p = path[:-1] if folder and path.endswith("/") else path
    if _CONTROL_RE.search(p) or "\\" in p:
        raise StoreError(400, f"Invalid path {path!r}: control characters and backslashes are not allowed")
    if p.startswith("/") or re.match(r"^[A-Za-z]:", p):
        raise StoreError(400, f"Invalid path {path!r}: absolute paths are not allowed")
    parts = p.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise StoreError(400, f"Invalid path {path!r}: empty, '.' and '..' segments are not allowed")
    if parts[0] == ".git" or len(p) > 1000:
        raise StoreError(400, f"Invalid path {path!r}: reserved '.git' folder or longer than 1000 characters")
    return p


def validate_ref_name(kind: str, name: str) -> str:
    """Check a branch or tag name with git's rules (no spaces, `..`, `~^:?*[\\`, leading `/` or `refs/`)."""
    if (
        not isinstance(name, str)
        or not name
        or len(name) > 200
        or _BAD_REF_CHARS.search(name)
        or ".." in name
        or name.startswith(("/", "-", "refs/"))
        or name.endswith(("/", ".", ".lock"))
        or "//" in name
        or "@{" in name
        or _SHA_RE.match(name)
    ):
        raise StoreError(
            400,
            f"Invalid {kind} name {name!r}: use git ref rules (no spaces, '..', '~^:?*[\\', no leading '/', '-' or "
            "'refs/', not a 40-hex commit id)",
        )
    return name


@dataclass(frozen=True)
class Repo:
    """A stored repository."""

    id: int
    type: str
    namespace: str
    name: str
    private: bool
    created_at: str

    @property
    def repo_id(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass
class Commit:
    """An immutable commit: `files` maps each path to `{"oid", "sha256", "size", "lfs"}`."""

    sha: str
    parent: str | None
    title: str
    message: str
    author: str
    date: str
    files: dict[str, dict] = field(default_factory=dict)


@dataclass(frozen=True)
class Token:
    """An access token as the server knows it (never the secret itself, only its user and role)."""

    user: str
    role: str  # "read" | "write" | "admin"
    label: str
    namespaces: frozenset[str]

    def can_read(self, namespace: str) -> bool:
        return self.role == "admin" or namespace in self.namespaces

    def can_write(self, namespace: str) -> bool:
        return self.role == "admin" or (self.role == "write" and namespace in self.namespaces)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BlobStore:
    """Content-addressed files named by sha256; writes go through `tmp/` + fsync + atomic rename."""

    def __init__(self, root: Path):
        self.dir = root / "blobs"
        self.tmp = root / "tmp"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tmp.mkdir(parents=True, exist_ok=True)

    def clean_tmp(self) -> int:
        """Remove leftovers of uploads interrupted by a crash; returns how many files were removed."""
        removed = 0
        for p in self.tmp.iterdir():
            p.unlink(missing_ok=True)
            removed += 1
        return removed

    def path(self, sha256: str) -> Path:
        return self.dir / sha256[:2] / sha256[2:4] / sha256

    def size(self, sha256: str) -> int | None:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            return None

    def new_tmp(self) -> Path:
        return self.tmp / f"{uuid.uuid4().hex}.part"

    def _publish(self, tmp: Path, sha256: str) -> None:
        dest = self.path(sha256)
        if dest.exists():
            tmp.unlink(missing_ok=True)
            return
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
        fd = os.open(dest.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def put_bytes(self, data: bytes) -> str:
        """Store `data`; returns its sha256."""
        sha256 = hashlib.sha256(data).hexdigest()
        if self.path(sha256).exists():
            return sha256
        tmp = self.new_tmp()
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._publish(tmp, sha256)
        return sha256

    def put_stream(self, chunks: Iterable[bytes], expected_sha256: str, expected_size: int) -> None:
        """Store a stream that must hash to `expected_sha256` and have `expected_size` bytes, or raise 400."""
        writer = self.writer(expected_sha256, expected_size)
        try:
            for chunk in chunks:
                writer.write(chunk)
            writer.finish()
        finally:
            writer.abort()

    def writer(self, expected_sha256: str, expected_size: int) -> BlobWriter:
        """An incremental writer for one blob; call `write` per chunk, then `finish` (verifies, fsyncs, publishes)."""
        return BlobWriter(self, expected_sha256, expected_size)

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()


class BlobWriter:
    """Writes one upload to `tmp/` while hashing it; `finish` checks size and sha256 before the atomic rename."""

    def __init__(self, store: BlobStore, expected_sha256: str, expected_size: int):
        self.store, self.sha256, self.size = store, expected_sha256, expected_size
        self.tmp = store.new_tmp()
        self.file = open(self.tmp, "wb")
        self.hash = hashlib.sha256()
        self.n = 0

    def write(self, chunk: bytes) -> None:
        self.n += len(chunk)
        if self.n > self.size:
            raise StoreError(
                400, f"LFS object {self.sha256}: more than the announced {self.size} bytes; nothing stored"
            )
        self.hash.update(chunk)
        self.file.write(chunk)

    def finish(self) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        if self.n != self.size:
            raise StoreError(
                400, f"LFS object {self.sha256}: received {self.n} bytes, announced {self.size}; nothing stored"
            )
        digest = self.hash.hexdigest()
        if digest != self.sha256:
            raise StoreError(400, f"LFS object {self.sha256}: content hashes to sha256 {digest}; nothing stored")
        self.store._publish(self.tmp, self.sha256)

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.tmp.unlink(missing_ok=True)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS user_namespaces (user TEXT NOT NULL, namespace TEXT NOT NULL, PRIMARY KEY (user, namespace));
CREATE TABLE IF NOT EXISTS tokens (
    hash TEXT PRIMARY KEY, user TEXT NOT NULL, role TEXT NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL,
    private INTEGER NOT NULL, created_at TEXT NOT NULL, UNIQUE (type, namespace, name));
CREATE TABLE IF NOT EXISTS commits (
    repo_id INTEGER NOT NULL, sha TEXT NOT NULL, parent TEXT, title TEXT NOT NULL, message TEXT NOT NULL,
    author TEXT NOT NULL, date TEXT NOT NULL, files TEXT NOT NULL, PRIMARY KEY (repo_id, sha));
CREATE TABLE IF NOT EXISTS refs (
    repo_id INTEGER NOT NULL, name TEXT NOT NULL, sha TEXT NOT NULL, message TEXT, PRIMARY KEY (repo_id, name));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class HubStore:
    """Repos, commits, refs and tokens of one local Hub root (thread-safe; one SQLite connection per thread)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.blobs = BlobStore(self.root)
        self.db_path = self.root / "hub.db"
        self._local = threading.local()
        self._repo_locks: dict[int, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._conn().executescript(_SCHEMA)

    # -- plumbing -----------------------------------------------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=60000")
            self._local.conn = conn
        return conn

    class _Tx:
        def __init__(self, conn: sqlite3.Connection, immediate: bool):
            self.conn, self.immediate = conn, immediate

        def __enter__(self) -> sqlite3.Connection:
            self.conn.execute("BEGIN IMMEDIATE" if self.immediate else "BEGIN")
            return self.conn

        def __exit__(self, exc_type, exc, tb) -> None:
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def _tx(self, immediate: bool = True) -> HubStore._Tx:
        return HubStore._Tx(self._conn(), immediate)

    def _repo_lock(self, repo: Repo) -> threading.Lock:
        # SQLite's write lock already serialises processes; this lock keeps one server's committers from
        # spinning on SQLITE_BUSY and makes the order of concurrent commits first-come first-served.
        with self._locks_guard:
            return self._repo_locks.setdefault(repo.id, threading.Lock())

    def meta_get(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row["value"] if row else None

    def meta_setdefault(self, key: str, value: str) -> str:
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))
            return db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()["value"]

    # -- users and tokens ---------------------------------------------------------------------------------------
    def create_token(self, user: str, role: str, label: str, token: str, namespaces: Iterable[str] = ()) -> None:
        """Register `token` (stored as its sha256 only) for `user`, creating the user and its namespace."""
        validate_name("user name", user)
        if role not in ("read", "write", "admin"):
            raise StoreError(400, f"Invalid token role {role!r}: use 'read', 'write' or 'admin'")
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO users (name, created_at) VALUES (?, ?)", (user, now_iso()))
            for ns in {user, *namespaces}:
                validate_name("namespace", ns)
                db.execute("INSERT OR IGNORE INTO user_namespaces (user, namespace) VALUES (?, ?)", (user, ns))
            db.execute(
                "INSERT INTO tokens (hash, user, role, label, created_at) VALUES (?, ?, ?, ?, ?)",
                (hash_token(token), user, role, label, now_iso()),
            )

    def lookup_token(self, token: str) -> Token | None:
        db = self._conn()
        row = db.execute("SELECT user, role, label FROM tokens WHERE hash=?", (hash_token(token),)).fetchone()
        if row is None:
            return None
        namespaces = {
            r["namespace"] for r in db.execute("SELECT namespace FROM user_namespaces WHERE user=?", (row["user"],))
        }
        return Token(user=row["user"], role=row["role"], label=row["label"], namespaces=frozenset(namespaces))

    def list_tokens(self) -> list[dict]:
        rows = self._conn().execute("SELECT user, role, label, created_at, hash FROM tokens ORDER BY created_at")
        return [
            {
                "user": r["user"],
                "role": r["role"],
                "label": r["label"],
                "created_at": r["created_at"],
                "id": r["hash"][:12],
            }
            for r in rows
        ]

    def namespace_owners(self, namespace: str) -> list[str]:
        rows = self._conn().execute("SELECT user FROM user_namespaces WHERE namespace=?", (namespace,))
        return [r["user"] for r in rows]

    # -- repos --------------------------------------------------------------------------------------------------
    def get_repo(self, repo_type: str, namespace: str, name: str) -> Repo | None:
        row = (
            self._conn()
            .execute("SELECT * FROM repos WHERE type=? AND namespace=? AND name=?", (repo_type, namespace, name))
            .fetchone()
        )
        if row is None:
            return None
        return Repo(row["id"], row["type"], row["namespace"], row["name"], bool(row["private"]), row["created_at"])

    def create_repo(
        self, repo_type: str, namespace: str, name: str, private: bool, author: str = "local"
    ) -> tuple[Repo, bool]:
        """Create a repo with an initial commit holding `.gitattributes`; returns `(repo, created)`."""
        if repo_type not in REPO_TYPES:
            raise StoreError(400, f"Invalid repo type {repo_type!r}: use one of {', '.join(REPO_TYPES)}")
        validate_name("namespace", namespace)
        validate_name("repo name", name)
        existing = self.get_repo(repo_type, namespace, name)
        if existing is not None:
            return existing, False
        attrs_sha = self.blobs.put_bytes(DEFAULT_GITATTRIBUTES.encode())
        data = DEFAULT_GITATTRIBUTES.encode()
        files = {".gitattributes": {"oid": git_blob_oid(data), "sha256": attrs_sha, "size": len(data), "lfs": False}}
        with self._tx() as db:
            try:
                cur = db.execute(
                    "INSERT INTO repos (type, namespace, name, private, created_at) VALUES (?, ?, ?, ?, ?)",
                    (repo_type, namespace, name, int(private), now_iso()),
                )
            except sqlite3.IntegrityError:
                return self.get_repo(repo_type, namespace, name), False  # type: ignore[return-value]
            repo_id = cur.lastrowid
            commit = self._new_commit(None, "initial commit", "", author, files)
            self._insert_commit(db, repo_id, commit)
            db.execute("INSERT INTO refs (repo_id, name, sha) VALUES (?, 'refs/heads/main', ?)", (repo_id, commit.sha))
        return self.get_repo(repo_type, namespace, name), True  # type: ignore[return-value]

    def delete_repo(self, repo: Repo) -> None:
        """Remove the repo's metadata; blobs stay (they are shared by content and may back other repos)."""
        with self._tx() as db:
            db.execute("DELETE FROM refs WHERE repo_id=?", (repo.id,))
            db.execute("DELETE FROM commits WHERE repo_id=?", (repo.id,))
            db.execute("DELETE FROM repos WHERE id=?", (repo.id,))

    def set_private(self, repo: Repo, private: bool) -> None:
        with self._tx() as db:
            db.execute("UPDATE repos SET private=? WHERE id=?", (int(private), repo.id))

    def list_repos(self, repo_type: str) -> list[Repo]:
        rows = self._conn().execute("SELECT * FROM repos WHERE type=? ORDER BY id", (repo_type,))
        return [Repo(r["id"], r["type"], r["namespace"], r["name"], bool(r["private"]), r["created_at"]) for r in rows]

    # -- commits and refs ---------------------------------------------------------------------------------------
    @staticmethod
    def _new_commit(parent: str | None, title: str, message: str, author: str, files: dict[str, dict]) -> Commit:
        date = now_iso()
        body = json.dumps([parent, title, message, author, date, sorted(files.items())], sort_keys=True)
        return Commit(hashlib.sha1(body.encode()).hexdigest(), parent, title, message, author, date, files)

    @staticmethod
    def _insert_commit(db: sqlite3.Connection, repo_id: int, c: Commit) -> None:
        db.execute(
            "INSERT INTO commits (repo_id, sha, parent, title, message, author, date, files) VALUES (?,?,?,?,?,?,?,?)",
            (
                repo_id,
                c.sha,
                c.parent,
                c.title,
                c.message,
                c.author,
                c.date,
                json.dumps(c.files, separators=(",", ":")),
            ),
        )

    def get_commit(self, repo: Repo, sha: str) -> Commit:
        row = self._conn().execute("SELECT * FROM commits WHERE repo_id=? AND sha=?", (repo.id, sha)).fetchone()
        if row is None:
            raise StoreError(404, f"Commit {sha} not found in {repo.repo_id}", "RevisionNotFound")
        return Commit(
            row["sha"],
            row["parent"],
            row["title"],
            row["message"],
            row["author"],
            row["date"],
            json.loads(row["files"]),
        )

    def refs(self, repo: Repo) -> dict[str, str]:
        rows = self._conn().execute("SELECT name, sha FROM refs WHERE repo_id=? ORDER BY name", (repo.id,))
        return {r["name"]: r["sha"] for r in rows}

    def resolve(self, repo: Repo, rev: str) -> str:
        """Commit sha of `rev`: a branch, then a tag, then a full ref name, then a full or unique short sha."""
        db = self._conn()
        for ref in (f"refs/heads/{rev}", f"refs/tags/{rev}", rev):
            row = db.execute("SELECT sha FROM refs WHERE repo_id=? AND name=?", (repo.id, ref)).fetchone()
            if row is not None:
                return row["sha"]
        if _SHORT_SHA_RE.match(rev):
            rows = db.execute(
                "SELECT sha FROM commits WHERE repo_id=? AND sha LIKE ? LIMIT 2", (repo.id, rev + "%")
            ).fetchall()
            if len(rows) == 1:
                return rows[0]["sha"]
        raise StoreError(
            404, f"Invalid rev id: {rev!r} is not a branch, tag or commit of {repo.repo_id}", "RevisionNotFound"
        )

    def history(self, repo: Repo, sha: str) -> Iterator[Commit]:
        """Commits from `sha` back to the root commit, newest first."""
        current: str | None = sha
        while current:
            commit = self.get_commit(repo, current)
            yield commit
            current = commit.parent

    def _branch_ref(self, repo: Repo, branch: str) -> str:
        if re.match(r"^refs/pr/\d+$", branch):
            return branch
        if branch.startswith("refs/heads/"):
            branch = branch[len("refs/heads/") :]
        return f"refs/heads/{branch}"

    def commit(
        self,
        repo: Repo,
        branch: str,
        *,
        title: str,
        message: str,
        author: str,
        put_files: dict[str, dict],
        delete_files: Iterable[str] = (),
        delete_folders: Iterable[str] = (),
        parent_commit: str | None = None,
        create_pr: bool = False,
    ) -> tuple[str, int | None]:
        """Apply one commit to `branch` atomically; returns `(sha, pr_number or None)`.

        `put_files` maps paths to `{"oid", "sha256", "size", "lfs"}` whose blobs are already stored.
        A `parent_commit` other than the branch head is refused with 412; without it commits are serialised.
        """
        for path, entry in put_files.items():
            if self.blobs.size(entry["sha256"]) != entry["size"]:
                raise StoreError(400, f"File {path!r}: its content (sha256 {entry['sha256']}) was never uploaded")
        with self._repo_lock(repo), self._tx() as db:
            ref = self._branch_ref(repo, branch)
            row = db.execute("SELECT sha FROM refs WHERE repo_id=? AND name=?", (repo.id, ref)).fetchone()
            if row is None:
                if ref.startswith("refs/tags/") or _SHA_RE.match(branch):
                    raise StoreError(400, f"Cannot commit to {branch!r}: commits go to a branch, not a tag or commit")
                tag = db.execute(
                    "SELECT 1 FROM refs WHERE repo_id=? AND name=?", (repo.id, f"refs/tags/{branch}")
                ).fetchone()
                if tag is not None:
                    raise StoreError(400, f"Cannot commit to {branch!r}: it is a tag, and tags never move")
                raise StoreError(404, f"Branch {branch!r} not found in {repo.repo_id}", "RevisionNotFound")
            head = row["sha"]
            base = head
            if parent_commit is not None:
                if not _SHA_RE.match(parent_commit):
                    raise StoreError(400, f"parentCommit {parent_commit!r} is not a 40-hex commit id")
                if parent_commit != head and not create_pr:
                    raise StoreError(
                        412,
                        f"A commit has happened since. Please refresh and try again: parentCommit {parent_commit} is "
                        f"not the head of {branch!r} ({head})",
                    )
                base = parent_commit
            files = dict(self.get_commit(repo, base).files)
            for path in delete_files:
                if path not in files:
                    raise StoreError(
                        404, f"A file with this name doesn't exist: {path!r} at {branch!r}", "EntryNotFound"
                    )
                del files[path]
            for folder in delete_folders:
                prefix = folder.rstrip("/") + "/"
                doomed = [p for p in files if p.startswith(prefix)]
                if not doomed:
                    raise StoreError(
                        404, f"A folder with this name doesn't exist: {folder!r} at {branch!r}", "EntryNotFound"
                    )
                for p in doomed:
                    del files[p]
            for path, entry in put_files.items():
                clash = [p for p in files if p.startswith(path + "/")]
                parents = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
                if clash or any(p in files for p in parents):
                    raise StoreError(400, f"File {path!r} clashes with an existing file or folder of the same name")
                files[path] = entry
            commit = self._new_commit(base, title, message, author, files)
            self._insert_commit(db, repo.id, commit)
            pr_num = None
            if create_pr:
                nums = [
                    int(r["name"].rsplit("/", 1)[1])
                    for r in db.execute("SELECT name FROM refs WHERE repo_id=? AND name LIKE 'refs/pr/%'", (repo.id,))
                ]
                pr_num = max(nums, default=0) + 1
                db.execute(
                    "INSERT INTO refs (repo_id, name, sha) VALUES (?, ?, ?)",
                    (repo.id, f"refs/pr/{pr_num}", commit.sha),
                )
            else:
                db.execute("UPDATE refs SET sha=? WHERE repo_id=? AND name=?", (commit.sha, repo.id, ref))
        return commit.sha, pr_num

    def create_pr_ref(self, repo: Repo, base_sha: str) -> int:
        with self._tx() as db:
            nums = [
                int(r["name"].rsplit("/", 1)[1])
                for r in db.execute("SELECT name FROM refs WHERE repo_id=? AND name LIKE 'refs/pr/%'", (repo.id,))
            ]
            num = max(nums, default=0) + 1
            db.execute("INSERT INTO refs (repo_id, name, sha) VALUES (?, ?, ?)", (repo.id, f"refs/pr/{num}", base_sha))
        return num

    def create_ref(self, repo: Repo, kind: str, name: str, sha: str, message: str | None = None) -> None:
        """Create a branch (`kind="heads"`) or tag (`kind="tags"`); an existing name is a 409."""
        validate_ref_name("branch" if kind == "heads" else "tag", name)
        with self._tx() as db:
            exists = db.execute(
                "SELECT 1 FROM refs WHERE repo_id=? AND name=?", (repo.id, f"refs/{kind}/{name}")
            ).fetchone()
            if exists:
                what = "Branch" if kind == "heads" else "Tag"
                raise StoreError(
                    409,
                    f"{what} {name!r} already exists in {repo.repo_id}"
                    + ("; tags never move, create a new tag instead" if kind == "tags" else ""),
                )
            db.execute(
                "INSERT INTO refs (repo_id, name, sha, message) VALUES (?, ?, ?, ?)",
                (repo.id, f"refs/{kind}/{name}", sha, message),
            )

    def delete_ref(self, repo: Repo, kind: str, name: str) -> None:
        if kind == "heads" and name == "main":
            raise StoreError(403, f"Cannot delete the default branch 'main' of {repo.repo_id}")
        with self._tx() as db:
            cur = db.execute("DELETE FROM refs WHERE repo_id=? AND name=?", (repo.id, f"refs/{kind}/{name}"))
            if cur.rowcount == 0:
                what = "Branch" if kind == "heads" else "Tag"
                raise StoreError(404, f"{what} {name!r} not found in {repo.repo_id}", "RevisionNotFound")

    # -- helpers for the API --------------------------------------------------------------------------------------
    def read_file(self, entry: dict) -> bytes:
        return self.blobs.read(entry["sha256"])

    def lfs_patterns(self, files: dict[str, dict]) -> list[str]:
        entry = files.get(".gitattributes")
        if entry is None:
            return []
        try:
            text = self.read_file(entry).decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [line.split()[0] for line in text.splitlines() if "filter=lfs" in line and line.split()]

    @staticmethod
    def matches_lfs(path: str, patterns: list[str]) -> bool:
        name = path.rsplit("/", 1)[-1]
        for pat in patterns:
            target = path if "/" in pat else name
            if fnmatch.fnmatchcase(target, pat.replace("**/", "*")):
                return True
        return False
