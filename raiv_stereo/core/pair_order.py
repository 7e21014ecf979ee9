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
Is the left image really the left camera's? Decided from the images themselves (no ROS).

With the right order, true disparities are positive and SGBM finds most of them; with the images
swapped they are negative, outside the search window, and few pixels match. Rectifying and
matching the raw pair exchanged (right as left) therefore finds far more consistent disparities
exactly when the pair is swapped. This works for every source (a swapped USB pair, swapped
files, the RAiV pair order), at the cost of one extra rectify + match on the first pairs only.
Measured on the simulated RAiV rig at scale 0.5: 85 % of pixels match over the whole search
window in the right order, 16 % exchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from raiv_stereo.core.matching.sgbm import CONFIDENCE_MATCHED

PAIRS_TO_CHECK = 3
"""Pairs matched both ways before deciding (one extra match each, then never again)."""
UNIQUENESS_RATIO = 10
"""SGBM uniqueness margin of the check's own matching (stricter than the depth default, 5: fewer
of the exchanged pair's pixels pass, 16 % rather than 22 %)."""
SWAPPED_RATIO = 3.0
"""The other order must match this many times more pixels to call the pair swapped."""
MIN_MATCHED_SHARE = 0.10
"""Below this share of matched pixels either way the scene says nothing (too little texture)."""


def matched_share(confidence: np.ndarray) -> float:
    """Return the share of pixels matched over the whole search window (matcher confidence)."""
    return float((confidence >= CONFIDENCE_MATCHED).mean()) if confidence.size else 0.0


@dataclass
class PairOrderCheck:
    """Accumulates matched shares both ways over the first pairs, then gives one verdict."""

    as_given: list[float] = field(default_factory=list)
    reversed_: list[float] = field(default_factory=list)

    @property
    def done(self) -> bool:
        """Return True once PAIRS_TO_CHECK pairs have been compared."""
        return len(self.as_given) >= PAIRS_TO_CHECK

    def add(self, confidence_as_given: np.ndarray, confidence_reversed: np.ndarray) -> None:
        """Record the matcher confidence of one pair as given and with left/right exchanged."""
        self.as_given.append(matched_share(confidence_as_given))
        self.reversed_.append(matched_share(confidence_reversed))

    @property
    def shares(self) -> tuple[float, float]:
        """Return the mean matched share (as given, reversed) so far."""
        if not self.as_given:
            return 0.0, 0.0
        return float(np.mean(self.as_given)), float(np.mean(self.reversed_))

    @property
    def verdict(self) -> str:
        """Return 'not checked yet', 'as given', 'swapped' or 'inconclusive'."""
        if not self.done:
            return 'not checked yet'
        given, other = self.shares
        if max(given, other) < MIN_MATCHED_SHARE:
            return 'inconclusive'
        if other > SWAPPED_RATIO * given:
            return 'swapped'
        return 'as given' if given > SWAPPED_RATIO * other else 'inconclusive'

    def figures(self) -> str:
        """Return the matched shares behind the verdict, in words."""
        given, other = self.shares
        return (f'{given * 100:.0f} % of pixels match as given, {other * 100:.0f} % with left '
                'and right exchanged')

    def summary(self) -> str:
        """Return the verdict with the figures behind it."""
        return self.verdict if not self.as_given else f'{self.verdict} ({self.figures()})'


RECHECK_EVERY = 10
"""While the pair arrives swapped, its order is checked again on every this many pairs."""


class PairOrderGuard:
    """The order verdict of the first pairs, rechecked while swapped (fixed at the source?)."""

    def __init__(self, recheck_every: int = RECHECK_EVERY) -> None:
        self.check = PairOrderCheck()
        """The verdict in force: the first pairs', or a recheck that found them in order."""
        self._recheck = PairOrderCheck()
        self._recheck_every = recheck_every
        self._pairs_since_swap = 0

    def observe(self, match_both_ways: Callable[[], tuple[np.ndarray, np.ndarray]]) -> str | None:
        """
        Match this pair both ways when the check needs it; return what changed, if anything.

        'decided': the first check has just finished (see `check.verdict`); 'in order again':
        a recheck while swapped found the pair as given and is the verdict now; None otherwise.
        """
        if not self.check.done:
            self.check.add(*match_both_ways())
            return 'decided' if self.check.done else None
        if self.check.verdict != 'swapped':
            return None
        self._pairs_since_swap += 1
        if self._pairs_since_swap % self._recheck_every:
            return None
        self._recheck.add(*match_both_ways())
        if not self._recheck.done:
            return None
        recheck, self._recheck = self._recheck, PairOrderCheck()
        if recheck.verdict != 'as given':
            return None
        self.check = recheck
        return 'in order again'
