"""The emulator package exports exactly what it documents."""

from __future__ import annotations

import syncd.hubsim
from syncd.hubsim.server import is_loopback


def test_every_exported_name_exists() -> None:
    assert sorted(syncd.hubsim.__all__) == sorted(set(syncd.hubsim.__all__))
    for name in syncd.hubsim.__all__:
        assert getattr(syncd.hubsim, name) is not None


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("127.8.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("192.168.1.10")
    assert not is_loopback("example.org")
