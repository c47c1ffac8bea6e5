"""Reading ``python -X importtime`` output: where a process's start-up time goes.

Each stderr line looks like ``import time:  self [us] | cumulative | name``,
the name indented by two spaces per nesting level. Top-level entries
(no indentation) add up to the whole import time.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["ImportTimes", "parse_importtime"]

_LINE = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)")


@dataclass
class ImportTimes:
    total_us: int
    top_level: list[tuple[str, int]]  # (module, cumulative µs), biggest first
    by_package: list[tuple[str, int]]  # (root package, summed self µs), biggest first


def parse_importtime(text: str) -> ImportTimes:
    top: list[tuple[str, int]] = []
    packages: Counter[str] = Counter()
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        self_us, cumulative_us, indent, name = int(match[1]), int(match[2]), match[3], match[4]
        packages[name.split(".")[0]] += self_us
        if len(indent) <= 1:  # the format puts one space after the bar
            top.append((name, cumulative_us))
    top.sort(key=lambda item: item[1], reverse=True)
    return ImportTimes(sum(c for _, c in top), top, packages.most_common())
