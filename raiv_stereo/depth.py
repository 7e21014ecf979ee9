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

"""Disparity -> depth (REP 118 float metres or uint16 millimetres) and colour depth for people."""

from __future__ import annotations

import cv2
import numpy as np

MAX_DEPTH_MM_U16 = 65535
"""The largest depth a 16UC1 image can hold; farther is written as 0 (no depth)."""


def disparity_to_depth_m(disparity_px: np.ndarray, focal_px: float, baseline_m: float,
                         min_depth_m: float | None = None,
                         max_depth_m: float | None = None) -> np.ndarray:
    """Return float32 depth Z = f·B/d in metres; NaN where d is NaN or <= 0, or out of range."""
    with np.errstate(divide='ignore', invalid='ignore'):
        depth = np.float32(focal_px * baseline_m) / disparity_px.astype(np.float32, copy=False)
    depth[~(disparity_px > 0)] = np.nan
    if min_depth_m is not None:
        depth[depth < min_depth_m] = np.nan
    if max_depth_m is not None:
        depth[depth > max_depth_m] = np.nan
    return depth


def depth_m_to_mm_u16(depth_m: np.ndarray) -> np.ndarray:
    """Return uint16 millimetres (REP 118 16UC1): 0 where there is no depth or it does not fit."""
    depth_mm = np.rint(depth_m * 1000.0)
    fits = np.isfinite(depth_mm) & (depth_mm > 0) & (depth_mm <= MAX_DEPTH_MM_U16)
    return np.where(fits, depth_mm, 0).astype(np.uint16)


def _colormap_index(depth_m: np.ndarray, min_depth_m: float, max_depth_m: float) -> np.ndarray:
    """Map depth to 0..255 colour-map indices, 255 = nearest, over a fixed range."""
    span = max(max_depth_m - min_depth_m, 1e-9)
    with np.errstate(invalid='ignore'):
        near = np.clip((max_depth_m - depth_m) / span, 0.0, 1.0)
    return np.nan_to_num(near * 255.0 + 0.5).astype(np.uint8)


def colorize_depth(depth_m: np.ndarray, min_depth_m: float, max_depth_m: float) -> np.ndarray:
    """
    Return a bgr8 picture of depth: near = warm (red), far = cool (blue), no depth = black.

    The range is fixed by the caller so a colour means the same metres in every frame.
    """
    colour = cv2.applyColorMap(_colormap_index(depth_m, min_depth_m, max_depth_m),
                               cv2.COLORMAP_TURBO)
    colour[~np.isfinite(depth_m)] = 0
    return colour


def _tick_step_m(span_m: float) -> float:
    """Return a round tick spacing giving about five ticks over `span_m`."""
    for step in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0):
        if span_m / step <= 6:
            return step
    return 20.0


def depth_legend(height_px: int, min_depth_m: float, max_depth_m: float,
                 width_px: int = 90) -> np.ndarray:
    """Return a bgr8 scale bar (near at the top) labelled in metres, for side-by-side pictures."""
    rows = np.linspace(min_depth_m, max_depth_m, height_px, dtype=np.float32)
    bar = colorize_depth(np.repeat(rows[:, None], 24, axis=1), min_depth_m, max_depth_m)
    legend = np.full((height_px, width_px, 3), 255, np.uint8)
    legend[:, 4:28] = bar
    step = _tick_step_m(max_depth_m - min_depth_m)
    tick = np.ceil(min_depth_m / step) * step
    font_scale = max(0.35, height_px / 900.0)
    while tick <= max_depth_m + 1e-9:
        y = int(round((tick - min_depth_m) / max(max_depth_m - min_depth_m, 1e-9)
                      * (height_px - 1)))
        cv2.line(legend, (28, y), (34, y), (0, 0, 0), 1)
        cv2.putText(legend, f'{tick:g} m', (37, min(max(y + 5, 12), height_px - 3)),
                    cv2.FONT_HERSHEY_SIMPLEX, font_scale, (0, 0, 0), 1, cv2.LINE_AA)
        tick += step
    return legend
