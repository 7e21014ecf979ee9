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
Calibration health: how far apart the rows of a rectified pair are, and a small fix for it.

A good rectification puts every scene point on the same row in both images. After a knock or
heat the right camera turns a little and its rows drift: depth quietly gets worse. Sparse
feature matches (ORB, ratio test), refined to sub-pixel by Lucas-Kanade, measure the vertical
offset y_right - y_left of each match; a robust line dy = shift + tan(roll) * (x - cx) gives
the vertical shift and the roll. `AlignmentCorrection` undoes both on the right rectified
image (an affine warp), so the matcher sees aligned rows until the pair is recalibrated.
No ROS import: the depth node, the CLI and the tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import time
from typing import Any

import cv2
import numpy as np

OK, WARN, ERROR = 'OK', 'WARN', 'ERROR'

WARN_OFFSET_PX = 0.25
"""Worst row offset across the image (px at the working scale) from which the check warns."""
ERROR_OFFSET_PX = 1.0
"""Worst row offset (px at the working scale) from which the check reports an error."""
MIN_MATCHES = 30
"""Fewer inlier matches than this and the pair cannot be judged (blank or dark scene)."""
RATIO = 0.75
"""Lowe's ratio test: the best match must be this much closer than the second best."""
MAX_ROW_OFFSET_PX = 40.0
"""Matches further apart vertically than this are taken as wrong, not as miscalibration."""


@dataclass(frozen=True)
class AlignmentCorrection:
    """
    A vertical shift and roll of the right rectified image, undone by an affine warp.

    shift_px: the right image's rows lie this much lower than the left's at the centre column;
    roll_deg: the right image is turned by this (positive = rows fall toward the right).
    Both are at the working scale of the pipeline they are applied in.
    """

    shift_px: float = 0.0
    roll_deg: float = 0.0
    center_px: tuple[float, float] = (0.0, 0.0)

    @property
    def is_identity(self) -> bool:
        """Return True when this correction changes nothing."""
        return self.shift_px == 0.0 and self.roll_deg == 0.0

    def matrix(self) -> np.ndarray:
        """Return the 2x3 map from corrected pixels to the pixels of the uncorrected image."""
        a = math.radians(self.roll_deg)
        cos, sin = math.cos(a), math.sin(a)
        cx, cy = self.center_px
        rotation = np.array([[cos, -sin], [sin, cos]])
        offset = np.array([cx, cy + self.shift_px]) - rotation @ np.array([cx, cy])
        return np.hstack([rotation, offset[:, None]])

    def apply(self, right_rect: np.ndarray) -> np.ndarray:
        """Return the right rectified image with the shift and roll undone (same size)."""
        if self.is_identity:
            return right_rect
        height, width = right_rect.shape[:2]
        return cv2.warpAffine(right_rect, self.matrix(), (width, height),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)

    def then(self, residual: AlignmentCorrection) -> AlignmentCorrection:
        """Return this correction followed by a residual measured on its output (small angles)."""
        return AlignmentCorrection(self.shift_px + residual.shift_px,
                                   self.roll_deg + residual.roll_deg, self.center_px)

    def scaled(self, factor: float) -> AlignmentCorrection:
        """Return the correction for images resized by `factor` (shift and centre scale)."""
        cx, cy = self.center_px
        return AlignmentCorrection(self.shift_px * factor, self.roll_deg,
                                   ((cx + 0.5) * factor - 0.5, (cy + 0.5) * factor - 0.5))


@dataclass(frozen=True)
class HealthReport:
    """The row alignment of one rectified pair and what it means."""

    matches: int
    """Inlier matches the figures come from."""
    median_px: float
    """Median vertical offset y_right - y_left of the matches, px."""
    spread_px: float
    """Robust spread of the offsets (1.4826 x median absolute deviation), px."""
    shift_px: float
    """Vertical offset at the centre column from the line fit, px."""
    roll_deg: float
    """Roll of the right image relative to the left (positive: its rows fall to the right)."""
    worst_px: float
    """Largest row offset the fit gives anywhere across the image width, px."""
    level: str
    """OK, WARN or ERROR."""
    message: str
    """What the figures mean and what to do, in plain words."""
    center_px: tuple[float, float] = (0.0, 0.0)
    elapsed_ms: float = 0.0

    def correction(self) -> AlignmentCorrection:
        """Return the correction that undoes the measured shift and roll."""
        return AlignmentCorrection(self.shift_px, self.roll_deg, self.center_px)

    def values(self) -> dict[str, str]:
        """Return the figures as text by name (for diagnostic_msgs KeyValue and the CLI)."""
        return {'matches': str(self.matches),
                'vertical offset median px': f'{self.median_px:.3f}',
                'vertical offset spread px': f'{self.spread_px:.3f}',
                'vertical shift px': f'{self.shift_px:.3f}',
                'roll deg': f'{self.roll_deg:.4f}',
                'worst row offset px': f'{self.worst_px:.3f}',
                'check ms': f'{self.elapsed_ms:.1f}'}

    def text(self) -> str:
        """Return the report as a few lines for people."""
        lines = [f'{self.level}: {self.message}']
        lines += [f'  {key}: {value}' for key, value in self.values().items()]
        return '\n'.join(lines)


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def sparse_matches(left_rect: np.ndarray, right_rect: np.ndarray,
                   max_features: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """
    Return matched points (N x 2 float32, left and right) of a rectified pair, sub-pixel.

    ORB features matched both ways with the ratio test, kept when they lie to the left in the
    right image (positive disparity) within MAX_ROW_OFFSET_PX rows, then each right point is
    refined by pyramidal Lucas-Kanade and checked back to its left point.
    """
    left, right = _gray(left_rect), _gray(right_rect)
    orb = cv2.ORB_create(nfeatures=max_features, fastThreshold=10)
    kp_left, des_left = orb.detectAndCompute(left, None)
    kp_right, des_right = orb.detectAndCompute(right, None)
    empty = np.zeros((0, 2), np.float32)
    if des_left is None or des_right is None or len(kp_left) < 2 or len(kp_right) < 2:
        return empty, empty
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    forward = matcher.knnMatch(des_left, des_right, k=2)
    backward = {m[0].queryIdx: m[0].trainIdx for m in matcher.knnMatch(des_right, des_left, k=1)
                if m}
    pairs = [m[0] for m in forward
             if len(m) == 2 and m[0].distance < RATIO * m[1].distance
             and backward.get(m[0].trainIdx) == m[0].queryIdx]
    if not pairs:
        return empty, empty
    pts_left = np.float32([kp_left[m.queryIdx].pt for m in pairs])
    pts_right = np.float32([kp_right[m.trainIdx].pt for m in pairs])
    dy = pts_right[:, 1] - pts_left[:, 1]
    dx = pts_left[:, 0] - pts_right[:, 0]
    keep = (np.abs(dy) <= MAX_ROW_OFFSET_PX) & (dx >= -2.0)
    pts_left, pts_right = pts_left[keep], pts_right[keep]
    if len(pts_left) == 0:
        return empty, empty
    # Sub-pixel: Lucas-Kanade from each left point, starting at its ORB partner, then back.
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 40, 0.001)
    lk = {'winSize': (21, 21), 'maxLevel': 1, 'criteria': criteria,
          'flags': cv2.OPTFLOW_USE_INITIAL_FLOW}
    refined, status, _ = cv2.calcOpticalFlowPyrLK(left, right, pts_left.reshape(-1, 1, 2),
                                                  pts_right.reshape(-1, 1, 2).copy(), **lk)
    back, status_back, _ = cv2.calcOpticalFlowPyrLK(right, left, refined,
                                                    pts_left.reshape(-1, 1, 2).copy(), **lk)
    refined, back = refined.reshape(-1, 2), back.reshape(-1, 2)
    height, width = left.shape[:2]
    margin = 11
    good = (status.ravel() == 1) & (status_back.ravel() == 1) & \
        (np.linalg.norm(back - pts_left, axis=1) < 0.1) & \
        (np.linalg.norm(refined - pts_right, axis=1) < 2.0) & \
        (refined[:, 0] >= margin) & (refined[:, 0] < width - margin) & \
        (refined[:, 1] >= margin) & (refined[:, 1] < height - margin)
    return pts_left[good], refined[good]


def fit_row_offset(pts_left: np.ndarray, pts_right: np.ndarray,
                   center_x_px: float) -> tuple[float, float, np.ndarray]:
    """
    Return (shift_px, slope, inliers) of dy = shift + slope * (x_right - cx), fitted robustly.

    Least squares, repeated on the matches within 3 robust deviations (at least 0.05 px) of the
    previous line, so wrong matches do not pull the figures.
    """
    dy = (pts_right[:, 1] - pts_left[:, 1]).astype(np.float64)
    x = (pts_right[:, 0] - center_x_px).astype(np.float64)
    inliers = np.abs(dy - np.median(dy)) <= max(3.0 * _robust_sigma(dy), 0.5)
    shift, slope = float(np.median(dy)), 0.0
    for _ in range(5):
        if inliers.sum() < 3:
            break
        design = np.stack([np.ones(int(inliers.sum())), x[inliers]], axis=1)
        (shift, slope), *_ = np.linalg.lstsq(design, dy[inliers], rcond=None)
        residual = dy - (shift + slope * x)
        updated = np.abs(residual) <= max(3.0 * _robust_sigma(residual[inliers]), 0.05)
        if np.array_equal(updated, inliers):
            break
        inliers = updated
    return float(shift), float(slope), inliers


def _robust_sigma(values: np.ndarray) -> float:
    """Return 1.4826 x the median absolute deviation (a standard deviation robust to outliers)."""
    if values.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def judge(worst_px: float, shift_px: float, roll_deg: float, matches: int,
          corrected: AlignmentCorrection | None = None) -> tuple[str, str]:
    """Return (level, plain-words message) for a measured row offset."""
    if matches < MIN_MATCHES:
        return WARN, (f'only {matches} reliable feature matches (need {MIN_MATCHES}): the scene '
                      'has too little texture or light to judge the calibration; point the '
                      'camera at a detailed scene')
    fixed = ''
    if corrected is not None and not corrected.is_identity:
        fixed = (f' (after the online correction of {corrected.shift_px:+.2f} px, '
                 f'{corrected.roll_deg:+.3f} deg)')
        if worst_px < WARN_OFFSET_PX:
            return WARN, (f'rows line up{fixed}, but the calibration itself is off by '
                          f'{abs(corrected.shift_px):.2f} px and {abs(corrected.roll_deg):.3f} '
                          'deg: recalibrate the stereo pair when convenient')
    what = (f'rows of the rectified pair are up to {worst_px:.2f} px apart{fixed} '
            f'(shift {shift_px:+.2f} px, roll {roll_deg:+.3f} deg)')
    if worst_px < WARN_OFFSET_PX:
        return OK, f'calibration is sound: {what}'
    if worst_px < ERROR_OFFSET_PX:
        return WARN, (f'{what}: depth loses accuracy; recalibrate the stereo pair, or enable '
                      'the online correction (calibration_correction) until then')
    return ERROR, (f'{what}: depth is unreliable; the cameras have moved since calibration. '
                   'Recalibrate the stereo pair (e.g. ros2 run camera_calibration '
                   'cameracalibrator), or enable calibration_correction to compensate')


def check_alignment(left_rect: np.ndarray, right_rect: np.ndarray,
                    center_px: tuple[float, float] | None = None,
                    corrected: AlignmentCorrection | None = None) -> HealthReport:
    """
    Measure the row alignment of a rectified pair and judge it.

    center_px: the rectified principal point (cx, cy), the roll's centre; default the image
    centre. `corrected`: the correction already applied to right_rect, named in the message.
    """
    started = time.perf_counter()
    height, width = left_rect.shape[:2]
    if center_px is None:
        center_px = ((width - 1) / 2.0, (height - 1) / 2.0)
    pts_left, pts_right = sparse_matches(left_rect, right_rect)
    if len(pts_left) >= 3:
        shift, slope, inliers = fit_row_offset(pts_left, pts_right, center_px[0])
        dy = pts_right[inliers, 1] - pts_left[inliers, 1]
        matches = int(inliers.sum())
    else:
        shift, slope, dy, matches = 0.0, 0.0, np.zeros(0), len(pts_left)
    roll_deg = math.degrees(math.atan(slope))
    half_span = max(center_px[0], width - 1 - center_px[0])
    worst = abs(shift) + abs(slope) * half_span
    median = float(np.median(dy)) if dy.size else float('nan')
    level, message = judge(worst, shift, roll_deg, matches, corrected)
    return HealthReport(matches, median, _robust_sigma(dy), shift, roll_deg, worst, level,
                        message, (float(center_px[0]), float(center_px[1])),
                        (time.perf_counter() - started) * 1e3)


class CalibrationMonitor:
    """
    Checks a pipeline's row alignment every `period_s` and, when asked, corrects it online.

    The node calls `observe(pipeline, result)` after each frame; a check runs at most once per
    period on the rectified pair the matcher saw (and once more on the frame after a correction,
    so the status shows the corrected rows). With `correct`, a measured offset of at least
    WARN_OFFSET_PX (and at most 10 x ERROR_OFFSET_PX, beyond which a correction would hide a
    broken calibration) is added to the pipeline's correction; `observe` returns a log line then.
    """

    def __init__(self, period_s: float, correct: bool = False) -> None:
        """period_s <= 0 turns the check off."""
        self.period_s = float(period_s)
        self.correct = bool(correct)
        self.last: HealthReport | None = None
        self.applied: AlignmentCorrection | None = None
        """The correction in use after the last check (None: none)."""
        self._last_check_s: float | None = None
        self._recheck = False

    def due(self, now_s: float | None = None) -> bool:
        """Return True when a check should run now."""
        if self.period_s <= 0:
            return False
        now_s = time.monotonic() if now_s is None else now_s
        return self._recheck or self._last_check_s is None or \
            now_s - self._last_check_s >= self.period_s

    def observe(self, pipeline: Any, result: Any, now_s: float | None = None) -> str | None:
        """Check `result`'s rectified pair when due; return a log line if a correction changed."""
        if not self.due(now_s) or getattr(result, 'right_rect', None) is None:
            return None
        self._last_check_s = time.monotonic() if now_s is None else now_s
        was_recheck, self._recheck = self._recheck, False
        working = pipeline.working.left.P
        current = getattr(pipeline, 'alignment', None)
        report = check_alignment(result.left_rect, result.right_rect,
                                 (float(working[0, 2]), float(working[1, 2])), current)
        self.last, self.applied = report, current
        if not self.correct:
            if current is not None:
                pipeline.alignment = self.applied = None
                return 'calibration_correction is off: the online correction is removed'
            return None
        if report.matches < MIN_MATCHES or report.worst_px < WARN_OFFSET_PX or \
                report.worst_px > 10.0 * ERROR_OFFSET_PX:
            return None
        base = current or AlignmentCorrection(center_px=report.center_px)
        pipeline.alignment = self.applied = base.then(report.correction())
        self._recheck = not was_recheck  # check the corrected pair once on the next frame
        return (f'calibration correction applied: right image shifted by '
                f'{-pipeline.alignment.shift_px:+.3f} px and turned by '
                f'{-pipeline.alignment.roll_deg:+.4f} deg (measured residual '
                f'{report.shift_px:+.3f} px, {report.roll_deg:+.4f} deg from {report.matches} '
                'matches); recalibrate the stereo pair when convenient')


__all__ = ['AlignmentCorrection', 'HealthReport', 'CalibrationMonitor', 'check_alignment',
           'sparse_matches', 'fit_row_offset', 'judge', 'OK', 'WARN', 'ERROR',
           'WARN_OFFSET_PX', 'ERROR_OFFSET_PX', 'MIN_MATCHES']
