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

"""Rectification to a working resolution: raw pair -> row-aligned pair at `scale`, maps cached."""

from __future__ import annotations

from collections import OrderedDict
import threading

import cv2
import numpy as np
from raiv_stereo.core.calibration import CalibrationError, CameraModel, StereoCalibration


def _rectified_camera(cam: CameraModel) -> CameraModel:
    """Return the ideal camera a rectified image is in: K = P[:3, :3], no distortion, R = I."""
    return CameraModel(cam.width_px, cam.height_px, cam.P[:, :3], np.zeros(5), np.eye(3), cam.P)


class Rectifier:
    """
    Rectifies raw pairs of one calibration at one working scale (area-downscale, then remap).

    Averaging down first and remapping at the working size costs 6 ms less per 1600x1300 pair
    than remapping at full size and averaging down; it blurs sub-pixel detail a little (within
    2 % of the true depth on the distorted sample rig: 86.6 % vs 90.0 % with SGBM alone), which
    the sub-pixel refinement more than recovers (94.5 %).
    """

    def __init__(self, calibration: StereoCalibration, scale: float) -> None:
        """Build the remap tables once; raises CalibrationError for an unusable calibration."""
        calibration.validate()
        self.calibration = calibration
        self.scale = float(scale)
        self.input_size = calibration.image_size
        scaled = calibration.scaled(scale)
        self.output_size = scaled.image_size
        self.working = StereoCalibration(_rectified_camera(scaled.left),
                                         _rectified_camera(scaled.right),
                                         f'{calibration.description}, rectified at {scale:g}')
        self._maps = None if calibration.is_rectified else self._build_maps(scaled)

    @staticmethod
    def _build_maps(source: StereoCalibration) -> list:
        """Return the remap tables of both cameras at `source`'s image size."""
        return [cv2.initUndistortRectifyMap(cam.K, cam.D, cam.R, cam.P[:, :3],
                                            source.image_size, cv2.CV_16SC2)
                for cam in (source.left, source.right)]

    def _one(self, image: np.ndarray, index: int) -> np.ndarray:
        """Rectify one raw image (0 = left, 1 = right) to the working size."""
        height, width = image.shape[:2]
        if (width, height) != self.input_size:
            raise CalibrationError(
                f'image is {width}x{height} but the calibration is for '
                f'{self.input_size[0]}x{self.input_size[1]}; publish images at the calibrated '
                'size or give the calibration for this size')
        return self._convert(image, index)

    def _convert(self, image: np.ndarray, index: int) -> np.ndarray:
        """Area-downscale to the working size, then remap there."""
        if self.output_size != self.input_size:
            image = cv2.resize(image, self.output_size, interpolation=cv2.INTER_AREA)
        if self._maps is not None:
            image = cv2.remap(image, *self._maps[index], cv2.INTER_LINEAR)
        return image

    def rectify_left(self, image: np.ndarray) -> np.ndarray:
        """Return the rectified left image at the working size."""
        return self._one(image, 0)

    def rectify(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the rectified (left, right) pair (OpenCV already spreads each over the cores)."""
        return self._one(left, 0), self._one(right, 1)


_CACHE: OrderedDict[tuple[str, float], Rectifier] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def rectifier_for(calibration: StereoCalibration, scale: float) -> Rectifier:
    """Return the cached Rectifier of (calibration content, scale), built on first use."""
    key = (calibration.key, round(float(scale), 6))
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    rectifier = Rectifier(calibration, scale)
    with _CACHE_LOCK:
        _CACHE[key] = rectifier
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return rectifier
