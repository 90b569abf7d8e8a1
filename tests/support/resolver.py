"""A DNS resolver under the test's control: `socket.getaddrinfo` answering chosen names.

Replacing getaddrinfo is the attack itself here: a name whose owner controls its DNS can
answer anything, and differently on each lookup (DNS rebinding)."""

from __future__ import annotations

import socket
from typing import Any

import pytest


def fake_names(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Resolve each name in `answers` to its n-th address on its n-th lookup (then the last
    one again); other hosts (IP literals among them) resolve as usual. Returns the names
    looked up, in order."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in answers:
            return real(host, port, *args, **kwargs)
        seen = asked.count(name)
        asked.append(name)
        address = answers[name][min(seen, len(answers[name]) - 1)]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sockaddr = (address, int(port), 0, 0) if family == socket.AF_INET6 else (address, int(port))
        return [(family, socket.SOCK_STREAM, 6, "", sockaddr)]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked
