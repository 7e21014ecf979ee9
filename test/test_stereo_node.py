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

"""stereo_node: camera and depth node in one process, each with its own launch parameters."""

from __future__ import annotations

import subprocess
import sys

from helpers import interrupt, PACKAGE_ROOT
import numpy as np
import pytest
from raiv_stereo.params import launch as launch_config
from raiv_stereo.ros.conversions import msg_to_image, stamp_to_ns
import rclpy
from sensor_msgs.msg import Image
from stereo_msgs.msg import DisparityImage
import yaml


def _params_file(tmp_path, namespace: str, **launch_args) -> str:
    """Write stereo_node's parameter file as depth.launch.py does, the scene frozen at t = 0."""
    content = launch_config.composed_parameters({'namespace': namespace, 'source': 'sample',
                                                 **launch_args})
    # One replayed frame: the box face (1.0 m) then covers the centre of the left image.
    content[f'/{namespace}/camera_node']['ros__parameters']['sample'] = {'frames': 1}
    path = tmp_path / 'stereo_node.yaml'
    path.write_text(yaml.safe_dump(content))
    return str(path)


def _start(params_file: str, namespace: str) -> subprocess.Popen:
    """Start stereo_node as launch_ros does: namespace remapped, the parameter file given."""
    return subprocess.Popen(
        [sys.executable, '-m', 'raiv_stereo.ros.stereo_node', '--ros-args', '-r',
         f'__ns:=/{namespace}', '--params-file', params_file], cwd=PACKAGE_ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_composed_parameters_give_each_node_its_own_section():
    content = launch_config.composed_parameters({'namespace': '/robot/cam/', 'scale': '0.25',
                                                 'rate_hz': '5', 'source': 'sample'})
    assert list(content) == ['/robot/cam/camera_node', '/robot/cam/depth_node']
    camera = content['/robot/cam/camera_node']['ros__parameters']
    depth = content['/robot/cam/depth_node']['ros__parameters']
    # camera_resolution 'working' (the default): the camera publishes at the working scale.
    assert camera['rate_hz'] == 5.0 and camera['scale'] == 0.25
    assert depth['scale'] == 1.0 and depth['min_depth_mm'] == 300.0
    full = launch_config.composed_parameters({'namespace': 'c', 'scale': '0.25',
                                              'camera_resolution': 'full'})
    assert 'scale' not in full['/c/camera_node']['ros__parameters']  # the sensor's size
    assert full['/c/depth_node']['ros__parameters']['scale'] == 0.25
    with pytest.raises(launch_config.LaunchArgumentError, match='camera_resolution'):
        launch_config.composed_parameters({'camera_resolution': 'half'})
    assert not [name for name in depth if name.startswith('qos_overrides.')]  # reliable: own
    assert list(launch_config.composed_parameters({'namespace': ''})) == \
        ['/camera_node', '/depth_node']
    assert launch_config.wants_composed({'composed': 'true'})
    assert not launch_config.wants_composed({})  # two processes unless asked
    with pytest.raises(launch_config.LaunchArgumentError, match='composed'):
        launch_config.wants_composed({'composed': 'maybe'})


@pytest.mark.parametrize('camera_resolution, raw_size', [('working', (400, 325)),
                                                         ('full', (1600, 1300))])
def test_one_process_publishes_raw_pairs_and_depth_then_stops_on_ctrl_c(
        tmp_path, camera_resolution, raw_size, ros_session):
    namespace = f'stereo_{camera_resolution}'  # apart from the other run's late messages
    proc = _start(_params_file(tmp_path, namespace, scale='0.25', rate_hz='10',
                               min_depth_mm='400', max_depth_mm='2000',
                               camera_resolution=camera_resolution), namespace)
    try:
        node = ros_session.add(rclpy.create_node('stereo_check', namespace=f'/{namespace}',
                                                 context=ros_session.context))
        raw: list[Image] = []
        depth: list[Image] = []
        disparity: list[DisparityImage] = []
        node.create_subscription(Image, 'left/image_raw', raw.append, 10)
        node.create_subscription(Image, 'depth/image_rect', depth.append, 10)
        node.create_subscription(DisparityImage, 'disparity', disparity.append, 10)
        assert ros_session.spin_until(lambda: len(depth) >= 3 and disparity and len(raw) >= 3,
                                      timeout_s=40.0), \
            'no depth image from stereo_node'
    finally:
        output = interrupt(proc)
    assert proc.returncode == 0, output
    assert 'Traceback' not in output

    # 'working': the camera publishes at scale 0.25 (its CameraInfo scaled), the depth node
    # matches what arrives; 'full': sensor size, the depth node scales down. Same depth.
    assert (raw[0].width, raw[0].height, raw[0].encoding) == (*raw_size, 'bgr8')
    latest = depth[-1]
    assert (latest.width, latest.height, latest.encoding) == (400, 325, '32FC1')
    assert latest.header.frame_id == 'raiv_left_optical_frame'
    # Depth carries the stamp of the pair it came from: every depth image stamped within the raw
    # images seen here has a raw image with its stamp.
    raw_stamps = {stamp_to_ns(m.header.stamp) for m in raw}
    later = [stamp_to_ns(m.header.stamp) for m in depth
             if min(raw_stamps) <= stamp_to_ns(m.header.stamp) <= max(raw_stamps)]
    assert later and set(later) <= raw_stamps
    depth_m = msg_to_image(latest)
    centre = depth_m[152:172, 190:210]
    assert np.isfinite(centre).mean() > 0.9
    assert float(np.nanmedian(centre)) == pytest.approx(1.0, rel=0.02)  # the box face
    # min/max_depth_mm reached the depth node. At 0.25, f = 2.8 mm / 3 um / 4 = 233.3 px:
    # 2000 mm is 7.6 px, 400 mm is 37.9 px, so the window is 7 + 32 (a multiple of 16) - 1.
    assert (disparity[-1].min_disparity, disparity[-1].max_disparity) == (7, 38)


def test_a_bad_parameter_exits_1_with_a_message_not_a_traceback(tmp_path):
    path = _params_file(tmp_path, 'stereo_bad')
    content = yaml.safe_load(open(path))
    content['/stereo_bad/depth_node']['ros__parameters']['min_depth_mm'] = 5000.0
    with open(path, 'w') as stream:
        yaml.safe_dump(content, stream)
    proc = _start(path, 'stereo_bad')
    output, _ = proc.communicate(timeout=40)
    assert proc.returncode == 1, output
    assert 'Traceback' not in output
    assert 'min_depth_mm' in output and '[stereo_node]' in output
