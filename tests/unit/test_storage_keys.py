"""Object keys are made from plain names only: what an attacker's names turn into."""

from __future__ import annotations

import pytest

from pipeline.storage import StorageError
from pipeline.storage.keys import (
    FALLBACK_NAME,
    UnsafeName,
    asset_key,
    check_key,
    name_or_fallback,
    name_problem,
    output_key,
    project_key,
    upload_key,
)

NOT_NAMES = [
    "",
    ".",
    "..",
    ".hidden",
    "a/b",
    "../prj_b",
    "a\\b",
    "a\x00b",
    "a\nb",
    "a\x7fb",
    "a\x85b",  # a C1 control character
    "\udc80",  # a lone surrogate (JSON can carry one)
    "é" * 128,  # 256 bytes in UTF-8
]


@pytest.mark.parametrize("name", NOT_NAMES)
def test_what_is_not_one_plain_name(name: str) -> None:
    assert name_problem(name) is not None
    with pytest.raises(UnsafeName):
        upload_key("prj_a", "file_1", name)


@pytest.mark.parametrize("name", ["clip.mp4", "a b.txt", "отчёт.pdf", 'say "hi".txt', "é" * 127])
def test_plain_names_make_keys_in_their_project(name: str) -> None:
    assert upload_key("prj_a", "file_1", name) == f"prj_a/uploads/file_1/{name}"
    assert output_key("prj_a", "tsk_1", name) == f"prj_a/tsk_1/{name}"


def test_an_asset_may_have_folders_each_a_plain_name() -> None:
    assert asset_key("prj_a", "tsk_1", "seg/1.m4s") == "prj_a/tsk_1/seg/1.m4s"
    with pytest.raises(UnsafeName):
        output_key("prj_a", "tsk_1", "seg/1.m4s")  # the output itself is one name
    for bad in ("seg/../../prj_b/x", "/abs", "seg//x", "seg/"):
        with pytest.raises(UnsafeName):
            asset_key("prj_a", "tsk_1", bad)


@pytest.mark.parametrize("project", ["", "..", "prj_a/..", "prj a", "../prj_b", "x" * 65])
def test_a_key_starts_with_a_plain_project_id(project: str) -> None:
    with pytest.raises(UnsafeName):
        project_key(project, "x")


@pytest.mark.parametrize(
    ("decoded", "name"),
    [
        ("x/../../../../prj_b/uploads/file_1/v.jpg", "v.jpg"),
        ("a\\..\\b.mp4", "b.mp4"),
        ("..", FALLBACK_NAME),
        ("a/..", FALLBACK_NAME),
        ("", FALLBACK_NAME),
        ("a\x00.mp4", FALLBACK_NAME),
        ("é" * 200, FALLBACK_NAME),
        ("clip.mp4", "clip.mp4"),
    ],
)
def test_a_name_from_a_url_is_its_last_plain_part_or_the_fallback(decoded: str, name: str) -> None:
    assert name_or_fallback(decoded) == name


@pytest.mark.parametrize("key", ["a/../b", "a/./b", "a//b", "/a", "a/", "", "a\\b", "a/\x00"])
def test_the_adapters_guard_refuses_keys_instead_of_normalising(key: str) -> None:
    with pytest.raises(StorageError):
        check_key(key)
