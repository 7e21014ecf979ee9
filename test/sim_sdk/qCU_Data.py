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
Simulated RAiV data pipeline (qCU_Data) for tests: the maker's calls, shapes and pair order.

Never on the production import path: tests put test/sim_sdk on sys.path (or PYTHONPATH).
It serves the built-in sample scene at time 0, rendered through this module's own factory
calibration (K1, D1, K2, D2, R, T in mm, rectified with cv2.stereoRectify at 1600x1300):
- getDataFrame(): None until the next frame is due (RATE_HZ), else (right, left) RGB rasters of
  1300x1600x3, index 0 the right camera as in the maker's stereo-frame example;
- getDataAi(): {'input_frame_left', 'input_frame_right' (flat RGB), 'header'} at the size of
  getMemoryConfiguration();
- brightness follows qCU_CCtrl's exposure and gain (x exposure / 2000, x 2 per 6 gain).
Settings are module attributes, read from the environment at import (for a node in another
process): RAIV_SIM_SWAP=1 serves the pair the other way round; RAIV_SIM_FAULT names one fault
(FAULTS) served on the first RAIV_SIM_FAULT_COUNT frames (calibration faults: always).
"""

from __future__ import annotations

import os
import time

import cv2
import numpy as np
import qCU_CCtrl

WIDTH, HEIGHT = 1600, 1300
AI_WIDTH, AI_HEIGHT, AI_BPP = 800, 650, 3
RATE_HZ = float(os.environ.get('RAIV_SIM_RATE_HZ', '20'))
SWAP = os.environ.get('RAIV_SIM_SWAP') == '1'
FAULTS = ('init_false', 'init_exception', 'frame_error', 'frame_exception', 'frame_size',
          'ai_error', 'ai_size', 'no_memory_configuration', 'calibration_none',
          'calibration_exception', 'rectification_missing', 'zero_baseline')
FAULT = os.environ.get('RAIV_SIM_FAULT', '')
FAULT_COUNT = int(os.environ.get('RAIV_SIM_FAULT_COUNT', '3'))

# The simulated factory calibration: 2.8 mm lens (f = 933.3 px), 65 mm baseline, mild distortion.
F_PX = 2.8 / 0.003
K1 = np.array([[F_PX, 0.0, 799.5], [0.0, F_PX, 649.5], [0.0, 0.0, 1.0]])
K2 = np.array([[F_PX * 1.003, 0.0, 805.0], [0.0, F_PX * 1.003, 646.0], [0.0, 0.0, 1.0]])
D1 = np.array([[-0.06, 0.015, 0.0, 0.0, 0.0]])
D2 = np.array([[-0.065, 0.013, 0.0004, -0.0002, 0.0]])
R = cv2.Rodrigues(np.radians([0.2, 0.4, -0.3]))[0]
T_MM = np.array([[-65.0], [1.5], [-0.8]])
R1, R2, P1, P2, Q, ROI1, ROI2 = cv2.stereoRectify(
    K1, D1, K2, D2, (WIDTH, HEIGHT), R, T_MM, flags=cv2.CALIB_ZERO_DISPARITY, alpha=0)

served = {'frames': 0, 'ai': 0, 'calls': 0}
_pair_rgb: dict[str, tuple[np.ndarray, np.ndarray]] = {}


def rig():
    """Return the calibration the scene is rendered with (P2 in metres, as ROS has it)."""
    from raiv_stereo.core.calibration import CameraModel, StereoCalibration

    P2_m = P2.copy()
    P2_m[:, 3] /= 1000.0
    return StereoCalibration(CameraModel(WIDTH, HEIGHT, K1, D1, R1, P1),
                             CameraModel(WIDTH, HEIGHT, K2, D2, R2, P2_m), 'simulated RAiV')


def _rendered(size: str) -> tuple[np.ndarray, np.ndarray]:
    """Return the (left, right) RGB pair at 'full' or 'ai' size, rendered once."""
    if size not in _pair_rgb:
        from raiv_stereo.eval.scene import Renderer

        pair = Renderer(rig()).render(0.0, with_truth=False)
        left, right = (cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
                       for image in (pair.left_bgr, pair.right_bgr))
        _pair_rgb['full'] = (left, right)
        _pair_rgb['ai'] = tuple(cv2.resize(image, (AI_WIDTH, AI_HEIGHT),
                                           interpolation=cv2.INTER_AREA)
                                for image in (left, right))
    return _pair_rgb[size]


def _exposed(image: np.ndarray) -> np.ndarray:
    """Return `image` as the current exposure and gain would show it."""
    factor = qCU_CCtrl.state['exposure'] / 2000.0 * 2.0 ** (qCU_CCtrl.state['gain'] / 6.0)
    if factor == 1.0:
        return image
    return cv2.convertScaleAbs(image, alpha=factor)


class _Header:
    """Stands for the AI preprocessing parameters the real SDK attaches."""

    imPreproPrms = None  # noqa: N815 (the SDK's name)


class qCUData:  # noqa: N801 (the SDK's name)
    """The data pipeline interface, as the maker's examples use it."""

    def __init__(self) -> None:
        self._next_due = 0.0

    def init(self) -> bool:
        """Return False (or raise) for the init faults, else True."""
        if FAULT == 'init_exception':
            raise OSError('simulated: shared memory /qcu_data not found')
        return FAULT != 'init_false'

    def _due(self) -> bool:
        now = time.monotonic()
        if now < self._next_due:
            return False
        self._next_due = now + 1.0 / RATE_HZ
        return True

    def getDataFrame(self):  # noqa: N802 (the SDK's name)
        """Return None when no frame is due, a dict with 'error', or (right, left) RGB rasters."""
        served['calls'] += 1
        if not self._due():
            return None
        faulty = FAULT in ('frame_error', 'frame_exception', 'frame_size') and \
            served['frames'] < FAULT_COUNT
        served['frames'] += 1
        if faulty and FAULT == 'frame_error':
            return {'error': 'simulated: sensor readout timeout'}
        if faulty and FAULT == 'frame_exception':
            raise RuntimeError('simulated: DMA buffer lost')
        left, right = (_exposed(image) for image in _rendered('full'))
        if faulty:  # frame_size
            left, right = left[:-1], right[:-1]
        return (left, right) if SWAP else (right, left)

    def getMemoryConfiguration(self):  # noqa: N802 (the SDK's name)
        """Return the size of the AI rasters."""
        if FAULT == 'no_memory_configuration':
            return {'frame_width': AI_WIDTH}
        return {'frame_width': AI_WIDTH, 'frame_height': AI_HEIGHT, 'frame_bpp': AI_BPP}

    def getDataAi(self):  # noqa: N802 (the SDK's name)
        """Return {} when nothing is new, a dict with 'error', or the flat AI input rasters."""
        if not self._due():
            return {}
        faulty = FAULT in ('ai_error', 'ai_size') and served['ai'] < FAULT_COUNT
        served['ai'] += 1
        if faulty and FAULT == 'ai_error':
            return {'error': 'simulated: NPU busy'}
        left, right = (_exposed(image).ravel() for image in _rendered('ai'))
        if faulty:  # ai_size
            left, right = left[:-3], right[:-3]
        if SWAP:
            left, right = right, left
        return {'input_frame_left': left, 'input_frame_right': right, 'header': _Header()}

    @staticmethod
    def load_calibration():
        """Return [K1, D1, K2, D2, R, T] with T in millimetres."""
        if FAULT == 'calibration_none':
            return None
        if FAULT == 'calibration_exception':
            raise OSError('simulated: /etc/qcu/calib.yaml unreadable')
        T = np.zeros((3, 1)) if FAULT == 'zero_baseline' else T_MM.copy()
        return [K1.copy(), D1.copy(), K2.copy(), D2.copy(), R.copy(), T]

    @staticmethod
    def load_rectification():
        """Return [R1, R2, P1, P2, Q, roi1, roi2] from cv2.stereoRectify at full size."""
        if FAULT == 'rectification_missing':
            raise AttributeError("simulated: module 'qCU_Data' has no 'load_rectification'")
        return [R1.copy(), R2.copy(), P1.copy(), P2.copy(), Q.copy(), ROI1, ROI2]
