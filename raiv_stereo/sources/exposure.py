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
Exposure and gain: the control a frame source may offer, and one automatic-exposure step.

No ROS import. The RAiV SDK's camera control (qCU_CCtrl) is one implementation; sources without
such a control have `FrameSource.exposure_control = None`.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np

AUTO_TARGET_LEVEL = 128.0
"""Mean 8-bit level the automatic exposure aims for (the maker's auto exposure example)."""
AUTO_TOLERANCE = 10.0
"""No change while the mean level is within this of the target."""
AUTO_DAMPING = 0.5
"""Share of the proportional correction applied per step (smooth, no oscillation)."""
AUTO_PERIOD_S = 1.0
"""How often the camera node runs one automatic-exposure step."""


class ExposureError(RuntimeError):
    """The device refused or failed an exposure/gain call; the message names the call and code."""


@dataclass(frozen=True)
class ExposureRanges:
    """What the device accepts, in its own units (get_cam_ctrl_ranges())."""

    exposure_min: int
    exposure_max: int
    gain_min: int
    gain_max: int

    def problem(self, exposure: int, gain: int) -> str | None:
        """Return why (exposure, gain) is outside the ranges, None when inside."""
        if not self.exposure_min <= exposure <= self.exposure_max:
            return (f'exposure {exposure} is outside the device range '
                    f'{self.exposure_min}..{self.exposure_max}')
        if not self.gain_min <= gain <= self.gain_max:
            return f'gain {gain} is outside the device range {self.gain_min}..{self.gain_max}'
        return None


class ExposureControl(abc.ABC):
    """Exposure and gain of a camera, read and written as one pair (as the RAiV SDK does)."""

    @abc.abstractmethod
    def ranges(self) -> ExposureRanges:
        """Return the accepted exposure and gain ranges."""

    @abc.abstractmethod
    def read(self) -> tuple[int, int]:
        """Return the current (exposure, gain); raise ExposureError on failure."""

    @abc.abstractmethod
    def write(self, exposure: int, gain: int) -> None:
        """Set exposure and gain; raise ExposureError (with the device's code) on failure."""


def auto_exposure_step(mean_level: float, exposure: int, gain: int,
                       ranges: ExposureRanges) -> tuple[int, int]:
    """
    Return the next (exposure, gain) toward AUTO_TARGET_LEVEL.

    Brighter: exposure first, then gain (less noise); darker: gain first, then exposure (less
    motion blur) -- the maker's scheme, damped by AUTO_DAMPING.
    """
    if abs(mean_level - AUTO_TARGET_LEVEL) < AUTO_TOLERANCE:
        return exposure, gain
    factor = 1.0 + AUTO_DAMPING * (AUTO_TARGET_LEVEL / max(mean_level, 1e-6) - 1.0)
    new_exposure = int(np.clip(int(exposure * factor), ranges.exposure_min, ranges.exposure_max))
    new_gain = int(np.clip(int(gain * factor), ranges.gain_min, ranges.gain_max))
    if factor > 1.0:
        return (new_exposure, gain) if new_exposure != exposure else (exposure, new_gain)
    return (exposure, new_gain) if new_gain != gain else (new_exposure, gain)
