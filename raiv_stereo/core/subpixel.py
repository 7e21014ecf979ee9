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
Sub-pixel disparity refinement: Lucas-Kanade steps along x on the rectified pair.

SGBM's parabola fit on aggregated costs pulls disparities toward whole pixels (pixel locking,
0.1-0.3 px); at 10 px of disparity that is 1-3 % of depth. Minimising the local photometric
error sum (R(x - d) - L(x))^2 over a window moves each disparity to the sub-pixel value the two
images agree on. Three things make it hold on scenes it was not tuned on (the evaluation family,
doc/benchmarks.md): both images lose their local mean and the right is scaled to the left's
contrast first (a gain or offset between the cameras, vignetting, otherwise bias every step);
the steps are iterated, each warping the right image by the window-averaged disparity of the
previous one (a per-pixel warp field is noisy and makes iterations diverge); and where the
refinement moves a disparity by a pixel or more, the window straddles an edge and SGBM's value
is kept.
"""

from __future__ import annotations

import cv2
import numpy as np

ITERATIONS = 2
WINDOW_PX = 15
BLUR_SIGMA_PX = 0.0
NORMALISE_PX = 15
"""Window of the local mean the images are reduced by."""
REFERENCE_WIDTH_PX = 800
"""Image width the windows are given for (the family's working size, where they were chosen);
other sizes scale them, so a window covers the same part of the scene (unscaled windows cost
accuracy at small scales: doc/benchmarks.md)."""
MAX_STEP_PX = 0.5
"""One step moves a disparity by at most half a pixel (the linearisation holds that far)."""
MAX_CHANGE_PX = 1.0
"""A disparity the steps move by a pixel or more keeps SGBM's value: the window straddles an
edge (SGBM's whole-pixel match is within a pixel wherever it is right)."""


def normalised_pair(left: np.ndarray, right: np.ndarray, blur_sigma_px: float,
                    window_px: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Return the pair (float32) less local means, the right scaled to the left's contrast.

    Removes an offset, a gain and slow shading (vignetting) between the cameras in three passes
    per image: as accurate on the family as dividing by the local contrast, in half the time.
    """
    out = []
    for image in (left, right):
        if blur_sigma_px > 0:
            image = cv2.GaussianBlur(image.astype(np.float32), (0, 0), blur_sigma_px)
        if window_px > 1:
            image = cv2.subtract(image, cv2.boxFilter(image, cv2.CV_32F,
                                                      (window_px, window_px)),
                                 dtype=cv2.CV_32F)
        else:
            image = image.astype(np.float32)
        out.append(image)
    if window_px > 1:
        left_contrast = float(cv2.meanStdDev(out[0])[1][0, 0])
        right_contrast = float(cv2.meanStdDev(out[1])[1][0, 0])
        out[1] = cv2.multiply(out[1], left_contrast / max(right_contrast, 1e-6))
    return out[0], out[1]


def scaled_window(window_px: int, factor: float) -> int:
    """Return `window_px` scaled by `factor`, odd and at least 3."""
    return max(3, int(round(window_px * factor)) // 2 * 2 + 1)


def window_average(disparity_px: np.ndarray, window_px: int) -> np.ndarray:
    """Return the mean of the finite values in each window (0 where a window has none)."""
    return _valid_average(np.nan_to_num(disparity_px, nan=0.0), np.isfinite(disparity_px),
                          (window_px, window_px))


def _valid_average(field: np.ndarray, valid: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """Return the window average of `field` over the `valid` pixels."""
    valid_float = valid.astype(np.float32)
    return cv2.divide(cv2.blur(cv2.multiply(field, valid_float), box),
                      cv2.max(cv2.blur(valid_float, box), 1e-3))


class DisparityRefiner:
    """Refines disparities of rectified pairs of one size (pixel grids kept between calls)."""

    def __init__(self, iterations: int = ITERATIONS, window_px: int = WINDOW_PX,
                 blur_sigma_px: float = BLUR_SIGMA_PX,
                 max_change_px: float = MAX_CHANGE_PX,
                 normalise_px: int = NORMALISE_PX,
                 warp_window_px: int | None = None,
                 reference_width_px: int | None = REFERENCE_WIDTH_PX) -> None:
        """
        Set the steps, the window (odd, px), the pre-blur (px, 0 = none) and the change limit.

        normalise_px: window of the local mean removed from both images (1 = none).
        warp_window_px: the window the warp field is averaged over between steps (default: the
        step's window). Windows are for images reference_width_px wide and scale with the width
        (None: as given). A disparity the steps move by max_change_px or more keeps its value.
        """
        self.iterations, self.window_px, self.blur_sigma_px = iterations, window_px, \
            blur_sigma_px
        self.max_change_px = max_change_px
        self.normalise_px = normalise_px
        self.warp_window_px = warp_window_px or window_px
        self.reference_width_px = reference_width_px
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def _grids(self, height_px: int, width_px: int) -> tuple[np.ndarray, np.ndarray]:
        if self._grid is None or self._grid[0].shape != (height_px, width_px):
            xs, ys = np.meshgrid(np.arange(width_px, dtype=np.float32),
                                 np.arange(height_px, dtype=np.float32))
            self._grid = xs, ys
        return self._grid

    def refine(self, left_rect: np.ndarray, right_rect: np.ndarray,
               disparity_px: np.ndarray, start_px: np.ndarray | None = None) -> np.ndarray:
        """
        Return `disparity_px` (float32, NaN = none) refined; NaN stays NaN.

        start_px: the field the first step warps by (e.g. a smooth upsampled one), when not
        `disparity_px` itself.
        """
        xs, ys = self._grids(*disparity_px.shape)
        factor = (disparity_px.shape[1] / self.reference_width_px
                  if self.reference_width_px else 1.0)
        left, right = normalised_pair(left_rect, right_rect, self.blur_sigma_px,
                                      scaled_window(self.normalise_px, factor))
        valid = np.isfinite(disparity_px)
        given = np.nan_to_num(disparity_px, nan=0.0)
        refined = given
        window_px = scaled_window(self.window_px, factor)
        warp_px = scaled_window(self.warp_window_px, factor)
        box, warp_box = (window_px, window_px), (warp_px, warp_px)
        # The left image's gradient stands in for the warped right's (equal at the solution):
        # it and its sum are computed once, not every step. OpenCV's element-wise operations
        # run on both cores, numpy's on one.
        gradient = cv2.Sobel(left, cv2.CV_32F, 1, 0, ksize=3, scale=0.125)
        denominator = cv2.max(cv2.boxFilter(cv2.multiply(gradient, gradient), -1, box,
                                            normalize=False), 1e-3)
        for iteration in range(self.iterations):
            warp = refined
            if iteration == 0 and start_px is not None:
                warp = start_px
            elif iteration > 0:
                warp = _valid_average(refined, valid, warp_box)
            warped = cv2.remap(right, cv2.subtract(xs, warp), ys, cv2.INTER_LINEAR)
            numerator = cv2.boxFilter(cv2.multiply(gradient, cv2.subtract(warped, left)), -1,
                                      box, normalize=False)
            step = cv2.divide(numerator, denominator)
            refined = cv2.add(warp, cv2.min(cv2.max(step, -MAX_STEP_PX), MAX_STEP_PX))
        keep = ~valid | ~(cv2.absdiff(refined, given) < np.float32(self.max_change_px))
        refined[keep] = disparity_px[keep]
        return refined
