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

"""Depth node over real rclpy and DDS: synthetic pairs in, published depth checked with truth."""

from __future__ import annotations

from dataclasses import dataclass
import itertools
import threading

import cv2
from diagnostic_msgs.msg import DiagnosticArray
from helpers import BackgroundSpinner, right_info_with_tx, ros_session_fixture, wait_for
import numpy as np
import pytest
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.core.matching.sgbm import MatcherSettings, search_window, StereoMatcher
from raiv_stereo.eval.scene import Renderer
from raiv_stereo.params import depth as depth_params
from raiv_stereo.ros import conversions
from raiv_stereo.ros.conversions import depth_msg_to_m
from raiv_stereo.ros.depth_node import DepthNode, parameter_descriptor
from rcl_interfaces.msg import Log
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2
from std_msgs.msg import Header
from stereo_msgs.msg import DisparityImage

INPUT_SCALE = 0.5
"""Synthetic pairs are 800x650 (half the sensor): SGBM at full working scale stays accurate."""
NODE_SCALE = 1.0
OUTPUTS = {'disparity': DisparityImage, 'depth/image_rect': Image,
           'depth/camera_info': CameraInfo, 'depth/color': Image, 'left/image_rect': Image,
           'points': PointCloud2, 'depth/confidence': Image}
_namespaces = itertools.count()
LOSSLESS_INPUT = {'queue_size': 20, **{
    f'qos_overrides./{{ns}}/{topic}.subscription.depth': 20
    for topic in ('left/image_raw', 'right/image_raw', 'left/camera_info', 'right/camera_info')}}
"""Depth node parameters with deep input queues ({ns} = the rig's namespace; reliable is the
default)."""
ros_session = ros_session_fixture('module')
"""One session for the module: `processed` (module-scoped) and the rigs share its context."""


class Rig:
    """A depth node plus a tester node that publishes its inputs and records its outputs/logs."""

    def __init__(self, context, params: dict, outputs=tuple(OUTPUTS),
                 publisher_qos: QoSProfile | int = 10) -> None:
        image = 'image_rect' if params.get('input_rectified') else 'image_raw'
        self.compressed = params.get('input_transport') == 'compressed'
        if self.compressed:
            image += '/compressed'
        self.image_topics = (f'left/{image}', f'right/{image}')
        image_type = CompressedImage if self.compressed else Image
        self.namespace = f'/depth_test_{next(_namespaces)}'
        overrides = [Parameter(k.replace('/{ns}', self.namespace), value=v)
                     for k, v in params.items()]
        self.node = DepthNode(context=context, namespace=self.namespace,
                              parameter_overrides=overrides)
        self.io = rclpy.create_node('tester', namespace=self.namespace, context=context)
        self.lock = threading.Lock()
        self.received: dict[str, list] = {topic: [] for topic in OUTPUTS}
        self.received['/diagnostics'] = []
        self.logs: list[Log] = []
        self.publishers = {
            topic: self.io.create_publisher(msg_type, topic, publisher_qos)
            for msg_type, topic in ((image_type, self.image_topics[0]),
                                    (image_type, self.image_topics[1]),
                                    (CameraInfo, 'left/camera_info'),
                                    (CameraInfo, 'right/camera_info'))}
        for topic in outputs:
            self.io.create_subscription(OUTPUTS[topic], topic, self._keep(topic), 10)
        self.io.create_subscription(DiagnosticArray, '/diagnostics',
                                    self._keep('/diagnostics'), 10)
        rosout_qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                                durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self.io.create_subscription(Log, '/rosout', self._on_log, rosout_qos)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.executor.add_node(self.io)
        self.spinner = BackgroundSpinner(self.executor, context)

        def discovered() -> bool:
            # A publisher the node's QoS refuses is never matched: it is seen in the graph.
            matched = isinstance(publisher_qos, int)
            return all(p.get_subscription_count() > 0 if matched else
                       self.io.count_subscribers(p.topic_name) > 0
                       for p in self.publishers.values()) and \
                all(self.io.count_publishers(f'{self.namespace}/{t}') > 0 for t in outputs)
        wait_for(discovered, 10.0, 'discovery')

    def _keep(self, topic: str):
        def callback(msg) -> None:
            with self.lock:
                self.received[topic].append(msg)
        return callback

    def _on_log(self, msg: Log) -> None:
        if self.namespace.strip('/') in msg.name:
            with self.lock:
                self.logs.append(msg)

    def publish(self, calibration, left, right, stamp_ns: int, right_stamp_ns: int | None = None,
                left_info: CameraInfo | None = None, right_info: CameraInfo | None = None,
                encoding: str = 'bgr8', skip: tuple[str, ...] = ()) -> None:
        """Publish one pair with its camera_infos (right stamps may differ; skip topics)."""
        right_stamp_ns = stamp_ns if right_stamp_ns is None else right_stamp_ns
        headers = [Header(stamp=conversions.ns_to_stamp(ns), frame_id=frame) for ns, frame in
                   ((stamp_ns, 'left_optical'), (right_stamp_ns, 'right_optical'))]
        if left_info is None:
            left_info = conversions.camera_info_msg(calibration.left)
        if right_info is None:
            right_info = conversions.camera_info_msg(calibration.right)
        left_info.header, right_info.header = headers
        for topic, msg in (('left/camera_info', left_info), ('right/camera_info', right_info),
                           (self.image_topics[0],
                            _image_msg(left, encoding, headers[0], self.compressed)),
                           (self.image_topics[1],
                            _image_msg(right, encoding, headers[1], self.compressed))):
            if topic not in skip:
                self.publishers[topic].publish(msg)

    def count(self, topic: str) -> int:
        with self.lock:
            return len(self.received[topic])

    def wait_for_stamp(self, topic: str, stamp_ns: int, timeout_s: float = 10.0):
        """Wait for the message on `topic` stamped `stamp_ns`; return it."""
        def found():
            with self.lock:
                return [m for m in self.received[topic] if _header_ns(m) == stamp_ns]
        wait_for(found, timeout_s, f'{topic} stamped {stamp_ns}')
        return found()[-1]

    def exchange(self, topic: str, calibration, left, right, stamp_ns: int, **kwargs):
        """Publish a good pair until `topic` answers with its stamp (best-effort input)."""
        for _ in range(5):
            self.publish(calibration, left, right, stamp_ns, **kwargs)
            try:
                return self.wait_for_stamp(topic, stamp_ns, timeout_s=2.0)
            except AssertionError:
                continue
        return self.wait_for_stamp(topic, stamp_ns, timeout_s=0.0)

    def _logged(self, fragments: tuple[str, ...]) -> list[str]:
        with self.lock:
            return [m.msg for m in self.logs if 'depth_node' in m.name and
                    all(f in m.msg for f in fragments)]

    def wait_log(self, *fragments: str, timeout_s: float = 10.0) -> str:
        """Wait for a log line of the depth node containing every fragment; return it."""
        return wait_for(lambda: self._logged(fragments), timeout_s,
                        f'a log line with {fragments}')[0]

    def publish_until_log(self, publish, *fragments: str, timeout_s: float = 15.0) -> str:
        """Call `publish(i)` for i = 1, 2, ... at 10 Hz until the depth node logs `fragments`."""
        counter = itertools.count(1)

        def published_then_logged():
            publish(next(counter))
            return self._logged(fragments)
        return wait_for(published_then_logged, timeout_s, f'a log line with {fragments}',
                        poll_s=0.1)[0]

    def close(self) -> None:
        self.spinner.stop()  # the thread ends before the executor shuts down (no race)
        self.node.destroy_node()
        self.io.destroy_node()


def _image_msg(image: np.ndarray, encoding: str, header: Header, compressed: bool = False):
    if compressed:
        if encoding == 'garbage':
            msg = CompressedImage(header=header, format='bgr8; jpeg compressed bgr8')
            msg.data.frombytes(b'\xff\xd8 this is not a JPEG')
            return msg
        return conversions.compressed_msg(image, header, 95)
    if encoding in ('bgr8', 'mono8'):
        return conversions.image_to_msg(image, encoding, header)
    msg = Image(header=header, height=image.shape[0], width=image.shape[1], encoding=encoding,
                step=image.shape[1] * 2)
    msg.data.frombytes(np.zeros(image.shape[0] * image.shape[1] * 2, np.uint8).tobytes())
    return msg


def _header_ns(msg) -> int:
    return conversions.stamp_to_ns(msg.header.stamp)


def _stamp(i: int) -> int:
    return 1_700_000_000_000_000_000 + i * 100_000_000


# --- the published outputs of one processed pair against ground truth --------------------------

@dataclass
class Processed:
    """One pair through a depth node: every output, its working camera and the node's answers."""

    calibration: object
    left: np.ndarray
    truth_m: np.ndarray
    depth_msg: Image
    disparity: DisparityImage
    info: CameraInfo
    cloud: PointCloud2
    color: Image
    left_rect: Image
    confidence: Image
    diagnostics: dict[str, str]
    processed_frames: int
    input_reliability: ReliabilityPolicy
    output_reliability: ReliabilityPolicy
    output_qos_overridable: bool

    @property
    def depth_m(self) -> np.ndarray:
        """Return the depth image in metres (NaN = none)."""
        return depth_msg_to_m(self.depth_msg)

    @property
    def window(self) -> tuple[int, int, int, int]:
        """Return the disparity's valid window as (x0, y0, x1, y1)."""
        window = self.disparity.valid_window
        return (window.x_offset, window.y_offset, window.x_offset + window.width,
                window.y_offset + window.height)


@pytest.fixture(scope='module')
def processed(ros_session, scene_pair) -> Processed:
    """Send the sample pair through one depth node once; collect its outputs, then close it."""
    calibration, left, right, truth = scene_pair
    rig = Rig(ros_session.context, {'scale': NODE_SCALE, 'point_cloud_keep_nan': True,
                                    'diagnostics_period_s': 0.5})
    try:
        stamp = _stamp(1)
        depth_msg = rig.exchange('depth/image_rect', calibration, left, right, stamp)
        outputs = {topic: rig.wait_for_stamp(topic, stamp) for topic in (
            'disparity', 'depth/camera_info', 'points', 'depth/color', 'left/image_rect',
            'depth/confidence')}

        def ours():
            with rig.lock:
                return [s for a in rig.received['/diagnostics'] for s in a.status
                        if s.name == 'raiv_stereo: depth_node' and s.hardware_id.startswith(
                            rig.namespace) and {kv.key: kv.value for kv in s.values}
                        .get('frames') == '1']
        wait_for(ours, 5.0, 'diagnostics')
        subscription = rig.io.get_subscriptions_info_by_topic(
            f'{rig.namespace}/left/image_raw')[0]
        publisher = rig.io.get_publishers_info_by_topic(f'{rig.namespace}/depth/image_rect')[0]
        yield Processed(
            calibration, left, truth, depth_msg, outputs['disparity'],
            outputs['depth/camera_info'], outputs['points'], outputs['depth/color'],
            outputs['left/image_rect'], outputs['depth/confidence'],
            {kv.key: kv.value for kv in ours()[-1].values},
            len(rig.node.stats().processing_ms),
            subscription.qos_profile.reliability, publisher.qos_profile.reliability,
            rig.node.has_parameter(
                f'qos_overrides.{rig.namespace}/depth/image_rect.publisher.reliability'))
    finally:
        rig.close()


WIDTH_PX, HEIGHT_PX = 800, 650
"""The working size: full scale of the 800x650 input."""


def test_every_output_is_in_the_left_optical_frame(processed):
    for msg in (processed.depth_msg, processed.disparity, processed.info, processed.cloud,
                processed.color, processed.left_rect, processed.confidence):
        assert msg.header.frame_id == 'left_optical'


def test_depth_matches_the_truth(processed):
    # REP 118 depth, 32FC1 metres: >= 90 % of valid in-range pixels within 2 % of the truth.
    assert processed.calibration.image_size == (WIDTH_PX, HEIGHT_PX)
    depth_msg, truth = processed.depth_msg, processed.truth_m
    assert depth_msg.encoding == '32FC1'
    assert (depth_msg.width, depth_msg.height) == (WIDTH_PX, HEIGHT_PX)
    depth_m = processed.depth_m
    x0, y0, x1, y1 = processed.window
    in_range = np.zeros_like(truth, bool)
    in_range[y0:y1, x0:x1] = (truth[y0:y1, x0:x1] >= 0.3) & (truth[y0:y1, x0:x1] <= 3.0)
    found = in_range & np.isfinite(depth_m)
    assert found.sum() >= 0.85 * in_range.sum()
    relative = np.abs(depth_m[found] - truth[found]) / truth[found]
    assert (relative < 0.02).mean() >= 0.90
    assert np.nanmin(depth_m) >= 0.3 and np.nanmax(depth_m) <= 3.0  # mask_out_of_range


def test_disparity_as_stereo_image_proc(processed):
    # f and T of the working scale, search window from the depth range, depth = f T / d.
    disparity, depth_m = processed.disparity, processed.depth_m
    focal_px = processed.calibration.focal_px * NODE_SCALE
    min_disparity, num_disparities = search_window(focal_px, 65.0, 300.0, 3000.0)
    assert disparity.f == pytest.approx(focal_px, rel=1e-6)
    assert disparity.t == pytest.approx(0.065, rel=1e-6)
    assert disparity.min_disparity == min_disparity == 10
    assert disparity.max_disparity == min_disparity + num_disparities - 1 == 105
    assert disparity.delta_d == pytest.approx(1.0 / 16.0)
    half = depth_params.BY_NAME['block_size'].default // 2
    assert processed.window == (105 + half, half, WIDTH_PX - half, HEIGHT_PX - half)
    assert processed.window == StereoMatcher(MatcherSettings(), focal_px, 65.0).valid_window(
        WIDTH_PX, HEIGHT_PX)
    disparity_px = conversions.msg_to_image(disparity.image)
    assert disparity.image.encoding == '32FC1'
    invalid = ~np.isfinite(depth_m) & (disparity_px < min_disparity)
    assert np.all(disparity_px[invalid] == min_disparity - 1)
    valid = np.isfinite(depth_m)
    np.testing.assert_allclose(depth_m[valid], focal_px * 0.065 / disparity_px[valid], rtol=1e-5)


def test_camera_info_matches_the_depth_image(processed):
    # The working K, no distortion, R = I, no baseline term.
    info, depth_msg = processed.info, processed.depth_msg
    K = np.array(info.k).reshape(3, 3)
    np.testing.assert_allclose(K, processed.calibration.left.P[:3, :3], rtol=1e-9)
    assert (info.width, info.height) == (depth_msg.width, depth_msg.height)
    assert not any(info.d)
    np.testing.assert_allclose(np.array(info.r).reshape(3, 3), np.eye(3))
    np.testing.assert_allclose(np.array(info.p).reshape(3, 4)[:, :3], K)
    assert np.array(info.p)[3] == 0.0


def test_confidence_gates_the_depth(processed):
    # 1 = matched over the whole window, 0.5 = the left border (its window runs off the
    # image), 0 = none; depth only at min_confidence (0.5) and above.
    msg, depth_m = processed.confidence, processed.depth_m
    x0 = processed.window[0]
    assert (msg.encoding, msg.width, msg.height) == ('32FC1', WIDTH_PX, HEIGHT_PX)
    confidence = conversions.msg_to_image(msg)
    assert set(np.unique(confidence)) <= {0.0, 0.5, 1.0}
    assert np.isnan(depth_m[confidence < 0.5]).all()
    assert (confidence[:, :x0][np.isfinite(depth_m[:, :x0])] == 0.5).all()
    assert (confidence[:, x0:][np.isfinite(depth_m[:, x0:])] == 1.0).all()
    assert np.isfinite(depth_m[:, 60:x0]).mean() > 0.9  # the border has depth (measured 100 %)


def _spread_pixels_with_depth(depth_m: np.ndarray, count: int = 6) -> list[tuple[int, int]]:
    """Return `count` (v, u) pixels with depth, spread over the image in row-major order."""
    rows, columns = np.nonzero(np.isfinite(depth_m))
    assert len(rows) > 0.5 * depth_m.size
    picks = np.linspace(0, len(rows) - 1, count).astype(int)
    return [(int(rows[i]), int(columns[i])) for i in picks]


def test_point_cloud_is_depth_through_the_inverse_k(processed):
    # Organised XYZRGB cloud: each point is depth * K^-1 [u v 1].
    cloud, depth_m = processed.cloud, processed.depth_m
    K = np.array(processed.info.k).reshape(3, 3)
    assert (cloud.width, cloud.height) == (WIDTH_PX, HEIGHT_PX)
    assert [f.name for f in cloud.fields] == ['x', 'y', 'z', 'rgb']
    points = np.frombuffer(bytes(cloud.data), dtype=np.float32).reshape(HEIGHT_PX, WIDTH_PX, 4)
    for v, u in _spread_pixels_with_depth(depth_m):
        z = depth_m[v, u]
        expected = z * np.linalg.inv(K) @ np.array([u, v, 1.0])
        np.testing.assert_allclose(points[v, u, :3], expected, rtol=1e-5)
    assert np.all(np.isnan(points[:, :, 2][~np.isfinite(depth_m)]))


def test_colour_depth_is_plasma_of_the_inverse_depth(processed):
    # No depth is black (grey in the left border), the rest the plasma colour of its inverse
    # depth over the fixed 0.3-3.0 m range (255 = nearest), written out here by hand.
    color, depth_m = processed.color, processed.depth_m
    valid = np.isfinite(depth_m)
    assert (color.encoding, color.width, color.height) == ('bgr8', WIDTH_PX, HEIGHT_PX)
    color_bgr = conversions.msg_to_image(color)
    border = np.zeros_like(valid)
    border[:, :107] = True  # the valid window's left edge at this range and scale
    assert np.all(color_bgr[~valid & ~border] == 0)
    assert np.all(color_bgr[~valid & border] == 96)
    index = np.rint((1.0 / depth_m[valid] - 1.0 / 3.0) / (1.0 / 0.3 - 1.0 / 3.0) * 255.0)
    plasma = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None],
                               cv2.COLORMAP_PLASMA)[:, 0]
    np.testing.assert_allclose(color_bgr[valid], plasma[index.astype(np.uint8)], atol=8)


def test_rectified_left_is_the_input_in_bgr_order(processed):
    # This rig has no distortion and R = I, so it is the input itself in BGR order (an RGB
    # mix-up swaps the blue and red planes of the textured scene).
    left_rect, left = processed.left_rect, processed.left
    assert (left_rect.encoding, left_rect.width, left_rect.height) == \
        ('bgr8', WIDTH_PX, HEIGHT_PX)
    rect_bgr = conversions.msg_to_image(left_rect).astype(np.int16)
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(rect_bgr[inner] - left[inner]).mean() < 1.0
    assert np.abs(rect_bgr[inner] - left[inner][..., ::-1]).mean() > 5.0


def test_diagnostics_report_this_frame(processed):
    values = processed.diagnostics
    assert values['search window'] == '10..105 px (96 disparities)'
    assert values['working size'] == '800x650'
    assert float(values['valid pixels %']) > 80.0
    assert float(values['processing ms (median)']) > 0.0
    assert values['dropped frames'] == '0'
    assert processed.processed_frames == 1


def test_qos_reliable_in_and_out_both_overridable(processed):
    # Reliable input (depth_params.INPUT_RELIABILITY: large images arrive whole), reliable
    # publishers; REP 2003 QoS overrides on both.
    assert processed.input_reliability == ReliabilityPolicy.RELIABLE
    assert processed.output_reliability == ReliabilityPolicy.RELIABLE
    assert processed.output_qos_overridable


def test_rectified_input(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory({'input_rectified': True}, outputs=('depth/image_rect', 'disparity'))
    publishers = rig.node.get_publishers_info_by_topic(f'{rig.namespace}/left/image_rect')
    assert [p.node_name for p in publishers] == ['tester']  # its input: never published onto
    disparity = rig.exchange('disparity', calibration, left, right, _stamp(1))
    assert (disparity.min_disparity, disparity.max_disparity) == (10, 105)
    assert disparity.f == pytest.approx(calibration.focal_px)


def test_rectified_input_takes_the_principal_point_from_p(rig_factory, scene_pair):
    # An off-centre principal point in P (as camera_calibration's rectification gives): the
    # depth camera_info and every point of the cloud use P's cx, cy, not the image centre.
    calibration, left, right, _ = scene_pair
    rig = rig_factory({'input_rectified': True, 'point_cloud_keep_nan': True},
                      outputs=('depth/image_rect', 'depth/camera_info', 'points'))
    cx, cy = 371.25, 347.75  # the image centre is (399.5, 324.5)
    infos = []
    for camera in (calibration.left, calibration.right):
        info = conversions.camera_info_msg(camera)
        P = np.array(info.p).reshape(3, 4)
        P[0, 2], P[1, 2] = cx, cy
        info.p = P.ravel().tolist()
        infos.append(info)
    stamp = _stamp(1)
    depth_msg = rig.exchange('depth/image_rect', calibration, left, right, stamp,
                             left_info=infos[0], right_info=infos[1])
    info = rig.wait_for_stamp('depth/camera_info', stamp)
    K = np.array(info.k).reshape(3, 3)
    assert (K[0, 2], K[1, 2]) == (cx, cy)
    assert (info.p[2], info.p[6]) == (cx, cy)
    cloud = rig.wait_for_stamp('points', stamp)
    depth_m = depth_msg_to_m(depth_msg)
    points = np.frombuffer(bytes(cloud.data), dtype=np.float32).reshape(
        cloud.height, cloud.width, -1)
    focal_px = calibration.focal_px
    for v, u in _spread_pixels_with_depth(depth_m):
        z = depth_m[v, u]
        np.testing.assert_allclose(points[v, u, :3],
                                   [(u - cx) * z / focal_px, (v - cy) * z / focal_px, z],
                                   rtol=1e-5)


# --- runtime parameters -------------------------------------------------------------------------

def _set(node, **values):
    return node.set_parameters_atomically([Parameter(k, value=v) for k, v in values.items()])


def test_runtime_parameters_reshape_window_and_reject_bad_values(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory()
    focal_px = calibration.focal_px * NODE_SCALE
    first = rig.exchange('disparity', calibration, left, right, _stamp(1))
    assert (first.min_disparity, first.max_disparity) == (10, 105)

    # A nearer limit of 600 mm halves the largest disparity; applied from the next frame.
    # Given as an integer, as `ros2 param set depth_node min_depth_mm 600` sends it.
    assert _set(rig.node, min_depth_mm=600).successful
    second = rig.exchange('disparity', calibration, left, right, _stamp(2))
    min_disparity, num_disparities = search_window(focal_px, 65.0, 600.0, 3000.0)
    assert (second.min_disparity, second.max_disparity) == \
        (min_disparity, min_disparity + num_disparities - 1) == (10, 57)
    depth_32 = depth_msg_to_m(rig.wait_for_stamp('depth/image_rect', _stamp(2)))
    assert np.nanmin(depth_32) >= 0.6

    # 16UC1 millimetres, 0 = no depth (REP 118), the same depths.
    assert _set(rig.node, depth_format='16UC1').successful
    depth_msg = rig.exchange('depth/image_rect', calibration, left, right, _stamp(3))
    assert depth_msg.encoding == '16UC1'
    depth_mm = conversions.msg_to_image(depth_msg)
    assert depth_mm.dtype == np.uint16
    np.testing.assert_array_equal(depth_mm == 0, ~np.isfinite(depth_32))
    valid = depth_mm > 0
    assert np.abs(depth_mm[valid] - np.rint(depth_32[valid] * 1000.0)).max() <= 1

    # An explicit search window.
    assert _set(rig.node, min_disparity=8, num_disparities=64).successful
    fourth = rig.exchange('disparity', calibration, left, right, _stamp(4))
    assert (fourth.min_disparity, fourth.max_disparity) == (8, 71)

    # Invalid values: rejected with the reason, the old value kept.
    rejected = {
        'min_depth_mm': ({'min_depth_mm': 5000.0}, 'must be below max_depth_mm'),
        'block_size': ({'block_size': 4}, 'not a valid step'),
        'num_disparities': ({'num_disparities': 20}, 'not a valid step'),
        'p1': ({'p1': 2000, 'p2': 1000}, 'p1 (2000) must be below p2 (1000)'),
        'sgbm_mode': ({'sgbm_mode': 'fast'}, 'choose one of sgbm, sgbm_3way, hh, hh4'),
        'sync': ({'sync': 'approximate'}, 'read-only'),
        'max_depth_mm': ({'max_depth_mm': 'far'}, 'max_depth_mm must be a double'),
        'scale': ({'scale': 2}, 'scale out of range Min: 0.25, Max: 1.0, value: 2.0'),
    }
    for name, (values, reason) in rejected.items():
        before = rig.node.get_parameter(name).value
        result = _set(rig.node, **values)
        assert not result.successful, name
        assert reason in result.reason, (name, result.reason)
        assert rig.node.get_parameter(name).value == before
    rig.wait_log('rejected parameter change', 'must be below max_depth_mm')

    # The node still works with the values it kept.
    fifth = rig.exchange('disparity', calibration, left, right, _stamp(5))
    assert (fifth.min_disparity, fifth.max_disparity) == (8, 71)

    # Working scale changed at runtime: depth and its camera_info at 400x325, f halved.
    assert _set(rig.node, scale=0.5, min_disparity=-1, num_disparities=0).successful
    depth_msg = rig.exchange('depth/image_rect', calibration, left, right, _stamp(6))
    info = rig.wait_for_stamp('depth/camera_info', _stamp(6))
    assert (depth_msg.width, depth_msg.height) == (info.width, info.height) == (400, 325)
    assert info.k[0] == pytest.approx(calibration.focal_px / 2)
    assert rig.wait_for_stamp('disparity', _stamp(6)).f == pytest.approx(info.k[0])

    # A new calibration (the camera now sends 400x325): the maps are rebuilt for it.
    small = raiv_nominal().scaled(INPUT_SCALE / 2)
    half = Renderer(small).render(0.0, with_truth=False)
    depth_msg = rig.exchange('depth/image_rect', small, half.left_bgr, half.right_bgr, _stamp(7))
    assert (depth_msg.width, depth_msg.height) == (200, 163)


# --- synchronisation ----------------------------------------------------------------------------

def test_exact_sync_rejects_offset_stamps_and_says_why(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory({'sync': 'exact'}, outputs=('disparity',))
    line = rig.publish_until_log(
        lambda i: rig.publish(calibration, left, right, _stamp(i),
                              right_stamp_ns=_stamp(i) + 5_000_000),
        'no synchronized stereo pair', '5.000 ms apart', 'sync:=approximate')
    assert 'silent' not in line  # every topic arrives; only the stamps disagree
    assert rig.count('disparity') == 0
    rig.exchange('disparity', calibration, left, right, _stamp(100))


def test_silent_topic_named(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('disparity',))
    line = rig.publish_until_log(
        lambda i: rig.publish(calibration, left, right, _stamp(i), skip=(
            'right/camera_info', *(('right/image_raw',) if i % 3 else ()))),  # 2 of 3 lost
        'no synchronized stereo pair', f'{rig.namespace}/right/camera_info is silent')
    assert 'left/image_raw is silent' not in line
    # Reliable input (the default) loses nothing in transport: the hint is the queue depth.
    assert 'messages are lost on the way' in line and 'subscription.depth' in line
    assert '0.000 ms apart' in line and 'sync:=approximate' not in line  # loss, not offset
    assert rig.count('disparity') == 0


def test_approximate_sync_pairs_offset_stamps(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory({'sync': 'approximate', 'sync_slop_s': 0.01}, outputs=('disparity',))
    for i in (1, 2, 3):
        msg = rig.exchange('disparity', calibration, left, right, _stamp(i),
                           right_stamp_ns=_stamp(i) + 5_000_000)  # stamped with the left image
        assert msg.f == pytest.approx(calibration.focal_px)


def test_approximate_sync_refuses_pairs_beyond_the_slop(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory({'sync': 'approximate', 'sync_slop_s': 0.01}, outputs=('disparity',))
    # 30 ms apart with a 10 ms slop (frames 100 ms apart): no pair, and the log says why.
    line = rig.publish_until_log(
        lambda i: rig.publish(calibration, left, right, _stamp(i),
                              right_stamp_ns=_stamp(i) + 30_000_000),
        'no synchronized stereo pair', '30.000 ms apart', 'beyond sync_slop_s (0.01 s)')
    assert 'raise it above 0.0450' in line
    assert rig.count('disparity') == 0


def test_sync_slop_s_reaches_the_synchronizer(rig_factory, scene_pair):
    # 30 ms apart: beyond the default slop (0.01 s), within the 0.05 s asked for.
    calibration, left, right, _ = scene_pair
    rig = rig_factory({'sync': 'approximate', 'sync_slop_s': 0.05}, outputs=('disparity',))
    msg = rig.exchange('disparity', calibration, left, right, _stamp(1),
                       right_stamp_ns=_stamp(1) + 30_000_000)
    assert msg.f == pytest.approx(calibration.focal_px)


def test_newest_pair_processed_older_dropped(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    # Reliable, deep input queues lose no pair: every one is either processed or dropped.
    rig = rig_factory(LOSSLESS_INPUT, outputs=('depth/image_rect',))
    burst = 12
    for i in range(1, burst):  # far faster than the node matches (tens of ms a pair)
        rig.publish(calibration, left, right, _stamp(i))
    rig.publish(calibration, left, right, _stamp(burst))
    rig.wait_for_stamp('depth/image_rect', _stamp(burst))
    wait_for(lambda: rig.count('depth/image_rect') + rig.node.stats().dropped_frames == burst,
             10.0, f'every pair processed or dropped ({rig.count("depth/image_rect")} processed, '
             f'{rig.node.stats().dropped_frames} dropped)')
    with rig.lock:
        processed = [_header_ns(m) for m in rig.received['depth/image_rect']]
    # In order, ending with the newest; most of the burst was dropped unprocessed.
    assert processed == sorted(processed) and processed[-1] == _stamp(burst)
    assert len(processed) <= burst // 2 and rig.node.stats().dropped_frames >= burst // 2


def test_the_same_depth_has_the_same_colour_in_every_frame(rig_factory, scene_pair):
    calibration, left, right, truth = scene_pair
    rig = rig_factory(outputs=('depth/color', 'depth/image_rect'))
    # Frame 2 lacks the near objects (the left third is cut off): its depth minimum differs.
    cut_left, cut_right = left.copy(), right.copy()
    cut_left[:, :300] = 0
    cut_right[:, :300] = 0
    colours = []
    for i, (l_img, r_img) in enumerate(((left, right), (cut_left, cut_right)), start=1):
        rig.exchange('depth/color', calibration, l_img, r_img, _stamp(i))
        depth_m = depth_msg_to_m(rig.wait_for_stamp('depth/image_rect', _stamp(i)))
        colours.append((conversions.msg_to_image(rig.wait_for_stamp('depth/color', _stamp(i))),
                        depth_m))
    (color_1, depth_1), (color_2, depth_2) = colours
    assert np.nanmin(depth_2) > np.nanmin(depth_1) + 0.3  # the frames' depth ranges differ
    # The back wall (2.8 m, right half, found in both frames) keeps its colour.
    wall = (np.abs(truth - 2.8) < 1e-3) & np.isfinite(depth_1) & np.isfinite(depth_2)
    wall[:, :400] = False
    assert wall.sum() > 10000
    np.testing.assert_allclose(np.median(color_1[wall], axis=0), np.median(color_2[wall], axis=0),
                               atol=2)


def test_the_same_pair_gives_the_same_depth(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('depth/image_rect',))
    first, second = (depth_msg_to_m(rig.exchange('depth/image_rect', calibration, left, right,
                                                 _stamp(i))) for i in (1, 2))
    np.testing.assert_array_equal(first, second)  # NaN where NaN, the same metres elsewhere
    assert np.isfinite(first).mean() > 0.8


def test_binned_camera_info_gives_the_same_depth_as_scaled_k_and_p(rig_factory, scene_pair):
    """A driver that bins 2x2 keeps the sensor's K and P and says binning 2 (REP 104)."""
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('depth/image_rect',))
    scaled = depth_msg_to_m(rig.exchange('depth/image_rect', calibration, left, right, _stamp(1)))
    width_px, height_px = calibration.image_size
    infos = []
    for model in (calibration.left, calibration.right):
        info = conversions.camera_info_msg(model.scaled_to(2 * width_px, 2 * height_px))
        info.binning_x = info.binning_y = 2
        infos.append(info)
    binned = depth_msg_to_m(rig.exchange('depth/image_rect', calibration, left, right, _stamp(2),
                                         left_info=infos[0], right_info=infos[1]))
    assert np.isfinite(scaled).mean() > 0.8
    np.testing.assert_allclose(binned, scaled, rtol=1e-4, equal_nan=True)


def test_compressed_input_gives_the_same_depth_and_bad_jpeg_is_dropped(rig_factory, scene_pair):
    calibration, left, right, truth = scene_pair
    rig = rig_factory({'input_transport': 'compressed'}, outputs=('depth/image_rect',))
    assert rig.image_topics == ('left/image_raw/compressed', 'right/image_raw/compressed')
    depth_m = depth_msg_to_m(rig.exchange('depth/image_rect', calibration, left, right, _stamp(1)))
    judged = np.isfinite(truth) & (truth >= 0.3) & (truth <= 3.0) & np.isfinite(depth_m)
    assert judged.mean() > 0.8
    relative = np.abs(depth_m[judged] - truth[judged]) / truth[judged]
    assert (relative < 0.02).mean() > 0.85  # JPEG q95 costs little against raw's >= 90 %
    rig.publish(calibration, left, right, _stamp(2), encoding='garbage')
    line = rig.wait_log('frame dropped', 'left/image_raw/compressed', 'does not decode')
    assert 'JPEG or PNG' in line
    rig.exchange('depth/image_rect', calibration, left, right, _stamp(3))


# --- bad input ----------------------------------------------------------------------------------

def _bad_cases(calibration, left, right):
    """Yield (name, publish kwargs, log fragments) of every bad input the node must survive."""
    small = raiv_nominal().scaled(INPUT_SCALE / 2)
    info = conversions.camera_info_msg
    zero_k = info(calibration.left)
    zero_k.k = [0.0] * 9
    fx_b = calibration.focal_px * calibration.baseline_m
    yield 'encoding', {'encoding': 'yuv422'}, ('left/image_raw', 'unsupported image encoding')
    yield 'left/right size', {'right': right[:325, :400]}, (
        'left/image_raw is 800x650 but', 'right/image_raw is 400x325')
    yield 'camera_infos disagree', {'right_info': info(small.right)}, (
        'right/camera_info', 'left camera_info is 800x650 but right is 400x325')
    yield 'zero focal length', {'left_info': zero_k}, (
        'left/camera_info', 'K or P is all zeros')
    yield 'zero baseline', {'right_info': right_info_with_tx(calibration, 0.0)}, ('zero baseline',)
    yield 'wrong-sign Tx', {'right_info': right_info_with_tx(calibration, fx_b)}, (
        'right projection P[0,3] (Tx) is', 'swapped')
    yield 'image vs camera_info size', {'left': left[:325, :400], 'right': right[:325, :400]}, (
        'left/image_raw is 400x325 but', 'left/camera_info describes 800x650')


def test_bad_input_logged_frame_dropped_node_alive(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory(outputs=('depth/image_rect',))
    cases = list(_bad_cases(calibration, left, right))
    for i, (name, kwargs, fragments) in enumerate(cases):
        pair = {'left': left, 'right': right, **kwargs}
        pair['left'], pair['right'] = np.ascontiguousarray(pair['left']), \
            np.ascontiguousarray(pair['right'])
        rig.publish(calibration, stamp_ns=_stamp(2 * i), **pair)
        line = rig.wait_log('frame dropped', *fragments)
        assert rig.namespace in line, (name, line)  # names the topic
        rig.exchange('depth/image_rect', calibration, left, right, _stamp(2 * i + 1))
    assert rig.count('depth/image_rect') >= len(cases)


# --- the parameter table ------------------------------------------------------------------------

DESIGN_PARAMETERS = (
    'input_rectified input_transport sync sync_slop_s queue_size scale min_depth_mm '
    'max_depth_mm min_disparity num_disparities block_size p1 p2 uniqueness_ratio '
    'speckle_window_size speckle_range '
    'disp12_max_diff pre_filter_cap sgbm_mode post_filter temporal_filter_alpha spatial_fill_px '
    'subpixel sgbm_resolution min_confidence '
    'depth_format '
    'mask_out_of_range '
    'point_cloud_rgb point_cloud_keep_nan on_swapped_pair diagnostics_period_s '
    'calibration_check_period_s calibration_correction').split()


def test_parameter_table():
    assert [p.name for p in depth_params.PARAMETERS] == DESIGN_PARAMETERS
    table = depth_params.parameter_table_markdown()
    assert all(f'| `{name}` |' in table for name in DESIGN_PARAMETERS)
    block = parameter_descriptor(depth_params.BY_NAME['block_size'])
    assert (block.integer_range[0].from_value, block.integer_range[0].to_value,
            block.integer_range[0].step) == (1, 31, 2)
    assert parameter_descriptor(depth_params.BY_NAME['num_disparities']).integer_range[0].step \
        == 16
    assert parameter_descriptor(depth_params.BY_NAME['sync']).read_only
    assert depth_params.depth_settings_problems({}) == []
    assert depth_params.depth_settings_problems({'min_depth_mm': 3000.0}) == [
        'min_depth_mm (3000) must be below max_depth_mm (3000)']
    assert depth_params.depth_settings_problems({'block_size': 6})[0].startswith('block_size')
    settings = depth_params.matcher_settings({'min_disparity': 4, 'num_disparities': 32})
    assert (settings.min_disparity, settings.num_disparities, settings.mode) == \
        (4, 32, MatcherSettings().mode)
    assert depth_params.matcher_settings({}) == MatcherSettings()
