"""Uid prefixes as SQLite's ``LIKE`` matches them (ASCII case ignored), found through the uid index.

``uid LIKE 'QQ00%'`` cannot use the uid index on SQLite, so LaminDB scans the
table. The same rows are those in the index ranges of the prefix's ASCII case
variants (``QQ00``, ``Qq00``, ``qQ00``, ``qq00``) that also pass the ``LIKE``.
For a prefix with many letters only its leading part with at most
:data:`MAX_LETTERS` letters is varied; the ``LIKE`` checks the rest.
"""

from __future__ import annotations

from itertools import product

__all__ = ["MAX_LETTERS", "case_ranges"]

MAX_LETTERS = 5


def _next_char_ok(char: str) -> bool:
    code = ord(char)
    return code < 0x10FFFF and not 0xD7FF <= code <= 0xDFFF


def case_ranges(prefix: str) -> list[tuple[str, str]] | None:
    """``[(low, high), ...]`` index ranges covering every ASCII case variant of ``prefix``'s leading part.

    ``None`` when no range can be formed (an empty prefix, or a last character without a successor).
    """
    part: list[str] = []
    letters = 0
    for char in prefix:
        is_letter = char.isascii() and char.isalpha()
        if is_letter and letters == MAX_LETTERS:
            break
        letters += is_letter
        part.append(char)
    if not part or not _next_char_ok(part[-1]):
        return None
    choices = [(c.lower(), c.upper()) if c.isascii() and c.isalpha() else (c,) for c in part]
    ranges = []
    for variant in product(*choices):
        low = "".join(variant)
        ranges.append((low, low[:-1] + chr(ord(low[-1]) + 1)))
    return ranges
