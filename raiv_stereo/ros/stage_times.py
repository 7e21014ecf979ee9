# Copyright 2026 raiv_stereo developers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Per-stage time sums of a node (perf_counter seconds), cheap enough to keep on for every frame.

Each stage adds its seconds and a count; a snapshot gives the mean ms per pair, which the bench
reads (in process) or parses from the node's DEBUG log line (`STATS_PREFIX` + JSON).
"""

from __future__ import annotations

import json
import threading
import time

STATS_PREFIX = 'stage times: '
"""Start of the DEBUG log line that carries a snapshot as JSON (the bench parses it)."""


class StageTimes:
    """Thread-safe sums of seconds per stage name, plus the number of pairs they cover."""

    def __init__(self) -> None:
        """Start with nothing measured."""
        self._lock = threading.Lock()
        self._sums: dict[str, float] = {}
        self._pairs = 0

    def add(self, name: str, seconds: float) -> None:
        """Add `seconds` spent in stage `name` (any number of times per pair)."""
        with self._lock:
            self._sums[name] = self._sums.get(name, 0.0) + seconds

    def pair_done(self) -> None:
        """Count one pair (the divisor of the snapshot's means)."""
        with self._lock:
            self._pairs += 1

    def reset(self) -> None:
        """Forget everything measured so far (a bench starts its window here)."""
        with self._lock:
            self._sums, self._pairs = {}, 0

    def snapshot(self) -> dict[str, float]:
        """Return {'pairs': n, stage: mean ms per pair, ...} (stages in the order first seen)."""
        with self._lock:
            pairs = self._pairs
            out = {'pairs': float(pairs)}
            out.update({name: 1000.0 * total / pairs if pairs else 0.0
                        for name, total in self._sums.items()})
        return out

    def log_line(self) -> str:
        """Return the snapshot as one log line: STATS_PREFIX + JSON."""
        return STATS_PREFIX + json.dumps({k: round(v, 3) for k, v in self.snapshot().items()})


def stages_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Return the snapshot of the pairs between two snapshots of one StageTimes (never reset)."""
    pairs = after.get('pairs', 0.0) - before.get('pairs', 0.0)
    out = {'pairs': pairs}
    for name, mean_ms in after.items():
        if name != 'pairs':
            total = mean_ms * after['pairs'] - before.get(name, 0.0) * before.get('pairs', 0.0)
            out[name] = total / pairs if pairs > 0 else 0.0
    return out


def parse_log_line(line: str) -> dict[str, float] | None:
    """Return the snapshot in a log line written by `log_line`, None when it has none."""
    start = line.find(STATS_PREFIX)
    if start < 0:
        return None
    try:
        data = json.loads(line[start + len(STATS_PREFIX):].strip())
    except ValueError:
        return None
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else None


class Stopwatch:
    """Add the time since the last `lap` to a named stage: `lap('convert')` after each step."""

    def __init__(self, times: StageTimes) -> None:
        """Start timing now."""
        self._times = times
        self._last = time.perf_counter()

    def lap(self, name: str) -> float:
        """Add the seconds since the previous call, or the start, to stage `name`; return them."""
        now = time.perf_counter()
        seconds, self._last = now - self._last, now
        self._times.add(name, seconds)
        return seconds
