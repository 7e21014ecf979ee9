"""RAiV on-device source: stereo pairs from the camera's shared-memory pipeline (qCU_Data SDK).

Documented SDK calls (../shared/raiv_reference.md): qCU_Data.qCUData(), .init() -> False on
failure, .getDataAi() -> dict, or a falsy value when no new data; a dict with 'error' is a failure.
NOT verified against a device: the key names of the images and of the calibration in that dict.
The extraction below therefore tries, in order: separate images under LEFT_KEYS / RIGHT_KEYS, a
side-by-side image under PAIR_KEYS, each possibly nested under CONTAINER_KEYS; an image may be a
numpy array, encoded bytes (PNG/JPEG), base64 text, or raw bytes with width/height. Calibration is
read from CALIBRATION_KEYS (a StereoCalibration.to_dict mapping or OpenCV K1, D1, K2, D2, R, T).
"""

from __future__ import annotations

import base64
import binascii
import importlib
import time
from typing import Any, Mapping

import cv2
import numpy as np

from raiv_stereo.calibration import CalibrationError, StereoCalibration, stereo_from_opencv
from raiv_stereo.sources import FrameSource, SourceError, StereoFrame
from raiv_stereo.sources.images import check_pair
from raiv_stereo.sources.video import split_side_by_side

SDK_MODULE = 'qCU_Data'
LEFT_KEYS = ('left', 'left_image', 'image_left', 'img_left', 'left_img', 'imgL', 'L')
RIGHT_KEYS = ('right', 'right_image', 'image_right', 'img_right', 'right_img', 'imgR', 'R')
PAIR_KEYS = ('stereo', 'side_by_side', 'image', 'img', 'frame')
CONTAINER_KEYS = ('data', 'images', 'stereo_images')
CALIBRATION_KEYS = ('calibration', 'calib', 'stereo_calibration')


def _decode(value: Any, data: Mapping[str, Any], what: str) -> np.ndarray:
    """Return an 8-bit image from an array, encoded/raw bytes or base64 text."""
    if isinstance(value, np.ndarray):
        image = value
    else:
        if isinstance(value, str):
            try:
                value = base64.b64decode(value, validate=False)
            except (binascii.Error, ValueError):
                raise SourceError(f'RAiV data: {what} is text but not base64') from None
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise SourceError(f'RAiV data: {what} has unsupported type {type(value).__name__}')
        buffer = np.frombuffer(bytes(value), np.uint8)
        image = cv2.imdecode(buffer, cv2.IMREAD_ANYCOLOR) if buffer.size else None
        if image is None:
            image = _raw(buffer, data, what)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise SourceError(f'RAiV data: {what} is not an 8-bit image '
                          f'(dtype {image.dtype}, shape {image.shape})')
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def _raw(buffer: np.ndarray, data: Mapping[str, Any], what: str) -> np.ndarray:
    """Interpret undecodable bytes as a raw gray or BGR image of the dict's width x height."""
    try:
        width, height = int(data['width']), int(data['height'])
    except (KeyError, TypeError, ValueError):
        raise SourceError(f'RAiV data: {what} is bytes that are neither PNG/JPEG nor raw with '
                          'width and height') from None
    for channels in (1, 3):
        if buffer.size == width * height * channels:
            shape = (height, width) if channels == 1 else (height, width, 3)
            return buffer.reshape(shape)
    raise SourceError(f'RAiV data: {what} has {buffer.size} bytes, not {width}x{height} gray or '
                      'BGR')


def _find(data: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    """Return (key, value) of the first present, non-empty key, also looking in containers."""
    scopes = [data] + [data[k] for k in CONTAINER_KEYS if isinstance(data.get(k), Mapping)]
    for scope in scopes:
        for key in keys:
            value = scope.get(key)
            if value is not None and not (isinstance(value, (bytes, str)) and not value):
                return key, value
    return None


def extract_pair(data: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Return (left, right) from one getDataAi() dict; raise SourceError naming the keys seen."""
    left, right = _find(data, LEFT_KEYS), _find(data, RIGHT_KEYS)
    if left is not None and right is not None:
        return check_pair(_decode(left[1], data, f"'{left[0]}'"),
                          _decode(right[1], data, f"'{right[0]}'"), 'RAiV data')
    pair = _find(data, PAIR_KEYS)
    if pair is not None:
        return split_side_by_side(_decode(pair[1], data, f"'{pair[0]}'"), 'RAiV data')
    raise SourceError(f'RAiV data has no stereo images under known keys; keys seen: '
                      f'{sorted(map(str, data))}; add the right key to '
                      'raiv_stereo/sources/raiv.py LEFT_KEYS/RIGHT_KEYS')


def extract_calibration(data: Mapping[str, Any],
                        image_size: tuple[int, int]) -> StereoCalibration | None:
    """Return the device calibration carried by the dict (native size), or None."""
    found = _find(data, CALIBRATION_KEYS)
    if found is None or not isinstance(found[1], Mapping):
        return None
    calib = found[1]
    if 'left' in calib and 'right' in calib:
        return StereoCalibration.from_dict(calib)
    values = {k: calib.get(k) for k in ('K1', 'D1', 'K2', 'D2', 'R', 'T')}
    if any(v is None for v in values.values()):
        return None
    size = image_size
    if 'width' in calib and 'height' in calib:
        size = (int(calib['width']), int(calib['height']))
    T = np.asarray(values['T'], np.float64).ravel()
    units = str(calib.get('units', '')).lower()
    T_m = T / 1000.0 if units == 'mm' or (units == '' and np.linalg.norm(T) > 1.0) else T
    return stereo_from_opencv(values['K1'], values['D1'], values['K2'], values['D2'],
                              values['R'], T_m, size, 'RAiV device calibration')


def import_sdk() -> Any:
    """Import qCU_Data or raise SourceError saying that this source runs only on the camera."""
    try:
        return importlib.import_module(SDK_MODULE)
    except Exception as error:  # ImportError, or a broken native library on a host
        raise SourceError(
            f'the RAiV SDK ({SDK_MODULE}) is not importable: this source runs only on the camera '
            f'itself ({type(error).__name__}: {error}); on a PC use source:=stream, images, '
            'video or sample') from None


class RaivSource(FrameSource):
    """Pairs from the RAiV data pipeline; never falls back to fake frames without the SDK."""

    def __init__(self, sdk: Any | None = None) -> None:
        """Open the data pipeline through qCUData().init()."""
        self._sdk = sdk if sdk is not None else import_sdk()
        try:
            self._data = self._sdk.qCUData()
            ok = self._data.init()
        except Exception as error:
            raise SourceError(f'RAiV data pipeline failed to start: {error}') from None
        if ok is False or ok is None:
            raise SourceError('RAiV data pipeline init() returned False: check that the camera '
                              'pipeline is running (device web interface) and retry')
        self._sequence = 0
        self.calibration: StereoCalibration | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> RaivSource:
        """Open the on-device pipeline (no options used)."""
        return cls()

    def read(self) -> StereoFrame | None:
        """Return the newest pair, None when no new data; SourceError for an SDK error."""
        try:
            data = self._data.getDataAi()
        except Exception as error:
            raise SourceError(f'RAiV getDataAi() failed: {error}') from None
        if not data:
            return None
        if not isinstance(data, Mapping):
            raise SourceError(f'RAiV getDataAi() returned {type(data).__name__}, not a dict')
        if 'error' in data:
            raise SourceError(f"RAiV data pipeline reports an error: {data['error']}")
        stamp_ns = time.time_ns()
        left, right = extract_pair(data)
        if self.calibration is None:
            size = (left.shape[1], left.shape[0])
            try:
                self.calibration = extract_calibration(data, size)
            except (CalibrationError, ValueError, TypeError) as error:
                raise SourceError(f'RAiV device calibration is unusable: {error}') from None
        frame = StereoFrame(left, right, capture_time_ns=stamp_ns, sequence=self._sequence)
        self._sequence += 1
        return frame

    def close(self) -> None:
        """Release the SDK handle (the SDK documents no close call)."""
        release = getattr(self._data, 'release', None) or getattr(self._data, 'close', None)
        if callable(release):
            release()
