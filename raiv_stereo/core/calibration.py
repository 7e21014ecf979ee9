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
Stereo calibration model (ROS CameraInfo semantics): loaders, writers, validation, scaling.

A `StereoCalibration` holds one `CameraModel` per camera with K, D, R, P exactly as in
sensor_msgs/CameraInfo: R rotates the raw camera into the rectified frame, P projects rectified
points, and the right camera's P[0, 3] = -fx * baseline_m. Everything else in the package
(rectification, disparity-to-depth, CameraInfo messages) is derived from this model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
import json
import os
from pathlib import Path
import tempfile
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
from raiv_stereo.core import rig
import yaml


class CalibrationError(ValueError):
    """A calibration that cannot be used; the message says what is wrong and what to do."""


def as_matrix(value: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    """Return `value` as a float64 array of `shape`, or raise CalibrationError naming `name`."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as error:
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


# --- ROS camera_info YAML (camera_calibration_parsers format) -----------------------------------

def _yaml_matrix(data: Mapping[str, Any], key: str, shape: tuple[int, ...],
                 path: str) -> np.ndarray:
    """Read one `{rows, cols, data}` block of a camera_info YAML file."""
    block = data.get(key)
    if not isinstance(block, Mapping) or 'data' not in block:
        raise CalibrationError(f'{path}: missing "{key}" (with rows, cols, data)')
    return as_matrix(block['data'], shape, f'{path}: {key}')


def load_camera_info_yaml(path: str | os.PathLike) -> CameraModel:
    """Load one camera from a ROS camera_info YAML file (as written by the ROS calibrators)."""
    path = str(path)
    try:
        with open(path, encoding='utf-8') as stream:
            data = yaml.safe_load(stream)
    except OSError as error:
        raise CalibrationError(f'cannot read calibration file {path}: {error.strerror}') from None
    except yaml.YAMLError as error:
        raise CalibrationError(f'{path} is not valid YAML: {error}') from None
    if not isinstance(data, Mapping):
        raise CalibrationError(f'{path} is not a camera_info YAML file (no key/value mapping)')
    try:
        width, height = int(data['image_width']), int(data['image_height'])
    except (KeyError, TypeError, ValueError):
        raise CalibrationError(f'{path}: needs integer image_width and image_height') from None
    dist = data.get('distortion_coefficients') or {'data': []}
    return CameraModel(
        width, height,
        _yaml_matrix(data, 'camera_matrix', (3, 3), path),
        np.asarray(dist.get('data') or [], dtype=np.float64),
        _yaml_matrix(data, 'rectification_matrix', (3, 3), path),
        _yaml_matrix(data, 'projection_matrix', (3, 4), path),
        str(data.get('distortion_model', 'plumb_bob')))


def camera_info_yaml_text(model: CameraModel, camera_name: str) -> str:
    """Return `model` in the camera_calibration_parsers YAML format."""
    def block(matrix: np.ndarray, rows: int, cols: int) -> dict[str, Any]:
        return {'rows': rows, 'cols': cols, 'data': [float(v) for v in matrix.ravel()]}
    data = {
        'image_width': model.width_px, 'image_height': model.height_px,
        'camera_name': camera_name,
        'camera_matrix': block(model.K, 3, 3),
        'distortion_model': model.distortion_model,
        'distortion_coefficients': block(model.D, 1, model.D.size),
        'rectification_matrix': block(model.R, 3, 3),
        'projection_matrix': block(model.P, 3, 4),
    }
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


def save_camera_info_yaml(path: str | os.PathLike, model: CameraModel, camera_name: str) -> None:
    """Write `model` as camera_info YAML atomically (a reader never sees a half-written file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as stream:
            stream.write(camera_info_yaml_text(model, camera_name))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- OpenCV stereo calibration (K1, D1, K2, D2, R, T) -------------------------------------------

_OPENCV_ALIASES = {
    'K1': ('K1', 'M1', 'cameraMatrix1', 'camera_matrix_left'),
    'D1': ('D1', 'distCoeffs1', 'dist_coeffs_left'),
    'K2': ('K2', 'M2', 'cameraMatrix2', 'camera_matrix_right'),
    'D2': ('D2', 'distCoeffs2', 'dist_coeffs_right'),
    'R': ('R',),
    'T': ('T',),
}


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
    R1, R2, P1, P2, _Q, _roi1, _roi2 = cv2.stereoRectify(
        K1, D1.reshape(1, -1), K2, D2.reshape(1, -1), (width, height), R, T_m.reshape(3, 1),
        flags=cv2.CALIB_ZERO_DISPARITY, alpha=alpha)
    left = CameraModel(width, height, K1, D1, R1, P1)
    right = CameraModel(width, height, K2, D2, R2, P2)
    return StereoCalibration(left, right, description).validate()


def _opencv_values(path: str) -> dict[str, Any]:
    """Read the named entries of an OpenCV FileStorage file or a plain JSON file into a dict."""
    if path.lower().endswith('.json'):
        try:
            with open(path, encoding='utf-8') as stream:
                data = json.load(stream)
        except OSError as error:
            raise CalibrationError(
                f'cannot read calibration file {path}: {error.strerror}') from None
        except json.JSONDecodeError as error:
            raise CalibrationError(f'{path} is not valid JSON: {error}') from None
        if isinstance(data, dict) and all(not isinstance(v, dict) or 'data' in v
                                          for v in data.values()):
            return {k: (v['data'] if isinstance(v, dict) else v) for k, v in data.items()}
    if not os.path.isfile(path):
        raise CalibrationError(f'calibration file {path} does not exist')
    try:
        storage = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError):  # OpenCV's parser raises SystemError for some files
        raise CalibrationError(f'{path} is not an OpenCV YAML/XML/JSON file (it does not parse); '
                               'give an OpenCV stereo file (K1, D1, K2, D2, R, T, image size) '
                               'or a left/right camera_info YAML pair') from None
    try:
        if not storage.isOpened():
            raise CalibrationError(f'{path} is not an OpenCV YAML/XML/JSON file')
        values: dict[str, Any] = {}
        root = storage.root()
        if {'camera_matrix', 'projection_matrix'} <= set(root.keys()):
            raise CalibrationError(
                f"{path} is one camera's camera_info YAML, not a stereo calibration: give it "
                "together with the other camera's file as a left/right pair, or one OpenCV "
                'stereo file (K1, D1, K2, D2, R, T)')
        for key in root.keys():
            node = root.getNode(key)
            if node.isMap():
                try:
                    values[key] = node.mat()
                except cv2.error:  # a mapping that is not an OpenCV matrix
                    if any(key in aliases for aliases in _OPENCV_ALIASES.values()):
                        raise CalibrationError(f'{path}: {key} is not an OpenCV matrix (rows, '
                                               'cols, dt, data)') from None
            elif node.isSeq():
                values[key] = [node.at(i).real() for i in range(node.size())]
            elif node.isReal() or node.isInt():
                values[key] = node.real()
            elif node.isString():
                values[key] = node.string()
        return values
    finally:
        storage.release()


def load_opencv_stereo(path: str | os.PathLike) -> StereoCalibration:
    """
    Load K1, D1, K2, D2, R, T and the image size from an OpenCV stereo file and rectify it.

    T is in the file's units: a `units` entry ('mm' or 'm') says which; without one, a translation
    longer than 1.0 is read as millimetres (no stereo rig has a baseline over a metre).
    """
    path = str(path)
    values = _opencv_values(path)
    found: dict[str, Any] = {}
    for name, aliases in _OPENCV_ALIASES.items():
        for alias in aliases:
            if alias in values and values[alias] is not None:
                found[name] = values[alias]
                break
        else:
            raise CalibrationError(
                f'{path}: missing {name} (an OpenCV stereo calibration needs K1, D1, K2, D2, R, T '
                'and the image size)')
    size = None
    for wkey, hkey in (('image_width', 'image_height'), ('width', 'height')):
        if wkey in values and hkey in values:
            size = (int(values[wkey]), int(values[hkey]))
    for key in ('image_size', 'imageSize', 'size'):
        if size is None and key in values:
            size = tuple(int(v) for v in np.asarray(values[key]).ravel()[:2])
    if size is None:
        raise CalibrationError(f'{path}: missing the image size (image_width and image_height)')
    T = as_matrix(found['T'], (3,), f'{path}: T')
    units = str(values.get('units', '')).lower()
    if units not in ('', 'mm', 'm'):
        raise CalibrationError(f"{path}: units must be 'mm' or 'm', got {units!r}")
    in_mm = units == 'mm' or (units == '' and np.linalg.norm(T) > 1.0)
    T_m = T / 1000.0 if in_mm else T
    unit_used = 'mm' if in_mm else 'm'
    return stereo_from_opencv(found['K1'], found['D1'], found['K2'], found['D2'], found['R'], T_m,
                              size, f'OpenCV stereo calibration {path} (T in {unit_used})')


def load_calibration(paths: Sequence[str | os.PathLike]) -> StereoCalibration:
    """Load a calibration: two paths = camera_info YAML pair (left, right); one = OpenCV file."""
    paths = [str(p) for p in paths if str(p)]
    if len(paths) == 2:
        left, right = (load_camera_info_yaml(p) for p in paths)
        description = f'camera_info pair {paths[0]}, {paths[1]}'
        return StereoCalibration(left, right, description).validate()
    if len(paths) == 1:
        return load_opencv_stereo(paths[0])
    raise CalibrationError(
        'give one OpenCV stereo file or two camera_info YAML files (left, right), '
        f'got {len(paths)}')
