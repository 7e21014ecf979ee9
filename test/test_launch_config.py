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

"""Launch arguments -> node parameters, lens presets and the launch files' declared arguments."""

import importlib.util
from pathlib import Path

import pytest
from raiv_stereo.core import rig
from raiv_stereo.core.calibration_io import load_calibration
from raiv_stereo.params import launch as launch_config
from raiv_stereo.params.launch import (
    camera_parameters,
    depth_parameters,
    LaunchArgumentError,
    lens_depth_range_mm,
)
import yaml

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


def test_defaults_map_to_the_raiv_geometry_and_the_real_camera():
    camera = camera_parameters({})
    assert camera['baseline_mm'] == 65.0 and camera['focal_length_mm'] == 2.8
    assert camera['pixel_size_um'] == 3.0
    # No RAiV SDK on this machine: the default is the network stream from the device, never
    # the synthetic sample.
    assert camera['source'] == 'stream'
    depth = depth_parameters({})
    assert {k: v for k, v in depth.items() if not k.startswith('qos_overrides.')} == {
        'min_depth_mm': 300.0, 'max_depth_mm': 3000.0, 'scale': 0.5, 'sgbm_resolution': 'half',
        'depth_format': '32FC1', 'use_sim_time': False, 'sync': 'exact', 'sync_slop_s': 0.01}
    assert (camera['camera_name'], camera['publish_tf'], camera['use_sim_time']) == \
        ('raiv', True, False)
    assert launch_config.log_arguments({}) == ['--log-level', 'info']


def test_sim_time_log_level_and_tf_arguments_reach_every_node():
    args = {'use_sim_time': 'true', 'log_level': 'debug', 'publish_tf': 'false',
            'camera_name': 'front'}
    camera, depth = camera_parameters(args), depth_parameters(args)
    assert camera['use_sim_time'] is True and depth['use_sim_time'] is True
    assert (camera['publish_tf'], camera['camera_name']) == (False, 'front')
    assert launch_config.log_arguments(args) == ['--log-level', 'debug']
    composed = launch_config.composed_parameters(args)
    assert all(section['ros__parameters']['use_sim_time'] for section in composed.values())
    with pytest.raises(LaunchArgumentError, match='log_level'):
        launch_config.log_arguments({'log_level': 'loud'})
    with pytest.raises(LaunchArgumentError, match='use_sim_time'):
        camera_parameters({'use_sim_time': 'yes'})
    with pytest.raises(LaunchArgumentError, match='camera_name'):
        camera_parameters({'camera_name': '2cam'})
    # input_qos left at the node's own reliability: no qos_overrides.
    assert not [name for name in depth if name.startswith('qos_overrides.')]


def test_strings_become_typed_parameters():
    camera = camera_parameters({'source': 'sample', 'focal_length_mm': '6.0', 'rate_hz': '15'})
    assert camera['source'] == 'sample' and camera['focal_length_mm'] == 6.0
    assert camera['rate_hz'] == 15.0
    depth = depth_parameters({'min_depth_mm': '300', 'max_depth_mm': '600', 'scale': '1.0',
                              'depth_format': '16UC1', 'sgbm_resolution': 'full'})
    assert (depth['min_depth_mm'], depth['max_depth_mm'], depth['scale']) == (300.0, 600.0, 1.0)
    assert (depth['depth_format'], depth['sgbm_resolution']) == ('16UC1', 'full')


@pytest.mark.parametrize('args, message', [
    ({'focal_length_mm': '5'}, 'focal_length_mm is 5; choose one of 2.8, 3.6'),
    ({'focal_length_mm': 'wide'}, "focal_length_mm must be a double, got 'wide'"),
    ({'baseline_mm': '-65'}, 'baseline_mm is -65; allowed 1..10000'),
    ({'source': 'webcam'}, 'not one of'),
    ({'left_calibration_file': 'left.yaml'}, 'both left_calibration_file'),
    ({'calibration_file': 's.yaml', 'left_calibration_file': 'l.yaml',
      'right_calibration_file': 'r.yaml'}, 'not both'),
])
def test_bad_camera_arguments_are_refused_with_a_reason(args, message):
    with pytest.raises(LaunchArgumentError, match=message):
        camera_parameters(args)


@pytest.mark.parametrize('args, message', [
    ({'min_depth_mm': '3000', 'max_depth_mm': '300'}, 'must be below'),
    ({'min_depth_mm': '500', 'max_depth_mm': '500'}, 'must be below'),  # an empty range
    ({'scale': '2'}, 'scale is 2; allowed 0.25..1'),
    ({'scale': 'nan'}, 'scale must be a finite number'),
    ({'depth_format': 'mono16'}, "depth_format is 'mono16'; choose one of"),
    ({'sgbm_resolution': 'quarter'}, "sgbm_resolution is 'quarter'; choose one of"),
])
def test_bad_depth_arguments_are_refused_with_a_reason(args, message):
    with pytest.raises(LaunchArgumentError, match=message):
        depth_parameters(args)


def test_node_parameters_given_as_launch_arguments_are_checked_with_the_rest():
    # A source that needs options is usable from a launch file only if those options, given as
    # <source>.<option>:=value, count when the source is checked (bag.path, images.left/right).
    given = {'source': 'bag', 'bag.path': '/data/run1'}
    camera_extra, depth_extra, warnings = launch_config.node_parameter_arguments(given)
    assert warnings == [] and camera_extra == {'bag.path': '/data/run1'}
    camera, _ = launch_config.pipeline_parameters(given, camera_extra, depth_extra)
    assert (camera['source'], camera['bag.path']) == ('bag', '/data/run1')
    assert launch_config.composed_parameters(given, camera_extra, depth_extra)[
        '/raiv/camera_node']['ros__parameters']['bag.path'] == '/data/run1'
    with pytest.raises(LaunchArgumentError, match="source 'bag' needs bag.path"):
        camera_parameters({'source': 'bag'})
    # A pass-through value that breaks a rule together with a declared one is refused at launch,
    # in the node's words, not by the node after the launch.
    with pytest.raises(LaunchArgumentError, match=r'p1 \(200\) must be below p2 \(100\)'):
        depth_parameters({}, {'p1': 200, 'p2': 100})


def test_lens_ranges_follow_the_makers_band():
    assert lens_depth_range_mm(2.8, 0.5) == (300.0, 3000.0)  # the maker's own figures
    assert lens_depth_range_mm(2.8, 1.0) == (600.0, 6000.0)
    assert lens_depth_range_mm(6.0, 0.5) == (640.0, 6430.0)


def test_a_lens_given_without_a_range_takes_its_presets_range():
    # 25 mm at 300-3000 mm would search more disparities than the image is wide.
    _, depth = launch_config.pipeline_parameters({'focal_length_mm': '25'})
    assert (depth['min_depth_mm'], depth['max_depth_mm']) == (2680.0, 26790.0)
    assert launch_config.lens_depth_range_mm(25.0, 0.5) == (2680.0, 26790.0)
    _, depth = launch_config.pipeline_parameters({'focal_length_mm': '25',
                                                  'max_depth_mm': '30000'})
    assert (depth['min_depth_mm'], depth['max_depth_mm']) == (300.0, 30000.0)  # as given
    _, depth = launch_config.pipeline_parameters({})
    assert (depth['min_depth_mm'], depth['max_depth_mm']) == (300.0, 3000.0)


@pytest.mark.parametrize('lens_mm', rig.LENSES_MM)
def test_lens_presets_match_the_geometry(lens_mm):
    preset = yaml.safe_load((PACKAGE_ROOT / 'config' / f'lens_{lens_mm:g}mm.yaml').read_text())
    camera = preset['/**/camera_node']['ros__parameters']
    depth = preset['/**/depth_node']['ros__parameters']
    assert camera['focal_length_mm'] == lens_mm
    assert (depth['min_depth_mm'], depth['max_depth_mm']) == lens_depth_range_mm(lens_mm, 0.5)
    # The preset's range is the same disparity band: about 96 disparities to search.
    f_b = lens_mm / 0.003 * 0.5 * 65.0
    assert f_b / depth['min_depth_mm'] - f_b / depth['max_depth_mm'] == pytest.approx(91, abs=1.5)


def test_example_calibration_pair_loads():
    calib = load_calibration([PACKAGE_ROOT / 'config' / 'example_left.yaml',
                              PACKAGE_ROOT / 'config' / 'example_right.yaml'])
    assert calib.image_size == (1600, 1300)
    assert calib.baseline_mm == pytest.approx(65.04, abs=0.01)
    assert not calib.is_rectified


def _load_launch_file(name):
    spec = importlib.util.spec_from_file_location(name, PACKAGE_ROOT / 'launch' / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.generate_launch_description()


@pytest.mark.parametrize('name, camera, depth', [
    ('depth.launch.py', True, True), ('camera.launch.py', True, False),
    ('stereo_depth.launch.py', False, True)])
def test_launch_files_declare_every_argument_with_a_description(name, camera, depth):
    pytest.importorskip('launch_ros', reason='launch_ros comes with a ROS install')
    description = _load_launch_file(name)
    declared = {a.name: a for a in description.get_launch_arguments()}
    expected = launch_config.launch_arguments(camera, depth)
    assert list(declared) == [a.name for a in expected]
    for argument in expected:
        assert declared[argument.name].description.startswith(argument.description)
        assert declared[argument.name].default_value[0].text == argument.default


def test_input_qos_overrides_follow_the_namespace_and_reach_a_real_depth_node(ros_session):
    params = depth_parameters({'namespace': 'robot/cam', 'input_qos': 'best_effort'})
    keys = sorted(k for k in params if k.startswith('qos_overrides.'))
    assert keys == [f'qos_overrides./robot/cam/{t}.subscription.reliability' for t in
                    ('left/camera_info', 'left/image_raw', 'right/camera_info',
                     'right/image_raw')]
    with pytest.raises(LaunchArgumentError, match='input_qos'):
        depth_parameters({'input_qos': 'fast'})

    from raiv_stereo.ros.depth_node import DepthNode
    from rclpy.parameter import Parameter
    from rclpy.qos import ReliabilityPolicy

    assert not [k for k in depth_parameters({'input_qos': 'reliable'})
                if k.startswith('qos_overrides.')]
    # The override must not leak: a later node without one keeps its reliable default.
    for reliability, expected in (('best_effort', ReliabilityPolicy.BEST_EFFORT),
                                  (None, ReliabilityPolicy.RELIABLE),
                                  ('best_effort', ReliabilityPolicy.BEST_EFFORT),
                                  ('reliable', ReliabilityPolicy.RELIABLE)):
        params = depth_parameters({'namespace': 'qos_check', 'input_qos': reliability}) \
            if reliability else {}
        node = DepthNode(context=ros_session.context, namespace='qos_check',
                         parameter_overrides=[Parameter(k, value=v)
                                              for k, v in params.items()])
        try:
            infos = node.get_subscriptions_info_by_topic('/qos_check/left/image_raw')
            assert [i.qos_profile.reliability for i in infos] == [expected]
        finally:
            node.destroy_node()


# --- the Fast DDS profile the launch files give their nodes -----------------------------------

def test_node_environment_names_the_packaged_profile_unless_the_user_chose():
    env = launch_config.node_environment({}, environ={})
    path = Path(env['FASTDDS_DEFAULT_PROFILES_FILE'])
    assert path == PACKAGE_ROOT / 'config' / 'fastdds_large_images.xml'
    assert launch_config.node_environment({'fastdds_profile': ''}, environ={}) == {}
    assert launch_config.node_environment(
        {}, environ={'FASTDDS_DEFAULT_PROFILES_FILE': '/mine.xml'}) == {}
    assert launch_config.node_environment({'fastdds_profile': str(path)}, environ={}) == env
    with pytest.raises(LaunchArgumentError, match='fastdds_profile'):
        launch_config.node_environment({'fastdds_profile': '/no/such.xml'}, environ={})


def _shared_memory_segments_mb(pid: int) -> list[float]:
    """Return the sizes of the Fast DDS shared-memory segments process `pid` has mapped."""
    sizes = {}
    with open(f'/proc/{pid}/maps') as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].startswith('/dev/shm/fastdds_') and \
                    'port' not in fields[5]:
                low, high = (int(value, 16) for value in fields[0].split('-'))
                sizes[fields[5]] = sizes.get(fields[5], 0) + (high - low) / 2**20
    return sorted(sizes.values())


@pytest.mark.skipif(not Path('/proc/self/maps').exists(), reason='needs Linux /proc')
def test_the_profile_gives_the_camera_a_large_segment_and_images_still_arrive(
        tmp_path, ros_session):
    import os
    import signal
    import subprocess
    import sys

    def start(namespace: str, env: dict) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, '-m', 'raiv_stereo.ros.camera_node', '--ros-args', '-r',
             f'__ns:=/{namespace}', '-p', 'source:=sample', '-p', 'sample.frames:=1', '-p',
             'rate_hz:=10.0'], cwd=PACKAGE_ROOT, env={**os.environ, **env},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    environ = {k: v for k, v in os.environ.items() if k != 'FASTDDS_DEFAULT_PROFILES_FILE'}
    profile = launch_config.node_environment({}, environ=environ)
    got = ros_session.collector('/profile_on')
    tuned = start('profile_on', profile)
    # In a domain of its own: it then maps no other participant's segment.
    other_domain = str((int(os.environ['ROS_DOMAIN_ID']) + 50) % 100 + 1)
    plain = start('profile_off', {'ROS_DOMAIN_ID': other_domain})
    try:
        assert ros_session.spin_until(lambda: len(got['left']) >= 5, timeout_s=30.0)
        assert (got['left'][-1].width, got['left'][-1].height) == (1600, 1300)
        tuned_mb = _shared_memory_segments_mb(tuned.pid)
        plain_mb = _shared_memory_segments_mb(plain.pid)
    finally:
        for process in (tuned, plain):
            process.send_signal(signal.SIGINT)
        outputs = [process.communicate(timeout=20)[0] for process in (tuned, plain)]
    print(f'\nshared-memory segments mapped, MB: with the profile {tuned_mb}, without {plain_mb}')
    assert max(tuned_mb) >= 16.0  # its own 16 MB segment: the profile was read
    assert max(plain_mb) < 1.0  # Fast DDS's own 0.5 MB
    for output in outputs:
        assert 'Error' not in output and 'Traceback' not in output, output
