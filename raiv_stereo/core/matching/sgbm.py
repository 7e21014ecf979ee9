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
Range-driven semi-global block matching: a depth range becomes the SGBM search window.

Besides SGBM's disparity the matcher returns a confidence per pixel, and the published
disparity is the part at or above `min_confidence`. SGBM itself leaves the left border (x below
the largest disparity) unmatched; matching the pair padded on the left by its edge pixels gives
those pixels the disparities the image still holds, and halved the bad-2 rate (missing counted
bad) on the stereo_data scenes with the P1/P2 chosen there (doc/benchmarks.md).
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np
from raiv_stereo.core import rig
from raiv_stereo.core.subpixel import (
    DisparityRefiner,
    REFERENCE_WIDTH_PX,
    scaled_window,
    window_average,
)

_SGBM_MODES = {
    'sgbm': cv2.StereoSGBM_MODE_SGBM,
    'sgbm_3way': cv2.StereoSGBM_MODE_SGBM_3WAY,
    'hh': cv2.StereoSGBM_MODE_HH,
    'hh4': cv2.StereoSGBM_MODE_HH4,
}
SGBM_MODES = tuple(_SGBM_MODES)
POST_FILTERS = ('none', 'wls')
SUBPIXELS = ('sgbm', 'refine')
SGBM_RESOLUTIONS = ('full', 'half_rows', 'half')
P1_PER_BLOCK_PX = 16
P2_PER_BLOCK_PX = 96
"""P1 and P2 when not given: these times block_size^2 (doc/benchmarks.md: how they were
chosen)."""
DISPARITY_SCALE = 16
"""SGBM returns fixed-point disparities in 1/16 px (DisparityImage.delta_d = 1/16)."""

CONFIDENCE_MATCHED = 1.0
"""SGBM searched the whole window and the match passed its uniqueness, left-right and speckle
checks."""
CONFIDENCE_BORDER = 0.5
"""Left border (x < largest disparity + half block): matched against the edge-padded pair, so
larger disparities were compared with repeated edge pixels."""
CONFIDENCE_FILLED = 0.25
"""No match (occluded, rejected, a speckle): filled from the farther of the nearest matches to
its left and right on the row, since what one camera cannot see is behind a nearer surface."""
CONFIDENCE_NONE = 0.0
WARP_WINDOW_HALF_PX = 9
"""At sgbm_resolution 'half': the half-size window (for 800 px wide working images, scaled with
the width) the first full-size step's warp is averaged over (doc/benchmarks.md: the sizes
tried)."""


@dataclass(frozen=True)
class MatcherSettings:
    """
    Everything that shapes the matcher; None/0 values are derived (window from range, P1/P2).

    The defaults here are the depth node's (depth_params.TABLE states them from these), checked
    by that table (depth_params.matcher_settings builds them from its values).
    """

    min_depth_mm: float = rig.MIN_DEPTH_MM
    max_depth_mm: float = rig.MAX_DEPTH_MM
    min_disparity: int | None = None
    num_disparities: int | None = None
    block_size: int = 5
    p1: int = 0
    p2: int = 0
    uniqueness_ratio: int = 5
    speckle_window_size: int = 100
    speckle_range: int = 2
    disp12_max_diff: int = 1
    pre_filter_cap: int = 63
    mode: str = 'sgbm_3way'
    post_filter: str = 'none'
    subpixel: str = 'refine'
    sgbm_resolution: str = 'half'
    min_confidence: float = 0.5


def wls_available() -> bool:
    """Return True when opencv-contrib's ximgproc (the WLS filter) is importable."""
    return hasattr(cv2, 'ximgproc')


def disparity_px(focal_px: float, baseline_mm: float, depth_mm: float) -> float:
    """Return the disparity of a point at `depth_mm`: d = f·B/Z."""
    return focal_px * baseline_mm / depth_mm


def min_width_px(max_disparity_px: int, block_size: int) -> int:
    """Return the narrowest image in which SGBM can search up to `max_disparity_px` (one block)."""
    return max(max_disparity_px, 0) + block_size + 1


def search_window(focal_px: float, baseline_mm: float, min_depth_mm: float,
                  max_depth_mm: float) -> tuple[int, int]:
    """
    Return (min_disparity, num_disparities) covering [min_depth_mm, max_depth_mm].

    The window is the whole-pixel span of f·B/max .. f·B/min, widened to a multiple of 16.
    """
    d_low = disparity_px(focal_px, baseline_mm, max_depth_mm)
    d_high = disparity_px(focal_px, baseline_mm, min_depth_mm)
    min_disparity = math.floor(d_low)
    span = math.ceil(d_high) - min_disparity + 1
    num_disparities = max(DISPARITY_SCALE, -(-span // DISPARITY_SCALE) * DISPARITY_SCALE)
    return min_disparity, num_disparities


def fill_from_background(disparity_px: np.ndarray) -> np.ndarray:
    """
    Return a copy with NaN filled, row by row, by the smaller of the nearest values left and right.

    The smaller disparity is the farther surface: an occlusion is background beside a nearer
    edge. Rows without any value stay NaN.
    """
    valid = np.isfinite(disparity_px)
    width = disparity_px.shape[1]
    columns = np.arange(width)
    left_index = np.maximum.accumulate(np.where(valid, columns, -1), axis=1)
    right_index = np.minimum.accumulate(np.where(valid, columns, width)[:, ::-1], axis=1)[:, ::-1]
    padded = np.pad(disparity_px, ((0, 0), (1, 1)), constant_values=np.nan)
    nearest_left = np.take_along_axis(padded, left_index + 1, axis=1)
    nearest_right = np.take_along_axis(padded, right_index + 1, axis=1)
    return np.where(valid, disparity_px, np.fmin(nearest_left, nearest_right))


class _SgbmLevel:
    """OpenCV SGBM at one resolution: `factor` 1 = the working images, 2 = half their size."""

    def __init__(self, matcher: StereoMatcher, factor: int) -> None:
        """Set the window (the matcher's, divided by `factor`), SGBM and the refinement."""
        settings = matcher.settings
        block = settings.block_size
        self.factor = factor
        # The span asked for, divided by `factor`; at half size one more disparity below, since
        # SGBM fits no sub-pixel value at the lowest (measured: the 2.8 m wall of the rig,
        # 5.4 px at half size, came out beyond 3 m). RAiV, 300-3000 mm: 4..51 = 48 disparities.
        low_px, high_px = matcher.needed_px
        self.min_disparity = math.floor(low_px / factor) - (factor - 1)
        num = -(-(math.ceil(high_px / factor) - self.min_disparity + 1)
                // DISPARITY_SCALE) * DISPARITY_SCALE
        self.max_disparity = self.min_disparity + num - 1
        self.pad_px = max(0, self.max_disparity + block // 2 + 1)
        # Speckles are removed by the matcher, not inside SGBM, so the removed pixels are known.
        self.sgbm = cv2.StereoSGBM.create(
            minDisparity=self.min_disparity, numDisparities=num, blockSize=block,
            P1=matcher.p1, P2=matcher.p2, disp12MaxDiff=settings.disp12_max_diff,
            preFilterCap=settings.pre_filter_cap, uniquenessRatio=settings.uniqueness_ratio,
            speckleWindowSize=0, speckleRange=0, mode=_SGBM_MODES[settings.mode])
        self.refiner = self.half_size_refiner = None
        if settings.subpixel == 'refine' and factor == 2:
            # Two steps on the half-size pair first (a quarter of the pixels), then one at full
            # size warped by the window-averaged doubled values (the upsampled field is
            # blocky). Family tuning seeds: 86 % within 2 %, as two full-size steps give, in
            # less time; one half-size step is as good at scale 0.5 but not at 0.25 (sample
            # scene: 66 % against 88 %).
            self.half_size_refiner = DisparityRefiner(
                iterations=2, window_px=9, reference_width_px=REFERENCE_WIDTH_PX // 2)
            self.refiner = DisparityRefiner(iterations=1)
        elif settings.subpixel == 'refine':
            self.refiner = DisparityRefiner()
        if settings.post_filter == 'wls':
            self.right_matcher = cv2.ximgproc.createRightMatcher(self.sgbm)
            self.wls = cv2.ximgproc.createDisparityWLSFilter(self.sgbm)
            self.wls.setLambda(8000.0)
            self.wls.setSigmaColor(1.5)


class StereoMatcher:
    """OpenCV SGBM (optionally left-right checked and WLS-filtered) on rectified pairs."""

    def __init__(self, settings: MatcherSettings, focal_px: float, baseline_mm: float) -> None:
        """
        Build the matcher for rectified images with focal length `focal_px` (working scale).

        The settings are trusted: depth_params.TABLE checks them wherever they come from.
        """
        self.settings = settings
        if settings.min_disparity is None and settings.num_disparities is None:
            self.min_disparity, self.num_disparities = search_window(
                focal_px, baseline_mm, settings.min_depth_mm, settings.max_depth_mm)
            # The disparities the depth range asks for (the window is wider: whole 16s).
            self.needed_px = (disparity_px(focal_px, baseline_mm, settings.max_depth_mm),
                              disparity_px(focal_px, baseline_mm, settings.min_depth_mm))
        else:
            # One given alone (as `ros2 param set` sends them): the other from the depth range,
            # the start from max_depth_mm, the width up to the disparity of min_depth_mm.
            self.min_disparity = settings.min_disparity
            if self.min_disparity is None:
                self.min_disparity = search_window(focal_px, baseline_mm, settings.min_depth_mm,
                                                   settings.max_depth_mm)[0]
            self.num_disparities = settings.num_disparities
            if self.num_disparities is None:
                span = math.ceil(disparity_px(focal_px, baseline_mm, settings.min_depth_mm)) \
                    - self.min_disparity + 1
                self.num_disparities = max(DISPARITY_SCALE, -(-span // DISPARITY_SCALE)
                                           * DISPARITY_SCALE)
            self.needed_px = (float(self.min_disparity),
                              float(self.min_disparity + self.num_disparities - 1))
        self.max_disparity = self.min_disparity + self.num_disparities - 1
        block = settings.block_size
        self.p1 = settings.p1 or P1_PER_BLOCK_PX * block * block
        self.p2 = settings.p2 or P2_PER_BLOCK_PX * block * block
        self._level = _SgbmLevel(self, 2 if settings.sgbm_resolution == 'half' else 1)

    def compute_fixed_point(self, left_rect: np.ndarray, right_rect: np.ndarray) -> np.ndarray:
        """
        Return SGBM's int16 disparity in 1/16 px of these images, speckles removed.

        At sgbm_resolution 'half' the images are half the working size. The pair is matched
        padded on the left by its edge pixels, then cropped: every column gets a disparity, the
        left border too.
        """
        level = self._level
        pad = level.pad_px
        left_padded, right_padded = (
            cv2.copyMakeBorder(image, 0, 0, pad, 0, cv2.BORDER_REPLICATE)
            for image in (left_rect, right_rect))
        raw = level.sgbm.compute(left_padded, right_padded)
        if self.settings.post_filter == 'wls':
            right_raw = level.right_matcher.compute(right_padded, left_padded)
            raw = level.wls.filter(raw, left_padded, disparity_map_right=right_raw)
        raw = np.ascontiguousarray(raw[:, pad:])
        if self.settings.speckle_window_size > 0:
            cv2.filterSpeckles(raw, (level.min_disparity - 1) * DISPARITY_SCALE,
                               self.settings.speckle_window_size,
                               self.settings.speckle_range * DISPARITY_SCALE)
        return raw

    def to_disparity_px(self, fixed_point: np.ndarray) -> np.ndarray:
        """Return float32 disparity in working pixels; NaN outside SGBM's search window."""
        level = self._level
        disparity = fixed_point.astype(np.float32) * np.float32(level.factor / DISPARITY_SCALE)
        invalid = (fixed_point < level.min_disparity * DISPARITY_SCALE) | \
                  (fixed_point > level.max_disparity * DISPARITY_SCALE)
        disparity[invalid] = np.nan
        return disparity

    def size_problem(self, width_px: int, height_px: int) -> str | None:
        """Return why images of this size cannot be matched (smaller than window or block)."""
        need_w = min_width_px(self.max_disparity, self.settings.block_size)
        if width_px >= need_w and height_px >= self.settings.block_size:
            return None
        return (f'the images are {width_px}x{height_px} px at the working scale, too small for '
                f'the search window ({self.min_disparity}..{self.max_disparity} px) and the '
                f'{self.settings.block_size} px block: matching needs at least {need_w} px of '
                f'width and {self.settings.block_size} of height (use larger images, a larger '
                'scale, or a farther depth range)')

    def compute(self, left_rect: np.ndarray, right_rect: np.ndarray) -> np.ndarray:
        """Return the float32 disparity (px) of the rectified left image; NaN = none trusted."""
        return self.match(left_rect, right_rect)[0]

    def match(self, left_rect: np.ndarray,
              right_rect: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        Return (disparity px, confidence 0..1) of the rectified left image.

        The disparity is NaN where the confidence is below min_confidence; the confidence
        levels are the CONFIDENCE_* constants.
        """
        if left_rect.shape != right_rect.shape:
            raise ValueError(f'left {left_rect.shape} and right {right_rect.shape} rectified '
                             'images differ in size')
        height_px, width_px = left_rect.shape[:2]
        problem = self.size_problem(width_px, height_px)
        if problem:
            raise ValueError(problem)
        resolution = self.settings.sgbm_resolution
        start = None
        if resolution == 'full':
            disparity = self.to_disparity_px(self.compute_fixed_point(left_rect, right_rect))
        else:
            size = ((width_px + 1) // 2 if resolution == 'half' else width_px,
                    (height_px + 1) // 2)
            small = [cv2.resize(image, size, interpolation=cv2.INTER_AREA)
                     for image in (left_rect, right_rect)]
            disparity = self.to_disparity_px(self.compute_fixed_point(*small))
            if self._level.half_size_refiner is not None:
                disparity = self._level.half_size_refiner.refine(*small, disparity / 2) * 2
                # The full-size step starts from the window-averaged field, averaged at half
                # size (a quarter of the work) and upsampled smoothly.
                window = scaled_window(WARP_WINDOW_HALF_PX,
                                       2.0 * size[0] / REFERENCE_WIDTH_PX)
                start = cv2.resize(window_average(disparity, window),
                                   (width_px, height_px), interpolation=cv2.INTER_LINEAR)
            disparity = cv2.resize(disparity, (width_px, height_px),
                                   interpolation=cv2.INTER_NEAREST)
        refiner = self._level.refiner
        if refiner is not None:
            disparity = refiner.refine(left_rect, right_rect, disparity, start)
            # Stay inside the searched window (DisparityImage's min/max_disparity).
            np.clip(disparity, self.min_disparity, self.max_disparity, out=disparity)
        matched = np.isfinite(disparity)
        confidence = np.where(matched, np.float32(CONFIDENCE_MATCHED),
                              np.float32(CONFIDENCE_NONE))
        border_px = min(width_px, self.valid_window(width_px, height_px)[0])
        confidence[:, :border_px][matched[:, :border_px]] = CONFIDENCE_BORDER
        min_confidence = self.settings.min_confidence
        if min_confidence <= CONFIDENCE_FILLED:
            disparity = fill_from_background(disparity)
            confidence[np.isfinite(disparity) & ~matched] = CONFIDENCE_FILLED
        disparity[confidence < min_confidence] = np.nan
        return disparity, confidence

    def valid_window(self, width_px: int, height_px: int) -> tuple[int, int, int, int]:
        """
        Return (x0, y0, x1, y1), x1/y1 exclusive: where SGBM can find a match at all.

        OpenCV's getValidDisparityROI for full-image inputs, clipped to the image.
        """
        half = self.settings.block_size // 2
        x0 = min(width_px, max(0, self.max_disparity + half))
        x1 = max(x0, min(width_px, width_px + min(self.min_disparity, 0) - half))
        y0 = min(height_px, half)
        y1 = max(y0, height_px - half)
        return x0, y0, x1, y1
