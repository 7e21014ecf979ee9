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

"""Calibration health: a known shift and roll of the right camera measured, corrected, reported."""

import math

import cv2
from diagnostic_msgs.msg import DiagnosticArray
from helpers import wait_for
import numpy as np
import pytest
from raiv_stereo.core import calibration_health
from raiv_stereo.core.calibration import CameraModel, raiv_nominal, StereoCalibration
from raiv_stereo.core.calibration_health import (
    AlignmentCorrection,
    CalibrationMonitor,
    check_alignment,
)
from raiv_stereo.core.calibration_io import save_camera_info_yaml
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.eval.scene import Renderer
from raiv_stereo.ros import conversions
from raiv_stereo.ros.calibration_diagnostics import STATUS_NAME
from raiv_stereo.tools import cli
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

NOMINAL = raiv_nominal().scaled(0.5)
"""The RAiV at 800x650: what the pair is processed with (scale 1 in the pipeline)."""


def moved_right_camera(calibration: StereoCalibration, shift_px: float,
                       roll_deg: float) -> StereoCalibration:
    """
    Return the rig as it really is after a knock: the right camera moved, the left untouched.

    The right image is `shift_px` lower (its principal point moved down) and the camera turned
    by `roll_deg` about its optical axis, which turns its image the other way: the health check
    reports a roll of -roll_deg.
    """
    right = calibration.right
    a = math.radians(roll_deg)
    turn = np.array([[math.cos(a), -math.sin(a), 0.0], [math.sin(a), math.cos(a), 0.0],
                     [0.0, 0.0, 1.0]])
    K = right.K.copy()
    K[1, 2] += shift_px
    moved = CameraModel(right.width_px, right.height_px, K, right.D, turn @ right.R, right.P)
    return StereoCalibration(calibration.left, moved, 'moved right camera')


def within_2_percent(depth_m: np.ndarray, truth_m: np.ndarray) -> float:
    known = np.isfinite(truth_m)
    error = np.abs(depth_m[known] - truth_m[known])
    return float(np.mean(error <= 0.02 * truth_m[known]))


def _center(pipeline: StereoPipeline) -> tuple[float, float]:
    P = pipeline.working.left.P
    return float(P[0, 2]), float(P[1, 2])


@pytest.mark.parametrize('shift_px, roll_deg', [(0.7, 0.3), (-1.3, -0.5), (0.15, 0.0)])
def test_known_shift_and_roll_recovered(shift_px, roll_deg):
    pair = Renderer(moved_right_camera(NOMINAL, shift_px, roll_deg)).render(with_truth=False)
    report = check_alignment(pair.left_bgr, pair.right_bgr)
    assert report.matches >= 200
    assert report.shift_px == pytest.approx(shift_px, abs=0.1)
    assert report.roll_deg == pytest.approx(-roll_deg, abs=0.02)
    half_width = (NOMINAL.image_size[0] - 1) / 2.0
    worst = abs(shift_px) + math.tan(math.radians(abs(roll_deg))) * half_width
    assert report.worst_px == pytest.approx(worst, abs=0.1)
    expected = 'OK' if worst < calibration_health.WARN_OFFSET_PX else \
        'WARN' if worst < calibration_health.ERROR_OFFSET_PX else 'ERROR'
    assert report.level == expected


def test_sound_calibration_is_ok_and_blank_pair_cannot_be_judged():
    pair = Renderer(NOMINAL).render(with_truth=False)
    report = check_alignment(pair.left_bgr, pair.right_bgr)
    assert report.level == 'OK', report.message
    assert abs(report.shift_px) < 0.05 and abs(report.roll_deg) < 0.01
    assert report.spread_px < 0.1
    blank = np.full((650, 800), 128, np.uint8)
    report = check_alignment(blank, blank)
    assert report.level == 'WARN' and 'too little texture' in report.message


def test_depth_after_correction_is_as_accurate_as_with_the_true_calibration():
    actual = moved_right_camera(NOMINAL, -1.3, -0.5)
    pair = Renderer(actual).render()
    truth = StereoPipeline(actual, 1.0).process(pair.left_bgr, pair.right_bgr)
    pipeline = StereoPipeline(NOMINAL, 1.0)
    stale = pipeline.process(pair.left_bgr, pair.right_bgr)
    report = check_alignment(stale.left_rect, stale.right_rect, _center(pipeline))
    assert report.level == 'ERROR' and 'Recalibrate' in report.message
    pipeline.alignment = report.correction()
    corrected = pipeline.process(pair.left_bgr, pair.right_bgr)
    true_share = within_2_percent(truth.depth_m, pair.depth_rect_m)
    stale_share = within_2_percent(stale.depth_m, pair.depth_rect_m)
    corrected_share = within_2_percent(corrected.depth_m, pair.depth_rect_m)
    assert true_share > 0.75
    assert stale_share < true_share - 0.3  # the stale calibration really hurts
    assert corrected_share >= true_share - 0.01
    assert corrected.valid_share() >= truth.valid_share() - 0.01
    # Measured again on the corrected pair: the rows line up, the calibration is still off.
    again = check_alignment(corrected.left_rect, corrected.right_rect, _center(pipeline),
                            pipeline.alignment)
    assert again.worst_px < 0.1
    assert again.level == 'WARN' and 'recalibrate' in again.message


def test_alignment_correction_undoes_a_warp_and_composes():
    rng = np.random.default_rng(3)
    image = cv2.GaussianBlur(rng.integers(0, 255, (200, 300), dtype=np.uint8), (0, 0), 2.0)
    fix = AlignmentCorrection(1.5, 0.4, (150.0, 100.0))
    # Forward warp: the content of `image` moved down by 1.5 px and turned by 0.4 deg.
    moved = cv2.warpAffine(image, fix.matrix(), (300, 200), flags=cv2.INTER_LINEAR)
    undone = fix.apply(moved)
    inner = (slice(20, -20), slice(20, -20))
    undone_error = np.abs(undone[inner].astype(float) - image[inner]).mean()
    moved_error = np.abs(moved[inner].astype(float) - image[inner]).mean()
    assert undone_error < 0.25 * moved_error, (undone_error, moved_error)
    both = AlignmentCorrection(1.0, 0.3, (150.0, 100.0)).then(AlignmentCorrection(0.5, 0.1))
    assert (both.shift_px, both.roll_deg) == pytest.approx((1.5, 0.4))
    assert AlignmentCorrection().apply(image) is image


def test_monitor_corrects_only_when_asked_and_rechecks():
    pair = Renderer(moved_right_camera(NOMINAL, 0.8, 0.0)).render(with_truth=False)
    pipeline = StereoPipeline(NOMINAL, 1.0)
    watching = CalibrationMonitor(period_s=10.0, correct=False)
    assert watching.observe(pipeline, pipeline.process(pair.left_bgr, pair.right_bgr), 0.0) \
        is None
    assert pipeline.alignment is None and watching.last.level == 'WARN'
    assert not watching.due(5.0) and watching.due(10.0)

    fixing = CalibrationMonitor(period_s=10.0, correct=True)
    line = fixing.observe(pipeline, pipeline.process(pair.left_bgr, pair.right_bgr), 0.0)
    assert line and line.startswith('calibration correction applied')
    assert pipeline.alignment.shift_px == pytest.approx(0.8, abs=0.1)
    assert fixing.due(0.1)  # the corrected pair is checked on the next frame
    assert fixing.observe(pipeline, pipeline.process(pair.left_bgr, pair.right_bgr), 0.1) \
        is None
    assert fixing.last.worst_px < 0.1 and not fixing.due(5.0)
    fixing.correct = False
    assert 'removed' in fixing.observe(pipeline, pipeline.process(pair.left_bgr,
                                                                  pair.right_bgr), 20.0)
    assert pipeline.alignment is None
    assert CalibrationMonitor(period_s=0.0).due(0.0) is False


def test_check_calibration_command(tmp_path, capsys):
    pair = Renderer(moved_right_camera(NOMINAL, -1.3, -0.5)).render(with_truth=False)
    cv2.imwrite(str(tmp_path / 'left.png'), pair.left_bgr)
    cv2.imwrite(str(tmp_path / 'right.png'), pair.right_bgr)
    save_camera_info_yaml(tmp_path / 'left.yaml', NOMINAL.left, 'left')
    save_camera_info_yaml(tmp_path / 'right.yaml', NOMINAL.right, 'right')
    args = ['check-calibration', str(tmp_path / 'left.png'), str(tmp_path / 'right.png'),
            '--calibration', str(tmp_path / 'left.yaml'), str(tmp_path / 'right.yaml'),
            '--scale', '1']
    assert cli.main(args) == 4
    out = capsys.readouterr().out
    assert 'ERROR: rows of the rectified pair are up to' in out
    shift = float(out.split('vertical shift px: ')[1].split()[0])
    roll = float(out.split('roll deg: ')[1].split()[0])
    assert shift == pytest.approx(-1.3, abs=0.1) and roll == pytest.approx(0.5, abs=0.02)
    assert cli.main(args[:3] + ['--calibration', str(tmp_path / 'nothing.yaml')]) == 1
    assert 'error' in capsys.readouterr().err


def test_depth_node_reports_and_corrects_on_diagnostics(ros_session):
    pair = Renderer(moved_right_camera(NOMINAL, -1.3, -0.5)).render(with_truth=False)
    node = ros_session.depth('/health', scale=1.0, calibration_check_period_s=0.1,
                             calibration_correction=True, diagnostics_period_s=0.2)
    io = ros_session.node('tester', '/health')
    statuses = []
    io.create_subscription(DiagnosticArray, '/diagnostics', lambda a: statuses.extend(
        s for s in a.status
        if s.name == STATUS_NAME and s.hardware_id == '/health/depth_node'), 10)
    publishers = {topic: io.create_publisher(msg_type, topic, 10) for msg_type, topic in (
        (Image, 'left/image_raw'), (Image, 'right/image_raw'),
        (CameraInfo, 'left/camera_info'), (CameraInfo, 'right/camera_info'))}
    ros_session.spin_in_background()
    wait_for(lambda: all(p.get_subscription_count() for p in publishers.values()), 10.0,
             'discovery')
    stamp_ns = [1_700_000_000_000_000_000]

    def publish_and_see(condition):
        stamp_ns[0] += 100_000_000
        header = Header(stamp=conversions.ns_to_stamp(stamp_ns[0]), frame_id='left')
        for topic, msg in (
                ('left/camera_info', conversions.camera_info_msg(NOMINAL.left, header)),
                ('right/camera_info', conversions.camera_info_msg(NOMINAL.right, header)),
                ('left/image_raw', conversions.image_to_msg(pair.left_bgr, 'bgr8', header)),
                ('right/image_raw',
                 conversions.image_to_msg(pair.right_bgr, 'bgr8', header))):
            publishers[topic].publish(msg)
        return condition()

    def corrected():
        # Once corrected, the next frame is checked again: the rows line up.
        return [s for s in list(statuses)
                if {kv.key: kv.value for kv in s.values}.get('correction shift px')
                and float({kv.key: kv.value for kv in s.values}['worst row offset px']) < 0.2]
    found = wait_for(lambda: publish_and_see(corrected), 30.0,
                     'a calibration status measured after the correction', poll_s=0.3)
    values = {kv.key: kv.value for kv in found[-1].values}
    assert float(values['correction shift px']) == pytest.approx(-1.3, abs=0.1)
    assert float(values['correction roll deg']) == pytest.approx(0.5, abs=0.02)
    assert found[-1].level == b'\x01' and 'recalibrate' in found[-1].message
    assert node.count_subscribers('/diagnostics') >= 1
