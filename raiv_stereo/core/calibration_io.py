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
Calibration files: ROS camera_info YAML (read and write) and OpenCV stereo files (read).

A file is hostile input until checked: its size, every matrix's shape and values, and the image
size are bounded before anything is built from them, and every problem is a CalibrationError
naming the file and what to fix.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
import stat
import tempfile
from typing import Any, Mapping, Sequence

import cv2
import numpy as np
from raiv_stereo.core.calibration import (
    as_matrix,
    CalibrationError,
    CameraModel,
    stereo_from_opencv,
    StereoCalibration,
)
import yaml

MAX_FILE_BYTES = 1 << 20
"""Largest calibration file read (a real one is a few kilobytes)."""
MAX_IMAGE_SIDE_PX = 16384
"""Largest image width or height a calibration file may describe."""
MAX_DISTORTION_COEFFS = 14
"""Most distortion coefficients any OpenCV model has (k1..k6, p1, p2, s1..s4, tx, ty)."""
_MAX_NAME_CHARS = 64  # a distortion model or units name


def _checked_file(path: str) -> None:
    """Refuse a path that is not a regular file of at most MAX_FILE_BYTES."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise CalibrationError(f'calibration file {path} does not exist') from None
    except OSError as error:
        raise CalibrationError(f'cannot read calibration file {path}: {error.strerror}') from None
    if not stat.S_ISREG(info.st_mode):
        raise CalibrationError(f'calibration file {path} is not a regular file')
    if info.st_size > MAX_FILE_BYTES:
        raise CalibrationError(
            f'calibration file {path} is {info.st_size} bytes, above the {MAX_FILE_BYTES} bytes '
            'a calibration file may have; is it the right file?')


def _read_text(path: str) -> str:
    """Return the text of a checked file (at most MAX_FILE_BYTES are ever read)."""
    _checked_file(path)
    try:
        with open(path, 'rb') as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise CalibrationError(f'cannot read calibration file {path}: {error.strerror}') from None
    if len(raw) > MAX_FILE_BYTES:
        raise CalibrationError(f'calibration file {path} grew above {MAX_FILE_BYTES} bytes '
                               'while being read')
    try:
        return raw.decode('utf-8')
    except UnicodeDecodeError:
        raise CalibrationError(f'{path} is not a text file (not UTF-8)') from None


def _size_px(value: Any, name: str) -> int:
    """Return an image width or height from a file, checked to be a whole number in range."""
    if isinstance(value, bool):
        value = None
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value) < 12:
        value = int(value)
    if not isinstance(value, int) or not 0 < value <= MAX_IMAGE_SIDE_PX:
        raise CalibrationError(f'{name} must be a whole number of pixels in 1..'
                               f'{MAX_IMAGE_SIDE_PX}, got {str(value)[:40]!r}')
    return value


def _name_text(value: Any, name: str) -> str:
    """Return a short text entry (distortion model, units), refusing anything else."""
    if not isinstance(value, str) or len(value) > _MAX_NAME_CHARS:
        raise CalibrationError(f'{name} must be a text of at most {_MAX_NAME_CHARS} characters, '
                               f'got {type(value).__name__}')
    return value


def _flat_numbers(value: Any, name: str, max_count: int) -> list[Any]:
    """Return a flat list of at most max_count numbers, refusing nesting, text and booleans."""
    if not isinstance(value, (list, tuple)):
        raise CalibrationError(f'{name} must be a list of numbers, got {type(value).__name__}')
    if len(value) > max_count:
        raise CalibrationError(f'{name} has {len(value)} values, at most {max_count} expected')
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise CalibrationError(f'{name} must hold only numbers')
    return list(value)


def _distortion(value: Any, name: str) -> np.ndarray:
    """Return distortion coefficients (at most MAX_DISTORTION_COEFFS, finite)."""
    try:
        array = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError, OverflowError) as error:
        raise CalibrationError(f'{name} is not numeric: {error}') from None
    if array.size > MAX_DISTORTION_COEFFS:
        raise CalibrationError(f'{name} has {array.size} distortion coefficients; OpenCV models '
                               f'have at most {MAX_DISTORTION_COEFFS}')
    return as_matrix(array, (array.size,), name)


# --- ROS camera_info YAML (camera_calibration_parsers format) -----------------------------------

def _yaml_matrix(data: Mapping[str, Any], key: str, shape: tuple[int, ...],
                 path: str) -> np.ndarray:
    """Read one `{rows, cols, data}` block of a camera_info YAML file."""
    block = data.get(key)
    if not isinstance(block, Mapping) or 'data' not in block:
        raise CalibrationError(f'{path}: missing "{key}" (with rows, cols, data)')
    count = int(np.prod(shape))
    return as_matrix(_flat_numbers(block['data'], f'{path}: {key}', count), shape,
                     f'{path}: {key}')


def load_camera_info_yaml(path: str | os.PathLike) -> CameraModel:
    """Load one camera from a ROS camera_info YAML file (as written by the ROS calibrators)."""
    path = str(path)
    text = _read_text(path)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise CalibrationError(f'{path} is not valid YAML: {error}') from None
    except RecursionError:
        raise CalibrationError(f'{path} is not a camera_info YAML file (nested too deeply)'
                               ) from None
    if not isinstance(data, Mapping):
        raise CalibrationError(f'{path} is not a camera_info YAML file (no key/value mapping)')
    if 'image_width' not in data or 'image_height' not in data:
        raise CalibrationError(f'{path}: needs integer image_width and image_height')
    width = _size_px(data['image_width'], f'{path}: image_width')
    height = _size_px(data['image_height'], f'{path}: image_height')
    dist = data.get('distortion_coefficients') or {'data': []}
    if not isinstance(dist, Mapping):
        raise CalibrationError(f'{path}: distortion_coefficients must be a block with rows, '
                               'cols, data')
    coefficients = _flat_numbers(dist.get('data') or [], f'{path}: distortion_coefficients',
                                 MAX_DISTORTION_COEFFS)
    return CameraModel(
        width, height,
        _yaml_matrix(data, 'camera_matrix', (3, 3), path),
        _distortion(coefficients, f'{path}: distortion_coefficients'),
        _yaml_matrix(data, 'rectification_matrix', (3, 3), path),
        _yaml_matrix(data, 'projection_matrix', (3, 4), path),
        _name_text(data.get('distortion_model', 'plumb_bob'), f'{path}: distortion_model'))


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
_SIZE_KEYS = (('image_width', 'image_height'), ('width', 'height'))
_SIZE_PAIR_KEYS = ('image_size', 'imageSize', 'size')
_MATRIX_KEYS = frozenset(alias for aliases in _OPENCV_ALIASES.values() for alias in aliases)
_SCALAR_KEYS = frozenset(key for pair in _SIZE_KEYS for key in pair) | {'units'}
_MAX_MATRIX_VALUES = 16  # the largest entry read is a 3x3 matrix or 14 coefficients


def _json_values(path: str, text: str) -> dict[str, Any] | None:
    """Read a plain JSON calibration; None when it is OpenCV's own JSON layout."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CalibrationError(f'{path} is not valid JSON: {error}') from None
    except RecursionError:
        raise CalibrationError(f'{path} is not a calibration file (nested too deeply)') from None
    if isinstance(data, dict) and all(not isinstance(v, dict) or 'data' in v
                                      for v in data.values()):
        return {k: (v['data'] if isinstance(v, dict) else v) for k, v in data.items()}
    return None


def _storage_matrix(node: Any, key: str, path: str) -> np.ndarray:
    """Return one OpenCV matrix node after checking its declared shape is small."""
    rows, cols, data = node.getNode('rows'), node.getNode('cols'), node.getNode('data')
    if not (rows.isInt() and cols.isInt() and data.isSeq()):
        raise CalibrationError(f'{path}: {key} is not an OpenCV matrix (rows, cols, dt, data)')
    count = int(rows.real()) * int(cols.real())
    if not (0 < rows.real() <= _MAX_MATRIX_VALUES and 0 < cols.real() <= _MAX_MATRIX_VALUES
            and count <= _MAX_MATRIX_VALUES and data.size() == count):
        raise CalibrationError(
            f'{path}: {key} says {int(rows.real())}x{int(cols.real())} with {data.size()} '
            f'values; a calibration matrix is at most {_MAX_MATRIX_VALUES} values and its data '
            'must fill rows x cols')
    try:
        return node.mat()
    except cv2.error:
        raise CalibrationError(f'{path}: {key} is not an OpenCV matrix (rows, cols, dt, data)'
                               ) from None


def _storage_values(path: str) -> dict[str, Any]:
    """Read the entries this loader uses from an OpenCV FileStorage file."""
    try:
        storage = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    except (cv2.error, SystemError):  # OpenCV's parser raises SystemError for some files
        raise CalibrationError(f'{path} is not an OpenCV YAML/XML/JSON file (it does not parse); '
                               'give an OpenCV stereo file (K1, D1, K2, D2, R, T, image size) '
                               'or a left/right camera_info YAML pair') from None
    try:
        if not storage.isOpened():
            raise CalibrationError(f'{path} is not an OpenCV YAML/XML/JSON file')
        root = storage.root()
        keys = set(root.keys()) if root.isMap() else set()
        if {'camera_matrix', 'projection_matrix'} <= keys:
            raise CalibrationError(
                f"{path} is one camera's camera_info YAML, not a stereo calibration: give it "
                "together with the other camera's file as a left/right pair, or one OpenCV "
                'stereo file (K1, D1, K2, D2, R, T)')
        values: dict[str, Any] = {}
        for key in keys & (_MATRIX_KEYS | _SCALAR_KEYS | set(_SIZE_PAIR_KEYS)):
            node = root.getNode(key)
            if node.isMap():
                values[key] = _storage_matrix(node, key, path)
            elif node.isSeq():
                if node.size() > _MAX_MATRIX_VALUES:
                    raise CalibrationError(f'{path}: {key} has {node.size()} values, at most '
                                           f'{_MAX_MATRIX_VALUES} expected')
                items = [node.at(i) for i in range(node.size())]
                if not all(item.isReal() or item.isInt() for item in items):
                    raise CalibrationError(f'{path}: {key} must hold only numbers')
                values[key] = [item.real() for item in items]
            elif node.isReal() or node.isInt():
                values[key] = node.real()
            elif node.isString():
                values[key] = node.string()
        return values
    finally:
        storage.release()


def _opencv_values(path: str) -> dict[str, Any]:
    """Read the named entries of an OpenCV FileStorage file or a plain JSON file into a dict."""
    if path.lower().endswith('.json'):
        values = _json_values(path, _read_text(path))
        if values is not None:
            return values
    else:
        _checked_file(path)
    return _storage_values(path)


def _image_size(values: Mapping[str, Any], path: str) -> tuple[int, int]:
    """Return the (width, height) an OpenCV stereo file gives, in any of its spellings."""
    for wkey, hkey in _SIZE_KEYS:
        if wkey in values and hkey in values:
            return (_size_px(values[wkey], f'{path}: {wkey}'),
                    _size_px(values[hkey], f'{path}: {hkey}'))
    for key in _SIZE_PAIR_KEYS:
        if key in values:
            pair = values[key]
            if isinstance(pair, np.ndarray):
                pair = pair.ravel().tolist()
            pair = _flat_numbers(pair, f'{path}: {key}', _MAX_MATRIX_VALUES)
            if len(pair) < 2:
                raise CalibrationError(f'{path}: {key} must give width and height')
            return _size_px(pair[0], f'{path}: {key}'), _size_px(pair[1], f'{path}: {key}')
    raise CalibrationError(f'{path}: missing the image size (image_width and image_height)')


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
    size = _image_size(values, path)
    T = as_matrix(found['T'], (3,), f'{path}: T')
    units = _name_text(values.get('units', ''), f'{path}: units').lower()
    if units not in ('', 'mm', 'm'):
        raise CalibrationError(f"{path}: units must be 'mm' or 'm', got {units!r}")
    in_mm = units == 'mm' or (units == '' and np.linalg.norm(T) > 1.0)
    T_m = T / 1000.0 if in_mm else T
    unit_used = 'mm' if in_mm else 'm'
    return stereo_from_opencv(
        as_matrix(found['K1'], (3, 3), f'{path}: K1'), _distortion(found['D1'], f'{path}: D1'),
        as_matrix(found['K2'], (3, 3), f'{path}: K2'), _distortion(found['D2'], f'{path}: D2'),
        as_matrix(found['R'], (3, 3), f'{path}: R'), T_m, size,
        f'OpenCV stereo calibration {path} (T in {unit_used})')


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
