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

"""Sample source: the built-in synthetic scene, rendered live or replayed."""

from __future__ import annotations

import time
from typing import Any, Mapping

from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.eval.scene import RenderedPair, Renderer, Scene
from raiv_stereo.params.spec import IntRange, ParamSpec
from raiv_stereo.sources import FrameSource, RATE_HZ, SourceError, StereoFrame


class SampleSource(FrameSource):
    """
    Endless pairs of the sample scene; frame k shows scene time k / rate_hz (exact truth).

    With `replay_frames` N > 0 the first N frames are rendered once and then replayed in a loop
    (frame k shows scene time (k mod N) / rate_hz): the camera then costs no rendering, like a
    loop over frames in memory, at one pair of memory each (12.5 MB at 1600x1300).
    """

    kind = 'sample'
    options = (
        ParamSpec('frames', 0,
                  'render this many frames once, then replay them in a loop (no rendering per '
                  'frame, one pair of memory each); 0 = render every frame', IntRange(0, 1000)),
    )

    def __init__(self, calibration: StereoCalibration, rate_hz: float = RATE_HZ,
                 scene: Scene | None = None,
                 replay_frames: int = 0) -> None:
        """Prepare the renderer (rays and static surfaces) at the calibration's size."""
        if not rate_hz > 0:
            raise SourceError(f'sample source: rate_hz must be positive, got {rate_hz}')
        if replay_frames < 0:
            raise SourceError(f'sample source: sample.frames must be 0 (render every frame) or '
                              f'a number of frames to replay, got {replay_frames}')
        self.rate_hz = float(rate_hz)
        self.replay_frames = int(replay_frames)
        self.renderer = Renderer(calibration, scene)
        self._rendered: list[RenderedPair] = []
        self._sequence = 0

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> SampleSource:
        """Build from rate_hz and sample.frames; frames have the size of `calibration`."""
        return cls(calibration, float(options['rate_hz']), replay_frames=int(options['frames']))

    def read(self) -> StereoFrame:
        """Render (about 15 ms at 1600x1300: only the moving box is traced) or replay a pair."""
        index = self._sequence % self.replay_frames if self.replay_frames else self._sequence
        scene_time_s = index / self.rate_hz
        if index < len(self._rendered):
            pair = self._rendered[index]
        else:
            pair = self.renderer.render(scene_time_s, with_truth=False)
            if self.replay_frames:
                for image in (pair.left_bgr, pair.right_bgr):
                    image.setflags(write=False)  # shared by every replay
                self._rendered.append(pair)
        frame = StereoFrame(pair.left_bgr, pair.right_bgr, capture_time_ns=time.time_ns(),
                            sequence=self._sequence, scene_time_s=scene_time_s)
        self._sequence += 1
        return frame
