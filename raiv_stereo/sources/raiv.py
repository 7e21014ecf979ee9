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
RAiV on-device source: stereo pairs, factory calibration and exposure through the maker's SDK.

Only the calls the maker's public example programs use:
- `qCU_Data.qCUData()`, `.init()` (False on failure);
- `.getDataFrame()`: None when no new frame, a dict with 'error' on failure, else the raw pair of
  1600x1300x3 RGB rasters, index 0 the right camera and index 1 the left (the maker's
  stereo-frame example; `swap_left_right` reverses it);
- `.getDataAi()`: falsy when nothing new, else a dict with 'input_frame_left',
  'input_frame_right' (flat RGB rasters) or 'error'; `.getMemoryConfiguration()` gives their
  'frame_width', 'frame_height', 'frame_bpp';
- `qCUData.load_calibration()` -> [K1, D1, K2, D2, R, T] (OpenCV stereoCalibrate, T in mm) and
  `qCUData.load_rectification()` -> [R1, R2, P1, P2, Q, roi1, roi2] (stereoRectify, full size);
- `qCU_CCtrl.qCU_CCtrl()`: `get_expo_gain()` -> (exposure, gain, code), `set_expo_gain(e, g)`
  -> code, `get_cam_ctrl_ranges()` -> [exposure_min, exposure_max, gain_min, gain_max].
Unverified without a camera: the pair order, T's unit (read from its length: > 1 means mm), the
return code meaning success (0 is taken as success), and the calibration's image size (the
sensor's 1600x1300).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import importlib
import time
from typing import Any

import cv2
import numpy as np
from raiv_stereo.core import rig
from raiv_stereo.core.calibration import (
    as_matrix,
    CalibrationError,
    CameraModel,
    StereoCalibration,
)
from raiv_stereo.params.spec import ParamSpec
from raiv_stereo.sources import FrameSource, SourceError, StereoFrame
from raiv_stereo.sources.exposure import ExposureControl, ExposureError, ExposureRanges

DATA_MODULE = 'qCU_Data'
CONTROL_MODULE = 'qCU_CCtrl'
SENSOR_SIZE_PX = rig.SENSOR_SIZE_PX
INPUTS = ('frame', 'ai')
INPUT = 'frame'
"""getDataFrame(): the raw 1600x1300 stereo pair."""
SWAP_LEFT_RIGHT = False
"""False = the maker's stereo-frame example: index 1 left, index 0 right."""
CODE_OK = 0
"""set_expo_gain/get_expo_gain return code taken as success (the examples never check it)."""
BASELINE_AGREEMENT = 0.01
"""Relative difference allowed between load_rectification()'s P2 baseline and |T|."""


def import_sdk() -> Any:
    """Import qCU_Data or raise SourceError saying that this source runs only on the camera."""
    try:
        return importlib.import_module(DATA_MODULE)
    except Exception as error:  # ImportError, or a broken native library on a host
        raise SourceError(
            f'the RAiV SDK ({DATA_MODULE}) is not importable: this source runs only on the camera '
            f'itself ({type(error).__name__}: {error}); on a PC use source:=stream, images, '
            'video or sample') from None


def rgb_raster_to_image(raster: Any, width_px: int, height_px: int, bpp: int,
                        what: str) -> np.ndarray:
    """Return a flat or shaped 8-bit RGB (bpp 3), RGBA (4) or grey (1) raster as BGR or grey."""
    flat = np.frombuffer(raster, np.uint8) if isinstance(raster, (bytes, bytearray, memoryview)) \
        else np.asarray(raster)
    if flat.dtype != np.uint8:
        raise SourceError(f'{what} has pixel type {flat.dtype}, expected 8-bit RGB')
    expected = width_px * height_px * bpp
    if flat.size != expected:
        raise SourceError(
            f'{what} has {flat.size} bytes (shape {flat.shape}), but {width_px}x{height_px}x'
            f'{bpp} needs {expected}; frame dropped (does the device memory configuration match '
            'the frames?)')
    image = flat.reshape((height_px, width_px, bpp))
    if bpp == 1:
        return image[:, :, 0]
    code = cv2.COLOR_RGB2BGR if bpp == 3 else cv2.COLOR_RGBA2BGR
    return cv2.cvtColor(image, code)


def calibration_from_device(calibration: Any, rectification: Any,
                            image_size: tuple[int, int] = SENSOR_SIZE_PX) -> StereoCalibration:
    """
    Return the device's own calibration as CameraInfo K, D, R, P (its R1/R2/P1/P2, in m).

    `calibration` is load_calibration()'s [K1, D1, K2, D2, R, T], `rectification` is
    load_rectification()'s [R1, R2, P1, P2, Q, roi1, roi2]; raises CalibrationError naming the
    call whose values are wrong.
    """
    load_cal, load_rect = 'qCUData.load_calibration()', 'qCUData.load_rectification()'
    values = []
    for result, call, names in ((calibration, load_cal, 'K1, D1, K2, D2, R, T'),
                                (rectification, load_rect, 'R1, R2, P1, P2, Q, roi1, roi2')):
        count = len(names.split(', '))
        if not isinstance(result, Sequence) or isinstance(result, (str, bytes)) or \
                len(result) != count:
            raise CalibrationError(f'{call} returned {_brief(result)}, expected [{names}]')
        values.append(result)
    (K1, D1, K2, D2, _R, T), (R1, R2, P1, P2, _Q, _roi1, _roi2) = values
    try:
        T_device = as_matrix(T, (3,), 'T')
        K1, K2 = as_matrix(K1, (3, 3), 'K1'), as_matrix(K2, (3, 3), 'K2')
        D1 = as_matrix(D1, (np.asarray(D1).size,), 'D1')
        D2 = as_matrix(D2, (np.asarray(D2).size,), 'D2')
    except CalibrationError as error:
        raise CalibrationError(f'{load_cal}: {error}') from None
    try:
        R1, R2 = as_matrix(R1, (3, 3), 'R1'), as_matrix(R2, (3, 3), 'R2')
        P1, P2 = as_matrix(P1, (3, 4), 'P1'), as_matrix(P2, (3, 4), 'P2').copy()
    except CalibrationError as error:
        raise CalibrationError(f'{load_rect}: {error}') from None
    length = float(np.linalg.norm(T_device))
    if length == 0.0:
        raise CalibrationError(f'{load_cal}: T is zero (no baseline): the device is not '
                               'calibrated')
    in_mm = length > 1.0  # no stereo rig has a baseline of a metre or more
    to_m = 1000.0 if in_mm else 1.0
    if P2[0, 0] > 0:
        rect_baseline = -P2[0, 3] / P2[0, 0]
        if abs(rect_baseline - length) > BASELINE_AGREEMENT * length:
            raise CalibrationError(
                f'{load_rect} P2 gives a baseline of {rect_baseline:g} but {load_cal} T has '
                f'length {length:g} (same units expected): the two calls disagree')
    P2[:, 3] /= to_m  # ROS: right Tx = -fx * baseline in metres
    width, height = image_size
    unit = 'mm' if in_mm else 'm'
    try:
        return StereoCalibration(
            CameraModel(width, height, K1, D1, R1, P1), CameraModel(width, height, K2, D2, R2, P2),
            f'RAiV factory calibration (load_calibration + load_rectification, T in {unit}, '
            f'baseline {length / to_m * 1000.0:.2f} mm)').validate()
    except CalibrationError as error:
        raise CalibrationError(f'{load_cal} / {load_rect}: {error}') from None


def _brief(value: Any) -> str:
    """Return what an SDK result is, in a few words, for an error message."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return f'{type(value).__name__} of {len(value)} values'
    text = ' '.join(repr(value).split())
    return f'{type(value).__name__} ' + (text if len(text) <= 60 else text[:57] + '...')


def read_device_calibration(sdk: Any,
                            image_size: tuple[int, int] = SENSOR_SIZE_PX) -> StereoCalibration:
    """Call load_calibration() and load_rectification() as the maker does (on the class)."""
    results = []
    for call in ('load_calibration', 'load_rectification'):
        try:
            results.append(getattr(sdk.qCUData, call)())
        except Exception as error:  # noqa: BLE001 - any SDK failure becomes one clear error
            raise CalibrationError(f'qCUData.{call}() failed: {type(error).__name__}: '
                                   f'{error}') from None
    return calibration_from_device(results[0], results[1], image_size)


class RaivExposure(ExposureControl):
    """qCU_CCtrl: one short-lived control object per call, as the maker's examples use it."""

    def __init__(self, module: Any) -> None:
        self._module = module
        try:
            ranges = list(self._control().get_cam_ctrl_ranges())
            self._ranges = ExposureRanges(*(int(v) for v in ranges))
        except Exception as error:  # noqa: BLE001 - TypeError for a wrong count, SDK errors
            raise ExposureError(f'qCU_CCtrl().get_cam_ctrl_ranges() did not give [exposure_min, '
                                f'exposure_max, gain_min, gain_max]: {error}') from None

    def _control(self) -> Any:
        return self._module.qCU_CCtrl()

    def ranges(self) -> ExposureRanges:
        """Return the device's exposure and gain ranges, read once at start."""
        return self._ranges

    def read(self) -> tuple[int, int]:
        """Return (exposure, gain) from get_expo_gain()."""
        try:
            exposure, gain, code = self._control().get_expo_gain()
        except Exception as error:  # noqa: BLE001
            raise ExposureError(f'qCU_CCtrl().get_expo_gain() failed: {error}') from None
        if code != CODE_OK:
            raise ExposureError(f'qCU_CCtrl().get_expo_gain() returned code {code}')
        return int(exposure), int(gain)

    def write(self, exposure: int, gain: int) -> None:
        """Call set_expo_gain(exposure, gain); a non-zero code is an ExposureError."""
        try:
            code = self._control().set_expo_gain(int(exposure), int(gain))
        except Exception as error:  # noqa: BLE001
            raise ExposureError(f'qCU_CCtrl().set_expo_gain({exposure}, {gain}) failed: '
                                f'{error}') from None
        if code != CODE_OK:
            raise ExposureError(f'qCU_CCtrl().set_expo_gain({exposure}, {gain}) returned code '
                                f'{code} (the device refused it)')


def open_exposure_control() -> tuple[RaivExposure | None, str]:
    """Return the device's exposure control, or None and why it is not there."""
    try:
        module = importlib.import_module(CONTROL_MODULE)
    except Exception as error:  # noqa: BLE001
        return None, f'{CONTROL_MODULE} is not importable ({type(error).__name__}: {error})'
    try:
        return RaivExposure(module), ''
    except ExposureError as error:
        return None, str(error)


class RaivDevice:
    """The device's data pipeline: open, read pairs (frame or ai input) and the calibration."""

    def __init__(self, sdk: Any, raiv_input: str = INPUT,
                 swap_left_right: bool = SWAP_LEFT_RIGHT) -> None:
        """Open qCUData().init(); read the memory configuration for the ai input."""
        if raiv_input not in INPUTS:
            raise SourceError(f'raiv.input is {raiv_input!r}; choose one of '
                              f'{", ".join(INPUTS)}')
        self.sdk, self.raiv_input, self.swap_left_right = sdk, raiv_input, swap_left_right
        try:
            self._data = sdk.qCUData()
            ok = self._data.init()
        except Exception as error:  # noqa: BLE001
            raise SourceError(f'RAiV qCUData().init() failed: {type(error).__name__}: '
                              f'{error}') from None
        if not ok:
            raise SourceError('RAiV qCUData().init() returned False: check that the camera '
                              'pipeline is running (device web interface) and retry')
        self.frame_size: tuple[int, int, int] = (*SENSOR_SIZE_PX, 3)
        if raiv_input == 'ai':
            self.frame_size = self._memory_configuration()

    def _memory_configuration(self) -> tuple[int, int, int]:
        """Return (width, height, bytes per pixel) of the ai rasters."""
        try:
            config = self._data.getMemoryConfiguration()
            size = tuple(int(config[key]) for key in ('frame_width', 'frame_height', 'frame_bpp'))
        except Exception as error:  # noqa: BLE001 - KeyError, TypeError, SDK errors
            raise SourceError(f'RAiV getMemoryConfiguration() did not give frame_width, '
                              f'frame_height and frame_bpp ({type(error).__name__}: {error}); '
                              'use raiv.input:=frame') from None
        if min(size) <= 0 or size[2] not in (1, 3, 4):
            raise SourceError(f'RAiV getMemoryConfiguration() gives {size[0]}x{size[1]} at '
                              f'{size[2]} bytes per pixel; expected positive sizes and 1, 3 or 4')
        return size

    def read_pair(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Return the newest (left, right) BGR pair, None when none is new; SourceError else."""
        call = 'getDataFrame()' if self.raiv_input == 'frame' else 'getDataAi()'
        try:
            data = self._data.getDataFrame() if self.raiv_input == 'frame' \
                else self._data.getDataAi()
        except Exception as error:  # noqa: BLE001
            raise SourceError(f'RAiV {call} failed: {type(error).__name__}: {error}') from None
        if data is None or (self.raiv_input == 'ai' and not data):
            return None
        if isinstance(data, Mapping) and 'error' in data:
            raise SourceError(f"RAiV {call} reports an error: {data['error']}")
        if self.raiv_input == 'frame':
            rasters = self._frame_rasters(data)
        else:
            rasters = self._ai_rasters(data)
        width, height, bpp = self.frame_size
        left, right = (rgb_raster_to_image(raster, width, height, bpp, f'RAiV {call} {what}')
                       for raster, what in rasters)
        return (right, left) if self.swap_left_right else (left, right)

    @staticmethod
    def _frame_rasters(data: Any) -> list[tuple[Any, str]]:
        """Return [(left raster, name), (right raster, name)] of a getDataFrame() pair."""
        if isinstance(data, Mapping):
            raise SourceError(f'RAiV getDataFrame() returned a dict without an error '
                              f'(keys {sorted(map(str, data))}), not a stereo pair')
        try:
            count = len(data)
        except TypeError:
            count = -1
        if count != 2:
            raise SourceError(f'RAiV getDataFrame() returned {_brief(data)}, expected a pair '
                              'of rasters')
        return [(data[1], '[1] (left)'), (data[0], '[0] (right)')]

    @staticmethod
    def _ai_rasters(data: Any) -> list[tuple[Any, str]]:
        """Return [(left raster, name), (right raster, name)] of a getDataAi() dict."""
        if not isinstance(data, Mapping):
            raise SourceError(f'RAiV getDataAi() returned {type(data).__name__}, not a dict')
        keys = ('input_frame_left', 'input_frame_right')
        missing = [key for key in keys if key not in data]
        if missing:
            raise SourceError(f'RAiV getDataAi() has no {", ".join(missing)} (keys '
                              f'{sorted(map(str, data))})')
        return [(data[key], f"'{key}'") for key in keys]

    def close(self) -> None:
        """Nothing to release: the maker's examples document no close call."""


class RaivSource(FrameSource):
    """Pairs from the RAiV data pipeline; never falls back to fake frames without the SDK."""

    kind = 'raiv'
    pushed = True
    options = (
        ParamSpec('input', INPUT,
                  "'frame' = getDataFrame(), the raw 1600x1300 pair; 'ai' = getDataAi(), the AI "
                  "processor's input frames (size from getMemoryConfiguration())",
                  choices=INPUTS),
        ParamSpec('swap_left_right', SWAP_LEFT_RIGHT,
                  "false = the maker's stereo-frame order (index 1 left, index 0 right); true = "
                  'the other way round (the depth node says when the pair looks swapped)'),
    )

    def __init__(self, raiv_input: str = INPUT,
                 swap_left_right: bool = SWAP_LEFT_RIGHT, sdk: Any | None = None) -> None:
        """Open the pipeline, read the factory calibration and open the exposure control."""
        sdk = sdk if sdk is not None else import_sdk()
        self.device = RaivDevice(sdk, raiv_input, swap_left_right)
        try:
            self.calibration = read_device_calibration(sdk)
        except CalibrationError as error:
            self.calibration_problem = f'the RAiV factory calibration is not usable: {error}'
        self.exposure_control, self.exposure_problem = open_exposure_control()
        self._sequence = 0

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> RaivSource:
        """Open the on-device pipeline with raiv.input and raiv.swap_left_right."""
        return cls(options['input'], options['swap_left_right'])

    def read(self) -> StereoFrame | None:
        """Return the newest pair, None when no new data; SourceError for an SDK error."""
        pair = self.device.read_pair()
        if pair is None:
            return None
        frame = StereoFrame(pair[0], pair[1], capture_time_ns=time.time_ns(),
                            sequence=self._sequence)
        self._sequence += 1
        return frame

    def close(self) -> None:
        """Release the pipeline."""
        self.device.close()
