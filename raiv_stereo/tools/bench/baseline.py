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
What the bench compares against: plain OpenCV SGBM, and our core's previous default.

Plain OpenCV is done the way the maker's example does it: remap at full resolution with maps from
initUndistortRectifyMap, cv2.resize to the working scale, StereoSGBM on the resized images (the
input's own channels: colour for bgr8, as OpenCV's stereo_match sample), depth = f·B/d.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.core.matching.sgbm import DISPARITY_SCALE, MatcherSettings, search_window
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.core.rectify import Rectifier


_SGBM_MODES = {'sgbm': cv2.StereoSGBM_MODE_SGBM, 'sgbm_3way': cv2.StereoSGBM_MODE_SGBM_3WAY,
               'hh': cv2.StereoSGBM_MODE_HH, 'hh4': cv2.StereoSGBM_MODE_HH4}


class PlainOpenCV:
    """Remap at full size, resize to scale, StereoSGBM on the input's channels, f·B/d."""

    def __init__(self, calibration: StereoCalibration, scale: float, settings: MatcherSettings,
                 channels: int, min_disparity: int | None = None,
                 num_disparities: int | None = None) -> None:
        """Build full-size maps and SGBM with OpenCV's usual P1/P2 for `channels`."""
        size = calibration.image_size
        self.maps = [cv2.initUndistortRectifyMap(cam.K, cam.D, cam.R, cam.P[:, :3], size,
                                                 cv2.CV_16SC2)
                     for cam in (calibration.left, calibration.right)]
        self.scale = scale
        self.output_size = (int(size[0] * scale + 0.5), int(size[1] * scale + 0.5))
        self.focal_px = calibration.focal_px * scale
        self.baseline_m = calibration.baseline_m
        if min_disparity is None or num_disparities is None:
            min_disparity, num_disparities = search_window(
                self.focal_px, calibration.baseline_mm, settings.min_depth_mm,
                settings.max_depth_mm)
        self.min_disparity, self.num_disparities = min_disparity, num_disparities
        block = settings.block_size
        self.sgbm = cv2.StereoSGBM.create(
            minDisparity=min_disparity, numDisparities=num_disparities, blockSize=block,
            P1=8 * channels * block * block, P2=32 * channels * block * block,
            disp12MaxDiff=settings.disp12_max_diff, preFilterCap=settings.pre_filter_cap,
            uniquenessRatio=settings.uniqueness_ratio,
            speckleWindowSize=settings.speckle_window_size, speckleRange=settings.speckle_range,
            mode=_SGBM_MODES[settings.mode])

    def rectify(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the pair remapped at full size, then resized to the working scale."""
        out = []
        for image, (map_xy, map_fraction) in zip((left, right), self.maps, strict=True):
            image = cv2.remap(image, map_xy, map_fraction, cv2.INTER_LINEAR)
            if self.scale != 1.0:
                image = cv2.resize(image, self.output_size)
            out.append(image)
        return out[0], out[1]

    def disparity_px(self, left_rect: np.ndarray, right_rect: np.ndarray) -> np.ndarray:
        """Return SGBM disparity in px, NaN where SGBM found none."""
        raw = self.sgbm.compute(left_rect, right_rect)
        disparity = raw.astype(np.float32) / DISPARITY_SCALE
        disparity[raw < self.min_disparity * DISPARITY_SCALE] = np.nan
        return disparity

    def process(self, left: np.ndarray, right: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (disparity px, depth m) for one raw pair."""
        disparity = self.disparity_px(*self.rectify(left, right))
        with np.errstate(divide='ignore', invalid='ignore'):
            depth = np.float32(self.focal_px * self.baseline_m) / disparity
        depth[~(disparity > 0)] = np.nan
        return disparity, depth


class RemapFirstRectifier(Rectifier):
    """The previous order, for comparison: remap at full size, then area-downscale (sharper)."""

    def __init__(self, calibration: StereoCalibration, scale: float) -> None:
        """Build the remap tables at the calibration's own size."""
        super().__init__(calibration, scale)
        if self._maps is not None:
            self._maps = self._build_maps(calibration)

    def _convert(self, image: np.ndarray, index: int) -> np.ndarray:
        if self._maps is not None:
            image = cv2.remap(image, *self._maps[index], cv2.INTER_LINEAR)
        if self.output_size != self.input_size:
            image = cv2.resize(image, self.output_size, interpolation=cv2.INTER_AREA)
        return image


def previous_default(calibration: StereoCalibration, scale: float,
                     settings: MatcherSettings) -> StereoPipeline:
    """Return the core without the refinement: full-size remap, SGBM's own sub-pixel fit."""
    pipeline = StereoPipeline(calibration, scale, dataclasses.replace(settings, subpixel='sgbm'))
    pipeline.rectifier = RemapFirstRectifier(calibration, scale)
    return pipeline


OPENCV_OWN_DEFAULTS = {'uniqueness_ratio': 0, 'speckle_window_size': 0, 'speckle_range': 0,
                       'disp12_max_diff': 0}
"""StereoSGBM.create()'s own values for what our settings otherwise set (no filtering)."""
