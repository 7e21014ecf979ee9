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

"""One rate limit for a node's error lines, kept per kind of message (no ROS import)."""

from __future__ import annotations

from collections import OrderedDict
import re
import threading
import time
from typing import Callable

PERIOD_S = 5.0
"""The nodes log each kind of error at most this often."""
MAX_KINDS = 64
"""Kinds remembered; the least recently logged is forgotten first (hostile input is unbounded)."""


def message_kind(prefix: str, text: str) -> str:
    """Return a throttle key for `text`: numbers do not make a new kind, words do."""
    return prefix + ': ' + re.sub(r'[-+]?\d[\d.e+-]*', '#', text)


class ErrorReporter:
    """
    Log each kind of problem at most once per `period_s`; a different kind is logged at once.

    Repeats in between are counted and the count is added to the next line of that kind.
    """

    def __init__(self, log: Callable[[str], None], period_s: float = PERIOD_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """Log through `log` (e.g. a ROS logger's error method), timed by `clock`."""
        self._log = log
        self._period_s = period_s
        self._clock = clock
        self._lock = threading.Lock()
        self._kinds: OrderedDict[str, list] = OrderedDict()  # kind -> [last logged s, repeats]

    def report(self, kind: str, message: str) -> bool:
        """Log `message` unless its `kind` was logged within the period; return True if logged."""
        now = self._clock()
        with self._lock:
            entry = self._kinds.get(kind)
            if entry is not None and now - entry[0] < self._period_s:
                entry[1] += 1
                return False
            repeats = entry[1] if entry is not None else 0
            self._kinds[kind] = [now, 0]
            self._kinds.move_to_end(kind)
            while len(self._kinds) > MAX_KINDS:
                self._kinds.popitem(last=False)
        if repeats:
            message += f' ({repeats} more like this since the last report)'
        self._log(message)
        return True
