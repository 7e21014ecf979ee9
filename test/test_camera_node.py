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

"""Camera node end to end: real rclpy nodes over real DDS (isolated by conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import subprocess
import sys
import time

import cv2
from helpers import CAMERA_TOPICS, interrupt, PACKAGE_ROOT, stamp_key, textured_pair
import numpy as np
import pytest
from raiv_stereo.core import calibration as calib, calibration_io
from raiv_stereo.params import camera as camera_params
from raiv_stereo.ros.camera_node import CameraSetupError
from raiv_stereo.ros.conversions import camera_info_msg, msg_to_image, stamp_to_ns
from raiv_stereo.sources import SourceError
from rcl_interfaces.srv import GetParameters, SetParameters
import rclpy
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.qos import qos_profile_sensor_data, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from sensor_msgs.srv import SetCameraInfo

CONFIG = PACKAGE_ROOT / 'config'


def write_pairs(folder: Path, sizes: list[tuple[int, int]]) -> list[tuple[np.ndarray, ...]]:
    """Write textured left_i.png/right_i.png pairs of the given sizes; return the images."""
    pairs = []
    for index, (width, height) in enumerate(sizes):
        left, right = textured_pair(height, width, seed=7 + index)
        cv2.imwrite(str(folder / f'left_{index}.png'), left)
        cv2.imwrite(str(folder / f'right_{index}.png'), right)
        pairs.append((left, right))
    return pairs


# --- the parameter table (pure) ------------------------------------------------------------------

DESIGN_PARAMETERS = (
    'source rate_hz loop encoding scale camera_name left_frame_id right_frame_id publish_tf '
    'publish_compressed jpeg_quality calibration_file '
    'left_calibration_file right_calibration_file baseline_mm focal_length_mm pixel_size_um '
    'exposure gain auto_exposure').split()
SOURCE_OPTIONS = (
    'sample.frames images.left images.right images.list video.left video.right '
    'video.side_by_side camera.device_left camera.device_right camera.side_by_side camera.width '
    'camera.height camera.fps raiv.input raiv.swap_left_right stream.mode stream.host '
    'stream.port stream.token stream.timeout_s stream.max_senders stream.compression '
    'stream.tls_cert stream.tls_key bag.path bag.topics').split()
"""Each source's options, declared under its kind (the flat stream_port etc. are gone)."""


def test_parameter_table_has_every_design_parameter_and_renders():
    assert [p.name for p in camera_params.PARAMETERS] == DESIGN_PARAMETERS + SOURCE_OPTIONS
    table = camera_params.parameter_table_markdown()
    assert table.count('\n') == len(DESIGN_PARAMETERS) + len(SOURCE_OPTIONS) + 2
    assert '| `rate_hz` | double | `10.0` | 0.1..1000 | yes |' in table
    assert 'empty = &lt;camera_name&gt;_left_optical_frame' in table
    assert "| `source` | string | `'sample'` | one of sample, images, video, camera, raiv, " \
        'stream, bag | no |' in table
    assert camera_params.camera_settings_problems({}) == []


@pytest.mark.parametrize('values, expected', [
    ({'rate_hz': 0.0}, 'rate_hz is 0; allowed 0.1..1000'),
    ({'encoding': 'rgb8'}, "encoding is 'rgb8'; choose one of mono8, bgr8"),
    ({'scale': 'half'}, "scale must be a double, got 'half'"),
    ({'left_calibration_file': 'l.yaml'}, 'give both left_calibration_file and right_'),
    ({'calibration_file': 'c.yaml', 'left_calibration_file': 'l.yaml',
      'right_calibration_file': 'r.yaml'}, 'give either calibration_file'),
    ({'source': 'images'}, "source 'images' needs images.left and images.right"),
    ({'source': 'video', 'video.left': 'a.mp4'}, "source 'video' needs video.left and"),
    ({'source': 'camera', 'camera.side_by_side': True}, 'camera.side_by_side needs camera.'),
    ({'left_frame_id': 'cam', 'right_frame_id': 'cam'}, 'the two cameras need different'),
    ({'source': 'stream', 'stream.mode': 'connect'}, "stream.mode 'connect' needs stream.host"),
    ({'source': 'stream', 'stream.prot': 1}, "unknown parameter 'stream.prot'; did you mean "
     "'stream.port'?"),
    ({'source': 'stream', 'stream.port': 70000}, 'stream.port is 70000; allowed 0..65535'),
    ({'source': 'bag', 'bag.topics': '/a,/b'}, 'bag.topics needs four topics'),
    ({'bogus': 1}, "unknown parameter 'bogus'"),
])
def test_camera_settings_problems_name_what_is_wrong(values, expected):
    problems = camera_params.camera_settings_problems(values)
    assert any(expected in p for p in problems), problems


def test_the_node_declares_exactly_the_table_with_each_source_namespaced(ros_session):
    camera = ros_session.camera('/cam_decl', source='sample', **{'sample.frames': 1})
    declared = {name for name in camera._parameters  # noqa: SLF001 (rclpy has no list)
                if name not in ('use_sim_time', 'start_type_description_service')
                and not name.startswith('qos_overrides.')}
    assert declared == set(DESIGN_PARAMETERS + SOURCE_OPTIONS)
    assert camera.get_parameters_by_prefix('stream')['port'].value == 12345
    assert not camera.has_parameter('stream_port')


# --- sample source -------------------------------------------------------------------------------

def test_sample_pairs_share_stamps_frame_ids_and_nominal_camera_info(ros_session):
    camera = ros_session.camera('/cam_a', source='sample', scale=0.25, rate_hz=20.0)
    got = ros_session.collector('/cam_a')
    best_effort: list = []  # REP 2003: a best-effort (sensor data) subscriber connects too
    ros_session.add(rclpy.create_node('be', namespace='/cam_a', context=ros_session.context)) \
        .create_subscription(Image, 'right/image_raw', best_effort.append,
                             qos_profile_sensor_data)
    scene_times = {}
    camera.add_frame_listener(
        lambda stamp, frame: scene_times.__setitem__(stamp_to_ns(stamp), frame.scene_time_s))
    assert ros_session.spin_until(lambda: all(len(v) >= 6 for v in got.values()) and
                                  len(best_effort) >= 3)
    left_stamps = [stamp_key(m) for m in got['left']]
    assert len(set(left_stamps)) == len(left_stamps)
    # Every pair: the four messages of one frame carry one identical stamp.
    for key in ('right', 'left_info', 'right_info'):
        assert set(left_stamps[:5]) <= {stamp_key(m) for m in got[key]}
    for image in got['left'] + got['right']:
        assert (image.width, image.height, image.encoding) == (400, 325, 'bgr8')
    assert {m.header.frame_id for m in got['left'] + got['left_info']} == \
        {'raiv_left_optical_frame'}
    assert {m.header.frame_id for m in got['right'] + got['right_info']} == \
        {'raiv_right_optical_frame'}
    left_info, right_info = got['left_info'][0], got['right_info'][0]
    assert (left_info.width, left_info.height) == (400, 325)
    # Closed form: f = 2.8 mm / 3 um at quarter size, principal point at the centre
    # ((400 - 1) / 2, (325 - 1) / 2), no distortion, right Tx = -f * 0.065 m.
    fx = 2800.0 / 3.0 * 0.25
    K = np.array([[fx, 0.0, 199.5], [0.0, fx, 162.0], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(np.reshape(left_info.k, (3, 3)), K)
    np.testing.assert_allclose(np.reshape(left_info.p, (3, 4)),
                               np.hstack([K, [[0], [0], [0]]]))
    np.testing.assert_allclose(np.reshape(right_info.p, (3, 4)),
                               np.hstack([K, [[-fx * 0.065], [0], [0]]]))
    assert not any(left_info.d) and not any(right_info.d)
    assert set(left_stamps) <= set(scene_times)
    pair = (got['left'][-1], next(m for m in got['right']
                                  if stamp_key(m) == stamp_key(got['left'][-1])))
    check_disparity_matches_scene(pair, scene_times[stamp_key(pair[0])],
                                  calib.raiv_nominal().scaled(0.25), fx * 0.065)


def test_pairs_are_stamped_with_the_sources_capture_time(ros_session):
    # The source's capture time (stream and raiv: the device's, in this host's clock), not the
    # moment of publishing: depth then lines up with TF and other sensors.
    camera = ros_session.camera('/cam_t', source='sample', scale=0.25, rate_hz=20.0)
    got = ros_session.collector('/cam_t')
    captured: list[int] = []
    camera.add_frame_listener(lambda stamp, frame: captured.append(frame.capture_time_ns))
    assert ros_session.spin_until(lambda: all(len(v) >= 3 for v in got.values()))
    stamps = {stamp_key(m) for messages in got.values() for m in messages}
    assert len(stamps) >= 3 and stamps <= set(captured)


def test_images_are_made_only_for_subscribed_topics(ros_session):
    camera = ros_session.camera('/cam_gate', source='sample', scale=0.25, rate_hz=20.0,
                                **{'sample.frames': 2})
    node = ros_session.node('gate_check', '/cam_gate')
    infos: list = []
    node.create_subscription(CameraInfo, 'left/camera_info', infos.append, 10)
    assert ros_session.spin_until(lambda: len(infos) >= 5)
    assert camera.stats().images_converted == (0, 0)  # nobody takes images: none made
    lefts: list = []
    node.create_subscription(Image, 'left/image_raw', lefts.append, 10)
    assert ros_session.spin_until(lambda: len(lefts) >= 3)
    converted = camera.stats().images_converted
    assert converted[1] == 0 and converted[0] >= 3
    assert (lefts[-1].width, lefts[-1].height) == (400, 325)
    stats = camera.stats()
    assert stats.published_pairs >= len(infos)  # camera_info for every pair regardless
    stages = stats.stage_ms
    assert stages['pairs'] == stats.published_pairs and stages['publish image'] > 0


def check_disparity_matches_scene(pair, scene_time_s, calibration, f_b: float):
    """
    Check the published pair shows d = f·B/Z of the sample scene (SGBM median, 0.5 px).

    `calibration` renders the truth; `f_b` (px·m) is the expected f·B, given independently.
    """
    from raiv_stereo.eval.scene import sample_scene, truth_depth_m

    left, right = (msg_to_image(m, 'mono8') for m in pair)
    sgbm = cv2.StereoSGBM_create(minDisparity=0, numDisparities=48, blockSize=5,
                                 P1=8 * 25, P2=32 * 25, uniquenessRatio=10,
                                 mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    disparity = sgbm.compute(left, right).astype(np.float32) / 16.0
    truth_m = truth_depth_m(calibration, sample_scene(), scene_time_s)
    for depth_m in (2.8, 0.5):  # back wall, near card (fronto-parallel planes)
        region = np.isclose(truth_m, depth_m, rtol=1e-3).astype(np.uint8)
        region = cv2.erode(region, np.ones((9, 9), np.uint8)).astype(bool)
        region[:, :48] = False  # no match possible left of the search window
        valid = region & (disparity > 0)
        assert valid.sum() > 200, f'too few pixels at {depth_m} m'
        measured = float(np.median(disparity[valid]))
        assert measured == pytest.approx(f_b / depth_m, abs=0.5), depth_m


def test_main_runs_publishes_and_stops_cleanly_on_ctrl_c(tmp_path, ros_session):
    # A parameter file with the /** wildcard (as robots share one file), then -p on top.
    params = tmp_path / 'params.yaml'
    params.write_text('/**:\n  ros__parameters:\n    source: sample\n    scale: 0.25\n'
                      '    camera_name: front\n')
    proc = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args', '-r', '__ns:=/cam_m',
         '--params-file', str(params), '-p', 'rate_hz:=20', '-p', 'encoding:=mono8'],
        cwd=PACKAGE_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        got = ros_session.collector('/cam_m')
        assert ros_session.spin_until(lambda: len(got['left']) >= 3, timeout_s=20.0)
        assert (got['left'][0].encoding, got['left'][0].width) == ('mono8', 400)
        assert got['left'][0].header.frame_id == 'front_left_optical_frame'
    finally:
        output = interrupt(proc)
    assert proc.returncode == 0, output
    assert 'Traceback' not in output
    assert 'calibration: RAiV nominal model' in output
    try:
        import tf2_ros  # noqa: F401
    except ImportError:  # the no-ROS path says once why there is no TF
        assert output.count('static TF not published: tf2_ros is not installed') == 1, output


# --- images source -------------------------------------------------------------------------------

def test_images_resized_to_published_size_then_end_of_source(tmp_path, ros_session):
    # 800x650 = nominal aspect: resized to 400x325; the 640x480 pair has another aspect: dropped.
    pairs = write_pairs(tmp_path, [(800, 650), (800, 650), (800, 650), (640, 480)])
    camera = ros_session.camera('/cam_b', source='images', loop=False,
                                **{'images.left': str(tmp_path / 'left_*'),
                                   'images.right': str(tmp_path / 'right_*')},
                                scale=0.25, rate_hz=50.0, encoding='mono8')
    got = ros_session.collector('/cam_b')
    assert ros_session.spin_until(
        lambda: camera.finished and all(len(got[key]) >= 3 for key in CAMERA_TOPICS))
    ros_session.spin_until(lambda: False, timeout_s=0.3)  # nothing more arrives
    assert camera.stats().published_pairs == 3
    assert [len(got[key]) for key in CAMERA_TOPICS] == [3, 3, 3, 3]
    for index, msg in enumerate(got['left']):
        expected = cv2.cvtColor(cv2.resize(pairs[index][0], (400, 325),
                                           interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY)
        np.testing.assert_array_equal(msg_to_image(msg), expected)
        assert msg.encoding == 'mono8'
    # Files carry no capture time: stamped now, one stamp for all four messages of a pair.
    for key in ('right', 'left_info', 'right_info'):
        assert [stamp_key(m) for m in got[key]] == [stamp_key(m) for m in got['left']]


def test_side_by_side_video_through_the_node(tmp_path, ros_session):
    path = tmp_path / 'pair.avi'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (640, 260))
    rng = np.random.default_rng(3)
    for _ in range(4):  # each half 320x260: the nominal aspect, resized to 400x325
        writer.write(cv2.resize(rng.integers(0, 256, (26, 64, 3), dtype=np.uint8), (640, 260),
                                interpolation=cv2.INTER_NEAREST))
    writer.release()
    camera = ros_session.camera('/cam_v', source='video', **{'video.side_by_side': str(path)},
                                loop=False, scale=0.25, rate_hz=50.0)
    got = ros_session.collector('/cam_v')
    assert ros_session.spin_until(lambda: camera.finished and len(got['right']) >= 4)
    assert camera.stats().published_pairs == 4
    assert {(m.width, m.height, m.encoding) for m in got['left'] + got['right']} == \
        {(400, 325, 'bgr8')}
    assert [stamp_key(m) for m in got['left']] == [stamp_key(m) for m in got['right']]


def test_camera_device_given_as_a_number_and_absent_is_a_clear_error(ros_session):
    # -p camera.device_left:=97 arrives as an integer; the node takes it as the device '97'.
    with pytest.raises(SourceError, match='camera device 97'):
        ros_session.camera('/cam_h', source='camera', **{'camera.device_left': 97,
                           'camera.device_right': 98})


def test_camera_info_from_a_camera_info_yaml_pair(tmp_path, ros_session):
    write_pairs(tmp_path, [(800, 650)])
    left_yaml, right_yaml = CONFIG / 'example_left.yaml', CONFIG / 'example_right.yaml'
    ros_session.camera('/cam_c', source='images', **{'images.left': str(tmp_path / 'left_0.png'),
                       'images.right': str(tmp_path / 'right_0.png')}, scale=0.5, rate_hz=20.0,
                       left_calibration_file=str(left_yaml),
                       right_calibration_file=str(right_yaml), camera_name='rig',
                       right_frame_id='rig_right')
    got = ros_session.collector('/cam_c')
    assert ros_session.spin_until(lambda: got['left_info'] and got['right_info'])
    expected = calibration_io.load_calibration([left_yaml, right_yaml]).scaled(0.5)
    for msg, model in ((got['left_info'][0], expected.left),
                       (got['right_info'][0], expected.right)):
        assert (msg.width, msg.height) == (800, 650)
        np.testing.assert_allclose(np.reshape(msg.k, (3, 3)), model.K)
        np.testing.assert_allclose(msg.d, model.D)
        np.testing.assert_allclose(np.reshape(msg.r, (3, 3)), model.R)
        np.testing.assert_allclose(np.reshape(msg.p, (3, 4)), model.P)
    # Against config/example_*.yaml at half size (c -> c / 2 - 0.25, f -> f / 2):
    left_k, right_p = np.reshape(got['left_info'][0].k, (3, 3)), got['right_info'][0].p
    np.testing.assert_allclose(left_k[0], [933.3333333333333 / 2, 0.0, 799.5 / 2 - 0.25])
    np.testing.assert_allclose([right_p[0], right_p[2], right_p[3]],
                               [919.457615786636 / 2, 766.479736328125 / 2 - 0.25,
                                -59.80009832412178 / 2])
    np.testing.assert_allclose(got['left_info'][0].d, [-0.08, 0.02, 0.0, 0.0, 0.0])
    assert got['left_info'][0].header.frame_id == 'rig_left_optical_frame'
    assert got['right_info'][0].header.frame_id == 'rig_right'
    assert got['right_info'][0].p[3] < 0


def test_set_camera_info_stores_atomic_yaml_that_loads_back(tmp_path, monkeypatch, ros_session):
    write_pairs(tmp_path, [(800, 650)])
    left_yaml, right_yaml = tmp_path / 'cal' / 'left.yaml', tmp_path / 'cal' / 'right.yaml'
    left_yaml.parent.mkdir()
    shutil.copy(CONFIG / 'example_left.yaml', left_yaml)
    shutil.copy(CONFIG / 'example_right.yaml', right_yaml)
    monkeypatch.setenv('ROS_HOME', str(tmp_path / 'ros_home'))
    images = {'images.left': str(tmp_path / 'left_0.png'),
              'images.right': str(tmp_path / 'right_0.png')}
    ros_session.camera('/cam_d', source='images', scale=0.5, rate_hz=20.0,
                       left_calibration_file=str(left_yaml),
                       right_calibration_file=str(right_yaml), **images)
    ros_session.camera('/cam_e', source='images', scale=0.5, rate_hz=20.0, camera_name='spare',
                       **images)
    got = ros_session.collector('/cam_d')
    client_node = ros_session.add(rclpy.create_node('client', context=ros_session.context))

    # A new left calibration at the published size (800x650), fx changed.
    old = calibration_io.load_calibration([left_yaml, right_yaml]).scaled(0.5)
    K, P = old.left.K.copy(), old.left.P.copy()
    K[0, 0] = K[1, 1] = 470.0
    P[0, 0] = P[1, 1] = 460.0
    new_left = calib.CameraModel(800, 650, K, old.left.D, old.left.R, P)
    request = SetCameraInfo.Request(camera_info=camera_info_msg(new_left))
    response = ros_session.call(client_node.create_client(
        SetCameraInfo, '/cam_d/left/set_camera_info'), request)
    assert response.success, response.status_message
    assert str(left_yaml) in response.status_message
    stored = calibration_io.load_camera_info_yaml(left_yaml)
    assert (stored.width_px, stored.height_px) == (1600, 1300)  # stored at sensor size
    reloaded = stored.scaled_to(800, 650)
    np.testing.assert_allclose(reloaded.K, new_left.K, atol=1e-9)
    np.testing.assert_allclose(reloaded.P, new_left.P, atol=1e-9)
    np.testing.assert_allclose(reloaded.D, new_left.D)
    assert sorted(p.name for p in left_yaml.parent.iterdir()) == ['left.yaml', 'right.yaml']
    # Published from the next pair on (messages already in flight may still show the old).
    assert ros_session.spin_until(lambda: got['left_info'] and got['left_info'][-1].k[0] == 470.0)
    count = len(got['left_info'])
    assert ros_session.spin_until(lambda: len(got['left_info']) >= count + 2)
    newer = got['left_info'][count:]
    assert [m.k[0] for m in newer] == [470.0] * len(newer)

    # Without calibration files: camera_info_manager's place, $ROS_HOME/camera_info.
    response = ros_session.call(client_node.create_client(
        SetCameraInfo, '/cam_e/right/set_camera_info'),
        SetCameraInfo.Request(camera_info=camera_info_msg(old.right)))
    assert response.success, response.status_message
    stored = calibration_io.load_camera_info_yaml(tmp_path / 'ros_home' / 'camera_info' /
                                                  'spare_right.yaml')
    np.testing.assert_allclose(stored.scaled_to(800, 650).P, old.right.P, atol=1e-9)

    # A calibration that cannot be right is refused, and nothing is written.
    bad = CameraInfo(width=800, height=650)
    response = ros_session.call(client_node.create_client(
        SetCameraInfo, '/cam_d/left/set_camera_info'), SetCameraInfo.Request(camera_info=bad))
    assert not response.success
    assert 'left calibration not stored' in response.status_message
    stored = calibration_io.load_camera_info_yaml(left_yaml)
    np.testing.assert_allclose(stored.scaled_to(800, 650).K, new_left.K, atol=1e-9)


def test_bad_parameters_rejected_with_a_reason_and_rate_change_applies(tmp_path, ros_session):
    write_pairs(tmp_path, [(800, 650)])
    camera = ros_session.camera('/cam_f', source='images', scale=0.25, rate_hz=10.0,
                                **{'images.left': str(tmp_path / 'left_0.png'),
                                   'images.right': str(tmp_path / 'right_0.png')})
    cases = [([Parameter('rate_hz', value=-5.0)], 'rate_hz'),
             ([Parameter('rate_hz', value='fast')], 'rate_hz must be a double'),
             ([Parameter('encoding', value='rgb8')], 'choose one of mono8, bgr8'),
             ([Parameter('source', value='sample')], 'read-only'),
             ([Parameter('left_frame_id', value='cam'),
               Parameter('right_frame_id', value='cam')], 'different frames')]
    for params, reason in cases:
        result = camera.set_parameters_atomically(params)
        assert not result.successful, params
        assert reason in result.reason, result.reason
    assert camera.get_parameter('rate_hz').value == 10.0
    # REP 2003: QoS overrides enabled on every publisher (settable from a parameter file).
    for topic in CAMERA_TOPICS.values():
        assert camera.has_parameter(f'qos_overrides./cam_f/{topic[1]}.publisher.reliability')
    assert camera._timer.timer_period_ns == 100_000_000
    assert camera.set_parameters_atomically([Parameter('rate_hz', value=25)]).successful
    assert camera._timer.timer_period_ns == 40_000_000
    got = ros_session.collector('/cam_f')
    assert ros_session.spin_until(lambda: len(got['left']) >= 2)

    # Over the graph too, as `ros2 param get/set` does (the parameter services exist).
    client_node = ros_session.add(rclpy.create_node('param_client', context=ros_session.context))
    get = client_node.create_client(GetParameters, '/cam_f/camera_node/get_parameters')
    assert get.wait_for_service(timeout_sec=5.0)
    future = get.call_async(GetParameters.Request(names=['scale', 'rate_hz']))
    assert ros_session.spin_until(future.done)
    assert [parameter_value_to_python(v) for v in future.result().values] == [0.25, 25]
    set_ = client_node.create_client(SetParameters, '/cam_f/camera_node/set_parameters')
    future = set_.call_async(SetParameters.Request(
        parameters=[Parameter('rate_hz', value=-1.0).to_parameter_msg()]))
    assert ros_session.spin_until(future.done)
    (result,) = future.result().results
    assert not result.successful and 'rate_hz' in result.reason


def test_a_qos_override_applies_to_its_topic_only(ros_session):
    camera = ros_session.camera(
        '/cam_q', source='sample', scale=0.25,
        **{'qos_overrides./cam_q/left/image_raw.publisher.reliability': 'best_effort'})
    reliability = {topic: camera.get_publishers_info_by_topic(f'/cam_q/{topic}')[0]
                   .qos_profile.reliability for _, topic in CAMERA_TOPICS.values()}
    assert reliability == {'left/image_raw': ReliabilityPolicy.BEST_EFFORT,
                           'right/image_raw': ReliabilityPolicy.RELIABLE,
                           'left/camera_info': ReliabilityPolicy.RELIABLE,
                           'right/camera_info': ReliabilityPolicy.RELIABLE}


def test_setup_errors_are_exceptions_with_clear_messages(tmp_path, ros_session):
    with pytest.raises(SourceError, match='images.left'):
        ros_session.camera('/cam_g', source='images',
                           **{'images.left': str(tmp_path / 'none_*.png'),
                              'images.right': str(tmp_path / 'none_*.png')})
    with pytest.raises(CameraSetupError, match='give both left_calibration_file'):
        ros_session.camera('/cam_g', left_calibration_file=str(CONFIG / 'example_left.yaml'))
    with pytest.raises(calib.CalibrationError, match='missing.yaml does not exist'):
        ros_session.camera('/cam_g', calibration_file=str(tmp_path / 'missing.yaml'))


def test_missing_images_dir_exits_1_with_a_message_not_a_traceback():
    proc = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args', '-p',
         'source:=images', '-p', 'images.left:=/nonexistent', '-p', 'images.right:=/nonexistent'],
        cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=30)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert '/nonexistent' in output and 'images.left' in output, output
    assert 'Traceback' not in output


def test_raiv_source_without_the_sdk_exits_nonzero_plainly():
    pytest.importorskip('raiv_stereo.sources.raiv')
    proc = subprocess.run(
        [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args', '-p', 'source:=raiv'],
        cwd=PACKAGE_ROOT, capture_output=True, text=True, timeout=30)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert 'qCU_Data' in output, output
    assert 'Traceback' not in output


# --- publish rate at sensor size -----------------------------------------------------------------

@pytest.mark.slow
def test_publish_rate_full_size_bgr8_pairs(ros_session):
    """Sample source at 1600x1300 bgr8, 30 Hz asked; a subscriber in this process counts pairs."""
    env = dict(os.environ)
    proc = subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args', '-r',
         '__ns:=/cam_rate', '-p', 'source:=sample', '-p', 'scale:=1.0', '-p', 'rate_hz:=30.0',
         '-p', 'encoding:=bgr8'], cwd=PACKAGE_ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        got = ros_session.collector('/cam_rate')
        assert ros_session.spin_until(lambda: len(got['right']) >= 3, timeout_s=60.0)
        start_count, started = len(got['right']), time.monotonic()
        ros_session.spin_until(lambda: False, timeout_s=10.0)
        rate_hz = (len(got['right']) - start_count) / (time.monotonic() - started)
        assert got['left'][-1].width == 1600 and got['left'][-1].encoding == 'bgr8'
    finally:
        output = interrupt(proc)
    print(f'\n1600x1300 bgr8 pairs received: {rate_hz:.1f} Hz (asked 30)')
    assert rate_hz > 1.0, output


def test_compressed_topics_carry_the_raw_pair_as_jpeg(ros_session):
    from sensor_msgs.msg import CompressedImage

    from raiv_stereo.ros.conversions import compressed_to_image

    ros_session.camera('/cam_z', source='sample', scale=0.25, rate_hz=20.0,
                       publish_compressed=True, jpeg_quality=90)
    got = ros_session.collector('/cam_z')
    compressed: list = []
    ros_session.node('viewer', '/cam_z').create_subscription(
        CompressedImage, 'right/image_raw/compressed', compressed.append, 10)
    assert ros_session.spin_until(lambda: any(
        stamp_key(m) in {stamp_key(r) for r in got['right']} for m in compressed))
    raw_by_stamp = {stamp_key(m): m for m in got['right']}
    msg = next(m for m in compressed if stamp_key(m) in raw_by_stamp)
    assert msg.format == 'bgr8; jpeg compressed bgr8'
    assert msg.header.frame_id == 'raiv_right_optical_frame'
    raw = msg_to_image(raw_by_stamp[stamp_key(msg)])
    decoded = compressed_to_image(msg)
    assert decoded.shape == raw.shape == (325, 400, 3)
    assert len(msg.data) < raw.nbytes / 3  # compressed
    assert np.abs(cv2.cvtColor(decoded, cv2.COLOR_BGR2GRAY).astype(int) -
                  cv2.cvtColor(raw, cv2.COLOR_BGR2GRAY)).mean() < 4.0
