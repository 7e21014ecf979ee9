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
The RAiV device path against the simulated SDK (test/sim_sdk): source, camera node, sender.

The simulated SDK has the maker's call names and shapes, its own factory calibration (T in mm,
cv2.stereoRectify) and serves the sample scene; expected values come from its raw matrices and
closed-form scaling, not from the code under test.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import re
import subprocess
import sys

import cv2
from helpers import interrupt, PACKAGE_ROOT, wait_for
import numpy as np
import pytest
from raiv_stereo.core.calibration import CalibrationError, rectified_pinhole
from raiv_stereo.core.matching.sgbm import MatcherSettings
from raiv_stereo.core.pair_order import PairOrderCheck
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.eval.metrics import DepthAccuracy
from raiv_stereo.eval.scene import Renderer, sample_scene, truth_depth_m
from raiv_stereo.ros.camera_node import CameraSetupError
from raiv_stereo.ros.conversions import msg_to_image
from raiv_stereo.ros.depth_node import DepthNode
from raiv_stereo.sources import SourceError
from raiv_stereo.sources.exposure import auto_exposure_step, ExposureError, ExposureRanges
from raiv_stereo.sources.raiv import calibration_from_device, RaivSource, rgb_raster_to_image
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.parameter import Parameter
from sensor_msgs.msg import CameraInfo, Image
from stereo_msgs.msg import DisparityImage

SIM_DIR = Path(__file__).resolve().parent / 'sim_sdk'


def _load_simulated_sdk():
    """Load test/sim_sdk's modules without leaving them importable (other tests see no SDK)."""
    modules = []
    for name in ('qCU_CCtrl', 'qCU_Data'):  # qCU_Data imports qCU_CCtrl
        spec = importlib.util.spec_from_file_location(name, SIM_DIR / f'{name}.py')
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        modules.append(module)
    for name in ('qCU_CCtrl', 'qCU_Data'):
        del sys.modules[name]
    return modules


qCU_CCtrl, qCU_Data = _load_simulated_sdk()

F_PX = 2800.0 / 3.0  # 2.8 mm lens, 3 um pixels
BASELINE_MM = float(np.sqrt(65.0 ** 2 + 1.5 ** 2 + 0.8 ** 2))  # |T| of the simulated rig


@pytest.fixture
def sim(monkeypatch):
    """Return the simulated SDK reset: no fault, maker's pair order, exposure 2000, gain 0."""
    monkeypatch.setitem(sys.modules, 'qCU_Data', qCU_Data)
    monkeypatch.setitem(sys.modules, 'qCU_CCtrl', qCU_CCtrl)
    monkeypatch.setattr(qCU_Data, 'FAULT', '')
    monkeypatch.setattr(qCU_Data, 'SWAP', False)
    monkeypatch.setattr(qCU_CCtrl, 'fail_code', 0)
    qCU_Data.served.update(frames=0, ai=0, calls=0)
    qCU_CCtrl.state.update(exposure=2000, gain=0)
    qCU_CCtrl.writes.clear()
    return qCU_Data


def rendered_bgr() -> tuple[np.ndarray, np.ndarray]:
    """Return the sim's scene as the renderer draws it (left, right BGR), independently."""
    pair = Renderer(qCU_Data.rig()).render(0.0, with_truth=False)
    return pair.left_bgr, pair.right_bgr


def read_frame(source):
    """Return the next frame of a source that may say None (no new frame yet)."""
    return wait_for(source.read, 5.0, 'a frame from the simulated device')


def sim_env(**settings: str) -> dict[str, str]:
    """Return an environment with the simulated SDK importable and these RAIV_SIM_ settings."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SIM_DIR), str(PACKAGE_ROOT), os.environ.get('PYTHONPATH', '')]))
    env.update({f'RAIV_SIM_{key.upper()}': value for key, value in settings.items()})
    return env


# --- calibration ---------------------------------------------------------------------------

def test_device_calibration_is_the_devices_rectification_with_the_baseline_in_metres(sim):
    calibration = RaivSource().calibration
    assert calibration.image_size == (1600, 1300)
    np.testing.assert_array_equal(calibration.left.K, sim.K1)
    np.testing.assert_array_equal(calibration.right.D, sim.D2.ravel())
    np.testing.assert_array_equal(calibration.left.R, sim.R1)
    np.testing.assert_array_equal(calibration.right.R, sim.R2)
    np.testing.assert_array_equal(calibration.left.P, sim.P1)
    np.testing.assert_array_equal(calibration.right.P[:, :3], sim.P2[:, :3])
    assert calibration.right.P[0, 3] == pytest.approx(sim.P2[0, 3] / 1000.0, rel=1e-12)
    assert calibration.baseline_mm == pytest.approx(BASELINE_MM, rel=1e-9)  # 65.022 mm
    assert 'T in mm' in calibration.description


def test_t_in_metres_is_recognised_and_disagreeing_calls_are_refused(sim):
    calib = sim.qCUData.load_calibration()
    rect = sim.qCUData.load_rectification()
    calib_m = calib[:5] + [calib[5] / 1000.0]
    rect_m = list(rect)
    rect_m[3] = rect[3].copy()
    rect_m[3][:, 3] /= 1000.0
    in_m = calibration_from_device(calib_m, rect_m)
    assert in_m.baseline_mm == pytest.approx(BASELINE_MM) and 'T in m,' in in_m.description
    with pytest.raises(CalibrationError, match='P2 gives a baseline of .* the two calls disagree'):
        calibration_from_device(calib, rect_m)
    with pytest.raises(CalibrationError, match=r'load_rectification\(\).*expected \[R1, R2'):
        calibration_from_device(calib, rect[:4])
    with pytest.raises(CalibrationError, match=r'load_calibration\(\): K1 has 4 values'):
        calibration_from_device([np.eye(2)] + calib[1:], rect)


@pytest.mark.parametrize('fault, message', [
    ('calibration_none', r'qCUData.load_calibration\(\) returned NoneType None, expected \[K1'),
    ('calibration_exception', r'qCUData.load_calibration\(\) failed: OSError: simulated'),
    ('rectification_missing', r'qCUData.load_rectification\(\) failed: AttributeError'),
    ('zero_baseline', r'load_calibration\(\): T is zero'),
])
def test_a_broken_device_calibration_names_the_call(sim, monkeypatch, fault, message):
    monkeypatch.setattr(sim, 'FAULT', fault)
    source = RaivSource()
    assert source.calibration is None
    assert source.calibration_problem.startswith('the RAiV factory calibration is not usable')
    assert re.search(message, source.calibration_problem)


# --- pairs --------------------------------------------------------------------------------------

def test_frame_input_is_left_and_right_in_bgr_in_the_makers_order(sim, monkeypatch):
    left_bgr, right_bgr = rendered_bgr()
    frame = read_frame(RaivSource())
    np.testing.assert_array_equal(frame.left, left_bgr)
    np.testing.assert_array_equal(frame.right, right_bgr)
    assert frame.capture_time_ns is not None and frame.sequence == 0
    # A device whose pair comes the other way round, read with swap_left_right.
    monkeypatch.setattr(sim, 'SWAP', True)
    swapped = read_frame(RaivSource(swap_left_right=True))
    np.testing.assert_array_equal(swapped.left, left_bgr)


def test_ai_input_has_the_memory_configuration_size(sim):
    left_bgr, right_bgr = rendered_bgr()
    frame = read_frame(RaivSource(raiv_input='ai'))
    assert frame.left.shape == (650, 800, 3)
    np.testing.assert_array_equal(
        frame.right, cv2.resize(right_bgr, (800, 650), interpolation=cv2.INTER_AREA))


@pytest.mark.parametrize('fault, raiv_input, message', [
    ('frame_error', 'frame', r'getDataFrame\(\) reports an error: simulated: sensor readout'),
    ('frame_exception', 'frame', r'getDataFrame\(\) failed: RuntimeError: simulated: DMA'),
    ('frame_size', 'frame', r'getDataFrame\(\) \[1\] \(left\) has 6235200 bytes .* 1600x1300x3 '
                            'needs 6240000; frame dropped'),
    ('ai_error', 'ai', r'getDataAi\(\) reports an error: simulated: NPU busy'),
    ('ai_size', 'ai', r"getDataAi\(\) 'input_frame_left' has 1559997 bytes .* 800x650x3 needs "
                      '1560000'),
])
def test_sdk_faults_are_clear_errors_and_the_next_frames_flow(
        sim, monkeypatch, fault, raiv_input, message):
    monkeypatch.setattr(sim, 'FAULT', fault)
    source = RaivSource(raiv_input=raiv_input)
    for _ in range(sim.FAULT_COUNT):
        with pytest.raises(SourceError, match=message):
            read_frame(source)
    assert read_frame(source).left.shape[2] == 3


@pytest.mark.parametrize('fault, raiv_input, message', [
    ('init_false', 'frame', r'init\(\) returned False: check that the camera pipeline'),
    ('init_exception', 'frame', r'init\(\) failed: OSError: simulated: shared memory'),
    ('no_memory_configuration', 'ai', r'getMemoryConfiguration\(\) did not give .*\(KeyError: '
                                      r"'frame_height'\); use raiv.input:=frame"),
])
def test_open_faults_are_clear_errors(sim, monkeypatch, fault, raiv_input, message):
    monkeypatch.setattr(sim, 'FAULT', fault)
    with pytest.raises(SourceError, match=message):
        RaivSource(raiv_input=raiv_input)


def test_rasters_convert_from_rgb_whatever_their_container():
    rgb = np.zeros((2, 3, 3), np.uint8)
    rgb[..., 0] = 200  # red
    bgr = rgb_raster_to_image(rgb.tobytes(), 3, 2, 3, 'x')
    assert bgr.shape == (2, 3, 3) and bgr[0, 0].tolist() == [0, 0, 200]
    assert rgb_raster_to_image(rgb.ravel(), 3, 2, 3, 'x')[1, 2].tolist() == [0, 0, 200]
    rgba = np.dstack([rgb, np.full((2, 3), 255, np.uint8)])
    assert rgb_raster_to_image(rgba, 3, 2, 4, 'x')[0, 1].tolist() == [0, 0, 200]
    assert rgb_raster_to_image(bytes(range(6)), 3, 2, 1, 'x').tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(SourceError, match='pixel type uint16'):
        rgb_raster_to_image(rgb.astype(np.uint16), 3, 2, 3, 'x')
    with pytest.raises(SourceError, match='x has pixel type object, expected 8-bit RGB'):
        rgb_raster_to_image(object(), 3, 2, 3, 'x')


# --- left/right order (core) ------------------------------------------------------------------

@pytest.mark.parametrize('resolution', ['full', 'half'])
def test_pair_order_check_tells_swapped_from_right_and_says_when_it_cannot(sim, resolution):
    left, right = rendered_bgr()
    pipeline = StereoPipeline(sim.rig(), 0.5, MatcherSettings(sgbm_resolution=resolution))
    verdicts = []
    for a, b in ((left, right), (right, left), (np.full_like(left, 128),) * 2):
        check = PairOrderCheck()
        while not check.done:
            check.add(*pipeline.match_both_ways(a, b))
        verdicts.append((check.verdict, check.shares))
    assert [v for v, _ in verdicts] == ['as given', 'swapped', 'inconclusive']
    given, exchanged = verdicts[0][1]
    assert given > 0.8 and exchanged < 0.2  # measured 85 % / 16 %
    assert verdicts[1][1] == pytest.approx((exchanged, given))


# --- exposure (core) ----------------------------------------------------------------------------

def test_auto_exposure_step_brightens_exposure_first_and_darkens_gain_first():
    ranges = ExposureRanges(100, 10000, 0, 24)
    assert auto_exposure_step(64.0, 1000, 6, ranges) == (1500, 6)  # x (1 + 0.5 (128/64 - 1))
    assert auto_exposure_step(64.0, 10000, 6, ranges) == (10000, 9)  # exposure at its maximum
    assert auto_exposure_step(130.0, 1000, 6, ranges) == (1000, 6)  # within the tolerance
    assert auto_exposure_step(256.0, 1000, 8, ranges) == (1000, 6)  # x 0.75: gain first
    assert auto_exposure_step(256.0, 1000, 0, ranges) == (750, 0)  # no gain left to take
    assert auto_exposure_step(1.0, 9000, 24, ranges) == (10000, 24)  # clipped to the range
    assert auto_exposure_step(1.0, 10000, 24, ranges) == (10000, 24)  # nothing left to give


def test_exposure_control_reads_writes_and_reports_codes(sim, monkeypatch):
    control = RaivSource().exposure_control
    assert control.ranges() == ExposureRanges(100, 10000, 0, 24)
    assert control.read() == (2000, 0)
    control.write(3000, 6)
    assert qCU_CCtrl.state == {'exposure': 3000, 'gain': 6} and control.read() == (3000, 6)
    with pytest.raises(ExposureError, match=r'set_expo_gain\(50, 6\) returned code -22'):
        control.write(50, 6)
    monkeypatch.setattr(qCU_CCtrl, 'fail_code', -5)
    with pytest.raises(ExposureError, match='returned code -5 .the device refused it'):
        control.write(3000, 6)


# --- camera node ---------------------------------------------------------------------------------

def test_camera_node_publishes_the_device_pair_and_its_calibration(sim, ros_session):
    left_bgr, _ = rendered_bgr()
    ros_session.camera('/rv_a', source='raiv', scale=0.5)
    got = ros_session.collector('/rv_a')
    assert ros_session.spin_until(lambda: got['left'] and got['right_info'], timeout_s=20.0)
    left_info, right_info = got['left_info'][0], got['right_info'][0]
    assert (left_info.width, left_info.height) == (800, 650)
    # Scaled by 0.5 about pixel centres: f' = f / 2, c' = (c + 0.5) / 2 - 0.5.
    k = np.reshape(left_info.k, (3, 3))
    assert k[0, 0] == pytest.approx(F_PX / 2) and k[0, 2] == pytest.approx(399.5)
    p = np.reshape(right_info.p, (3, 4))
    assert p[0, 0] == pytest.approx(sim.P2[0, 0] / 2)
    assert p[0, 3] == pytest.approx(-sim.P2[0, 0] / 2 * BASELINE_MM / 1000.0, rel=1e-9)
    np.testing.assert_allclose(np.reshape(right_info.r, (3, 3)), sim.R2)
    np.testing.assert_allclose(right_info.d, sim.D2.ravel())
    image = msg_to_image(got['left'][0])
    assert got['left'][0].encoding == 'bgr8'
    np.testing.assert_array_equal(
        image, cv2.resize(left_bgr, (800, 650), interpolation=cv2.INTER_AREA))


def test_exposure_and_gain_parameters_reach_the_device_or_say_why_not(sim, monkeypatch,
                                                                      ros_session):
    camera = ros_session.camera('/rv_b', source='raiv', scale=0.25, gain=3)
    assert qCU_CCtrl.writes == [(2000, 3)]  # the start value, written at once
    assert camera.get_parameter('exposure').value == 2000  # the device's own
    descriptor = camera.describe_parameter('exposure')
    assert (descriptor.integer_range[0].from_value,
            descriptor.integer_range[0].to_value) == (100, 10000)
    result = camera.set_parameters([Parameter('exposure', value=4000)])[0]
    assert result.successful and qCU_CCtrl.state == {'exposure': 4000, 'gain': 3}
    result = camera.set_parameters([Parameter('exposure', value=20000)])[0]
    assert not result.successful and '10000' in result.reason
    monkeypatch.setattr(qCU_CCtrl, 'fail_code', -5)
    result = camera.set_parameters([Parameter('gain', value=12)])[0]
    assert not result.successful and 'returned code -5' in result.reason
    assert camera.get_parameter('gain').value == 3 and qCU_CCtrl.state['gain'] == 3
    monkeypatch.setattr(qCU_CCtrl, 'fail_code', 0)
    assert camera.set_parameters([Parameter('auto_exposure', value=True)])[0].successful
    result = camera.set_parameters([Parameter('exposure', value=3000)])[0]
    assert not result.successful and 'set auto_exposure false first' in result.reason

    sample = ros_session.camera('/rv_c', source='sample', scale=0.1)
    result = sample.set_parameters([Parameter('exposure', value=3000)])[0]
    assert not result.successful
    assert result.reason == "source 'sample' has no exposure/gain control (only the raiv " \
                            'source has one)'
    with pytest.raises(CameraSetupError, match='exposure, gain and auto_exposure: source '
                                               "'sample' has no exposure/gain control"):
        ros_session.camera('/rv_d', source='sample', scale=0.1, auto_exposure=True)


def test_auto_exposure_brings_a_dark_image_to_the_target_level(sim, ros_session):
    qCU_CCtrl.state['exposure'] = 700  # the scene at 0.35 x: a mean level near 40
    camera = ros_session.camera('/rv_e', source='raiv', scale=0.25, auto_exposure=True)
    got = ros_session.collector('/rv_e')
    assert ros_session.spin_until(lambda: got['left'], timeout_s=20.0)
    first = float(msg_to_image(got['left'][0]).mean())
    assert ros_session.spin_until(lambda: len(qCU_CCtrl.writes) >= 4, timeout_s=20.0)
    got['left'].clear()
    assert ros_session.spin_until(lambda: got['left'], timeout_s=5.0)
    last = float(msg_to_image(got['left'][-1]).mean())
    exposure = camera.get_parameter('exposure').value
    assert first < 50.0
    assert exposure == qCU_CCtrl.state['exposure'] > 1500  # the parameter follows the device
    assert abs(last - 128.0) < abs(first - 128.0) / 2, (first, last, qCU_CCtrl.writes)


def _depth_session(session, namespace: str) -> tuple[DepthNode, dict[str, list]]:
    """Start a depth node in `namespace` and subscribe to its depth, disparity and camera_info."""
    depth_node = session.add(DepthNode(context=session.context, namespace=namespace,
                                       parameter_overrides=[Parameter('scale', value=1.0)]))
    node = session.add(rclpy.create_node('rv_check', namespace=namespace,
                                         context=session.context))
    got: dict[str, list] = {'depth': [], 'disparity': [], 'info': []}
    for key, msg_type, topic in (('depth', Image, 'depth/image_rect'),
                                 ('disparity', DisparityImage, 'disparity'),
                                 ('info', CameraInfo, 'depth/camera_info')):
        node.create_subscription(msg_type, topic, got[key].append, 10)
    return depth_node, got


@pytest.mark.parametrize('swap', [False, True])
def test_depth_node_tells_a_swapped_pair_from_a_right_one(sim, monkeypatch, swap, ros_session):
    monkeypatch.setattr(sim, 'SWAP', swap)
    ros_session.camera(f'/rv_s{int(swap)}', source='raiv', scale=0.5)
    depth_node, _ = _depth_session(ros_session, f'/rv_s{int(swap)}')
    assert ros_session.spin_until(lambda: depth_node.stats().pair_order_done, timeout_s=40.0)
    assert depth_node.stats().pair_order == ('swapped' if swap else 'as given')


def accuracy_of_third_frame(session, got: dict[str, list]) -> DepthAccuracy:
    """Return the accuracy of the third depth image against the sample scene at time 0."""
    def partners():
        if len(got['depth']) < 3:
            return None
        msg = got['depth'][2]
        found = [next((m for m in got[key] if m.header.stamp == msg.header.stamp), None)
                 for key in ('disparity', 'info')]
        return None if None in found else (msg, *found)

    assert session.spin_until(lambda: partners() is not None, timeout_s=60.0)
    msg, disparity, info = partners()
    working = rectified_pinhole(info.k[0], disparity.t, msg.width, msg.height, info.k[2],
                                info.k[5])
    truth = truth_depth_m(working, sample_scene(), 0.0)
    window = disparity.valid_window
    return DepthAccuracy.measure(msg_to_image(msg), truth, 0.3, 3.0, (
        window.x_offset, window.y_offset, window.x_offset + window.width,
        window.y_offset + window.height))


def test_ros2_run_with_the_simulated_sdk_gives_depth_as_good_as_the_sample_source(ros_session):
    """`camera_node -p source:=raiv` in its own process, the simulated SDK on PYTHONPATH."""
    ros_session.camera('/rv_sample', source='sample', scale=0.5, **{'sample.frames': 1})
    _, got = _depth_session(ros_session, '/rv_sample')
    sample = accuracy_of_third_frame(ros_session, got)
    ros_session.destroy_nodes()  # the in-process pair stops before the device's is measured
    proc = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args', '-r',
         '__ns:=/rv_run', '-p', 'source:=raiv', '-p', 'scale:=0.5'],
        cwd=PACKAGE_ROOT, env=sim_env(rate_hz='5'), stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        _, got = _depth_session(ros_session, '/rv_run')
        device = accuracy_of_third_frame(ros_session, got)
    finally:
        output = interrupt(proc)
    print(f'\nsample source: {sample}\nraiv source (simulated SDK): {device}')
    assert proc.returncode == 0 and 'Traceback' not in output, output
    assert "calibration: the device's own calibration: RAiV factory calibration" in output
    assert sample.within_2pct > 0.9 and sample.completeness > 0.95
    assert device.completeness >= sample.completeness - 0.03
    assert device.within_2pct >= sample.within_2pct - 0.05


def run_camera_node(namespace: str, env: dict[str, str], *params: str) -> subprocess.Popen:
    """Start `camera_node --ros-args -p source:=raiv ...` as `ros2 run` would."""
    args = [arg for param in ('source:=raiv', 'scale:=0.25', *params) for arg in ('-p', param)]
    return subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args', '-r',
         f'__ns:={namespace}', *args], cwd=PACKAGE_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)


@pytest.mark.parametrize('fault, raiv_input, message', [
    ('frame_error', 'frame', 'getDataFrame() reports an error: simulated: sensor readout timeout'),
    ('frame_exception', 'frame', 'getDataFrame() failed: RuntimeError: simulated: DMA buffer'),
    ('frame_size', 'frame', 'getDataFrame() [1] (left) has 6235200 bytes'),
    ('ai_size', 'ai', "getDataAi() 'input_frame_left' has 1559997 bytes"),
])
def test_camera_node_logs_each_sdk_fault_and_keeps_publishing(fault, raiv_input, message,
                                                              ros_session):
    proc = run_camera_node('/rv_f', sim_env(fault=fault, fault_count='4'),
                           f'raiv.input:={raiv_input}')
    try:
        got = ros_session.collector('/rv_f')
        assert ros_session.spin_until(lambda: len(got['left']) >= 2, timeout_s=30.0)
    finally:
        output = interrupt(proc)
    assert proc.returncode == 0 and 'Traceback' not in output, output
    errors = [line for line in output.splitlines() if '[ERROR]' in line]
    assert len(errors) == 1 and message in errors[0], output  # rate-limited: once for 4 faults
    assert msg_to_image(got['left'][-1]).shape == (325, 400, 3)


@pytest.mark.parametrize('fault, message', [
    ('init_false', 'qCUData().init() returned False'),
    ('calibration_none', 'the RAiV factory calibration is not usable: '
                         'qCUData.load_calibration() returned NoneType None'),
    ('rectification_missing', 'qCUData.load_rectification() failed: AttributeError'),
])
def test_camera_node_will_not_start_without_the_device_or_its_calibration(fault, message):
    proc = run_camera_node('/rv_x', sim_env(fault=fault))
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 1, output
    assert message in output and 'Traceback' not in output, output
    assert 'nominal' not in output  # never silently the nominal model


def test_a_file_calibration_stands_in_for_a_broken_device_calibration(ros_session):
    config = PACKAGE_ROOT / 'config'
    proc = run_camera_node('/rv_y', sim_env(fault='calibration_none'),
                           f'left_calibration_file:={config / "example_left.yaml"}',
                           f'right_calibration_file:={config / "example_right.yaml"}')
    try:
        got = ros_session.collector('/rv_y')
        assert ros_session.spin_until(lambda: got['left_info'], timeout_s=30.0)
    finally:
        output = interrupt(proc)
    assert proc.returncode == 0 and 'calibration: calibration file' in output, output


def test_exposure_set_over_ros_reaches_the_device_in_its_own_process(tmp_path, ros_session):
    state = tmp_path / 'writes.txt'
    proc = run_camera_node('/rv_z', sim_env(state_file=str(state)), 'exposure:=2500')
    try:
        got = ros_session.collector('/rv_z')
        assert ros_session.spin_until(lambda: got['left'], timeout_s=30.0)
        client = ros_session.add(rclpy.create_node('rv_param', context=ros_session.context))
        service = client.create_client(SetParameters, '/rv_z/camera_node/set_parameters')
        assert service.wait_for_service(timeout_sec=10.0)
        future = service.call_async(SetParameters.Request(parameters=[
            Parameter('gain', value=12).to_parameter_msg()]))
        assert ros_session.spin_until(future.done, timeout_s=10.0)
        assert future.result().results[0].successful
    finally:
        output = interrupt(proc)
    assert proc.returncode == 0, output
    assert state.read_text().split('\n')[:2] == ['2500 0', '2500 12']


def test_sender_streams_the_device_pair_and_factory_calibration(sim, free_port, ros_session):
    port = free_port
    left_bgr, _ = rendered_bgr()
    ros_session.camera('/rv_net', source='stream', **{'stream.mode': 'listen',
                       'stream.host': '127.0.0.1', 'stream.port': port})
    got = ros_session.collector('/rv_net')
    sender = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.device.sender', '--host', '127.0.0.1', '--port',
         str(port), '--scale', '0.5', '--codec', 'png', '--count', '4', '-q'],
        env=sim_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        arrived = ros_session.spin_until(lambda: got['left'] and got['right_info'], 30.0)
    finally:
        output, _ = sender.communicate(timeout=30)
    assert arrived and sender.returncode == 0, output
    info = got['right_info'][-1]
    assert (info.width, info.height) == (800, 650)
    p = np.reshape(info.p, (3, 4))
    assert p[0, 3] == pytest.approx(-sim.P2[0, 0] / 2 * BASELINE_MM / 1000.0, rel=1e-9)
    np.testing.assert_allclose(np.reshape(info.r, (3, 3)), sim.R2)
    np.testing.assert_array_equal(msg_to_image(got['left'][-1]), cv2.resize(
        left_bgr, (800, 650), interpolation=cv2.INTER_AREA))


def test_sender_without_a_device_calibration_names_the_call():
    proc = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.device.sender', '--host', '127.0.0.1', '--count',
         '1'], env=sim_env(fault='calibration_exception'), capture_output=True, text=True,
        timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ('raiv-stereo-sender: cannot read pairs: the RAiV factory '
                                   'calibration is not usable: qCUData.load_calibration() '
                                   'failed: OSError: simulated: /etc/qcu/calib.yaml '
                                   'unreadable; or give --calibration')
