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

"""Calibration model: RAiV geometry, loaders, writers, scaling and validation."""

import json

import cv2
import numpy as np
import pytest
from raiv_stereo.core.calibration import (
    CalibrationError,
    focal_px_from_lens,
    raiv_nominal,
    rectified_pinhole,
    same_aspect,
    scaled_size,
    stereo_from_opencv,
    StereoCalibration,
)
from raiv_stereo.core.calibration_io import (
    load_calibration,
    load_camera_info_yaml,
    load_opencv_stereo,
    save_camera_info_yaml,
)


def test_raiv_nominal_matches_maker_figures():
    calib = raiv_nominal()
    assert calib.focal_px == pytest.approx(933.333, abs=1e-3)  # 2.8 mm / 3 um
    assert calib.baseline_mm == pytest.approx(65.0)
    assert calib.image_size == (1600, 1300)
    assert calib.left.K[0, 2] == pytest.approx(799.5)
    assert calib.left.K[1, 2] == pytest.approx(649.5)
    # Z = f B / d: at 1 m the disparity is 60.67 px (the maker prints 60.64, truncated).
    assert calib.focal_px * calib.baseline_m / 1.0 == pytest.approx(60.67, abs=0.01)
    assert calib.right.P[0, 3] == pytest.approx(-933.333 * 0.065, abs=1e-3)


@pytest.mark.parametrize('lens_mm, expected_px', [(2.8, 933.33), (3.6, 1200.0), (25.0, 8333.33)])
def test_focal_px_from_lens(lens_mm, expected_px):
    assert focal_px_from_lens(lens_mm, 3.0) == pytest.approx(expected_px, abs=0.01)


def test_scaling_keeps_pixel_centres_and_baseline():
    calib = raiv_nominal()
    half = calib.scaled(0.5)
    assert half.image_size == (800, 650)
    assert half.focal_px == pytest.approx(466.667, abs=1e-3)
    # Pixel-centre convention: the principal point stays the image centre.
    assert half.left.K[0, 2] == pytest.approx(399.5) and half.left.P[1, 2] == pytest.approx(324.5)
    assert half.baseline_mm == pytest.approx(65.0)
    # A point projects to the same place whether we scale the image or the calibration.
    X = np.array([0.3, -0.2, 1.7, 1.0])
    full_uv = (calib.left.P @ X)[:2] / (calib.left.P @ X)[2]
    half_uv = (half.left.P @ X)[:2] / (half.left.P @ X)[2]
    assert half_uv == pytest.approx((full_uv + 0.5) * 0.5 - 0.5)
    assert scaled_size((1600, 1300), 0.3) == (480, 390)
    assert scaled_size((1226, 370), 0.25) == (307, 93)  # 306.5 and 92.5 round half up


def test_camera_info_yaml_round_trip(tmp_path):
    calib = raiv_nominal(focal_length_mm=6.0).scaled(0.5)
    save_camera_info_yaml(tmp_path / 'left.yaml', calib.left, 'raiv/left')
    save_camera_info_yaml(tmp_path / 'right.yaml', calib.right, 'raiv/right')
    loaded = load_calibration([tmp_path / 'left.yaml', tmp_path / 'right.yaml'])
    assert loaded.key == calib.key
    assert loaded.focal_px == pytest.approx(1000.0)
    assert list(tmp_path.glob('.*.tmp')) == []  # the atomic writer leaves no temporary file


def test_opencv_stereo_file_is_rectified(tmp_path):
    K = np.array([[930.0, 0, 802.0], [0, 931.0, 647.0], [0, 0, 1]])
    R, _ = cv2.Rodrigues(np.radians([0.2, 0.5, -0.3]))
    path = tmp_path / 'stereo.yaml'
    storage = cv2.FileStorage(str(path), cv2.FILE_STORAGE_WRITE)
    for name, value in (('K1', K), ('D1', np.array([[-0.1, 0.02, 0, 0, 0]])), ('K2', K),
                        ('D2', np.array([[-0.09, 0.01, 0, 0, 0]])), ('R', R),
                        ('T', np.array([[-65.2], [0.4], [0.1]]))):
        storage.write(name, value)
    storage.write('image_width', 1600)
    storage.write('image_height', 1300)
    storage.release()
    calib = load_opencv_stereo(path)
    assert calib.baseline_mm == pytest.approx(np.linalg.norm([65.2, 0.4, 0.1]), abs=1e-6)
    assert calib.right.P[0, 3] < 0 and calib.left.P[0, 3] == 0
    assert np.allclose(calib.left.R @ calib.left.R.T, np.eye(3))
    # The same calibration as JSON, T already in metres.
    json_path = tmp_path / 'stereo.json'
    json_path.write_text(json.dumps({
        'K1': K.tolist(), 'D1': [-0.1, 0.02, 0, 0, 0], 'K2': K.tolist(),
        'D2': [-0.09, 0.01, 0, 0, 0], 'R': R.tolist(), 'T': [-0.0652, 0.0004, 0.0001],
        'image_width': 1600, 'image_height': 1300}))
    from_json = load_calibration([json_path])
    assert from_json.baseline_mm == pytest.approx(calib.baseline_mm, abs=1e-6)
    assert np.allclose(from_json.right.P, calib.right.P)


def test_validation_errors_say_what_is_wrong(tmp_path):
    good = raiv_nominal()
    swapped = StereoCalibration(good.right, good.left)
    with pytest.raises(CalibrationError, match='swapped'):
        swapped.validate()
    flipped_right = type(good.right)(1600, 1300, good.right.K, good.right.D, good.right.R,
                                     good.right.P * [[1, 1, 1, -1], [1] * 4, [1] * 4])
    with pytest.raises(CalibrationError, match='Tx\\) is 60.6667 > 0'):
        StereoCalibration(good.left, flipped_right).validate()
    zero_baseline = StereoCalibration(good.left, good.left)
    with pytest.raises(CalibrationError, match='zero baseline'):
        zero_baseline.validate()
    with pytest.raises(CalibrationError, match='NaN'):
        type(good.left)(1600, 1300, np.full((3, 3), np.nan), np.zeros(5), np.eye(3), good.left.P)
    with pytest.raises(CalibrationError, match='expected 12'):
        type(good.left)(1600, 1300, good.left.K, np.zeros(5), np.eye(3), np.eye(3))
    with pytest.raises(CalibrationError, match='must be positive'):
        raiv_nominal(baseline_mm=0)
    with pytest.raises(CalibrationError, match='must be positive'):
        rectified_pinhole(0.0, 0.1, 640, 480)
    mismatched = StereoCalibration(good.left, good.right.scaled_to(800, 650))
    with pytest.raises(CalibrationError, match='one size|differ'):
        mismatched.validate()
    with pytest.raises(CalibrationError, match='LEFT'):
        stereo_from_opencv(good.left.K, np.zeros(5), good.left.K, np.zeros(5), np.eye(3),
                           [0.065, 0, 0], (1600, 1300))
    with pytest.raises(CalibrationError, match='does not exist|cannot read'):
        load_calibration([tmp_path / 'missing.yaml'])
    (tmp_path / 'bad.yaml').write_text('image_width: 640\nimage_height: 480\n')
    with pytest.raises(CalibrationError, match='camera_matrix'):
        load_camera_info_yaml(tmp_path / 'bad.yaml')
    with pytest.raises(CalibrationError, match='two camera_info'):
        load_calibration([])


def test_dict_round_trip():
    calib = raiv_nominal(focal_length_mm=4.0)
    again = StereoCalibration.from_dict(json.loads(json.dumps(calib.to_dict())))
    assert again.key == calib.key and again.description == calib.description


def test_scaling_to_a_rounded_size_scales_each_axis_by_its_own_factor():
    # KITTI's 1226x370 at 0.25 rounds to 307x93: 0.2504 across, 0.2514 down.
    K = np.array([[707.0, 0.0, 601.9], [0.0, 708.0, 183.1], [0.0, 0.0, 1.0]])
    calib = stereo_from_opencv(K, np.zeros(5), K, np.zeros(5), np.eye(3), [-0.54, 0, 0],
                               (1226, 370))
    quarter = calib.scaled(0.25)
    assert quarter.image_size == (307, 93)
    sx, sy = 307 / 1226, 93 / 370
    for before, after in ((calib.left, quarter.left), (calib.right, quarter.right)):
        for M, M0 in ((after.K, before.K), (after.P, before.P)):
            assert M[0, 0] == pytest.approx(M0[0, 0] * sx)
            assert M[0, 2] == pytest.approx(sx * (M0[0, 2] + 0.5) - 0.5)
            assert M[1, 1] == pytest.approx(M0[1, 1] * sy)
            assert M[1, 2] == pytest.approx(sy * (M0[1, 2] + 0.5) - 0.5)


def test_opencv_stereo_keeps_each_cameras_own_distortion():
    K = raiv_nominal().left.K
    D1, D2 = np.array([-0.1, 0.02, 0.0, 0.0, 0.0]), np.array([0.05, -0.01, 0.001, 0.0, 0.0])
    calib = stereo_from_opencv(K, D1, K, D2, np.eye(3), [-0.065, 0, 0], (1600, 1300))
    np.testing.assert_array_equal(calib.left.D.ravel(), D1)
    np.testing.assert_array_equal(calib.right.D.ravel(), D2)


def test_same_aspect_allows_rounding_not_another_shape():
    # The camera's scaled sizes round (1226x370 at 0.25 -> 307x93): still the calibration's.
    assert same_aspect((1600, 1300), (800, 650))
    assert same_aspect(scaled_size((1226, 370), 0.25), (1226, 370))
    assert not same_aspect((1600, 1300), (800, 600))  # 4:3 frames with a 16:13 calibration
    assert not same_aspect((640, 480), (480, 640))  # rotated
    assert same_aspect((1009, 1000), (1000, 1000)) and not same_aspect((1011, 1000), (1000, 1000))
