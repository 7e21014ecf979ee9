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
Depth accuracy against exact truth: within-N %, completeness and signed error per depth band.

Also a pixel-locking figure: on slanted surfaces the true disparities' fractional parts are
spread evenly, so an estimator that pulls values toward whole pixels shows as an uneven
histogram of the estimates' fractional parts, and as an error that swings with the truth's
fractional part. No ROS import: the bench and the tests use it alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BANDS_M = ((0.3, 0.6), (0.6, 1.2), (1.2, 2.0), (2.0, 2.6), (2.6, 3.0))
"""Depth bands of the report (m); the last holds the far walls where pixel locking costs most."""
LOCKING_BINS = 10
MIN_BAND_PX = 200
"""A band with fewer judged pixels in a frame gives no figure for that frame."""


def band_label(band: tuple[float, float]) -> str:
    """Return '0.3-0.6 m' for a band."""
    return f'{band[0]:g}-{band[1]:g} m'


def locking(estimate_px: np.ndarray, truth_px: np.ndarray) -> dict[str, float]:
    """
    Return pixel-locking figures of estimates against truth (1-D arrays, same pixels).

    spread_pct: the coefficient of variation (%) over LOCKING_BINS bins of the histogram of the
    estimates' fractional parts, divided bin by bin by the truth's (0 = as flat as the truth).
    swing_px: peak-to-peak of the median signed error over bins of the truth's fractional part
    (0 = no pull toward whole pixels).
    """
    close = np.abs(estimate_px - truth_px) < 1.0
    estimate_px, truth_px = estimate_px[close], truth_px[close]
    if estimate_px.size < 50 * LOCKING_BINS:
        return {'spread_pct': float('nan'), 'swing_px': float('nan')}
    edges = np.linspace(0.0, 1.0, LOCKING_BINS + 1)
    truth_fraction = truth_px - np.floor(truth_px)
    estimated = np.histogram(estimate_px - np.floor(estimate_px), edges)[0].astype(float)
    expected = np.histogram(truth_fraction, edges)[0].astype(float)
    ratio = estimated / np.maximum(expected, 1.0) * (expected.sum() / estimated.sum())
    bins = np.minimum((truth_fraction * LOCKING_BINS).astype(int), LOCKING_BINS - 1)
    error = estimate_px - truth_px
    medians = [float(np.median(error[bins == b])) for b in range(LOCKING_BINS)
               if (bins == b).sum() >= 20]
    return {'spread_pct': float(100.0 * np.std(ratio) / max(np.mean(ratio), 1e-9)),
            'swing_px': float(max(medians) - min(medians)) if medians else float('nan')}


def evaluate(depth_m: np.ndarray, truth_m: np.ndarray, judged: np.ndarray,
             slanted: np.ndarray | None = None, focal_px: float | None = None,
             baseline_m: float | None = None) -> dict:
    """
    Return the accuracy of one depth image (NaN = none) over the `judged` pixels.

    Figures are fractions of the judged pixels (a missing depth counts against within-N %);
    'bands' holds, per BANDS_M entry, share, completeness, within_2pct and the median signed
    error (% of truth, over pixels with a depth). With `slanted`, focal_px and baseline_m also
    the locking figures on the judged slanted pixels.
    """
    total = max(int(judged.sum()), 1)
    found = judged & np.isfinite(depth_m)
    relative = np.full(depth_m.shape, np.inf, np.float32)
    relative[found] = (depth_m[found] - truth_m[found]) / truth_m[found]
    absolute = np.abs(relative)
    result = {'completeness': found.sum() / total,
              **{f'within_{n}pct': float((absolute[judged] <= n / 100.0).sum() / total)
                 for n in (1, 2, 5)},
              'median_signed_pct': (float(np.median(relative[found])) * 100.0
                                    if found.any() else float('nan')),
              'bands': {}}
    for band in BANDS_M:
        in_band = judged & (truth_m >= band[0]) & (truth_m < band[1])
        count = int(in_band.sum())
        if count < MIN_BAND_PX:
            continue
        band_found = in_band & found
        result['bands'][band_label(band)] = {
            'share': count / total, 'completeness': band_found.sum() / count,
            'within_2pct': float((absolute[in_band] <= 0.02).sum() / count),
            'median_signed_pct': (float(np.median(relative[band_found])) * 100.0
                                  if band_found.any() else float('nan'))}
    if slanted is not None and focal_px and baseline_m:
        on = found & slanted
        fb = focal_px * baseline_m
        result.update(locking(fb / depth_m[on].astype(np.float64),
                              fb / truth_m[on].astype(np.float64)))
    return result


def summarize(results: list[dict]) -> dict:
    """
    Return the mean and the worst over frames of every figure evaluate() returns.

    Worst: the lowest within/completeness, the largest |median signed error| (its sign kept),
    the largest locking figures. Band figures are over the frames that have the band.
    """
    def worst_of(key: str, values: list[float]) -> float:
        values = [v for v in values if np.isfinite(v)]
        if not values:
            return float('nan')
        if key.startswith('median_signed'):
            return max(values, key=abs)
        if key in ('spread_pct', 'swing_px'):
            return max(values)
        return min(values)

    def mean_of(values: list[float]) -> float:
        values = [v for v in values if np.isfinite(v)]
        return float(np.mean(values)) if values else float('nan')

    summary: dict = {'frames': len(results), 'mean': {}, 'worst': {}, 'bands': {}}
    keys = [k for k in results[0] if k != 'bands'] if results else []
    for key in keys:
        values = [float(r.get(key, float('nan'))) for r in results]
        summary['mean'][key] = mean_of(values)
        summary['worst'][key] = worst_of(key, values)
    for band in BANDS_M:
        label = band_label(band)
        rows = [r['bands'][label] for r in results if label in r['bands']]
        if not rows:
            continue
        summary['bands'][label] = {
            'frames': len(rows),
            **{f'{key}_mean': mean_of([row[key] for row in rows]) for key in rows[0]},
            **{f'{key}_worst': worst_of(key, [row[key] for row in rows])
               for key in rows[0] if key != 'share'}}
    return summary


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile of `values`, NaN when there are none."""
    return float(np.percentile(values, q)) if values else float('nan')


def judged_mask(truth_m: np.ndarray, min_depth_m: float, max_depth_m: float,
                valid_window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Return the pixels judged for accuracy: known truth in range, inside (x0, y0, x1, y1)."""
    judged = np.isfinite(truth_m) & (truth_m >= min_depth_m) & (truth_m <= max_depth_m)
    if valid_window is not None:
        x0, y0, x1, y1 = valid_window
        window = np.zeros_like(judged)
        window[y0:y1, x0:x1] = True
        judged &= window
    return judged


@dataclass
class DepthAccuracy:
    """Depth error of one frame against ground truth, over pixels where the truth is in range."""

    completeness: float
    within_1pct: float
    within_2pct: float
    within_5pct: float
    median_error_mm: float

    @classmethod
    def measure(cls, depth_m: np.ndarray, truth_m: np.ndarray, min_depth_m: float,
                max_depth_m: float, valid_window: tuple[int, int, int, int] | None = None
                ) -> DepthAccuracy:
        """Compare `depth_m` (NaN = none) with `truth_m` inside the range and the valid window."""
        judged = judged_mask(truth_m, min_depth_m, max_depth_m, valid_window)
        total = max(int(judged.sum()), 1)
        found = judged & np.isfinite(depth_m)
        relative = np.abs(depth_m[found] - truth_m[found]) / truth_m[found]
        error_mm = np.abs(depth_m[found] - truth_m[found]) * 1000.0
        return cls(found.sum() / total, (relative <= 0.01).sum() / total,
                   (relative <= 0.02).sum() / total, (relative <= 0.05).sum() / total,
                   float(np.median(error_mm)) if error_mm.size else float('nan'))
