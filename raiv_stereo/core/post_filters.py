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
Disparity post-filters after matching, as depth cameras offer them: temporal and spatial fill.

Both work on the disparity (px), where stereo noise is even, before depth is computed, and
both keep depth edges: a pixel is smoothed or filled only from values within `EDGE_STEP_PX`
of each other, so a near object never bleeds into the wall behind it. No ROS import.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from raiv_stereo.core.matching.sgbm import CONFIDENCE_FILLED

EDGE_STEP_PX = 1.0
"""Largest disparity difference (working px) still taken as one surface."""
PERSISTENCE_FRAMES = 2
"""The temporal filter keeps a pixel's last value through this many frames without depth."""


class TemporalFilter:
    """
    Exponential smoothing of each pixel's disparity over frames, reset at edges and motion.

    d = alpha * new + (1 - alpha) * previous where both exist and differ by at most
    EDGE_STEP_PX; a bigger change (an edge moved, something moved) takes the new value at
    once. A pixel without a new value keeps its previous one for PERSISTENCE_FRAMES frames.
    For static scenes: lower alpha = smoother, slower to follow.
    """

    def __init__(self, alpha: float, edge_step_px: float = EDGE_STEP_PX,
                 persistence_frames: int = PERSISTENCE_FRAMES) -> None:
        """Take alpha in (0, 1]: the new frame's weight (1 = no smoothing)."""
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f'temporal filter alpha must be in (0, 1], got {alpha:g}')
        self.alpha = float(alpha)
        self.edge_step_px = float(edge_step_px)
        self.persistence_frames = int(persistence_frames)
        self._state: np.ndarray | None = None
        self._missing: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the history (a new scene, calibration or size)."""
        self._state = self._missing = None

    def apply(self, disparity_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return (filtered disparity, mask of pixels kept from earlier frames)."""
        new = disparity_px.astype(np.float32, copy=True)
        if self._state is None or self._state.shape != new.shape:
            self._state = new.copy()
            self._missing = np.where(np.isfinite(new), 0, self.persistence_frames + 1)
            return new, np.zeros(new.shape, bool)
        previous = self._state
        have_new = np.isfinite(new)
        have_old = np.isfinite(previous)
        with np.errstate(invalid='ignore'):
            same = have_new & have_old & (np.abs(new - previous) <= self.edge_step_px)
        new[same] = self.alpha * new[same] + (1.0 - self.alpha) * previous[same]
        missing = np.where(have_new, 0, self._missing + 1)
        kept = ~have_new & have_old & (missing <= self.persistence_frames)
        new[kept] = previous[kept]
        self._state, self._missing = new.copy(), missing
        return new, kept


def _fill_rows(disparity: np.ndarray, max_hole_px: int, edge_step_px: float) -> np.ndarray:
    """Fill (in place) row holes of at most max_hole_px inside one surface; return the mask."""
    height, width = disparity.shape
    valid = np.isfinite(disparity)
    columns = np.arange(width, dtype=np.int32)
    left = np.where(valid, columns, np.int32(-1))
    np.maximum.accumulate(left, axis=1, out=left)
    right = np.where(valid, columns, np.int32(width))[:, ::-1]
    right = np.minimum.accumulate(right, axis=1)[:, ::-1]
    hole = ~valid & (left >= 0) & (right < width) & (right - left <= max_hole_px + 1)
    rows, cols = np.nonzero(hole)
    filled = np.zeros(hole.shape, bool)
    if rows.size == 0:
        return filled
    start, stop = left[rows, cols], right[rows, cols]
    a, b = disparity[rows, start], disparity[rows, stop]
    same = np.abs(a - b) <= edge_step_px
    rows, cols, start, stop, a, b = (v[same] for v in (rows, cols, start, stop, a, b))
    disparity[rows, cols] = a + (b - a) * ((cols - start) / (stop - start)).astype(np.float32)
    filled[rows, cols] = True
    return filled


def spatial_fill(disparity_px: np.ndarray, max_hole_px: int,
                 edge_step_px: float = EDGE_STEP_PX) -> tuple[np.ndarray, np.ndarray]:
    """
    Return (disparity with small holes filled, mask of the filled pixels).

    A hole of at most max_hole_px along a row (then a column) is interpolated between its two
    ends when they lie within edge_step_px of each other: holes inside a surface close, the
    occlusion beside a depth edge (ends far apart) stays empty.
    """
    filled = disparity_px.astype(np.float32, copy=True)
    if max_hole_px <= 0:
        return filled, np.zeros(filled.shape, bool)
    by_rows = _fill_rows(filled, max_hole_px, edge_step_px)
    transposed = np.ascontiguousarray(filled.T)
    by_columns = _fill_rows(transposed, max_hole_px, edge_step_px).T
    return np.ascontiguousarray(transposed.T), by_rows | by_columns


@dataclass(frozen=True)
class PostFilterSettings:
    """Which post-filters run: 0 turns each off."""

    temporal_alpha: float = 0.0
    spatial_fill_px: int = 0

    @property
    def active(self) -> bool:
        """Return True when any filter runs."""
        return self.temporal_alpha > 0.0 or self.spatial_fill_px > 0


class PostFilters:
    """The post-filters of one pipeline, in order: spatial fill, then temporal smoothing."""

    def __init__(self, settings: PostFilterSettings) -> None:
        """Build the filters the settings ask for."""
        self.settings = settings
        self.temporal = TemporalFilter(settings.temporal_alpha) \
            if settings.temporal_alpha > 0.0 else None

    def apply(self, disparity_px: np.ndarray,
              confidence: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the filtered disparity and confidence (filled and kept pixels: FILLED)."""
        added = np.zeros(disparity_px.shape, bool)
        if self.settings.spatial_fill_px > 0:
            disparity_px, filled = spatial_fill(disparity_px, self.settings.spatial_fill_px)
            added |= filled
        if self.temporal is not None:
            disparity_px, kept = self.temporal.apply(disparity_px)
            added |= kept
        if added.any():
            confidence = confidence.copy()
            confidence[added] = np.float32(CONFIDENCE_FILLED)
        return disparity_px, confidence


PARAMETER_NAMES = ('temporal_filter_alpha', 'spatial_fill_px')
"""The node parameters (and bench configuration keys) that make up PostFilterSettings."""


def settings_from(values: dict) -> PostFilterSettings:
    """Return the settings of these parameter values (missing ones: off)."""
    return PostFilterSettings(float(values.get('temporal_filter_alpha', 0.0)),
                              int(values.get('spatial_fill_px', 0)))


def configure(pipeline: object, settings: PostFilterSettings) -> None:
    """Give `pipeline` these post-filters (None when all are off), keeping unchanged ones."""
    current = getattr(pipeline, 'post_filters', None)
    if not settings.active:
        pipeline.post_filters = None
    elif current is None or current.settings != settings:
        pipeline.post_filters = PostFilters(settings)


__all__ = ['EDGE_STEP_PX', 'PARAMETER_NAMES', 'PERSISTENCE_FRAMES', 'PostFilterSettings',
           'PostFilters', 'TemporalFilter', 'configure', 'settings_from', 'spatial_fill']
