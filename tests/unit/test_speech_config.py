"""Whisper's model choice, languages and registry pins; the voice-activity gate's spans."""

from __future__ import annotations

import numpy as np
import pytest

from operators.models import MODELS, WHISPER_CHECKPOINTS
from operators.speech import Segment, Transcript, model_size, whisper_language
from operators.vad import Spliced, chunks, groups, loud_spans
from pipeline.contract.errors import TaskError


def test_registry_pins_whispers_own_hashes() -> None:
    whisper = pytest.importorskip("whisper")
    for size, (upstream, digest) in WHISPER_CHECKPOINTS.items():
        url = whisper._MODELS[size]
        assert url.split("/")[-2] == digest and url.endswith("/" + upstream)
        (file,) = MODELS[f"whisper-{size}"].files
        assert (file.name, file.sha256, file.url) == (f"whisper-{size}.pt", digest, url)


def test_model_size_follows_the_device_and_the_environment() -> None:
    assert model_size({}) == "small" and model_size({}, cuda=True) == "turbo"
    assert model_size({"STROBE_WHISPER_MODEL": "tiny"}, cuda=True) == "tiny"
    with pytest.raises(TaskError) as caught:
        model_size({"STROBE_WHISPER_MODEL": "huge"})
    assert caught.value.code == "model_missing" and "small" in caught.value.message


def test_languages_map_to_whisper_codes() -> None:
    pytest.importorskip("whisper")
    assert whisper_language(None) is None and whisper_language("pt-BR") == "pt"
    with pytest.raises(TaskError) as caught:
        whisper_language("qq")
    assert caught.value.code == "option_out_of_range"


def test_paragraphs_break_at_long_pauses() -> None:
    transcript = Transcript(
        "en", (Segment(0, 1, "One.", 1), Segment(1.5, 2, "Two.", 1), Segment(5, 6, "Three.", 1))
    )
    assert transcript.paragraphs() == ["One. Two.", "Three."]


def test_energy_gate_and_chunking() -> None:
    rate = 16_000
    quiet = np.zeros(rate * 10, np.float32)
    loud = (0.1 * np.sin(np.arange(rate * 2) / 5)).astype(np.float32)
    samples = np.concatenate([quiet, loud, quiet, loud, quiet])
    spans = loud_spans(samples)
    assert len(spans) == 2
    assert spans[0][0] == pytest.approx(10 - 0.3, abs=0.05)
    assert spans[0][1] == pytest.approx(12 + 0.3, abs=0.05)
    assert loud_spans(np.zeros(rate * 3600, np.float32)) == []
    assert chunks([(0, 10), (11, 20), (40, 50)]) == [(0, 20), (40, 50)]
    assert chunks([(0, 300)], max_len=120) == [(0, 100), (100, 200), (200, 300)]


def test_spans_are_spliced_and_times_mapped_back() -> None:
    assert groups([(0, 10), (50, 60), (100, 250)], max_len=120) == [
        [(0, 10), (50, 60), (100, 175)],
        [(175, 250)],
    ]
    splice = Spliced(((2.0, 4.0), (10.0, 11.0)))
    recording = np.arange(16_000 * 12, dtype=np.float32)
    assert len(splice.samples(recording)) == 16_000 * 3
    assert splice.to_source(0.5) == 2.5 and splice.to_source(2.5) == 10.5
    assert splice.to_source(2.0) == 4.0 and splice.to_source(30.0) == 11.0
