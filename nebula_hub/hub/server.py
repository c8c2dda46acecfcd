"""The local Hub server: the part of the Hugging Face Hub HTTP API that huggingface_hub, datasets, transformers
and the `hf` CLI use, over a crash-safe store (`nebula_hub.hub.storage`).

The URL grammar and answers follow `../shared/notes/hub-http-api.md` (huggingface_hub 2.4 / datasets 5.2). Files
larger than a line of text go through the git-LFS batch API with the basic transfer; Xet is never advertised, so
clients must run with `HF_HUB_DISABLE_XET=1` (`nebula_hub.hub.use_hub` sets it; `nebula-hub hub env` prints it).

Run it in the foreground:

    nebula-hub hub serve --root ~/.cache/nebula-hub/hub --port 8090

or from Python:

    >>> from nebula_hub.hub.server import serve
    >>> serve("/tmp/hub-root", host="127.0.0.1", port=8090)  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import base64
import binascii
import fnmatch
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import signal
import string
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote

import yaml
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from nebula_hub.hub.storage import (
    LFS_SIZE_THRESHOLD,
    REPO_TYPES,
    URL_PREFIXES,
    Commit,
    HubStore,
    Repo,
    StoreError,
    Token,
    git_blob_oid,
    lfs_pointer,
    validate_name,
    validate_path,
)


logger = logging.getLogger("nebula_hub.hub.server")

SERVICE_NAME = "nebula-hub-local-hub"
DEFAULT_USER = "local"
TOKEN_ALPHABET = string.ascii_letters + string.digits
PAGE_COMMITS = 100
PAGE_TREE = 1000
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


def new_token() -> str:
    """A fresh secret token shaped like a Hub user token (`hf_` + 34 letters/digits), so `redact` catches it."""
    return "hf_" + "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(34))


@dataclass
class ServerLimits:
    """Request size limits: an inline commit payload (ndjson, base64 files) and one LFS object."""

    max_commit_bytes: int = 256 * 1024 * 1024
    max_json_bytes: int = 32 * 1024 * 1024
    max_lfs_bytes: int = 50 * 1024**3


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically (tmp + fsync + rename)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def init_root(root: str | os.PathLike) -> HubStore:
    """Open (or create) a hub root: store, signing secret and the default admin token of the local user.

    The default token lives in `<root>/token` (mode 0600) so that local commands work without an account.
    """
    store = HubStore(root)
    store.meta_setdefault("secret", secrets.token_hex(32))
    token_file = store.root / "token"
    if token_file.exists():
        token = token_file.read_text().strip()
        if store.lookup_token(token) is None:
            store.create_token(DEFAULT_USER, "admin", "default", token)
    else:
        token = new_token()
        store.create_token(DEFAULT_USER, "admin", "default", token)
        write_private_file(token_file, token + "\n")
    return store


def create_user_token(
    root: str | os.PathLike,
    user: str,
    role: str = "read",
    namespaces: list[str] | None = None,
    label: str | None = None,
) -> str:
    """Create a token for `user` (the user and its namespace exist from then on); only its hash is stored.

    A running server sees it at once (tokens are looked up in the store on each request).

    Example:
        >>> token = create_user_token("/tmp/hub-root", "alice", role="write", namespaces=["team"])  # doctest: +SKIP
    """
    store = init_root(root)
    token = new_token()
    try:
        store.create_token(user, role, label or f"{user}-{role}", token, namespaces or ())
    except StoreError as err:
        from nebula_hub.errors import NebulaError

        raise NebulaError(
            f"cannot create a token for {user!r}: {err.message}",
            hint="user and namespace names use letters, digits, '-', '_', '.'; roles are read, write, admin",
        ) from None
    return token


class HubError(Exception):
    """An HTTP error answer; `code` becomes `X-Error-Code` so the clients raise their own typed errors."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict | None = None,
        extra: dict | None = None,
    ):
        super().__init__(message)
        self.status, self.message, self.code, self.headers, self.extra = status, message, code, headers or {}, extra


def _error_response(
    status: int, message: str, code: str | None, headers: dict | None, head: bool, extra: dict | None = None
) -> Response:
    hdrs = {"X-Error-Message": message.replace("\n", " ")[:1000].encode("ascii", "replace").decode()}
    if code:
        hdrs["X-Error-Code"] = code
    hdrs.update(headers or {})
    body = b"" if head else json.dumps({"error": message, **(extra or {})}).encode()
    resp = Response(body, status_code=status, headers=hdrs, media_type="application/json")
    if head:
        resp.headers["content-length"] = "0"
    return resp


class _BlobFileResponse(FileResponse):
    # 4 MiB reads instead of Starlette's 64 KiB: fewer event-loop round trips, several times the throughput.
    chunk_size = 4 * 1024 * 1024


@dataclass
class Ctx:
    """One request: the Starlette request, decoded path segments, query params and the caller's token."""

    request: Request
    segments: list[str]
    query: dict[str, list[str]]
    token: Token | None

    def q(self, key: str, default: str | None = None) -> str | None:
        values = self.query.get(key)
        return values[0] if values else default

    def flag(self, key: str) -> bool:
        return (self.q(key) or "").lower() in ("1", "true", "yes")

    @property
    def base_url(self) -> str:
        # URLs we return must use the host the client used (the clients reject other host names).
        host = self.request.headers.get("host") or "127.0.0.1"
        return f"{self.request.url.scheme}://{host}"


Handler = Callable[..., Awaitable[Response]]


class HubApp:
    """ASGI application serving the Hub API over a `HubStore`."""

    def __init__(self, root: str | os.PathLike, limits: ServerLimits | None = None):
        self.store = init_root(root)
        self.limits = limits or ServerLimits()
        removed = self.store.blobs.clean_tmp()
        if removed:
            logger.info("removed %d partial upload(s) left by an interrupted server", removed)
        self.secret = self.store.meta_get("secret").encode()  # type: ignore[union-attr]

    # -- ASGI entry and routing -----------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        head = scope["method"] == "HEAD"
        try:
            response = await self.dispatch(request)
        except HubError as err:
            response = _error_response(err.status, err.message, err.code, err.headers, head, err.extra)
        except StoreError as err:
            response = _error_response(err.status, err.message, err.code, None, head)
        except Exception:  # a bug must answer 500 (and be logged), not kill the connection
            logger.exception("internal error on %s %s", scope["method"], scope.get("path"))
            response = _error_response(500, "Internal server error (see the hub server log)", None, None, head)
        logger.debug("%s %s -> %s", scope["method"], scope.get("path"), response.status_code)
        await response(scope, receive, send)

    async def dispatch(self, request: Request) -> Response:
        raw = request.scope.get("raw_path") or request.scope["path"].encode()
        raw_path = raw.decode("latin-1").split("?", 1)[0]
        # Split the still-encoded path first, then decode each segment: revisions contain encoded '/', which a
        # decoding router (FastAPI's included) cannot route; hence this small router.
        segments = [unquote(s) for s in raw_path.strip("/").split("/")] if raw_path.strip("/") else []
        query = parse_qs(request.scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        token = await run_in_threadpool(self._authenticate, request)
        ctx = Ctx(request, segments, query, token)
        method = request.method
        s = segments
        if not s:
            return JSONResponse({"service": SERVICE_NAME})
        if s == ["health"]:
            return JSONResponse({"service": SERVICE_NAME, "status": "ok", "pid": os.getpid()})
        if s[0] == "api":
            return await self._dispatch_api(ctx, method, s[1:])
        # File and git routes: /{prefix}{ns}/{name}/resolve/{rev}/{path} and /{prefix}{ns}/{name}.git/info/lfs/...
        repo_type = "model"
        if s[0] in ("datasets", "spaces"):
            repo_type, s = s[0][:-1], s[1:]
        if len(s) >= 4 and s[2] == "resolve" and method in ("GET", "HEAD"):
            return await self.resolve(ctx, repo_type, s[0], s[1], s[3], "/".join(s[4:]))
        if len(s) == 6 and s[1].endswith(".git") and s[2:5] == ["info", "lfs", "objects"] and s[5] == "batch":
            return await self.lfs_batch(ctx, repo_type, s[0], s[1][: -len(".git")])
        raise HubError(404, f"No route for {method} /{'/'.join(segments)}")

    async def _dispatch_api(self, ctx: Ctx, method: str, s: list[str]) -> Response:
        if s == ["whoami-v2"] and method == "GET":
            return self.whoami(ctx)
        if s == ["repos", "create"] and method == "POST":
            return await self.create_repo(ctx)
        if s == ["repos", "delete"] and method == "DELETE":
            return await self.delete_repo(ctx)
        if s == ["validate-yaml"] and method == "POST":
            return await self.validate_yaml(ctx)
        if len(s) == 3 and s[0] == "lfs" and s[1] == "upload" and method == "PUT":
            return await self.lfs_upload(ctx, s[2])
        if len(s) == 3 and s[0] == "lfs" and s[1] == "verify" and method == "POST":
            return await self.lfs_verify(ctx, s[2])
        if not s or s[0] not in ("models", "datasets", "spaces"):
            raise HubError(404, f"No API route for {method} /api/{'/'.join(s)}")
        repo_type = s[0][:-1]
        if len(s) == 1 and method == "GET":
            return await self.list_repos(ctx, repo_type)
        if len(s) < 3:
            raise HubError(404, f"No API route for {method} /api/{'/'.join(s)}")
        ns, name, rest = s[1], s[2], s[3:]
        if not rest and method == "GET":
            return await self.repo_info(ctx, repo_type, ns, name, None)
        action = rest[0] if rest else ""
        if action in ("xet-write-token", "xet-read-token"):
            raise HubError(
                501,
                "This hub (nebula-hub local hub) has no Xet storage. Set HF_HUB_DISABLE_XET=1 in the client so "
                "uploads use the git-LFS API (`nebula-hub hub env` prints the lines to export)",
            )
        routes: dict[tuple[str, str], Handler] = {
            ("GET", "revision"): self.revision_info,
            ("GET", "refs"): self.list_refs,
            ("POST", "branch"): self.create_branch,
            ("DELETE", "branch"): self.delete_branch,
            ("POST", "tag"): self.create_tag,
            ("DELETE", "tag"): self.delete_tag,
            ("GET", "commits"): self.list_commits,
            ("GET", "tree"): self.list_tree,
            ("POST", "paths-info"): self.paths_info,
            ("POST", "preupload"): self.preupload,
            ("POST", "commit"): self.commit,
            ("PUT", "settings"): self.update_settings,
            ("POST", "discussions"): self.create_discussion,
            ("GET", "discussions"): self.get_discussion,
        }
        handler = routes.get((method, action))
        if handler is None:
            raise HubError(404, f"No API route for {method} /api/{'/'.join(s)}")
        return await handler(ctx, repo_type, ns, name, rest[1:])

    # -- auth and access ----------------------------------------------------------------------------------------
    def _authenticate(self, request: Request) -> Token | None:
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise HubError(401, "Invalid credentials in Authorization header")
        token = self.store.lookup_token(value.strip())
        if token is None:
            raise HubError(401, "Invalid credentials in Authorization header")
        return token

    def _repo_for_read(self, ctx: Ctx, repo_type: str, ns: str, name: str) -> Repo:
        repo = self.store.get_repo(repo_type, ns, name)
        if repo is None or (repo.private and not (ctx.token and ctx.token.can_read(ns))):
            # A private repo is invisible to strangers: same answer as a missing one.
            raise HubError(404, f"Repository Not Found: {repo_type} repo {ns}/{name}", "RepoNotFound")
        return repo

    def _require_write(self, ctx: Ctx, ns: str, what: str) -> Token:
        if ctx.token is None:
            raise HubError(
                401,
                f"Authentication required to {what}: send a write token of namespace {ns!r} "
                "(Authorization: Bearer ...; `nebula-hub hub token create USER --role write`)",
            )
        if not ctx.token.can_write(ns):
            why = "is read-only" if ctx.token.role == "read" else f"has no rights on namespace {ns!r}"
            raise HubError(403, f"You cannot {what}: the token of user {ctx.token.user!r} {why}")
        return ctx.token

    def _repo_for_write(self, ctx: Ctx, repo_type: str, ns: str, name: str, what: str) -> tuple[Repo, Token]:
        repo = self._repo_for_read(ctx, repo_type, ns, name)
        return repo, self._require_write(ctx, ns, f"{what} in {repo.repo_id}")

    async def _body(self, ctx: Ctx, limit: int) -> bytes:
        declared = ctx.request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise HubError(413, f"Request body of {declared} bytes exceeds this hub's limit of {limit} bytes")
        chunks, n = [], 0
        async for chunk in ctx.request.stream():
            n += len(chunk)
            if n > limit:
                raise HubError(413, f"Request body exceeds this hub's limit of {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def _json(self, ctx: Ctx, *, allow_empty: bool = True) -> Any:
        body = await self._body(ctx, self.limits.max_json_bytes)
        if not body.strip():
            if allow_empty:
                return {}
            raise HubError(400, "Request body is empty; a JSON object is required")
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise HubError(400, f"Request body is not valid JSON: {err}") from None

    # -- users ----------------------------------------------------------------------------------------------------
    def whoami(self, ctx: Ctx) -> Response:
        if ctx.token is None:
            raise HubError(401, "Invalid credentials in Authorization header: no token was sent")
        t = ctx.token
        orgs = sorted(ns for ns in t.namespaces if ns != t.user)
        return JSONResponse(
            {
                "type": "user",
                "id": t.user,
                "name": t.user,
                "fullname": t.user,
                "isPro": False,
                "orgs": [{"type": "org", "name": ns, "fullname": ns, "roleInOrg": t.role} for ns in orgs],
                "auth": {
                    "type": "access_token",
                    "accessToken": {"displayName": t.label, "role": "write" if t.role == "admin" else t.role},
                },
            }
        )

    # -- repos ----------------------------------------------------------------------------------------------------
    @staticmethod
    def _repo_url(ctx: Ctx, repo: Repo) -> str:
        return f"{ctx.base_url}/{URL_PREFIXES[repo.type]}{repo.repo_id}"

    async def create_repo(self, ctx: Ctx) -> Response:
        body = await self._json(ctx)
        if not isinstance(body, dict):
            raise HubError(400, "create repo: the body must be a JSON object with 'name'")
        repo_type = body.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise HubError(400, f"Invalid repo type {repo_type!r}: use one of {', '.join(REPO_TYPES)}")
        name = body.get("name")
        if ctx.token is None:
            raise HubError(401, "Authentication required to create a repo: send a write token")
        ns = body.get("organization") or ctx.token.user
        validate_name("namespace", ns)
        validate_name("repo name", name)
        self._require_write(ctx, ns, f"create a repo in namespace {ns!r}")
        visibility = body.get("visibility")
        private = bool(body.get("private")) if visibility is None else visibility == "private"
        repo, created = await run_in_threadpool(self.store.create_repo, repo_type, ns, name, private, ctx.token.user)
        if not created:
            # The client reads `url` from the 409 body when exist_ok=True.
            raise HubError(
                409,
                f"You already created this {repo_type} repo: {repo.repo_id}",
                extra={"url": self._repo_url(ctx, repo)},
            )
        return JSONResponse({"url": self._repo_url(ctx, repo), "name": repo.repo_id, "id": repo.repo_id})

    async def delete_repo(self, ctx: Ctx) -> Response:
        body = await self._json(ctx)
        repo_type = body.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise HubError(400, f"Invalid repo type {repo_type!r}: use one of {', '.join(REPO_TYPES)}")
        ns = body.get("organization") or (ctx.token.user if ctx.token else None)
        if not ns or not body.get("name"):
            raise HubError(400, "delete repo: 'name' and 'organization' are required")
        repo, _ = self._repo_for_write(ctx, repo_type, ns, body["name"], "delete the repo")
        await run_in_threadpool(self.store.delete_repo, repo)
        return JSONResponse({})

    async def update_settings(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo, _ = self._repo_for_write(ctx, repo_type, ns, name, "change settings")
        body = await self._json(ctx)
        if "private" in body:
            await run_in_threadpool(self.store.set_private, repo, bool(body["private"]))
        return JSONResponse({})

    async def list_repos(self, ctx: Ctx, repo_type: str) -> Response:
        author = ctx.q("author")
        search = (ctx.q("search") or "").lower()
        out = []
        for repo in await run_in_threadpool(self.store.list_repos, repo_type):
            if repo.private and not (ctx.token and ctx.token.can_read(repo.namespace)):
                continue
            if (author and repo.namespace != author) or (search and search not in repo.repo_id.lower()):
                continue
            out.append(
                {"id": repo.repo_id, "_id": str(repo.id), "private": repo.private, "createdAt": repo.created_at}
            )
        return JSONResponse(out)

    def _card_data(self, commit: Commit) -> dict | None:
        entry = commit.files.get("README.md")
        if entry is None:
            return None
        text = self.store.read_file(entry).decode("utf-8", "replace")
        match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
        if not match:
            return None
        try:
            data = yaml.safe_load(match.group(1))
        except yaml.YAMLError:
            return None
        return data if isinstance(data, dict) else None

    def _info(self, ctx: Ctx, repo: Repo, sha: str) -> dict:
        commit = self.store.get_commit(repo, sha)
        card = self._card_data(commit)
        siblings = []
        for path in sorted(commit.files):
            e = commit.files[path]
            sib: dict[str, Any] = {"rfilename": path}
            if ctx.flag("blobs"):
                sib["size"] = e["size"]
                sib["blobId"] = e["oid"]
                if e["lfs"]:
                    sib["lfs"] = {
                        "sha256": e["sha256"],
                        "size": e["size"],
                        "pointerSize": len(lfs_pointer(e["sha256"], e["size"])),
                    }
            siblings.append(sib)
        info: dict[str, Any] = {
            "_id": str(repo.id),
            "id": repo.repo_id,
            "author": repo.namespace,
            "sha": sha,
            "lastModified": commit.date,
            "createdAt": repo.created_at,
            "private": repo.private,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": list((card or {}).get("tags") or []) if isinstance((card or {}).get("tags"), list) else [],
            "cardData": card,
            "siblings": siblings,
            "usedStorage": sum(e["size"] for e in commit.files.values()),
        }
        if repo.type == "model":
            info["modelId"] = repo.repo_id
            if card and card.get("library_name"):
                info["library_name"] = card["library_name"]
        if repo.type == "space":
            info["sdk"] = (card or {}).get("sdk")
        expand = ctx.query.get("expand") or ctx.query.get("expand[]")
        if expand:
            info = {k: v for k, v in info.items() if k in expand or k in ("id", "_id")}
        return info

    async def repo_info(self, ctx: Ctx, repo_type: str, ns: str, name: str, rev: str | None) -> Response:
        repo = self._repo_for_read(ctx, repo_type, ns, name)
        sha = await run_in_threadpool(self.store.resolve, repo, rev or "main")
        return JSONResponse(await run_in_threadpool(self._info, ctx, repo, sha))

    async def revision_info(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        if not rest:
            raise HubError(400, "revision route needs a revision: /revision/{rev}")
        return await self.repo_info(ctx, repo_type, ns, name, "/".join(rest))

    # -- refs -----------------------------------------------------------------------------------------------------
    async def list_refs(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo = self._repo_for_read(ctx, repo_type, ns, name)
        refs = await run_in_threadpool(self.store.refs, repo)
        out: dict[str, list] = {"branches": [], "converts": [], "tags": []}
        prs = []
        for ref, sha in refs.items():
            if ref.startswith("refs/heads/"):
                out["branches"].append({"name": ref[11:], "ref": ref, "targetCommit": sha})
            elif ref.startswith("refs/tags/"):
                out["tags"].append({"name": ref[10:], "ref": ref, "targetCommit": sha})
            elif ref.startswith("refs/pr/"):
                prs.append({"name": ref[5:], "ref": ref, "targetCommit": sha})
        if ctx.flag("include_prs"):
            out["pullRequests"] = prs
        return JSONResponse(out)

    async def create_branch(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo, _ = self._repo_for_write(ctx, repo_type, ns, name, "create a branch")
        branch = "/".join(rest)
        body = await self._json(ctx)
        start = body.get("startingPoint") if isinstance(body, dict) else None
        sha = await run_in_threadpool(self.store.resolve, repo, start or "main")
        await run_in_threadpool(self.store.create_ref, repo, "heads", branch, sha)
        return JSONResponse({})

    async def delete_branch(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo, _ = self._repo_for_write(ctx, repo_type, ns, name, "delete a branch")
        await run_in_threadpool(self.store.delete_ref, repo, "heads", "/".join(rest))
        return JSONResponse({})

    async def create_tag(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo, _ = self._repo_for_write(ctx, repo_type, ns, name, "create a tag")
        body = await self._json(ctx, allow_empty=False)
        tag = body.get("tag") if isinstance(body, dict) else None
        if not isinstance(tag, str):
            raise HubError(400, "create tag: the body needs a 'tag' string")
        sha = await run_in_threadpool(self.store.resolve, repo, "/".join(rest) or "main")
        await run_in_threadpool(self.store.create_ref, repo, "tags", tag, sha, body.get("message"))
        return JSONResponse({})

    async def delete_tag(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo, _ = self._repo_for_write(ctx, repo_type, ns, name, "delete a tag")
        await run_in_threadpool(self.store.delete_ref, repo, "tags", "/".join(rest))
        return JSONResponse({})

    async def create_discussion(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo, _ = self._repo_for_write(ctx, repo_type, ns, name, "open a pull request")
        body = await self._json(ctx)
        if not body.get("pullRequest"):
            raise HubError(400, "This hub supports discussions only as pull requests ('pullRequest': true)")
        head = await run_in_threadpool(self.store.resolve, repo, "main")
        num = await run_in_threadpool(self.store.create_pr_ref, repo, head)
        return JSONResponse({"num": num, "title": body.get("title", ""), "isPullRequest": True})

    async def get_discussion(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo = self._repo_for_read(ctx, repo_type, ns, name)
        if len(rest) != 1 or not rest[0].isdigit():
            raise HubError(404, "Discussion not found")
        refs = await run_in_threadpool(self.store.refs, repo)
        if f"refs/pr/{rest[0]}" not in refs:
            raise HubError(404, f"Discussion {rest[0]} not found in {repo.repo_id}")
        return JSONResponse(
            {
                "num": int(rest[0]),
                "title": f"PR {rest[0]}",
                "author": {"name": DEFAULT_USER},
                "createdAt": repo.created_at,
                "status": "draft",
                "repo": {"name": repo.repo_id, "type": repo.type},
                "isPullRequest": True,
                "events": [],
                "changes": {"base": "refs/heads/main"},
                "filesWithConflicts": [],
                "diff": "",
            }
        )

    # -- history and trees ----------------------------------------------------------------------------------------
    def _page_link(self, ctx: Ctx, param: str, value: int) -> dict[str, str]:
        params = [(k, v) for k, vs in ctx.query.items() if k != param for v in vs] + [(param, str(value))]
        qs = "&".join(f"{quote(k, safe='[]')}={quote(v, safe='')}" for k, v in params)
        return {
            "Link": f'<{ctx.base_url}{ctx.request.scope.get("raw_path", b"").decode("latin-1").split("?")[0]}?{qs}>; rel="next"'
        }

    async def list_commits(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo = self._repo_for_read(ctx, repo_type, ns, name)
        sha = await run_in_threadpool(self.store.resolve, repo, "/".join(rest) or "main")
        page = int(ctx.q("p", "0") or 0)
        commits = await run_in_threadpool(lambda: list(self.store.history(repo, sha)))
        chunk = commits[page * PAGE_COMMITS : (page + 1) * PAGE_COMMITS]
        items = []
        for c in chunk:
            item = {
                "id": c.sha,
                "title": c.title,
                "message": c.message,
                "authors": [{"user": c.author}],
                "date": c.date,
            }
            if ctx.query.get("expand[]") and "formatted" in ctx.query["expand[]"]:
                item["formatted"] = {"title": c.title, "message": c.message}
            items.append(item)
        headers = self._page_link(ctx, "p", page + 1) if (page + 1) * PAGE_COMMITS < len(commits) else {}
        return JSONResponse(items, headers=headers)

    @staticmethod
    def _file_entry(path: str, e: dict) -> dict:
        entry: dict[str, Any] = {"type": "file", "path": path, "oid": e["oid"], "size": e["size"]}
        if e["lfs"]:
            entry["lfs"] = {
                "oid": e["sha256"],
                "size": e["size"],
                "pointerSize": len(lfs_pointer(e["sha256"], e["size"])),
            }
        return entry

    @staticmethod
    def _dir_entry(path: str, files: dict[str, dict]) -> dict:
        prefix = path + "/"
        h = hashlib.sha1()
        for p in sorted(p for p in files if p.startswith(prefix)):
            h.update(f"{p}\0{files[p]['oid']}\n".encode())
        return {"type": "directory", "path": path, "oid": h.hexdigest(), "size": 0}

    def _last_commits(self, repo: Repo, sha: str, paths: list[str]) -> dict[str, dict]:
        """For each path (file or folder), the newest commit that changed it, walking back from `sha`."""
        found: dict[str, dict] = {}
        history = list(self.store.history(repo, sha))
        for i, commit in enumerate(history):
            parent_files = history[i + 1].files if i + 1 < len(history) else {}
            for p in paths:
                if p in found:
                    continue
                prefix = p + "/"
                mine = {k: v["oid"] for k, v in commit.files.items() if k == p or k.startswith(prefix)}
                theirs = {k: v["oid"] for k, v in parent_files.items() if k == p or k.startswith(prefix)}
                if mine != theirs:
                    found[p] = {"id": commit.sha, "title": commit.title, "date": commit.date}
            if len(found) == len(paths):
                break
        return found

    def _tree(self, ctx: Ctx, repo: Repo, sha: str, path: str) -> list[dict]:
        files = self.store.get_commit(repo, sha).files
        recursive = ctx.flag("recursive")
        prefix = path.rstrip("/") + "/" if path else ""
        if path and path in files:
            raise HubError(404, f"{path!r} is a file, not a folder, at {sha}", "EntryNotFound", {"X-Repo-Commit": sha})
        entries: dict[str, dict] = {}
        for p in sorted(files):
            if not p.startswith(prefix):
                continue
            rel = p[len(prefix) :].split("/")
            depth_range = range(1, len(rel)) if recursive else range(1, min(len(rel), 2))
            for i in depth_range:
                d = prefix + "/".join(rel[:i])
                if d not in entries:
                    entries[d] = self._dir_entry(d, files)
            if recursive or len(rel) == 1:
                entries[p] = self._file_entry(p, files[p])
        if path and not entries:
            raise HubError(404, f"Folder {path!r} not found at {sha}", "EntryNotFound", {"X-Repo-Commit": sha})
        out = sorted(entries.values(), key=lambda e: (e["type"] != "directory", e["path"]))
        if ctx.flag("expand"):
            last = self._last_commits(repo, sha, [e["path"] for e in out])
            for e in out:
                if e["path"] in last:
                    e["lastCommit"] = last[e["path"]]
        return out

    async def list_tree(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo = self._repo_for_read(ctx, repo_type, ns, name)
        if not rest:
            raise HubError(400, "tree route needs a revision: /tree/{rev}[/{path}]")
        sha = await run_in_threadpool(self.store.resolve, repo, rest[0])
        path = "/".join(rest[1:]).strip("/")
        if path:
            validate_path(path)
        entries = await run_in_threadpool(self._tree, ctx, repo, sha, path)
        start = int(ctx.q("cursor", "0") or 0)
        chunk = entries[start : start + PAGE_TREE]
        headers = self._page_link(ctx, "cursor", start + PAGE_TREE) if start + PAGE_TREE < len(entries) else {}
        return JSONResponse(chunk, headers=headers)

    async def paths_info(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo = self._repo_for_read(ctx, repo_type, ns, name)
        sha = await run_in_threadpool(self.store.resolve, repo, "/".join(rest) or "main")
        body = await self._body(ctx, self.limits.max_json_bytes)
        if "json" in (ctx.request.headers.get("content-type") or ""):
            try:
                data = json.loads(body or b"{}")
            except json.JSONDecodeError as err:
                raise HubError(400, f"paths-info: body is not valid JSON: {err}") from None
            paths, expand = data.get("paths") or [], bool(data.get("expand"))
        else:
            form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            paths, expand = form.get("paths", []), (form.get("expand", ["false"])[0].lower() == "true")
        if isinstance(paths, str):
            paths = [paths]
        files = (await run_in_threadpool(self.store.get_commit, repo, sha)).files
        out = []
        for p in paths:
            p = p.strip("/")
            if p in files:
                out.append(self._file_entry(p, files[p]))
            elif p and any(f.startswith(p + "/") for f in files):
                out.append(self._dir_entry(p, files))
        if expand and out:
            last = await run_in_threadpool(self._last_commits, repo, sha, [e["path"] for e in out])
            for e in out:
                if e["path"] in last:
                    e["lastCommit"] = last[e["path"]]
        return JSONResponse(out)

    # -- uploads --------------------------------------------------------------------------------------------------
    async def validate_yaml(self, ctx: Ctx) -> Response:
        body = await self._json(ctx)
        content = body.get("content", "") if isinstance(body, dict) else ""
        match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content or "", re.S)
        if match:
            try:
                data = yaml.safe_load(match.group(1))
            except yaml.YAMLError as err:
                return JSONResponse({"errors": [{"message": f"README.md front matter is not valid YAML: {err}"}]}, 400)
            if data is not None and not isinstance(data, dict):
                return JSONResponse({"errors": [{"message": "README.md front matter must be a YAML mapping"}]}, 400)
        return JSONResponse({"errors": [], "warnings": []})

    async def preupload(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo, _ = self._repo_for_write(ctx, repo_type, ns, name, "upload files")
        body = await self._json(ctx, allow_empty=False)
        files_in = body.get("files") if isinstance(body, dict) else None
        if not isinstance(files_in, list):
            raise HubError(400, "preupload: the body needs a 'files' list of {path, sample, size}")
        rev = "/".join(rest) or "main"
        try:
            sha = await run_in_threadpool(self.store.resolve, repo, rev)
        except StoreError:
            if not ctx.flag("create_pr"):
                raise
            sha = await run_in_threadpool(self.store.resolve, repo, "main")
        files = (await run_in_threadpool(self.store.get_commit, repo, sha)).files
        patterns = await run_in_threadpool(self.store.lfs_patterns, files)
        ignore = [
            line.strip()
            for line in (body.get("gitIgnore") or "").splitlines()
            if line.strip() and not line.startswith("#")
        ]
        out = []
        for f in files_in:
            if not isinstance(f, dict) or not isinstance(f.get("path"), str) or not isinstance(f.get("size"), int):
                raise HubError(
                    400, f"preupload: each file needs 'path' (string) and 'size' (integer), got {str(f)[:200]!r}"
                )
            path = validate_path(f["path"])
            try:
                sample = base64.b64decode(f.get("sample") or "", validate=True)
            except (binascii.Error, ValueError):
                raise HubError(400, f"preupload: 'sample' of {path!r} is not valid base64") from None
            lfs = f["size"] >= LFS_SIZE_THRESHOLD or b"\0" in sample or self.store.matches_lfs(path, patterns)
            entry: dict[str, Any] = {
                "path": path,
                "uploadMode": "lfs" if lfs else "regular",
                "shouldIgnore": any(
                    fnmatch.fnmatchcase(path, pat) or fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pat)
                    for pat in ignore
                ),
            }
            existing = files.get(path)
            if existing is not None:
                entry["oid"] = existing["sha256"] if existing["lfs"] else existing["oid"]
            out.append(entry)
        return JSONResponse({"files": out, "commitOid": sha})

    def _sign(self, oid: str, size: int, expires: int) -> str:
        return hmac.new(self.secret, f"{oid}:{size}:{expires}".encode(), hashlib.sha256).hexdigest()

    async def lfs_batch(self, ctx: Ctx, repo_type: str, ns: str, name: str) -> Response:
        body = await self._json(ctx, allow_empty=False)
        operation = body.get("operation") if isinstance(body, dict) else None
        if operation not in ("upload", "download"):
            raise HubError(400, f"LFS batch: 'operation' must be 'upload' or 'download', got {operation!r}")
        if operation == "upload":
            self._repo_for_write(ctx, repo_type, ns, name, "upload LFS files")
        else:
            self._repo_for_read(ctx, repo_type, ns, name)
        objects = body.get("objects")
        if not isinstance(objects, list):
            raise HubError(400, "LFS batch: 'objects' must be a list of {oid, size}")
        expires = int(time.time()) + 24 * 3600
        out = []
        for obj in objects:
            oid, size = (obj.get("oid"), obj.get("size")) if isinstance(obj, dict) else (None, None)
            if not isinstance(oid, str) or not _SHA256_RE.match(oid) or not isinstance(size, int) or size < 0:
                out.append(
                    {
                        "oid": str(oid),
                        "size": size if isinstance(size, int) else 0,
                        "error": {
                            "code": 422,
                            "message": f"Invalid LFS object: oid must be a sha256 hex, size an integer (got {oid!r}, {size!r})",
                        },
                    }
                )
                continue
            if size > self.limits.max_lfs_bytes:
                out.append(
                    {
                        "oid": oid,
                        "size": size,
                        "error": {
                            "code": 413,
                            "message": f"LFS object of {size} bytes exceeds this hub's limit of {self.limits.max_lfs_bytes} bytes",
                        },
                    }
                )
                continue
            stored = self.store.blobs.size(oid)
            item: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
            if operation == "upload" and stored != size:
                sig = self._sign(oid, size, expires)
                item["actions"] = {
                    "upload": {
                        "href": f"{ctx.base_url}/api/lfs/upload/{oid}?size={size}&expires={expires}&sig={sig}",
                        "expires_in": 86400,
                    },
                    "verify": {"href": f"{ctx.base_url}/api/lfs/verify/{oid}", "expires_in": 86400},
                }
            elif operation == "download":
                if stored is None:
                    item["error"] = {"code": 404, "message": f"LFS object {oid} not found"}
                else:
                    prefix = URL_PREFIXES[repo_type]
                    item["actions"] = {
                        "download": {"href": f"{ctx.base_url}/{prefix}{ns}/{name}/resolve/main/.lfs/{oid}"}
                    }
            out.append(item)
        return JSONResponse(
            {"transfer": "basic", "objects": out, "hash_algo": "sha256"}, media_type="application/vnd.git-lfs+json"
        )

    async def lfs_upload(self, ctx: Ctx, oid: str) -> Response:
        # The client sends no Authorization on LFS PUTs, so the href carries an HMAC over (oid, size, expiry).
        try:
            size, expires = int(ctx.q("size", "")), int(ctx.q("expires", ""))
        except ValueError:
            raise HubError(403, "LFS upload URL is not signed (missing size/expires/sig)") from None
        sig = ctx.q("sig", "") or ""
        if not hmac.compare_digest(sig, self._sign(oid, size, expires)) or expires < time.time():
            raise HubError(403, "LFS upload URL signature is invalid or expired; ask the batch API for a new one")
        declared = ctx.request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) != size:
            raise HubError(400, f"LFS object {oid}: Content-Length {declared} differs from the announced size {size}")
        if self.store.blobs.size(oid) == size:
            async for _ in ctx.request.stream():
                pass
            return Response(status_code=200, headers={"ETag": f'"{oid}"'})
        # Chunks (~64 KiB) are hashed and written on the event loop (microseconds each); the fsync and the
        # final checks run in a worker thread.
        writer = self.store.blobs.writer(oid, size)
        try:
            async for chunk in ctx.request.stream():
                if chunk:
                    writer.write(chunk)
            await run_in_threadpool(writer.finish)
        finally:
            writer.abort()
        return Response(status_code=200, headers={"ETag": f'"{oid}"'})

    async def lfs_verify(self, ctx: Ctx, oid: str) -> Response:
        if ctx.token is None:
            raise HubError(401, "LFS verify needs the uploader's token")
        body = await self._json(ctx)
        stored = self.store.blobs.size(oid)
        if stored is None:
            raise HubError(404, f"LFS object {oid} was not uploaded")
        if isinstance(body, dict) and isinstance(body.get("size"), int) and body["size"] != stored:
            raise HubError(400, f"LFS object {oid}: stored size {stored} differs from {body['size']}")
        return JSONResponse({"oid": oid, "size": stored})

    async def commit(self, ctx: Ctx, repo_type: str, ns: str, name: str, rest: list[str]) -> Response:
        repo, token = self._repo_for_write(ctx, repo_type, ns, name, "commit")
        branch = "/".join(rest) or "main"
        create_pr = ctx.flag("create_pr")
        raw = await self._body(ctx, self.limits.max_commit_bytes)
        header, put_files, inline, deletes, folder_deletes = await run_in_threadpool(self._parse_commit, raw)
        if create_pr:
            # The PR starts from the branch head (or the given parent) and the branch itself is left alone.
            await run_in_threadpool(self.store.resolve, repo, branch)
        for data in inline:  # blobs first: a commit may only name blobs that are on disk
            await run_in_threadpool(self.store.blobs.put_bytes, data)
        sha, pr_num = await run_in_threadpool(
            lambda: self.store.commit(
                repo,
                branch,
                title=header.get("summary") or "Upload files",
                message=header.get("description") or "",
                author=token.user,
                put_files=put_files,
                delete_files=deletes,
                delete_folders=folder_deletes,
                parent_commit=header.get("parentCommit"),
                create_pr=create_pr,
            )
        )
        url = f"{self._repo_url(ctx, repo)}/commit/{sha}"
        out: dict[str, Any] = {
            "success": True,
            "commitOid": sha,
            "commitUrl": url,
            "commitMessage": header.get("summary"),
        }
        if pr_num is not None:
            out["pullRequestUrl"] = f"{self._repo_url(ctx, repo)}/discussions/{pr_num}"
        return JSONResponse(out)

    def _parse_commit(self, raw: bytes) -> tuple[dict, dict[str, dict], list[bytes], list[str], list[str]]:
        """Validate the whole ndjson payload before anything is stored; raise 400 naming the bad line."""
        header: dict | None = None
        put_files: dict[str, dict] = {}
        inline: list[bytes] = []
        deletes: list[str] = []
        folders: list[str] = []
        lines = [line for line in raw.split(b"\n") if line.strip()]
        if not lines:
            raise HubError(400, "Malformed commit payload: empty body; expected ndjson starting with a 'header' line")
        for lineno, line in enumerate(lines, 1):
            try:
                item = json.loads(line)
            except (UnicodeDecodeError, json.JSONDecodeError) as err:
                raise HubError(400, f"Malformed commit payload: line {lineno} is not JSON ({err})") from None
            if not isinstance(item, dict) or not isinstance(item.get("value"), dict) or "key" not in item:
                raise HubError(400, f"Malformed commit payload: line {lineno} needs {{'key': ..., 'value': {{...}}}}")
            key, value = item["key"], item["value"]
            if lineno == 1:
                if key != "header":
                    raise HubError(400, f"Malformed commit payload: line 1 must be the 'header', got key {key!r}")
                header = value
                if not isinstance(header.get("summary", ""), str) or not header.get("summary", "x").strip():
                    raise HubError(
                        400, "Malformed commit payload: the header needs a non-empty 'summary' (commit title)"
                    )
                continue
            path = value.get("path")
            if key == "file":
                path = validate_path(path)
                if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
                    raise HubError(400, f"Malformed commit payload: file {path!r} needs base64 'content'")
                try:
                    data = base64.b64decode(value["content"], validate=True)
                except (binascii.Error, ValueError):
                    raise HubError(400, f"Malformed commit payload: content of {path!r} is not valid base64") from None
                inline.append(data)
                put_files[path] = {
                    "oid": git_blob_oid(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size": len(data),
                    "lfs": False,
                }
            elif key == "lfsFile":
                path = validate_path(path)
                oid = value.get("oid")
                if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str) or not _SHA256_RE.match(oid):
                    raise HubError(
                        400, f"Malformed commit payload: LFS file {path!r} needs a sha256 'oid', got {oid!r}"
                    )
                stored = self.store.blobs.size(oid)
                if stored is None:
                    raise HubError(
                        422,
                        f"LFS file {path!r}: object {oid} was never uploaded; upload it through the LFS batch API first",
                    )
                if value.get("size") is not None and value["size"] != stored:
                    raise HubError(
                        400, f"LFS file {path!r}: size {value['size']} differs from the stored object ({stored})"
                    )
                put_files[path] = {
                    "oid": git_blob_oid(lfs_pointer(oid, stored)),
                    "sha256": oid,
                    "size": stored,
                    "lfs": True,
                }
            elif key == "deletedFile":
                deletes.append(validate_path(path))
            elif key == "deletedFolder":
                folders.append(validate_path(path, folder=True))
            else:
                raise HubError(400, f"Malformed commit payload: line {lineno} has unknown key {key!r}")
        assert header is not None
        if header.get("parentCommit") is not None and not isinstance(header["parentCommit"], str):
            raise HubError(400, "Malformed commit payload: 'parentCommit' must be a commit id string")
        return header, put_files, inline, deletes, folders

    # -- downloads ------------------------------------------------------------------------------------------------
    async def resolve(self, ctx: Ctx, repo_type: str, ns: str, name: str, rev: str, path: str) -> Response:
        repo = self._repo_for_read(ctx, repo_type, ns, name)
        sha = await run_in_threadpool(self.store.resolve, repo, rev)
        commit = await run_in_threadpool(self.store.get_commit, repo, sha)
        entry = commit.files.get(path)
        if entry is None:
            raise HubError(404, f"Entry not found: {path!r} at {rev} ({sha})", "EntryNotFound", {"X-Repo-Commit": sha})
        etag = entry["sha256"] if entry["lfs"] else entry["oid"]
        headers = {
            "ETag": f'"{etag}"',
            "X-Repo-Commit": sha,
            "Accept-Ranges": "bytes",
            "Cache-Control": "private, max-age=0, must-revalidate"
            if repo.private
            else "public, max-age=0, must-revalidate",
        }
        if entry["lfs"]:
            headers["X-Linked-Etag"] = f'"{entry["sha256"]}"'
            headers["X-Linked-Size"] = str(entry["size"])
        blob = self.store.blobs.path(entry["sha256"])
        if not blob.exists():
            raise HubError(500, f"Blob of {path!r} ({entry['sha256']}) is missing from the store")
        return _BlobFileResponse(
            blob,
            headers=headers,
            media_type="application/octet-stream",
            stat_result=os.stat(blob),
            content_disposition_type="inline",
        )


def create_app(root: str | os.PathLike, limits: ServerLimits | None = None) -> HubApp:
    """The ASGI app for a hub root (for embedding in another ASGI server)."""
    return HubApp(root, limits)


def serve(
    root: str | os.PathLike,
    host: str = "127.0.0.1",
    port: int = 8090,
    limits: ServerLimits | None = None,
    state_file: bool = True,
) -> None:
    """Serve a hub root in the foreground until interrupted; records `{pid, host, port}` in `<root>/server.json`.

    Example:
        >>> serve("/tmp/hub-root", port=8090)  # doctest: +SKIP
    """
    import asyncio

    import uvicorn

    app = create_app(root, limits)
    state = app.store.root / "server.json"
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30
    )
    server = uvicorn.Server(config)

    async def _main() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if server.started and state_file:
            # Written only once the port is bound, so a reader of server.json can connect at once.
            write_private_file(
                state, json.dumps({"pid": os.getpid(), "host": host, "port": port, "service": SERVICE_NAME})
            )
            logger.info("nebula-hub local hub serving %s on http://%s:%d", app.store.root, host, port)
        await task

    try:
        asyncio.run(_main())
    finally:
        if state_file:
            try:
                if json.loads(state.read_text()).get("pid") == os.getpid():
                    state.unlink()
            except (FileNotFoundError, json.JSONDecodeError):
                pass
    if not server.started:
        raise SystemExit(f"nebula-hub hub: could not listen on {host}:{port} (is the port in use?)")


def main(argv: list[str] | None = None) -> int:
    """`python -m nebula_hub.hub.server --root DIR --port N` (what `nebula-hub hub start` runs in the background)."""
    parser = argparse.ArgumentParser(
        prog="python -m nebula_hub.hub.server", description="Serve a nebula-hub local Hub."
    )
    parser.add_argument("--root", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--max-commit-mb", type=float, default=256)
    parser.add_argument("--max-lfs-gb", type=float, default=50)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # uvicorn shuts down gracefully on SIGTERM and then re-raises it; this no-op lets `serve` clean up first.
    signal.signal(signal.SIGTERM, lambda *_: None)
    limits = ServerLimits(
        max_commit_bytes=int(args.max_commit_mb * 1024 * 1024), max_lfs_bytes=int(args.max_lfs_gb * 1024**3)
    )
    try:
        serve(args.root, host=args.host, port=args.port, limits=limits)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
