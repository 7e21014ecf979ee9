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

"""The camera's TF tree: REP 103 numbers, the URDF macro against the node's transforms."""

import math
import xml.etree.ElementTree as ET

from builtin_interfaces.msg import Time
from helpers import PACKAGE_ROOT
import numpy as np
import pytest
from raiv_stereo.core.tf_frames import camera_transforms, OPTICAL_ROTATION_XYZW
from raiv_stereo.ros.conversions import transform_msg

xacro = pytest.importorskip('xacro', reason='xacro is in the test extra')


def rotation(xyzw) -> np.ndarray:
    x, y, z, w = xyzw
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


def rpy_rotation(roll, pitch, yaw) -> np.ndarray:
    """Return the rotation of URDF's fixed-axis rpy: R = Rz(yaw) Ry(pitch) Rx(roll)."""
    cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch),
                              math.sin(pitch), math.cos(yaw), math.sin(yaw))
    return np.array([[cy, -sy, 0], [sy, cy, 0], [0, 0, 1]]) @ \
        np.array([[cp, 0, sp], [0, 1, 0], [-sp, 0, cp]]) @ \
        np.array([[1, 0, 0], [0, cr, -sr], [0, sr, cr]])


def test_optical_frames_look_along_the_body_x_axis():
    optical = rotation(OPTICAL_ROTATION_XYZW)
    # REP 103: optical z (viewing direction) = body x, optical x (right) = body -y,
    # optical y (down) = body -z.
    np.testing.assert_allclose(optical @ [0, 0, 1], [1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(optical @ [1, 0, 0], [0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(optical @ [0, 1, 0], [0, 0, -1], atol=1e-12)


def test_the_tree_puts_the_right_camera_a_baseline_along_minus_y():
    tree = {(t.parent, t.child): t for t in camera_transforms('cam', 0.065)}
    assert set(tree) == {('cam_link', 'cam_left_camera_frame'),
                         ('cam_link', 'cam_right_camera_frame'),
                         ('cam_left_camera_frame', 'cam_left_optical_frame'),
                         ('cam_right_camera_frame', 'cam_right_optical_frame')}
    assert tree['cam_link', 'cam_right_camera_frame'].translation_m == (0.0, -0.065, 0.0)
    assert tree['cam_link', 'cam_left_camera_frame'].translation_m == (0.0, 0.0, 0.0)
    renamed = camera_transforms('cam', 0.1, 'my_left', 'my_right')
    assert [t.child for t in renamed[2:]] == ['my_left', 'my_right']
    with pytest.raises(ValueError, match='baseline must be positive'):
        camera_transforms('cam', 0.0)


def test_transform_msg_carries_the_numbers():
    transform = camera_transforms('cam', 0.065)[3]
    msg = transform_msg(transform, Time(sec=3, nanosec=4))
    assert (msg.header.frame_id, msg.child_frame_id) == ('cam_right_camera_frame',
                                                         'cam_right_optical_frame')
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (3, 4)
    q = msg.transform.rotation
    assert (q.x, q.y, q.z, q.w) == (-0.5, 0.5, -0.5, 0.5)


def _urdf_joints(**mappings) -> dict[tuple[str, str], np.ndarray]:
    """Return (parent, child) -> 4x4 pose of every joint of the example robot's URDF."""
    document = xacro.process_file(str(PACKAGE_ROOT / 'urdf' / 'raiv_example.urdf.xacro'),
                                  mappings=mappings)
    joints = {}
    for joint in ET.fromstring(document.toxml()).iter('joint'):
        origin = joint.find('origin')
        pose = np.eye(4)
        pose[:3, :3] = rpy_rotation(*map(float, origin.get('rpy', '0 0 0').split()))
        pose[:3, 3] = [float(v) for v in origin.get('xyz', '0 0 0').split()]
        joints[joint.find('parent').get('link'), joint.find('child').get('link')] = pose
    return joints


@pytest.mark.parametrize('baseline_m', [0.065, 0.12])
def test_the_urdf_macro_describes_the_same_tree_as_the_node(baseline_m):
    joints = _urdf_joints(baseline_m=str(baseline_m))
    for transform in camera_transforms('raiv', baseline_m):
        pose = joints[transform.parent, transform.child]
        np.testing.assert_allclose(pose[:3, 3], transform.translation_m, atol=1e-12)
        np.testing.assert_allclose(pose[:3, :3], rotation(transform.rotation_xyzw), atol=1e-12)
    # Mounted on the robot at (0.2, 0.0325, 0.3): the cameras straddle the base's x axis.
    mount = joints['base_link', 'raiv_link']
    right = mount @ joints['raiv_link', 'raiv_right_camera_frame']
    np.testing.assert_allclose(right[:3, 3], [0.2, 0.0325 - baseline_m, 0.3], atol=1e-12)


def test_camera_node_transforms_follow_its_calibration_and_frame_ids(ros_session):
    from rclpy.parameter import Parameter

    config = PACKAGE_ROOT / 'config'
    camera = ros_session.camera('/tf_cam', source='sample', camera_name='rig',
                                left_calibration_file=str(config / 'example_left.yaml'),
                                right_calibration_file=str(config / 'example_right.yaml'))
    tree = {t.child: t for t in camera.static_transforms()}
    # config/example_right.yaml: Tx = -f * B = -59.80 px*m at f = 919.46 px.
    assert tree['rig_right_camera_frame'].translation_m[1] == \
        pytest.approx(-59.80009832412178 / 919.457615786636, rel=1e-12)
    assert tree['rig_left_optical_frame'].parent == 'rig_left_camera_frame'
    camera.set_parameters([Parameter('left_frame_id', value='front_left')])
    assert 'front_left' in {t.child for t in camera.static_transforms()}


def test_rviz_shows_the_camera_tree_cloud_and_depth_from_the_link_frame():
    from raiv_stereo.core.tf_frames import link_frame
    from raiv_stereo.params.camera import CAMERA_NAME
    from raiv_stereo.params.launch import NAMESPACE
    import yaml

    config = yaml.safe_load((PACKAGE_ROOT / 'config' / 'depth.rviz').read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == link_frame(CAMERA_NAME)
    shown = {d['Class'].split('/')[-1]: d.get('Topic', {}).get('Value')
             for d in manager['Displays']}
    assert shown['PointCloud2'] == f'/{NAMESPACE}/points'
    assert shown['TF'] is None
    assert f'/{NAMESPACE}/depth/color' in {
        d['Topic']['Value'] for d in manager['Displays'] if d['Class'].endswith('/Image')}
