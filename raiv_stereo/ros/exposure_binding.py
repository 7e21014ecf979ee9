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
The camera node's exposure, gain and auto_exposure parameters, bound to a source's camera control.

No Node here: the node passes its parameter declaration in and sets the parameters the automatic
exposure chose; this class keeps the device's ranges, the values written and the auto state.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Collection

import numpy as np
from raiv_stereo.params import camera as camera_params
from raiv_stereo.params.spec import IntRange, ParamSpec
from raiv_stereo.sources.exposure import auto_exposure_step, AUTO_PERIOD_S, ExposureError


class CameraSetupError(ValueError):
    """Parameters that cannot work together; the message names them and what to do."""


def no_control_text(kind: str, source: Any) -> str:
    """Say why this source has no exposure/gain control."""
    reason = getattr(source, 'exposure_problem', '') if source else ''
    return (f"source '{kind}' has no exposure/gain control" +
            (f' ({reason})' if reason else ' (only the raiv source has one)'))


class ExposureBinding:
    """exposure/gain parameters written to the device; auto_exposure steps them toward a level."""

    def __init__(self, kind: str, source: Any) -> None:
        self._kind = kind
        self._control = source.exposure_control
        self._no_control = no_control_text(kind, source)
        self.ranges = None
        """The device's ExposureRanges (None without a camera control)."""
        self.exposure: tuple[int, int] | None = None
        """The (exposure, gain) last written to or read from the device."""
        self.auto = False
        """auto_exposure: whether published images drive exposure and gain."""
        self.updating = False
        """True while the node sets the parameters an automatic step chose (no checks, no log)."""
        self._last_auto_s = 0.0

    def declare(self, declare: Callable[[ParamSpec], Any]) -> None:
        """
        Declare exposure, gain, auto_exposure: the device's ranges and values when it has them.

        A start value other than the device's is written at once; without a camera control any
        value but the defaults is a setup error (a requested exposure is never silently ignored).
        """
        control = self._control
        specs = [camera_params.BY_NAME[name] for name in camera_params.EXPOSURE_PARAMETERS]
        if control is not None:
            try:
                ranges, current = control.ranges(), control.read()
            except ExposureError as error:
                raise CameraSetupError(f'camera control: {error}') from None
            self.ranges = ranges
            limits = {'exposure': (ranges.exposure_min, ranges.exposure_max, current[0]),
                      'gain': (ranges.gain_min, ranges.gain_max, current[1])}
            specs = [dataclasses.replace(spec, default=limits[spec.name][2],
                                         value_range=IntRange(*limits[spec.name][:2]))
                     if spec.name in limits else spec for spec in specs]
        values = {spec.name: declare(spec) for spec in specs}
        self.auto = bool(values['auto_exposure'])
        if control is None:
            if [values[spec.name] for spec in specs] != [spec.default for spec in specs]:
                raise CameraSetupError(f'exposure, gain and auto_exposure: {self._no_control}')
            return
        self.exposure = current
        wanted = (values['exposure'], values['gain'])
        if wanted != current:
            try:
                control.write(*wanted)
            except ExposureError as error:
                raise CameraSetupError(f'exposure/gain at start: {error}') from None
            self.exposure = wanted

    def problems(self, names: Collection[str], values: dict[str, Any],
                 source_open: bool = True) -> list[str]:
        """Return why a change of these parameters cannot be made (empty = it can)."""
        names = set(names) & set(camera_params.EXPOSURE_PARAMETERS)
        if not names or self.updating:
            return []
        if not source_open:
            return [no_control_text(self._kind, None)]
        if self._control is None:
            return [self._no_control]
        if names & {'exposure', 'gain'} and values['auto_exposure']:
            return ['auto_exposure is true, so exposure and gain follow the image; set '
                    'auto_exposure false first to set them by hand']
        return []

    def write(self, names: Collection[str], values: dict[str, Any]) -> tuple[int, int] | None:
        """
        Write a changed exposure/gain to the device; return what was written (None: nothing).

        ExposureError when the device refuses: that rejects the parameter change.
        """
        if self.updating or not set(names) & {'exposure', 'gain'}:
            return None
        wanted = (values['exposure'], values['gain'])
        if wanted == self.exposure:
            return None
        self._control.write(*wanted)
        self.exposure = wanted
        return wanted

    def auto_step(self, image: np.ndarray) -> tuple[int, int] | None:
        """
        Once per AUTO_PERIOD_S: move exposure/gain toward the target level of `image`.

        Return the (exposure, gain) written, for the parameters to show; None when unchanged.
        ExposureError when the device refuses.
        """
        now = time.monotonic()
        if now - self._last_auto_s < AUTO_PERIOD_S:
            return None
        self._last_auto_s = now
        wanted = auto_exposure_step(float(image.mean()), *self.exposure, self.ranges)
        if wanted == self.exposure:
            return None
        self._control.write(*wanted)
        self.exposure = wanted
        return wanted
