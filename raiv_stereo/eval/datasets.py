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

"""Rectified stereo pairs with ground-truth disparity (Middlebury, KITTI, ETH3D), and scoring."""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path

import cv2
import numpy as np

DATA_ENV = 'RAIV_STEREO_DATA'
"""Environment variable naming the stereo_data folder (default: ../shared/stereo_data)."""


def data_root() -> Path | None:
    """Return the stereo_data folder if present: $RAIV_STEREO_DATA, else beside the checkout."""
    candidates = [os.environ.get(DATA_ENV, '')]
    candidates.append(str(Path(__file__).resolve().parents[3] / 'shared' / 'stereo_data'))
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@dataclass
class GroundTruthPair:
    """A rectified pair and its left-view disparity (px); non-finite = unknown."""

    name: str
    left: np.ndarray
    right: np.ndarray
    disparity_px: np.ndarray

    @property
    def max_disparity_px(self) -> float:
        """Return the largest known disparity."""
        return float(np.nanmax(np.where(np.isfinite(self.disparity_px), self.disparity_px,
                                        np.nan)))


def load_pair(scene_dir: Path) -> GroundTruthPair:
    """Read `left.png`, `right.png` and `gt.pfm` of one scene (raises OSError if unreadable)."""
    images = [cv2.imread(str(scene_dir / name), cv2.IMREAD_COLOR)
              for name in ('left.png', 'right.png')]
    truth = cv2.imread(str(scene_dir / 'gt.pfm'), cv2.IMREAD_UNCHANGED)
    if any(image is None for image in images) or truth is None:
        raise OSError(f'{scene_dir} lacks a readable left.png, right.png or gt.pfm')
    truth = truth.astype(np.float32)
    truth[~(truth > 0)] = np.inf
    return GroundTruthPair(f'{scene_dir.parent.name}/{scene_dir.name}', images[0], images[1],
                           truth)


def scenes(root: Path | None = None) -> list[Path]:
    """Return every scene folder under the data root (sorted), empty when there is none."""
    root = root or data_root()
    if root is None:
        return []
    return sorted(path.parent for path in root.glob('*/*/gt.pfm'))


def disparity_error_rates(disparity_px: np.ndarray, truth_px: np.ndarray,
                          thresholds_px: tuple[float, ...] = (1.0, 2.0, 4.0)
                          ) -> dict[str, float]:
    """
    Return bad-N rates (%) over pixels with known truth (missing estimates count as bad).

    Also 'density' (%): the share of those pixels with an estimate.
    """
    known = np.isfinite(truth_px)
    total = max(int(known.sum()), 1)
    estimated = known & np.isfinite(disparity_px)
    error = np.abs(disparity_px[estimated] - truth_px[estimated])
    rates = {f'bad-{t:g}': 100.0 * (total - int((error <= t).sum())) / total
             for t in thresholds_px}
    rates['density'] = 100.0 * int(estimated.sum()) / total
    return rates
