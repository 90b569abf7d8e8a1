"""Object keys, built from checked parts only.

Every key is `{project}/...`: the project's id first, then parts that are each one plain
name. Names come from clients (upload file names, the last segment of an ingested URL, a
task's `filename`) and from operators (asset names), so each part is checked here after
any decoding, and a key is only ever made by `project_key`. A name cannot climb out of its
folder, so one project's key can never reach another project's objects. The adapters check
every key again (`check_key`) and refuse, never normalise, one that is not plain.
"""

from __future__ import annotations

import re
import unicodedata

from pipeline.storage.port import StorageError

MAX_NAME_BYTES = 255  # the usual file-system limit on one name, in UTF-8 bytes
PROJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
UPLOADS = "uploads"  # the folder of a project's uploaded and ingested files
FALLBACK_NAME = "download"  # an ingested file whose URL names nothing usable


class UnsafeName(ValueError):
    """A name that cannot be one part of a key; the message says why."""


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a file name (one key part), or None when it can."""
    if not name:
        return "must not be empty"
    if name in {".", ".."}:
        return "must not be '.' or '..'"
    if name.startswith("."):
        return "must not start with '.'"
    if "/" in name or "\\" in name:
        return "must be one name: no '/' or '\\'"
    if any(unicodedata.category(c) in {"Cc", "Cs"} for c in name):
        return "must not contain control characters"
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        return f"must be at most {MAX_NAME_BYTES} bytes in UTF-8"
    return None


def check_name(name: str) -> str:
    """`name`, when it can be one key part; UnsafeName otherwise."""
    problem = name_problem(name)
    if problem:
        raise UnsafeName(problem)
    return name


def check_relative(path: str) -> str:
    """A relative path below a folder (an output's asset, `segments/1.m4s`): each part a name."""
    for part in path.split("/"):
        check_name(part)
    return path


def name_or_fallback(name: str) -> str:
    """A name from an untrusted source that was not asked for by the client (a URL's last
    segment, already decoded): its last part when that is a plain name, else FALLBACK_NAME."""
    last = re.split(r"[/\\]", name)[-1]
    return last if name_problem(last) is None else FALLBACK_NAME


def project_key(project_id: str, *names: str) -> str:
    """The key of `names` (folders, then the file) in the project: the only way keys are
    made. Each name is one part: a `/` inside one is refused, not taken as a folder."""
    if not PROJECT_ID.fullmatch(project_id):
        raise UnsafeName(f"project id {project_id!r} cannot start a key")
    return "/".join([project_id, *(check_name(name) for name in names)])


def upload_key(project_id: str, file_id: str, filename: str) -> str:
    return project_key(project_id, UPLOADS, file_id, filename)


def output_key(project_id: str, task_id: str, filename: str) -> str:
    """A task's output; a re-run of the task writes the same key."""
    return project_key(project_id, task_id, filename)


def asset_key(project_id: str, task_id: str, path: str) -> str:
    """One of a task's output's assets, beside it (`path` may have folders: `seg/1.m4s`)."""
    return project_key(project_id, task_id, *path.split("/"))


def check_key(key: str) -> str:
    """`key` when every part of it is plain; StorageError otherwise (the adapters' guard)."""
    parts = key.split("/")
    if not key or key.startswith("/"):
        raise StorageError(f"object key {key!r} is not a relative key")
    for part in parts:
        if part in {"", ".", ".."} or "\\" in part or "\x00" in part:
            raise StorageError(f"object key {key!r} has a part that is not a plain name")
        if any(unicodedata.category(c) in {"Cc", "Cs"} for c in part):
            raise StorageError(f"object key {key!r} has control characters")
    return key
