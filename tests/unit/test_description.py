"""The description is extractive: every word of it comes from the findings it was given."""

from __future__ import annotations

from operators.description import describe
from operators.keywords import tokens

FINDINGS = {
    "speech": {
        "language": "en",
        "text": ["Today we bake sourdough bread.", "First, feed the starter.", "Then knead."],
    },
    "objects": {"timeline": [{"label": "bowl"}, {"label": "person"}, {"label": "bowl"}]},
    "text": {"timeline": [{"text": "FLOUR 1kg"}, {"text": "FLOUR 1kg"}]},
    "faces": {"timeline": [{"confidence": 0.9}]},
    "chapters": {"chapters": [{"title": "Feeding the starter"}]},
}


def test_every_part_comes_from_the_findings() -> None:
    described = describe(FINDINGS, duration=62.0)
    assert described["method"] == "extractive"
    assert described["title"] == "Feeding the starter"
    assert described["languages"] == ["en"]
    assert described["tags"][:2] == ["bowl", "person"]  # the most often seen object first
    source_words = set(tokens(str(FINDINGS))) | {"bowl", "person"}
    assert set(described["tags"]) <= source_words
    text = described["description"]
    assert text.startswith("Today we bake sourdough bread. First, feed the starter.")
    assert "Shows: bowl, person." in text and "On-screen text: FLOUR 1kg." in text
    assert "Faces seen in 1 moment." in text
    assert described["sources"] == ["chapters", "faces", "objects", "speech", "text"]


def test_nothing_found_is_an_empty_description_not_an_invented_one() -> None:
    described = describe({}, duration=3.0)
    assert (described["title"], described["description"], described["tags"]) == ("", "", [])
    assert described["sources"] == [] and described["method"] == "extractive"


def test_malformed_findings_are_skipped() -> None:
    odd = {"speech": "not an object", "objects": {"timeline": [1, None, {"label": "cat"}]}}
    assert describe(odd)["tags"] == ["cat"]
