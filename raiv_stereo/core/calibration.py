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
Stereo calibration model (ROS CameraInfo semantics): validation, scaling, the RAiV geometry.

A `StereoCalibration` holds one `CameraModel` per camera with K, D, R, P exactly as in
sensor_msgs/CameraInfo: R rotates the raw camera into the rectified frame, P projects rectified
points, and the right camera's P[0, 3] = -fx * baseline_m. Everything else in the package
(rectification, disparity-to-depth, CameraInfo messages) is derived from this model; its files
are read and written by calibration_io.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
from typing import Any, Mapping

import cv2
import numpy as np
from raiv_stereo.core import rig


class CalibrationError(ValueError):
    """A calibration that cannot be used; the message says what is wrong and what to do."""


def as_matrix(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Return `value` as a float64 array of `shape`, or raise CalibrationError naming `name`."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as error:
        raise CalibrationError(f'{name} is not numeric: {error}') from None
    if array.size != int(np.prod(shape)):
        raise CalibrationError(
            f'{name} has {array.size} values, expected {int(np.prod(shape))} '
            f'(a {"x".join(map(str, shape))} matrix)')
    array = array.reshape(shape)
    if not np.all(np.isfinite(array)):
        raise CalibrationError(f'{name} contains NaN or infinite values')
    return array


@dataclass(frozen=True, eq=False)
class CameraModel:
    """One camera of a stereo pair: image size and K, D, R, P as in sensor_msgs/CameraInfo."""

    width_px: int
    height_px: int
    K: np.ndarray
    D: np.ndarray
    R: np.ndarray
    P: np.ndarray
    distortion_model: str = 'plumb_bob'

    def __post_init__(self) -> None:
        """Coerce matrices to float64 of the CameraInfo shapes (raises CalibrationError)."""
        object.__setattr__(self, 'K', as_matrix(self.K, (3, 3), 'K'))
        object.__setattr__(self, 'D', as_matrix(self.D, (np.asarray(self.D).size,), 'D'))
        object.__setattr__(self, 'R', as_matrix(self.R, (3, 3), 'R'))
        object.__setattr__(self, 'P', as_matrix(self.P, (3, 4), 'P'))
        object.__setattr__(self, 'width_px', int(self.width_px))
        object.__setattr__(self, 'height_px', int(self.height_px))

    def scaled_to(self, width_px: int, height_px: int) -> CameraModel:
        """Return this camera at another image size (pixel centres: x' = s(x + 0.5) - 0.5)."""
        sx = width_px / self.width_px
        sy = height_px / self.height_px
        S = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])
        return CameraModel(width_px, height_px, S @ self.K, self.D.copy(), self.R.copy(),
                           S @ self.P, self.distortion_model)

    def to_dict(self) -> dict[str, Any]:
        """Return a plain JSON/YAML-friendly dict of this camera."""
        return {'width': self.width_px, 'height': self.height_px,
                'distortion_model': self.distortion_model,
                'K': self.K.ravel().tolist(), 'D': self.D.ravel().tolist(),
                'R': self.R.ravel().tolist(), 'P': self.P.ravel().tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CameraModel:
        """Build a camera from `to_dict()` output (raises CalibrationError on missing keys)."""
        try:
            return cls(data['width'], data['height'], data['K'], data['D'], data['R'], data['P'],
                       data.get('distortion_model', 'plumb_bob'))
        except KeyError as error:
            raise CalibrationError(f'camera calibration is missing the key {error}') from None


@dataclass(frozen=True, eq=False)
class StereoCalibration:
    """A calibrated stereo pair: rectified projections share fx, fy, cy; right Tx = -fx·B."""

    left: CameraModel
    right: CameraModel
    description: str = 'calibration'
    _key: str = field(default='', repr=False)

    @property
    def image_size(self) -> tuple[int, int]:
        """Return (width_px, height_px) of the raw images this calibration describes."""
        return self.left.width_px, self.left.height_px

    @property
    def focal_px(self) -> float:
        """Return the rectified focal length fx in pixels."""
        return float(self.left.P[0, 0])

    @property
    def baseline_m(self) -> float:
        """Return the baseline in metres, from the right projection: B = -Tx / fx."""
        return float(-self.right.P[0, 3] / self.right.P[0, 0])

    @property
    def baseline_mm(self) -> float:
        """Return the baseline in millimetres."""
        return self.baseline_m * 1000.0

    @property
    def is_rectified(self) -> bool:
        """Return True when raw images are already rectified (R = I, no distortion, K = P)."""
        return all(np.allclose(cam.R, np.eye(3)) and not np.any(cam.D)
                   and np.allclose(cam.K, cam.P[:, :3]) for cam in (self.left, self.right))

    @property
    def key(self) -> str:
        """Return a content hash of the calibration, for caches keyed on it."""
        if not self._key:
            digest = hashlib.sha1()
            for cam in (self.left, self.right):
                digest.update(np.array([cam.width_px, cam.height_px], dtype=np.int64).tobytes())
                for matrix in (cam.K, cam.D, cam.R, cam.P):
                    digest.update(np.ascontiguousarray(matrix).tobytes())
            object.__setattr__(self, '_key', digest.hexdigest())
        return self._key

    def with_size(self, width_px: int, height_px: int) -> StereoCalibration:
        """Return this calibration for images resized to width_px x height_px."""
        if (width_px, height_px) == self.image_size:
            return self
        if width_px <= 0 or height_px <= 0:
            raise CalibrationError(f'image size must be positive, got {width_px}x{height_px}')
        return StereoCalibration(self.left.scaled_to(width_px, height_px),
                                 self.right.scaled_to(width_px, height_px), self.description)

    def scaled(self, scale: float) -> StereoCalibration:
        """Return this calibration at `scale` x the image size, rounded to whole pixels."""
        if not 0.0 < scale <= 4.0:
            raise CalibrationError(f'scale must be in (0, 4], got {scale}')
        width_px, height_px = scaled_size(self.image_size, scale)
        return self.with_size(width_px, height_px)

    def validate(self) -> StereoCalibration:
        """Check the calibration is usable for stereo; return self or raise CalibrationError."""
        for name, cam in (('left', self.left), ('right', self.right)):
            if cam.width_px <= 0 or cam.height_px <= 0:
                raise CalibrationError(
                    f'{name} image size is {cam.width_px}x{cam.height_px}; it must be positive')
            if cam.K[0, 0] <= 0 or cam.K[1, 1] <= 0:
                raise CalibrationError(
                    f'{name} camera matrix K has focal length fx={cam.K[0, 0]:g}, '
                    f'fy={cam.K[1, 1]:g}; both must be positive (is the camera calibrated?)')
            if cam.P[0, 0] <= 0 or cam.P[1, 1] <= 0:
                raise CalibrationError(
                    f'{name} projection matrix P has focal length fx={cam.P[0, 0]:g}, '
                    f'fy={cam.P[1, 1]:g}; both must be positive (is the camera calibrated?)')
        if (self.left.width_px, self.left.height_px) != \
                (self.right.width_px, self.right.height_px):
            raise CalibrationError(
                f'left is {self.left.width_px}x{self.left.height_px} but right is '
                f'{self.right.width_px}x{self.right.height_px}; both cameras must share one size')
        tx = self.right.P[0, 3]
        if tx == 0 and self.left.P[0, 3] < 0:
            raise CalibrationError(
                'the left projection has Tx = -fx * baseline_m and the right has Tx = 0; the left '
                'and right calibrations are swapped')
        if tx == 0:
            raise CalibrationError(
                'right projection P[0,3] (Tx) is 0, i.e. zero baseline; a stereo right camera '
                "needs Tx = -fx * baseline_m (check the right camera's calibration)")
        if tx > 0:
            raise CalibrationError(
                f'right projection P[0,3] (Tx) is {tx:g} > 0, but ROS expects '
                'Tx = -fx * baseline_m '
                '< 0; the left and right calibrations are probably swapped')
        if not np.isclose(self.left.P[0, 0], self.right.P[0, 0], rtol=1e-6) or \
                not np.isclose(self.left.P[1, 2], self.right.P[1, 2], rtol=1e-6, atol=1e-6):
            raise CalibrationError(
                'left and right rectified projections differ (fx or cy); P of both cameras must '
                'come from one stereo rectification')
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return a plain dict of the pair (for the stream protocol and JSON)."""
        return {'left': self.left.to_dict(), 'right': self.right.to_dict(),
                'description': self.description}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StereoCalibration:
        """Build and validate a pair from `to_dict()` output."""
        try:
            left, right = data['left'], data['right']
        except (KeyError, TypeError):
            raise CalibrationError("stereo calibration needs 'left' and 'right' entries") from None
        return cls(CameraModel.from_dict(left), CameraModel.from_dict(right),
                   str(data.get('description', 'calibration'))).validate()


def scaled_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """Return (width, height) scaled and rounded half-up, the one rounding rule of the package."""
    return max(1, int(size[0] * scale + 0.5)), max(1, int(size[1] * scale + 0.5))


ASPECT_TOLERANCE = 0.01
"""Relative aspect-ratio difference up to which two image sizes describe the same frames."""


def same_aspect(size: tuple[int, int], other: tuple[int, int]) -> bool:
    """Return True when (width, height) `size` has `other`'s aspect ratio (a calibration fits)."""
    return abs((size[0] / size[1]) / (other[0] / other[1]) - 1.0) <= ASPECT_TOLERANCE


def focal_px_from_lens(focal_length_mm: float, pixel_size_um: float) -> float:
    """Return the focal length in pixels: lens focal length / pixel pitch."""
    if focal_length_mm <= 0 or pixel_size_um <= 0:
        raise CalibrationError(
            f'focal length ({focal_length_mm} mm) and pixel size ({pixel_size_um} um) '
            'must be positive')
    return focal_length_mm / (pixel_size_um / 1000.0)


def raiv_nominal(baseline_mm: float = rig.BASELINE_MM,
                 focal_length_mm: float = rig.FOCAL_LENGTH_MM,
                 pixel_size_um: float = rig.PIXEL_SIZE_UM,
                 width_px: int = rig.SENSOR_WIDTH_PX,
                 height_px: int = rig.SENSOR_HEIGHT_PX) -> StereoCalibration:
    """Return the RAiV nominal geometry: ideal pinholes, centred principal point, no distortion."""
    if baseline_mm <= 0:
        raise CalibrationError(f'baseline must be positive, got {baseline_mm} mm')
    f_px = focal_px_from_lens(focal_length_mm, pixel_size_um)
    K = np.array([[f_px, 0.0, (width_px - 1) / 2.0], [0.0, f_px, (height_px - 1) / 2.0],
                  [0.0, 0.0, 1.0]])
    P_left = np.hstack([K, np.zeros((3, 1))])
    P_right = P_left.copy()
    P_right[0, 3] = -f_px * baseline_mm / 1000.0
    description = (f'RAiV nominal: {focal_length_mm:g} mm lens, {baseline_mm:g} mm baseline, '
                   f'{pixel_size_um:g} um pixels, {width_px}x{height_px}')
    cams = [CameraModel(width_px, height_px, K, np.zeros(5), np.eye(3), P)
            for P in (P_left, P_right)]
    return StereoCalibration(cams[0], cams[1], description).validate()


def rectified_pinhole(focal_px: float, baseline_m: float, width_px: int, height_px: int,
                      cx_px: float | None = None, cy_px: float | None = None) -> StereoCalibration:
    """Return the calibration of an already-rectified pair from its focal length and baseline."""
    if focal_px <= 0 or baseline_m <= 0:
        raise CalibrationError(
            f'focal length ({focal_px} px) and baseline ({baseline_m} m) must be positive')
    cx = (width_px - 1) / 2.0 if cx_px is None else cx_px
    cy = (height_px - 1) / 2.0 if cy_px is None else cy_px
    K = np.array([[focal_px, 0.0, cx], [0.0, focal_px, cy], [0.0, 0.0, 1.0]])
    P_right = np.hstack([K, [[-focal_px * baseline_m], [0.0], [0.0]]])
    cams = [CameraModel(width_px, height_px, K, np.zeros(5), np.eye(3), P)
            for P in (np.hstack([K, np.zeros((3, 1))]), P_right)]
    return StereoCalibration(cams[0], cams[1], 'rectified input').validate()


def stereo_from_opencv(K1: Any, D1: Any, K2: Any, D2: Any, R: Any, T_m: Any,
                       image_size: tuple[int, int], description: str = 'OpenCV stereo calibration',
                       alpha: float = 0.0) -> StereoCalibration:
    """Rectify an OpenCV stereo calibration (T in metres, x_right = R x_left + T) into K/D/R/P."""
    K1, K2 = as_matrix(K1, (3, 3), 'K1'), as_matrix(K2, (3, 3), 'K2')
    D1 = as_matrix(D1, (np.asarray(D1).size,), 'D1')
    D2 = as_matrix(D2, (np.asarray(D2).size,), 'D2')
    R, T_m = as_matrix(R, (3, 3), 'R'), as_matrix(T_m, (3,), 'T')
    if np.linalg.norm(T_m) == 0:
        raise CalibrationError('T (the translation between the cameras) is zero: no baseline')
    if T_m[0] > 0:
        raise CalibrationError(
            f'T = {T_m.tolist()} puts the second camera to the LEFT of the first (T[0] > 0); '
            'give the left camera as camera 1 (K1, D1) and the right as camera 2')
    width, height = int(image_size[0]), int(image_size[1])
    try:
        R1, R2, P1, P2, _Q, _roi1, _roi2 = cv2.stereoRectify(
            K1, D1.reshape(1, -1), K2, D2.reshape(1, -1), (width, height), R, T_m.reshape(3, 1),
            flags=cv2.CALIB_ZERO_DISPARITY, alpha=alpha)
    except cv2.error as error:
        raise CalibrationError(
            f'OpenCV cannot rectify this stereo calibration ({width}x{height}, '
            f'{D1.size} and {D2.size} distortion coefficients): '
            f'{str(error).strip().splitlines()[-1]}') from None
    left = CameraModel(width, height, K1, D1, R1, P1)
    right = CameraModel(width, height, K2, D2, R2, P2)
    return StereoCalibration(left, right, description).validate()
