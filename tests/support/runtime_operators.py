"""Operators that misbehave on purpose, for the runtime's tests: they hang, ignore a stop,
die like an actor the OOM killer took, or hold a whole CPU. Real operators otherwise: they
run in real Ray actors, take a real input through the executor and store a real output."""

from __future__ import annotations

import itertools
import json
import os
import signal
import time
from collections.abc import Mapping
from typing import Any

from operators.base import Operator
from pipeline.contract.media import Artifact, MediaSource, Progress, no_progress
from pipeline.contract.resources import Resources


class ScriptedOperator(Operator):
    """`options["mode"]`: `quick` (default), `sleep` (`seconds`, reporting progress),
    `hang` (never returns, never reports: only a kill ends it), `busy` (reports progress
    forever: a stop request ends it), `die` (SIGKILLs its own process)."""

    kind = "image"
    resources = Resources(num_cpus=0.5)

    def process(
        self, source: MediaSource, options: Mapping[str, Any], progress: Progress = no_progress
    ) -> Artifact:
        mode = options.get("mode", "quick")
        if mode == "hang":
            while True:
                time.sleep(0.05)
        if mode == "busy":
            for step in itertools.count():
                progress(min(0.99, step / 10_000))
                time.sleep(0.05)
        if mode == "die":
            os.kill(os.getpid(), signal.SIGKILL)
        if mode == "sleep":
            deadline = time.monotonic() + float(options["seconds"])
            while time.monotonic() < deadline:
                progress(1 - (deadline - time.monotonic()) / float(options["seconds"]))
                time.sleep(0.05)
        body = {"pid": os.getpid(), "width": source.info.width}
        return Artifact(
            "json", "application/json", "json", data=json.dumps(body).encode(), media=False
        )


class WholeCpuOperator(ScriptedOperator):
    resources = Resources(num_cpus=1.0)


class NeedsTpuOperator(ScriptedOperator):
    """Asks for hardware no node has (with STROBE_REQUIRE_GPU=1 it is always asked for)."""

    resources = Resources(num_cpus=0.5, custom={"tpu": 1})


SCRIPTED = "tests.support.runtime_operators:ScriptedOperator"
WHOLE_CPU = "tests.support.runtime_operators:WholeCpuOperator"
NEEDS_TPU = "tests.support.runtime_operators:NeedsTpuOperator"
