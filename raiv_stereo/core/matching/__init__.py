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

"""Disparity matchers behind one small interface (no ROS import)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
from raiv_stereo.core.matching.sgbm import MatcherSettings


class Matcher(Protocol):
    """What StereoPipeline and its users need of a matcher for rectified mono8 pairs."""

    min_disparity: int
    """The first disparity searched (px, working scale)."""
    max_disparity: int
    """The last disparity searched (px, working scale)."""

    def match(self, left_rect: np.ndarray,
              right_rect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (disparity px, NaN = none; confidence 0..1) of the rectified left image."""

    def valid_window(self, width_px: int, height_px: int) -> tuple[int, int, int, int]:
        """Return (x0, y0, x1, y1), x1/y1 exclusive: where a match can be found at all."""


MatcherFactory = Callable[[MatcherSettings, float, float], Matcher]
"""Builds a matcher from (validated settings, focal length px, baseline mm) at the working size."""
