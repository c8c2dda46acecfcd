"""Bad input: each case gets a 4xx with a clear message, and nothing is stored."""

import base64
import hashlib
import json
import os

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError

from tests.fixtures.hub import COMMIT_LIMIT_MB


@pytest.fixture
def repo(local_hub):
    repo = local_hub.repo_id("bad")
    local_hub.api().create_repo(repo)
    return repo


def _auth(local_hub):
    return {"Authorization": f"Bearer {local_hub.token}"}


def _head(local_hub, repo):
    return local_hub.api().model_info(repo).sha


def _commit(local_hub, repo, lines, rev="main"):
    body = "\n".join(json.dumps(line) if not isinstance(line, str) else line for line in lines)
    return httpx.post(
        f"{local_hub.endpoint}/api/models/{repo}/commit/{rev}",
        content=body.encode(),
        headers={**_auth(local_hub), "Content-Type": "application/x-ndjson"},
    )


HEADER = {"key": "header", "value": {"summary": "bad"}}


def _file(path, data=b"x"):
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(data).decode(), "encoding": "base64"}}


@pytest.mark.parametrize(
    "case, lines, message",
    [
        ("not json", [HEADER, "{not json"], "line 2 is not JSON"),
        ("no header", [_file("a.txt")], "line 1 must be the 'header'"),
        ("bad base64", [HEADER, {"key": "file", "value": {"path": "a.txt", "content": "%%%"}}], "not valid base64"),
        ("unknown op", [HEADER, {"key": "renameFile", "value": {"path": "a.txt"}}], "unknown key 'renameFile'"),
        ("dot-dot path", [HEADER, _file("../../etc/passwd")], "'..' segments are not allowed"),
        ("nested dot-dot", [HEADER, _file("data/../../x.txt")], "'..' segments are not allowed"),
        ("absolute path", [HEADER, _file("/etc/passwd")], "absolute paths are not allowed"),
        ("control char", [HEADER, _file("a\x01b.txt")], "control characters"),
        ("git dir", [HEADER, _file(".git/config")], "reserved '.git'"),
        (
            "missing LFS object",
            [HEADER, {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": "ab" * 32, "size": 3}}],
            "never uploaded",
        ),
        (
            "bad parent",
            [{"key": "header", "value": {"summary": "s", "parentCommit": "0" * 40}}, _file("a.txt")],
            "A commit has happened since",
        ),
    ],
)
def test_malformed_commits_are_refused_and_store_nothing(local_hub, repo, case, lines, message):
    before = _head(local_hub, repo)
    r = _commit(local_hub, repo, lines)
    assert 400 <= r.status_code < 500, (case, r.status_code, r.text)
    assert message in r.json()["error"], (case, r.json())
    assert message.split("'")[0] in r.headers["x-error-message"]
    assert _head(local_hub, repo) == before, case
    assert len(local_hub.api().list_repo_commits(repo)) == 1, case


def test_lfs_blob_with_wrong_sha256_is_refused(local_hub, repo):
    data = os.urandom(4096)
    claimed = hashlib.sha256(b"something else").hexdigest()
    batch = httpx.post(
        f"{local_hub.endpoint}/{repo}.git/info/lfs/objects/batch",
        json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": claimed, "size": len(data)}]},
        headers={**_auth(local_hub), "Accept": "application/vnd.git-lfs+json"},
    )
    assert batch.status_code == 200
    href = batch.json()["objects"][0]["actions"]["upload"]["href"]
    put = httpx.put(href, content=data)
    assert put.status_code == 400 and "content hashes to sha256" in put.json()["error"]
    assert not any((local_hub.root / "blobs").rglob(claimed))
    assert not any((local_hub.root / "tmp").iterdir())
    # a tampered signed URL is refused too
    bad = httpx.put(href.replace("size=4096", "size=4097"), content=data + b"x")
    assert bad.status_code == 403 and "signature" in bad.json()["error"]
    # and a commit naming that object is refused
    lines = [
        HEADER,
        {"key": "lfsFile", "value": {"path": "w.bin", "algo": "sha256", "oid": claimed, "size": len(data)}},
    ]
    assert _commit(local_hub, repo, lines).status_code == 422


def test_oversized_commit_is_refused(local_hub, repo):
    big_text = b"a line of text\n" * (
        (COMMIT_LIMIT_MB * 1024 * 1024) // 15 - 100
    )  # < 10 MiB text: inline, > limit base64
    with pytest.raises(HfHubHTTPError, match="exceeds this hub's limit") as err:
        local_hub.api().create_commit(repo, [CommitOperationAdd("big.txt", big_text)], commit_message="too big")
    assert err.value.response.status_code == 413
    assert local_hub.api().list_repo_files(repo) == [".gitattributes"]


@pytest.mark.parametrize(
    "name, organization",
    [
        ("bad..name", "local"),
        ("-leading", "local"),
        ("a" * 97, "local"),
        ("sp ace", "local"),
        ("ok", "../etc"),
        ("x.git", "local"),
    ],
)
def test_invalid_repo_names(local_hub, name, organization):
    before = httpx.get(f"{local_hub.endpoint}/api/models", headers=_auth(local_hub)).json()
    r = httpx.post(
        f"{local_hub.endpoint}/api/repos/create",
        json={"name": name, "organization": organization},
        headers=_auth(local_hub),
    )
    assert (
        r.status_code == 400
        and "Invalid" in r.json()["error"]
        and repr(name if organization == "local" else organization) in r.json()["error"]
    )
    assert httpx.get(f"{local_hub.endpoint}/api/models", headers=_auth(local_hub)).json() == before


def test_invalid_branch_and_tag_names(local_hub, repo):
    api = local_hub.api()
    for bad in ("has space", "a..b", "refs/heads/x", "x~1"):
        with pytest.raises(HfHubHTTPError, match="Invalid branch name") as err:
            api.create_branch(repo, branch=bad)
        assert err.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError, match="Invalid tag name"):
        api.create_tag(repo, tag="v1 .0")
    assert [b.name for b in api.list_repo_refs(repo).branches] == ["main"]


def test_traversal_in_download_and_tree_urls(local_hub, repo):
    for url in (
        f"/{repo}/resolve/main/..%2F..%2Fhub.db",
        f"/{repo}/resolve/main/../../hub.db",
        f"/api/models/{repo}/tree/main/..%2F..",
    ):
        r = httpx.get(local_hub.endpoint + url)
        assert r.status_code in (400, 404), url
        assert b"SQLite" not in r.content


def test_unknown_repo_and_revision_codes(local_hub, repo):
    r = httpx.get(f"{local_hub.endpoint}/api/models/local/does-not-exist-123")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    r = httpx.head(f"{local_hub.endpoint}/{repo}/resolve/nope/a.txt")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"
    r = httpx.head(f"{local_hub.endpoint}/{repo}/resolve/main/a.txt")
    assert r.headers["x-error-code"] == "EntryNotFound" and len(r.headers["x-repo-commit"]) == 40


def test_xet_is_never_offered(local_hub, repo):
    r = httpx.get(f"{local_hub.endpoint}/api/models/{repo}/xet-write-token/main", headers=_auth(local_hub))
    assert r.status_code == 501 and "HF_HUB_DISABLE_XET=1" in r.json()["error"]
