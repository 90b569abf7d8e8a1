"""kind -> operator class, from the catalog's import paths: a worker imports only the
operators it runs."""

from __future__ import annotations

import importlib

from operators.base import Operator
from operators.catalog import KINDS

OPERATORS: dict[str, str] = {kind: spec.operator for kind, spec in KINDS.items()}


def load_operator(kind: str) -> type[Operator]:
    return load_path(OPERATORS[kind])


def load_path(path: str) -> type[Operator]:
    """`package.module:Class` -> the class."""
    module_name, _, class_name = path.partition(":")
    cls: type[Operator] = getattr(importlib.import_module(module_name), class_name)
    return cls
