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

"""Calibration files are hostile input: bounded, checked, refused with a CalibrationError."""

import json
import os
from pathlib import Path
import tempfile

from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from raiv_stereo.core import calibration_io
from raiv_stereo.core.calibration import CalibrationError, CameraModel, raiv_nominal
from raiv_stereo.core.calibration_io import (
    camera_info_yaml_text,
    load_calibration,
    load_camera_info_yaml,
    load_opencv_stereo,
)
import yaml

GOOD_YAML = camera_info_yaml_text(raiv_nominal().left, 'left')


def _edited_yaml(**changes):
    """Return the nominal left camera_info YAML with some top-level entries replaced."""
    data = yaml.safe_load(GOOD_YAML)
    data.update(changes)
    return yaml.safe_dump(data)


def _opencv_text(**entries):
    """Return an OpenCV FileStorage YAML text with these entries (already formatted)."""
    body = ''.join(f'{key}: {value}\n' for key, value in entries.items())
    return '%YAML:1.0\n---\n' + body


def _matrix(rows, cols, values):
    """Return one OpenCV matrix node in FileStorage YAML."""
    data = ', '.join(str(v) for v in values)
    return f'!!opencv-matrix\n   rows: {rows}\n   cols: {cols}\n   dt: d\n   data: [ {data} ]'


GOOD_OPENCV = {
    'K1': _matrix(3, 3, [930, 0, 800, 0, 930, 650, 0, 0, 1]), 'D1': _matrix(1, 5, [0] * 5),
    'K2': _matrix(3, 3, [930, 0, 800, 0, 930, 650, 0, 0, 1]), 'D2': _matrix(1, 5, [0] * 5),
    'R': _matrix(3, 3, [1, 0, 0, 0, 1, 0, 0, 0, 1]), 'T': _matrix(3, 1, [-65, 0, 0]),
    'image_width': 1600, 'image_height': 1300}


def test_the_good_files_load(tmp_path):
    path = tmp_path / 'left.yaml'
    path.write_text(GOOD_YAML)
    assert load_camera_info_yaml(path).width_px == 1600
    stereo = tmp_path / 'stereo.yaml'
    stereo.write_text(_opencv_text(**GOOD_OPENCV))
    assert load_opencv_stereo(stereo).baseline_mm == pytest.approx(65.0)


@pytest.mark.parametrize('changes, message', [
    ({'image_width': float('inf')}, r'image_width must be a whole number of pixels in 1\.\.16384'),
    ({'image_width': 10 ** 400}, 'image_width must be a whole number'),
    ({'image_height': 1300.5}, 'image_height must be a whole number'),
    ({'image_height': True}, 'image_height must be a whole number'),
    ({'image_width': 100000}, 'image_width must be a whole number'),
    ({'distortion_coefficients': [0.1, 0.2]}, 'distortion_coefficients must be a block'),
    ({'distortion_coefficients': {'data': ['a']}}, 'must hold only numbers'),
    ({'distortion_coefficients': {'data': [0.0] * 20}}, 'has 20 values, at most 14'),
    ({'camera_matrix': {'data': [[1, 2, 3]] * 3}}, 'camera_matrix must hold only numbers'),
    ({'camera_matrix': {'data': [1.0] * 10 ** 5}}, 'camera_matrix has 100000 values, at most 9'),
    ({'projection_matrix': {'data': [10 ** 400] * 12}}, 'projection_matrix is not numeric'),
    ({'rectification_matrix': {'data': [float('nan')] * 9}}, 'NaN'),
    ({'distortion_model': ['plumb_bob']}, 'distortion_model must be a text'),
])
def test_camera_info_yaml_values_are_checked(tmp_path, changes, message):
    path = tmp_path / 'left.yaml'
    path.write_text(_edited_yaml(**changes))
    with pytest.raises(CalibrationError, match=message):
        load_camera_info_yaml(path)


def test_file_size_and_kind_are_bounded_before_reading(tmp_path):
    big = tmp_path / 'big.yaml'
    big.write_text(GOOD_YAML + '#' * calibration_io.MAX_FILE_BYTES)
    with pytest.raises(CalibrationError, match=r'big.yaml is \d+ bytes, above the 1048576'):
        load_camera_info_yaml(big)
    with pytest.raises(CalibrationError, match='big.yaml is .* bytes, above'):
        load_opencv_stereo(big)
    with pytest.raises(CalibrationError, match='not a regular file'):
        load_camera_info_yaml(tmp_path)
    fifo = tmp_path / 'fifo.yaml'
    os.mkfifo(fifo)  # opening it would block forever
    with pytest.raises(CalibrationError, match='not a regular file'):
        load_calibration([fifo])
    binary = tmp_path / 'binary.yaml'
    binary.write_bytes(b'\xff\xfe\x00' * 10)
    with pytest.raises(CalibrationError, match='not a text file'):
        load_camera_info_yaml(binary)


def test_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path):
    # Nine levels of nine aliases: 9**9 numbers if anything flattened it.
    lines = ['a0: &a0 [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]']
    lines += [f'a{i}: &a{i} [{", ".join([f"*a{i - 1}"] * 9)}]' for i in range(1, 10)]
    body = yaml.safe_load(GOOD_YAML)
    del body['camera_matrix']
    text = '\n'.join(lines) + '\n' + yaml.safe_dump(body) + 'camera_matrix: {data: *a9}\n' + \
        'distortion_model: *a9\n'
    path = tmp_path / 'bomb.yaml'
    path.write_text(text)
    with pytest.raises(CalibrationError, match='camera_matrix must hold only numbers'):
        load_camera_info_yaml(path)
    path.write_text('[' * 100000 + ']' * 100000)
    with pytest.raises(CalibrationError, match='nested too deeply|not valid YAML'):
        load_camera_info_yaml(path)


@pytest.mark.parametrize('entries, message', [
    ({'K1': _matrix(100000, 100000, [1.0] * 9)}, 'K1 says 100000x100000 with 9 values'),
    ({'K1': _matrix(3, 3, [1.0] * 8)}, 'K1 says 3x3 with 8 values'),
    ({'D1': _matrix(1, 16, [0.0] * 16)}, 'D1 has 16 distortion coefficients'),
    ({'T': '[ ' + ', '.join(['1.0'] * 1000) + ' ]'}, 'T has 1000 values, at most 16'),
    ({'T': '[ a, b, c ]'}, 'T must hold only numbers'),
    ({'T': _matrix(3, 1, ['.nan', 0, 0])}, 'T contains NaN'),
    ({'image_width': '.Inf'}, 'image_width must be a whole number'),
    ({'image_height': 2e9}, 'image_height must be a whole number'),
    ({'units': '"furlongs"'}, "units must be 'mm' or 'm'"),
    ({'K1': '{ rows: 3 }'}, 'K1 is not an OpenCV matrix'),
])
def test_opencv_stereo_values_are_checked_before_use(tmp_path, entries, message):
    path = tmp_path / 'stereo.yaml'
    path.write_text(_opencv_text(**{**GOOD_OPENCV, **entries}))
    with pytest.raises(CalibrationError, match=message):
        load_opencv_stereo(path)


def test_json_stereo_values_are_checked(tmp_path):
    path = tmp_path / 'stereo.json'
    good = {'K1': [[930, 0, 800], [0, 930, 650], [0, 0, 1]], 'D1': [0] * 5,
            'K2': [[930, 0, 800], [0, 930, 650], [0, 0, 1]], 'D2': [0] * 5,
            'R': np.eye(3).tolist(), 'T': [-0.065, 0, 0], 'image_width': 1600,
            'image_height': 1300}
    path.write_text(json.dumps(good))
    assert load_calibration([path]).baseline_mm == pytest.approx(65.0)
    for change, message in (({'D1': [0] * 30}, 'D1 has 30 distortion coefficients'),
                            ({'image_size': [1600], 'image_width': None},
                             'image_width must be a whole number'),
                            ({'T': [10 ** 400, 0, 0]}, 'T is not numeric'),
                            ({'K1': 'eye'}, 'K1 is not numeric')):
        path.write_text(json.dumps({**good, **change}))
        with pytest.raises(CalibrationError, match=message):
            load_calibration([path])
    path.write_text('[' * 100000 + ']' * 100000)
    with pytest.raises(CalibrationError, match='nested too deeply|not a .*file'):
        load_calibration([path])


# --- fuzz: whatever a file holds, a loader returns a model or raises CalibrationError ---------

_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10 ** 30, 10 ** 30),
                     st.floats(allow_nan=True, allow_infinity=True),
                     st.integers(min_value=10 ** 300, max_value=10 ** 320),
                     st.text(max_size=8))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=14), st.dictionaries(st.sampled_from(['rows', 'cols', 'data']),
                                                  inner, max_size=3)), max_leaves=30)
_yaml_keys = st.sampled_from(['image_width', 'image_height', 'camera_matrix',
                              'distortion_model', 'distortion_coefficients',
                              'rectification_matrix', 'projection_matrix', 'camera_name'])


def _fuzz_file(suffix, content):
    """Write content (text or bytes) to a fresh temporary file and return its path."""
    handle, name = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(handle, 'wb') as stream:
        stream.write(content.encode('utf-8', 'surrogatepass') if isinstance(content, str)
                     else content)
    return Path(name)


def _loads_or_refuses(loader, path):
    """Call loader(path): a result of the right kind or a CalibrationError, nothing else."""
    try:
        result = loader(path)
    except CalibrationError as error:
        assert str(error)
        return None
    finally:
        path.unlink()
    return result


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.booleans(), entries=st.dictionaries(_yaml_keys, _values, max_size=8))
def test_fuzzed_camera_info_yaml_loads_or_is_refused(base, entries):
    data = yaml.safe_load(GOOD_YAML) if base else {}
    data.update(entries)
    path = _fuzz_file('.yaml', yaml.safe_dump(data))
    model = _loads_or_refuses(load_camera_info_yaml, path)
    if model is not None:
        assert isinstance(model, CameraModel)
        assert 0 < model.width_px <= calibration_io.MAX_IMAGE_SIDE_PX
        assert np.all(np.isfinite(model.P)) and model.D.size <= 14


@settings(max_examples=100, deadline=None)
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300)),
       suffix=st.sampled_from(['.yaml', '.json', '.xml']))
def test_fuzzed_bytes_load_or_are_refused(content, suffix):
    _loads_or_refuses(load_camera_info_yaml, _fuzz_file(suffix, content))
    _loads_or_refuses(load_opencv_stereo, _fuzz_file(suffix, content))


_cv_numbers = st.one_of(st.integers(-10 ** 6, 10 ** 6),
                        st.sampled_from(['.nan', '.inf', 'x']),
                        st.floats(-1e6, 1e6).map(repr))
_cv_entry = st.one_of(
    st.builds(lambda rows, cols, values: _matrix(rows, cols, values),
              st.integers(-2, 10 ** 6), st.integers(-2, 10 ** 6),
              st.lists(_cv_numbers, max_size=20)),
    st.lists(_cv_numbers, max_size=40).map(lambda v: '[ ' + ', '.join(map(str, v)) + ' ]'),
    _cv_numbers.map(str), st.sampled_from(['"mm"', '"m"', '"?"', '{ }', '{ rows: 3 }']))
_cv_keys = st.sampled_from(sorted(GOOD_OPENCV) + ['units', 'image_size', 'M1', 'extra'])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.booleans(), entries=st.dictionaries(_cv_keys, _cv_entry, max_size=6))
def test_fuzzed_opencv_stereo_file_loads_or_is_refused(base, entries):
    text = _opencv_text(**{**(GOOD_OPENCV if base else {}), **entries})
    calibration = _loads_or_refuses(load_opencv_stereo, _fuzz_file('.yaml', text))
    if calibration is not None:
        assert calibration.baseline_m > 0 and np.all(np.isfinite(calibration.right.P))
