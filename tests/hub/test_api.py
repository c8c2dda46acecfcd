"""The local Hub against the real `HfApi`: repos, commits (regular + LFS), refs, listings, downloads."""

import hashlib
import os

import pytest
from huggingface_hub import CommitOperationAdd, CommitOperationDelete
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)


BIG = 10 * 1024 * 1024 + 123  # over 10 MiB: the LFS path


@pytest.fixture(scope="module")
def populated(local_hub, tmp_path_factory):
    """A model repo with small files, a >10 MB LFS file, a branch `dev/x`, a tag `v1.0`, then a later commit."""
    api = local_hub.api()
    repo = local_hub.repo_id("api")
    api.create_repo(repo)
    folder = tmp_path_factory.mktemp("upload")
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "sub dir").mkdir()
    (folder / "sub dir" / "notes #1.txt").write_text("first version")
    big = os.urandom(BIG)
    (folder / "weights.bin").write_bytes(big)
    first = api.upload_folder(folder_path=folder, repo_id=repo, commit_message="first upload")
    api.create_branch(repo, branch="dev/x")
    api.create_tag(repo, tag="v1.0", tag_message="release")
    second = api.create_commit(
        repo,
        operations=[
            CommitOperationAdd("sub dir/notes #1.txt", b"second version"),
            CommitOperationAdd("extra.md", b"# extra\n"),
            CommitOperationDelete("config.json"),
        ],
        commit_message="second",
    )
    return {
        "repo": repo,
        "first": first.oid,
        "second": second.oid,
        "big_sha256": hashlib.sha256(big).hexdigest(),
    }


def test_create_repo_all_types_private_and_public(local_hub):
    api = local_hub.api()
    for repo_type, kwargs in (("model", {}), ("dataset", {}), ("space", {"space_sdk": "gradio"})):
        for private in (False, True):
            repo = local_hub.repo_id(f"{repo_type}-{'priv' if private else 'pub'}")
            url = api.create_repo(repo, repo_type=repo_type, private=private, **kwargs)
            assert url.repo_id == repo and url.repo_type == repo_type
            info = api.repo_info(repo, repo_type=repo_type)
            assert info.private is private and len(info.sha) == 40
            assert [s.rfilename for s in info.siblings] == [".gitattributes"]
            # exist_ok swallows the 409, without it the 409 surfaces with a clear message
            api.create_repo(repo, repo_type=repo_type, private=private, exist_ok=True, **kwargs)
            with pytest.raises(HfHubHTTPError, match="already created") as err:
                api.create_repo(repo, repo_type=repo_type, **kwargs)
            assert err.value.response.status_code == 409
    api.delete_repo(repo, repo_type="space")
    assert not api.repo_exists(repo, repo_type="space")
    api.delete_repo(repo, repo_type="space", missing_ok=True)


def test_upload_folder_small_and_lfs(local_hub, populated):
    api = local_hub.api()
    files = {f.path: f for f in api.list_repo_tree(populated["repo"], revision="v1.0", recursive=True)}
    assert set(files) == {".gitattributes", "config.json", "sub dir", "sub dir/notes #1.txt", "weights.bin"}
    assert files["weights.bin"].lfs.sha256 == populated["big_sha256"] and files["weights.bin"].size == BIG
    assert files["config.json"].lfs is None
    # the big blob is on disk under its sha256, with the right content
    blob = (
        local_hub.root / "blobs" / populated["big_sha256"][:2] / populated["big_sha256"][2:4] / populated["big_sha256"]
    )
    assert hashlib.sha256(blob.read_bytes()).hexdigest() == populated["big_sha256"]


def test_commit_with_deletes_and_history(local_hub, populated):
    api = local_hub.api()
    repo = populated["repo"]
    assert sorted(api.list_repo_files(repo)) == [".gitattributes", "extra.md", "sub dir/notes #1.txt", "weights.bin"]
    commits = api.list_repo_commits(repo)
    assert [c.title for c in commits] == ["second", "first upload", "initial commit"]
    assert [c.commit_id for c in commits[:2]] == [populated["second"], populated["first"]]
    with pytest.raises(EntryNotFoundError, match="doesn't exist"):
        api.delete_file("no-such-file.txt", repo)


def test_refs_branches_tags(local_hub, populated):
    api = local_hub.api()
    repo = populated["repo"]
    refs = api.list_repo_refs(repo)
    assert {b.name: b.target_commit for b in refs.branches} == {
        "main": populated["second"],
        "dev/x": populated["first"],
    }
    assert {t.name: t.target_commit for t in refs.tags} == {"v1.0": populated["first"]}
    # tags never move: re-creating one is a 409, even towards another commit
    with pytest.raises(HfHubHTTPError, match="tags never move") as err:
        api.create_tag(repo, tag="v1.0", revision="main")
    assert err.value.response.status_code == 409
    api.create_tag(repo, tag="v1.0", exist_ok=True)
    assert api.list_repo_refs(repo).tags[0].target_commit == populated["first"]
    # a branch from a tag, then deleted
    api.create_branch(repo, branch="from-tag", revision="v1.0")
    assert api.repo_info(repo, revision="from-tag").sha == populated["first"]
    api.delete_branch(repo, branch="from-tag")
    with pytest.raises(RevisionNotFoundError):
        api.repo_info(repo, revision="from-tag")
    # commits to a tag are refused
    with pytest.raises(HfHubHTTPError, match="tag"):
        api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo, revision="v1.0")


def test_info_at_branch_tag_sha_and_short_sha(local_hub, populated):
    api = local_hub.api()
    repo, first = populated["repo"], populated["first"]
    for rev in ("dev/x", "v1.0", first, first[:8]):
        info = api.model_info(repo, revision=rev, files_metadata=True)
        assert info.sha == first, rev
        assert {s.rfilename for s in info.siblings} >= {"config.json", "weights.bin"}
    assert api.model_info(repo).sha == populated["second"]
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo, revision="nope")
    assert not api.revision_exists(repo, "nope")


def test_paths_info(local_hub, populated):
    api = local_hub.api()
    infos = api.get_paths_info(populated["repo"], ["weights.bin", "sub dir", "missing.txt"], revision="v1.0")
    by_path = {i.path: i for i in infos}
    assert set(by_path) == {"weights.bin", "sub dir"}
    assert by_path["weights.bin"].lfs.sha256 == populated["big_sha256"]


def test_downloads_at_tag_branch_and_sha(local_hub, populated, tmp_path):
    api = local_hub.api()
    repo = populated["repo"]
    for i, rev in enumerate(("v1.0", "dev/x", populated["first"])):
        path = api.hf_hub_download(repo, "sub dir/notes #1.txt", revision=rev, cache_dir=tmp_path / f"c{i}")
        assert open(path).read() == "first version"
    latest = api.hf_hub_download(repo, "sub dir/notes #1.txt", cache_dir=tmp_path / "latest")
    assert open(latest).read() == "second version"
    snap = api.snapshot_download(repo, revision="v1.0", cache_dir=tmp_path / "snap")
    assert sorted(os.listdir(snap)) == [".gitattributes", "config.json", "sub dir", "weights.bin"]
    with open(os.path.join(snap, "weights.bin"), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == populated["big_sha256"]
    only = api.snapshot_download(
        repo, revision=populated["first"], allow_patterns=["*.json"], cache_dir=tmp_path / "only"
    )
    assert sorted(os.listdir(only)) == ["config.json"]
    with pytest.raises(EntryNotFoundError):
        api.hf_hub_download(repo, "config.json", cache_dir=tmp_path / "gone")  # deleted on main


def test_range_requests(local_hub, populated):
    import httpx

    url = f"{local_hub.endpoint}/{populated['repo']}/resolve/v1.0/weights.bin"
    r = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert r.status_code == 206 and len(r.content) == 10
    assert r.headers["content-range"] == f"bytes 10-19/{BIG}"
    head = httpx.head(url)
    assert head.headers["x-repo-commit"] == populated["first"]
    assert head.headers["etag"] == f'"{populated["big_sha256"]}"' and head.headers["x-linked-size"] == str(BIG)
    assert httpx.get(url, headers={"Range": f"bytes={BIG + 5}-"}).status_code == 416


def test_access_control(local_hub):
    owner = local_hub.api()
    repo = local_hub.repo_id("private")
    owner.create_repo(repo, private=True)
    owner.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo)
    # a stranger and an anonymous caller cannot see it at all
    for api in (local_hub.api(local_hub.stranger_token), local_hub.api(False)):
        with pytest.raises(RepositoryNotFoundError):
            api.model_info(repo)
        assert not api.file_exists(repo, "s.txt")
    # the owner's read-only token reads but cannot write
    reader = local_hub.api(local_hub.read_token)
    assert reader.model_info(repo).private is True
    with pytest.raises(HfHubHTTPError, match="read-only") as err:
        reader.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=repo)
    assert err.value.response.status_code == 403
    # writes without a token: 401; a public repo is readable anonymously
    public = local_hub.repo_id("public")
    owner.create_repo(public)
    with pytest.raises(HfHubHTTPError, match="Authentication required") as err:
        local_hub.api(False).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public)
    assert err.value.response.status_code == 401
    assert local_hub.api(False).model_info(public).private is False
    # a stranger cannot write to someone else's namespace, but can create in its own
    with pytest.raises(HfHubHTTPError, match="no rights on namespace") as err:
        local_hub.api(local_hub.stranger_token).upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=public)
    assert err.value.response.status_code == 403
    mine = local_hub.repo_id("mine", namespace="stranger")
    local_hub.api(local_hub.stranger_token).create_repo(mine)
    # an invalid token is a 401 everywhere
    with pytest.raises(HfHubHTTPError, match="Invalid user token"):
        local_hub.api("hf_" + "x" * 34).whoami()


def test_whoami(local_hub):
    me = local_hub.api().whoami()
    assert me["name"] == "local" and me["auth"]["accessToken"]["role"] == "write"
    assert local_hub.api(local_hub.read_token).whoami()["auth"]["accessToken"]["role"] == "read"
