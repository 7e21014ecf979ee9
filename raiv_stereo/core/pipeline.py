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

"""The stereo core end to end: raw pair -> rectified, matched, converted to depth (no ROS)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import time

import cv2
import numpy as np
from raiv_stereo.core import pair_order
from raiv_stereo.core.calibration import StereoCalibration
from raiv_stereo.core.depth import disparity_to_depth_m
from raiv_stereo.core.matching import Matcher, MatcherFactory
from raiv_stereo.core.matching.sgbm import MatcherSettings, StereoMatcher
from raiv_stereo.core.rectify import Rectifier, rectifier_for


def to_gray(image: np.ndarray) -> np.ndarray:
    """Return a single-channel view of a mono or BGR image (SGBM matches intensity)."""
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


@dataclass
class PipelineResult:
    """One processed pair, everything at the working scale in the rectified left camera."""

    left_rect: np.ndarray
    """The rectified left image, mono8 (what was matched)."""
    disparity_px: np.ndarray
    depth_m: np.ndarray
    confidence: np.ndarray
    """0..1 per pixel (matcher.CONFIDENCE_*); depth is NaN below the matcher's min_confidence."""
    timings_ms: dict[str, float] = field(default_factory=dict)
    right_rect: np.ndarray | None = None
    """The rectified right image, mono8, after any alignment correction (what was matched)."""

    def valid_share(self) -> float:
        """Return the share of pixels with a depth."""
        return float(np.isfinite(self.depth_m).mean()) if self.depth_m.size else 0.0


class StereoPipeline:
    """Rectify (cached maps) -> match (SGBM by default) over the range's window -> depth."""

    def __init__(self, calibration: StereoCalibration, scale: float,
                 settings: MatcherSettings | None = None,
                 matcher_factory: MatcherFactory = StereoMatcher) -> None:
        """
        Build the rectifier and matcher; raises CalibrationError or ValueError with a reason.

        `matcher_factory` builds the matcher (default SGBM) from the settings and the working
        focal length and baseline, again whenever they change.
        """
        self.settings = settings or MatcherSettings()
        self._matcher_factory = matcher_factory
        self.rectifier: Rectifier = rectifier_for(calibration, scale)
        self.matcher: Matcher = matcher_factory(self.settings, self.working.focal_px,
                                                self.working.baseline_mm)
        self.alignment = None
        """calibration_health.AlignmentCorrection applied to the right rectified image, or None."""
        self.post_filters = None
        """post_filters.PostFilters run on the disparity before depth, or None."""

    @property
    def working(self) -> StereoCalibration:
        """Return the rectified calibration at the working size (what outputs are in)."""
        return self.rectifier.working

    def reconfigure(self, calibration: StereoCalibration | None = None,
                    scale: float | None = None,
                    settings: MatcherSettings | None = None) -> None:
        """Apply what changed; maps and matcher are rebuilt only when their inputs change."""
        rectifier = rectifier_for(calibration or self.rectifier.calibration,
                                  self.rectifier.scale if scale is None else scale)
        settings = settings or self.settings
        if rectifier is not self.rectifier or settings != self.settings:
            matcher = self._matcher_factory(settings, rectifier.working.focal_px,
                                            rectifier.working.baseline_mm)
            if rectifier is not self.rectifier:
                self.alignment = None  # measured in the old rectification's pixels
            self.rectifier, self.matcher, self.settings = rectifier, matcher, settings

    def process(self, left_raw: np.ndarray, right_raw: np.ndarray,
                mask_out_of_range: bool = False) -> PipelineResult:
        """Return rectified left, disparity (px, NaN = none) and depth (m, NaN = none)."""
        if left_raw.shape != right_raw.shape:
            raise ValueError(f'left image {left_raw.shape[1]}x{left_raw.shape[0]} and right '
                             f'{right_raw.shape[1]}x{right_raw.shape[0]} differ in size')
        started = time.perf_counter()
        left_rect, right_rect = self.rectifier.rectify(to_gray(left_raw), to_gray(right_raw))
        if self.alignment is not None:
            right_rect = self.alignment.apply(right_rect)
        rectified = time.perf_counter()
        disparity, confidence = self.matcher.match(left_rect, right_rect)
        matched = time.perf_counter()
        filtered_ms = {}
        if self.post_filters is not None:
            disparity, confidence = self.post_filters.apply(disparity, confidence)
            filtered_ms['post_filters'] = (time.perf_counter() - matched) * 1e3
            matched = time.perf_counter()
        working = self.working
        limits = ((self.settings.min_depth_mm / 1000.0, self.settings.max_depth_mm / 1000.0)
                  if mask_out_of_range else (None, None))
        depth = disparity_to_depth_m(disparity, working.focal_px, working.baseline_m, *limits)
        done = time.perf_counter()
        return PipelineResult(left_rect, disparity, depth, confidence, {
            'rectify': (rectified - started) * 1e3,
            'match': (matched - rectified) * 1e3 - filtered_ms.get('post_filters', 0.0),
            **filtered_ms,
            'depth': (done - matched) * 1e3, 'total': (done - started) * 1e3}, right_rect)

    def match_both_ways(self, left_raw: np.ndarray,
                        right_raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """
        Return the confidence of the raw pair matched as given and exchanged (pair_order check).

        Always with SGBM at full resolution and the check's uniqueness margin, where its ratio
        was measured (doc/benchmarks.md), whatever matcher the pipeline uses. The exchanged pair
        is rectified anew: each camera's maps must meet the image that camera took.
        """
        working = self.working
        matcher = StereoMatcher(
            dataclasses.replace(self.settings, sgbm_resolution='full', subpixel='sgbm',
                                uniqueness_ratio=pair_order.UNIQUENESS_RATIO),
            working.focal_px, working.baseline_mm)
        left, right = to_gray(left_raw), to_gray(right_raw)
        return (matcher.match(*self.rectifier.rectify(left, right))[1],
                matcher.match(*self.rectifier.rectify(right, left))[1])
