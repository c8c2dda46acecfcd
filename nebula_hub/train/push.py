"""Push a checkpoint folder to a branch of a model repo in one commit; tag releases; never clobber a revision.

One action per helper over `HfApi`: create the repo (`exist_ok`), create the branch, upload the folder to it as a
single commit (so a failed push leaves the branch at its previous commit, never half-written), tag the commit.

    sha = push_checkpoint("runs/quickstart/grpo/final", "local/nebula-tiny", "quickstart-grpo", api, run_id="abc",
                          tag="quickstart-grpo-v0.1.0")

A branch that already holds a checkpoint is refused unless `overwrite=True`, except when the checkpoint there was
pushed by the same run (`nebula_run.json` carries the run id): then the push is already done and its sha is returned,
which makes a resumed run idempotent even if it was killed between the upload and its state file update.
"""

import json
import logging
import time
from pathlib import Path

from nebula_hub.errors import NebulaError


logger = logging.getLogger(__name__)
RUN_FILE = "nebula_run.json"
IGNORE = ["checkpoint-*", "checkpoint-*/**", "completions/**", "runs/**", "*.tmp"]


def _retrying(action, what: str, retries: int = 3, backoff_s: float = 2.0):
    """Run `action()`, retrying transient failures (connection errors, 5xx) with backoff."""
    from huggingface_hub.errors import HfHubHTTPError

    for attempt in range(1, retries + 1):
        try:
            return action()
        except (HfHubHTTPError, ConnectionError, TimeoutError, OSError) as err:
            status = getattr(getattr(err, "response", None), "status_code", None)
            transient = status is None or status >= 500 or status == 429
            if not transient or attempt == retries:
                raise NebulaError(
                    f"{what} failed after {attempt} attempt(s): {str(err).splitlines()[0]}",
                    hint="check the hub is reachable (nebula-hub hub status) and rerun with --resume; "
                    "nothing half-written was left on the branch",
                ) from None
            logger.warning("%s failed (%s); retrying in %.0f s", what, type(err).__name__, backoff_s * attempt)
            time.sleep(backoff_s * attempt)


def pushed_run_id(api, repo: str, branch: str) -> str | None | bool:
    """`False` if `branch` does not exist, `None` if it holds no nebula checkpoint, else the run id that pushed it."""
    from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

    refs = api.list_repo_refs(repo)
    if branch not in {b.name for b in refs.branches}:
        return False
    try:
        path = api.hf_hub_download(repo, RUN_FILE, revision=branch)
    except (EntryNotFoundError, RevisionNotFoundError):
        return None
    return json.loads(Path(path).read_text()).get("run_id")


def push_checkpoint(
    folder: str | Path,
    repo: str,
    branch: str,
    api,
    run_id: str,
    tag: str | None = None,
    overwrite: bool = False,
    private: bool = False,
    commit_message: str | None = None,
) -> str:
    """Upload `folder` to `repo@branch` as one commit and return the commit sha.

    Args:
        folder (`str`): the checkpoint folder (model, tokenizer, README.md card, plots).
        repo (`str`): model repo id; created if missing.
        branch (`str`): the revision for this checkpoint; created from `main`.
        api (`HfApi`): the client (`nebula_hub.hub.get_api(target)`).
        run_id (`str`): written to `nebula_run.json` so a rerun of the same run recognises its own push.
        tag (`str`, *optional*): a release tag created on the new commit.
        overwrite (`bool`, *optional*, defaults to `False`): allow a new commit on a branch another run pushed to.

    Example:
        >>> from nebula_hub.hub import get_api, resolve_hub
        >>> sha = push_checkpoint("runs/q/sft/final", "local/m", "q-sft", get_api(resolve_hub(None)), "r1")  # doctest: +SKIP
    """
    folder = Path(folder)
    (folder / RUN_FILE).write_text(json.dumps({"run_id": run_id, "branch": branch}, indent=2))
    _retrying(lambda: api.create_repo(repo, private=private, exist_ok=True), f"creating model repo {repo!r}")
    existing = _retrying(lambda: pushed_run_id(api, repo, branch), f"reading branches of {repo!r}")
    if existing is False:
        _retrying(lambda: api.create_branch(repo, branch=branch, exist_ok=True), f"creating branch {repo}@{branch}")
    elif existing == run_id and not overwrite:
        sha = api.repo_info(repo, revision=branch).sha
        logger.info("%s@%s already holds this run's checkpoint (%s); not pushing again", repo, branch, sha[:12])
        _tag(api, repo, tag, sha, overwrite)
        return sha
    elif existing is not None and not overwrite:
        raise NebulaError(
            f"{repo}@{branch} already holds a checkpoint from another run ({existing!r})",
            hint="pass --overwrite to add a new commit on that branch, or pick another --set run_name=NAME",
        )
    info = _retrying(
        lambda: api.upload_folder(
            folder_path=str(folder),
            repo_id=repo,
            revision=branch,
            commit_message=commit_message or f"nebula-hub: {branch}",
            ignore_patterns=IGNORE,
        ),
        f"uploading {folder} to {repo}@{branch}",
    )
    sha = info.oid
    _tag(api, repo, tag, sha, overwrite)
    return sha


def _tag(api, repo: str, tag: str | None, sha: str, overwrite: bool) -> None:
    if not tag:
        return
    refs = api.list_repo_refs(repo)
    current = {t.name: t.target_commit for t in refs.tags}
    if tag in current:
        if current[tag] == sha:
            return
        if not overwrite:
            raise NebulaError(
                f"tag {tag!r} of {repo} already points to {current[tag][:12]}, not to the new commit {sha[:12]}",
                hint="bump the recipe's version, or pass --overwrite to move the tag",
            )
        api.delete_tag(repo, tag=tag)
    _retrying(lambda: api.create_tag(repo, tag=tag, revision=sha), f"tagging {repo}@{sha[:12]} as {tag}")
