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

"""USB camera source: one side-by-side stereo device or two devices, through cv2.VideoCapture."""

from __future__ import annotations

import os
import time
from typing import Any, Mapping

import cv2
from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.params.spec import FloatRange, IntRange, ParamSpec
from raiv_stereo.sources import FrameSource, SourceError, StereoFrame
from raiv_stereo.sources.images import check_pair
from raiv_stereo.sources.video import split_side_by_side


def parse_device(value: Any) -> int | str | None:
    """Return a device index or path from a parameter value; None for unused (-1 or '')."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    text = str(value).strip()
    if not text:
        return None
    try:
        index = int(text)
    except ValueError:
        return os.path.expanduser(text)
    return index if index >= 0 else None


def open_device(device: int | str, width_px: int, height_px: int, fps: float,
                option: str) -> cv2.VideoCapture:
    """Open a capture device and request its size and rate; raise SourceError if it won't open."""
    if isinstance(device, str) and not os.path.exists(device):
        raise SourceError(f'{option}: camera device {device} does not exist; check the cable and '
                          'the path (ls /dev/video*)')
    capture = cv2.VideoCapture(device)
    if not capture.isOpened():
        capture.release()
        raise SourceError(
            f'{option}: cannot open camera device {device}; check that it is connected, not in '
            'use by another program, and that you may read it (video group)')
    if width_px > 0:
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, float(width_px))
    if height_px > 0:
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, float(height_px))
    if fps > 0:
        capture.set(cv2.CAP_PROP_FPS, float(fps))
    return capture


class CameraSource(FrameSource):
    """
    Live pairs from a side-by-side stereo camera or from two cameras grabbed back to back.

    camera.width/camera.height are the size requested from each device (for a side-by-side
    camera: the whole frame, both halves), camera.fps its rate; 0 keeps the driver's default.
    """

    kind = 'camera'
    options = (
        ParamSpec('device_left', '', 'left device index or path (e.g. 0 or /dev/video0); the one '
                  'device when camera.side_by_side'),
        ParamSpec('device_right', '', 'right device index or path'),
        ParamSpec('side_by_side', False, 'camera.device_left is one side-by-side stereo camera '
                  '(left half | right half)'),
        ParamSpec('width', 0, 'requested capture width, px '
                  "(side-by-side: both halves); 0 = the device's", IntRange(0, 16384)),
        ParamSpec('height', 0,
                  "requested capture height, px; 0 = the device's", IntRange(0, 16384)),
        ParamSpec('fps', 0.0, "requested capture rate, Hz; 0 = the device's",
                  FloatRange(0.0, 1000.0)),
    )

    @classmethod
    def option_problems(cls, values: Mapping[str, Any]) -> list[str]:
        """Require two devices, or one side-by-side device."""
        left, right = parse_device(values['device_left']), parse_device(values['device_right'])
        if values['side_by_side'] and left is None:
            return ['camera.side_by_side needs camera.device_left (an index such as 0 or a path '
                    'such as /dev/video0)']
        if not values['side_by_side'] and (left is None or right is None):
            return ["source 'camera' needs camera.device_left and camera.device_right (indices "
                    'or /dev paths), or camera.side_by_side:=true with camera.device_left']
        return []

    def __init__(self, captures: list[cv2.VideoCapture], names: list[str]) -> None:
        """Take ownership of opened captures: one side-by-side, or (left, right)."""
        self._captures = captures
        self.names = names
        self._sequence = 0

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> CameraSource:
        """Open camera.device_left (+ camera.device_right unless camera.side_by_side)."""
        left, right = parse_device(options['device_left']), parse_device(options['device_right'])
        width, height, fps = int(options['width']), int(options['height']), float(options['fps'])
        if options['side_by_side']:
            return cls([open_device(left, width, height, fps, 'camera.device_left')], [str(left)])
        captures = [open_device(left, width, height, fps, 'camera.device_left')]
        try:
            captures.append(open_device(right, width, height, fps, 'camera.device_right'))
        except SourceError:
            captures[0].release()
            raise
        return cls(captures, [str(left), str(right)])

    def read(self) -> StereoFrame | None:
        """Grab all devices first (closest in time), then decode; None when a grab fails."""
        if not self._captures:
            raise SourceError(f'camera {", ".join(self.names)} is closed')
        if not all(capture.grab() for capture in self._captures):
            return None
        stamp_ns = time.time_ns()
        images = []
        for capture in self._captures:
            ok, image = capture.retrieve()
            if not ok or image is None:
                return None
            images.append(image)
        what = 'camera ' + ' / '.join(self.names)
        if len(images) == 1:
            left, right = split_side_by_side(images[0], what)
        else:
            left, right = check_pair(images[0], images[1], what)
        frame = StereoFrame(left, right, capture_time_ns=stamp_ns, sequence=self._sequence)
        self._sequence += 1
        return frame

    def close(self) -> None:
        """Release the devices."""
        for capture in self._captures:
            capture.release()
        self._captures = []
