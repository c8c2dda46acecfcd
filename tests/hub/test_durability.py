"""Crash safety (kill -9 during a large upload) and concurrent writers on one branch."""

import hashlib
import os
import signal
import socket
import threading
import time

import pytest

from nebula_hub.hub import ensure_local_hub, get_api


pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_blobs_intact(root):
    blobs = [p for p in (root / "blobs").rglob("*") if p.is_file()]
    assert blobs
    for p in blobs:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        assert h.hexdigest() == p.name, f"corrupt blob {p}"
    return {p.name for p in blobs}


def test_kill_during_large_upload_keeps_previous_commit(tmp_path):
    root = tmp_path / "root"
    hub = ensure_local_hub(root, port=_free_port())
    api = get_api(hub.target)
    repo = "local/crash"
    api.create_repo(repo)
    small = os.urandom(200_000)
    before = api.upload_file(path_or_fileobj=small, path_in_repo="weights-v1.bin", repo_id=repo).oid
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(96):
            f.write(os.urandom(1 << 20))
    big_sha = hashlib.sha256(big.read_bytes()).hexdigest()

    errors = []

    def upload():
        try:
            api.upload_file(path_or_fileobj=str(big), path_in_repo="weights-v2.bin", repo_id=repo)
        except Exception as err:  # the server dies under it: any client error is expected
            errors.append(err)

    thread = threading.Thread(target=upload, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    killed = False
    while time.monotonic() < deadline and not killed:
        parts = list((root / "tmp").glob("*.part"))
        if parts and any(p.stat().st_size > (1 << 20) for p in parts if p.exists()):
            os.kill(hub.pid, signal.SIGKILL)
            killed = True
        time.sleep(0.002)
    assert killed, "the upload never reached the server"
    hub.process.wait(timeout=10)
    assert any(p.stat().st_size < big.stat().st_size for p in (root / "tmp").glob("*.part")), "kill came too late"

    # restart on another port (the dying client's retries must not reach it) and inspect
    hub2 = ensure_local_hub(root, port=_free_port())
    try:
        api2 = get_api(hub2.target)
        assert api2.model_info(repo).sha == before
        assert sorted(api2.list_repo_files(repo)) == [".gitattributes", "weights-v1.bin"]
        assert not list((root / "tmp").iterdir()), "partial upload left behind"
        names = _assert_blobs_intact(root)
        assert big_sha not in names
        path = api2.hf_hub_download(repo, "weights-v1.bin", cache_dir=tmp_path / "cache")
        assert open(path, "rb").read() == small
        # and the same upload goes through after the restart
        after = api2.upload_file(path_or_fileobj=str(big), path_in_repo="weights-v2.bin", repo_id=repo).oid
        assert api2.list_repo_commits(repo)[1].commit_id == before and after != before
        assert big_sha in _assert_blobs_intact(root)
    finally:
        hub2.stop()


_WRITER = """
import json, sys
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError
endpoint, token, repo, i, parent = sys.argv[1:6]
api = HfApi(endpoint=endpoint, token=token)
ops = [CommitOperationAdd(f"{prefix}{i}/part-{j}.txt", f"{i}-{j}".encode()) for j in range(3)]
try:
    oid = api.create_commit(repo, ops, commit_message=f"writer {i}", parent_commit=parent or None).oid
    print(json.dumps({"oid": oid}))
except HfHubHTTPError as err:
    print(json.dumps({"status": err.response.status_code, "message": str(err)[:300]}))
"""


def _race(local_hub, repo, prefix, parent=None):
    """Start 8 writer processes at once (separate processes, as separate users' jobs would be); their results."""
    import json
    import subprocess
    import sys

    code = _WRITER.replace("{prefix}", prefix)
    env = {**os.environ, "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, local_hub.endpoint, local_hub.token, repo, str(i), parent or ""],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )
        for i in range(8)
    ]  # fmt: skip
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_eight_concurrent_writers_on_one_branch(local_hub):
    api = local_hub.api()
    repo = local_hub.repo_id("concurrent")
    api.create_repo(repo)
    start = api.model_info(repo).sha

    results = _race(local_hub, repo, "w")
    shas = [r["oid"] for r in results]
    history = api.list_repo_commits(repo)
    assert {c.commit_id for c in history} >= set(shas) and len(history) == 9
    assert history[-1].commit_id == start
    files = set(api.list_repo_files(repo))
    assert {f"w{i}/part-{j}.txt" for i in range(8) for j in range(3)} <= files

    # with a parent_commit, only one of 8 racing writers wins; the others get 412 and nothing is lost
    head = api.model_info(repo).sha
    results = _race(local_hub, repo, "p", parent=head)
    winners = [r["oid"] for r in results if "oid" in r]
    assert len(winners) == 1, results
    losers = [r for r in results if "oid" not in r]
    assert all(r["status"] == 412 and "A commit has happened since" in r["message"] for r in losers), losers
    assert api.list_repo_commits(repo)[0].commit_id == winners[0]
    assert len(api.list_repo_commits(repo)) == 10
