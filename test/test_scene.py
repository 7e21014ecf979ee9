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

"""The synthetic scene renderer: exact geometry, so the depth tests built on it can be trusted."""

import numpy as np
import pytest
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.eval.scene import (
    distorted_rig,
    Plane,
    Renderer,
    sample_scene,
    Scene,
    truth_depth_m,
)


def test_fronto_parallel_plane_shifts_by_f_b_over_z():
    calib = raiv_nominal().scaled(0.25)  # 400x325, f = 233.3 px
    scene = Scene(planes=(Plane(center_m=(0.0, 0.0, 1.4), seed=7),))
    pair = Renderer(calib, scene).render()
    assert np.nanmax(np.abs(pair.depth_rect_m - 1.4)) < 1e-5
    disparity_px = calib.focal_px * calib.baseline_m / 1.4  # 10.83 px
    # The right image is the left shifted by the disparity: compare at the best integer shift.
    left = pair.left_bgr[:, 60:340, 1].astype(float)
    errors = [np.abs(left - pair.right_bgr[:, 60 - s:340 - s, 1]).mean() for s in range(0, 20)]
    assert int(np.argmin(errors)) in (int(np.floor(disparity_px)), int(np.ceil(disparity_px)))


def test_sample_scene_depths_span_the_working_range():
    calib = raiv_nominal().scaled(0.25)
    depth = truth_depth_m(calib, sample_scene(), 0.0)
    assert np.isnan(depth).mean() == 0.0  # every pixel sees a surface
    assert np.nanmin(depth) == pytest.approx(0.5, abs=1e-4)  # the near card
    assert np.nanmax(depth) == pytest.approx(2.8, abs=1e-4)  # the back wall
    moved = truth_depth_m(calib, sample_scene(), 1.0)  # the box has moved 0.2 m
    assert (np.abs(moved - depth) > 0.1).mean() > 0.01


def test_distorted_rig_rectifies_back_to_the_truth():
    import cv2

    rig = distorted_rig(raiv_nominal()).scaled(0.25)
    pair = Renderer(rig, sample_scene()).render()
    # Rectify the raw left image with the rig's own K, D, R, P: it must match a render of the
    # rectified camera, proving rays honour distortion and rotation.
    maps = cv2.initUndistortRectifyMap(rig.left.K, rig.left.D, rig.left.R, rig.left.P[:, :3],
                                       rig.image_size, cv2.CV_32FC1)
    rectified = cv2.remap(pair.left_bgr, *maps, cv2.INTER_LINEAR)
    ideal = rig.left
    from raiv_stereo.core.calibration import CameraModel, StereoCalibration

    rect_cam = CameraModel(ideal.width_px, ideal.height_px, ideal.P[:, :3], np.zeros(5),
                           np.eye(3), ideal.P)
    rect_right = CameraModel(ideal.width_px, ideal.height_px, rig.right.P[:, :3], np.zeros(5),
                             np.eye(3), rig.right.P)
    expected = Renderer(StereoCalibration(rect_cam, rect_right), sample_scene()).render(
        with_truth=False).left_bgr
    # Compare at a scale the texture does not alias at (both renders point-sample it).

    def smooth(image):
        return cv2.GaussianBlur(image.astype(np.float32), (0, 0), 2.0)[20:-20, 20:-20]
    difference = np.abs(smooth(rectified) - smooth(expected))
    assert np.median(difference) < 2.0
    # And a rig error of one pixel would show: shift the expected image by 1 px.
    shifted = np.abs(smooth(rectified) - smooth(np.roll(expected, 1, axis=1)))
    assert np.median(shifted) > 1.5 * np.median(difference)
