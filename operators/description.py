"""`description`: a title, a description, tags and languages for a media, put together from
what the other kinds found on it (its transcript, on-screen text, objects, faces, chapters,
outline). Extractive: every word comes from those findings, nothing is generated, and the
output says so (`"method": "extractive"`). No model.

The runtime hands the findings in as `options[FINDINGS_OPTION]`, kind -> that kind's JSON
output (pipeline/executor.py reads them from the media's other outputs); an input with none
gets an honest empty description.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from operators.base import Operator
from operators.catalog import FINDINGS_OPTION, KINDS
from operators.keywords import tokens
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress

FINDING_KINDS = KINDS["description"].reads_findings
MAX_TAGS = 12
MAX_SENTENCES = 3
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class DescriptionOperator(Operator):
    kind = "description"

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        findings: Mapping[str, Any] = options.get(FINDINGS_OPTION) or {}
        described = describe(findings, source.info.duration)
        progress(1.0)
        data = json.dumps(described, ensure_ascii=False).encode()
        summary = {"title": described["title"], "tags": described["tags"]}
        return Artifact("json", "application/json", "json", data=data, media=False, summary=summary)


def describe(findings: Mapping[str, Any], duration: float | None = None) -> dict[str, Any]:
    transcript = _transcript(findings.get("speech"))
    headings = _headings(findings)
    labels = _labels(findings.get("objects"))
    screen_text = _screen_text(findings.get("text"))
    faces = _count(findings.get("faces"))
    words = Counter(tokens(" ".join([transcript, *headings, *screen_text])))
    tags = list(dict.fromkeys([*labels, *(w for w, _ in words.most_common(MAX_TAGS))]))[:MAX_TAGS]
    sentences = [s.strip() for s in _SENTENCE.split(transcript) if s.strip()][:MAX_SENTENCES]
    parts = []
    if sentences:
        parts.append(" ".join(sentences))
    if labels:
        parts.append("Shows: " + ", ".join(labels[:5]) + ".")
    if faces:
        parts.append(f"Faces seen in {faces} moment{'s' if faces > 1 else ''}.")
    if screen_text:
        parts.append("On-screen text: " + "; ".join(screen_text[:3]) + ".")
    speech = findings.get("speech")
    language = speech.get("language") if isinstance(speech, Mapping) else None
    return {
        "method": "extractive",  # assembled from the findings below, not generated
        "title": _title(headings, sentences, labels),
        "description": " ".join(parts),
        "tags": tags,
        "languages": [language] if language else [],
        "duration": duration,
        "sources": sorted(k for k in FINDING_KINDS if findings.get(k)),
    }


def _transcript(speech: Any) -> str:
    if not isinstance(speech, Mapping):
        return ""
    text = speech.get("text")
    if isinstance(text, list):
        return " ".join(str(t).strip() for t in text if str(t).strip())
    return str(text or "").strip()


def _headings(findings: Mapping[str, Any]) -> list[str]:
    found = []
    for kind, listed, field in (
        ("chapters", "chapters", "title"),
        ("outline", "sections", "heading"),
    ):
        result = findings.get(kind)
        items = result.get(listed) if isinstance(result, Mapping) else None
        found += [str(i.get(field, "")) for i in items or [] if isinstance(i, Mapping)]
    return [h.strip() for h in found if h.strip()]


def _timeline(result: Any) -> Iterable[Mapping[str, Any]]:
    timeline = result.get("timeline") if isinstance(result, Mapping) else None
    return (item for item in timeline or [] if isinstance(item, Mapping))


def _labels(objects: Any) -> list[str]:
    """Object labels, the most often seen first."""
    counts = Counter(str(item["label"]) for item in _timeline(objects) if item.get("label"))
    return [label for label, _ in counts.most_common()]


def _screen_text(text: Any) -> list[str]:
    lines = (str(item.get("text", "")).strip() for item in _timeline(text))
    return list(dict.fromkeys(line for line in lines if line))


def _count(result: Any) -> int:
    return sum(1 for _ in _timeline(result))


def _title(headings: list[str], sentences: list[str], labels: list[str]) -> str:
    if headings:
        return headings[0]
    if sentences:
        words = sentences[0].split()
        return " ".join(words[:10]) + ("…" if len(words) > 10 else "")
    if labels:
        return ", ".join(labels[:3]).capitalize()
    return ""
