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


COLORMAP = cv2.COLORMAP_PLASMA
"""Perceptually uniform (even steps look even), dark blue far to yellow near; never black."""
NO_DEPTH_BGR = (0, 0, 0)
"""Pixels without depth."""
LEFT_BORDER_BGR = (96, 96, 96)
"""Pixels without depth in the left border: the right camera may not see them at all."""


def _colormap_index(depth_m: np.ndarray, min_depth_m: float, max_depth_m: float) -> np.ndarray:
    """
    Map depth to 0..255 colour-map indices over inverse depth (255 = nearest), fixed range.

    Inverse depth is proportional to disparity, what stereo measures: equal colour steps are
    equal disparity steps, so near objects are told apart finely and far ones coarsely, as
    their depths are measured.
    """
    near_inv = 1.0 / max(min_depth_m, 1e-9)
    far_inv = 1.0 / max(max_depth_m, 1e-9)
    span = max(near_inv - far_inv, 1e-12)
    with np.errstate(divide='ignore', invalid='ignore'):
        near = np.clip((1.0 / depth_m.astype(np.float32) - far_inv) / span, 0.0, 1.0)
    return np.nan_to_num(near * 255.0 + 0.5).astype(np.uint8)


def colorize_depth(depth_m: np.ndarray, min_depth_m: float, max_depth_m: float,
                   left_border_px: int = 0) -> np.ndarray:
    """
    Return a bgr8 picture of depth: near = yellow, far = dark blue, no depth = black.

    The range is fixed by the caller so a colour means the same metres in every frame.
    Pixels without depth in the `left_border_px` leftmost columns (where the search window
    reaches past the image edge) are grey instead of black: they are out of the right
    camera's view, not unmatched.
    """
    colour = cv2.applyColorMap(_colormap_index(depth_m, min_depth_m, max_depth_m), COLORMAP)
    missing = ~np.isfinite(depth_m)
    colour[missing] = NO_DEPTH_BGR
    if left_border_px > 0:
        border = missing.copy()
        border[:, int(left_border_px):] = False
        colour[border] = LEFT_BORDER_BGR
    return colour


_NICE_DEPTHS_M = tuple(m * 10.0 ** e for e in range(-2, 4)
                       for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5))

LEGEND_TOP_PX = 10
"""Rows above the colour bar: room for the label of its top end."""
LEGEND_SWATCHES_PX = 40
"""Rows below the colour bar: room for its bottom label and the swatches of black and grey."""


def legend_bar_rows(height_px: int) -> tuple[int, int]:
    """Return the first and last+1 rows of the colour bar in a legend `height_px` tall."""
    return LEGEND_TOP_PX, max(LEGEND_TOP_PX + 2, height_px - LEGEND_SWATCHES_PX)


def _depth_text(depth_m: float) -> str:
    return f'{depth_m:.2g} m' if depth_m < 10 else f'{depth_m:.0f} m'


def depth_legend(height_px: int, min_depth_m: float, max_depth_m: float,
                 width_px: int = 90, left_border: bool = False) -> np.ndarray:
    """
    Return a bgr8 scale bar (near at the top) labelled in metres at both ends and between.

    Ticks sit at round depths spaced evenly in inverse depth, as the colours are; below the
    bar, black is named 'no depth' (and, with `left_border`, grey 'left border').
    """
    legend = np.full((height_px, width_px, 3), 255, np.uint8)
    top, bottom = legend_bar_rows(height_px)
    rows = bottom - top
    near_inv, far_inv = 1.0 / min_depth_m, 1.0 / max_depth_m
    inverse = np.linspace(near_inv, far_inv, rows, dtype=np.float64)
    bar_depth = (1.0 / inverse).astype(np.float32)
    legend[top:bottom, 4:24] = colorize_depth(np.repeat(bar_depth[:, None], 20, axis=1),
                                              min_depth_m, max_depth_m)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.38

    def row_of(depth_m: float) -> int:
        share = (near_inv - 1.0 / depth_m) / max(near_inv - far_inv, 1e-12)
        return top + int(round(share * (rows - 1)))

    def label(depth_m: float, y: int) -> None:
        cv2.line(legend, (24, y), (29, y), (0, 0, 0), 1)
        cv2.putText(legend, _depth_text(depth_m), (32, y + 4), font, scale, (0, 0, 0), 1,
                    cv2.LINE_AA)

    label(min_depth_m, top)
    label(max_depth_m, bottom - 1)
    placed = [top, bottom - 1]
    for depth_m in _NICE_DEPTHS_M:
        if min_depth_m < depth_m < max_depth_m:
            y = row_of(depth_m)
            if all(abs(y - other) >= 16 for other in placed):
                label(depth_m, y)
                placed.append(y)
    swatches = [(NO_DEPTH_BGR, 'no depth')]
    if left_border:
        swatches.append((LEFT_BORDER_BGR, 'left border'))
    for index, (colour, text) in enumerate(swatches):
        y = bottom + 12 + 14 * index
        if y + 5 > height_px:
            break
        cv2.rectangle(legend, (4, y - 5), (18, y + 5), colour, -1)
        cv2.putText(legend, text, (22, y + 4), font, 0.34, (0, 0, 0), 1, cv2.LINE_AA)
    return legend
