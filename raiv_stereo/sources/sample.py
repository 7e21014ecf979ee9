"""Sample source: the built-in synthetic scene, rendered live for the published calibration."""

from __future__ import annotations

import time
from typing import Any, Mapping

from raiv_stereo import defaults
from raiv_stereo.calibration import StereoCalibration
from raiv_stereo.scene import Renderer, Scene
from raiv_stereo.sources import FrameSource, SourceError, StereoFrame


class SampleSource(FrameSource):
    """Endless pairs of the sample scene; frame k shows scene time k / rate_hz (exact truth)."""

    def __init__(self, calibration: StereoCalibration, rate_hz: float = defaults.RATE_HZ,
                 scene: Scene | None = None) -> None:
        """Prepare the renderer (rays and static surfaces) at the calibration's size."""
        if not rate_hz > 0:
            raise SourceError(f'sample source: rate_hz must be positive, got {rate_hz}')
        self.rate_hz = float(rate_hz)
        self.renderer = Renderer(calibration, scene)
        self._sequence = 0

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> SampleSource:
        """Build from rate_hz; frames have the size of `calibration` (the published size)."""
        return cls(calibration, float(options.get('rate_hz', defaults.RATE_HZ)))

    def read(self) -> StereoFrame:
        """Render the next pair (about 15 ms at 1600x1300: only the moving box is traced)."""
        scene_time_s = self._sequence / self.rate_hz
        pair = self.renderer.render(scene_time_s, with_truth=False)
        frame = StereoFrame(pair.left_bgr, pair.right_bgr, capture_time_ns=time.time_ns(),
                            sequence=self._sequence, scene_time_s=scene_time_s)
        self._sequence += 1
        return frame
