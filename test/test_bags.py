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

"""Bags without ROS: a stereo bag written with rosbags, depth from it, the bag replayed live."""

from pathlib import Path

import cv2
import numpy as np
import pytest
from raiv_stereo.core.depth import depth_m_to_mm_u16
from raiv_stereo.core.pipeline import StereoPipeline
from raiv_stereo.eval.scene import Renderer
from raiv_stereo.sources import rosbag_io as bags
from raiv_stereo.sources.rosbag_io import BagError, find_stereo_topics, read_messages
from raiv_stereo.tools import cli

rosbags = pytest.importorskip('rosbags')
from rosbags.rosbag2 import StoragePlugin, Writer  # noqa: E402
from rosbags.typesys import get_typestore, Stores  # noqa: E402

STAMP0_NS = 1_700_000_000_000_000_000
PERIOD_NS = 100_000_000


def write_stereo_bag(path: Path, calibration, images: list[tuple[np.ndarray, np.ndarray]],
                     namespace: str = '/raiv', compressed: bool = False,
                     storage: StoragePlugin = StoragePlugin.SQLITE3,
                     period_ns: int = PERIOD_NS) -> list[int]:
    """Write a stereo bag as a camera driver records it; return the stamps (ns)."""
    store = get_typestore(Stores.LATEST)
    types = store.types
    Time, Header = types['builtin_interfaces/msg/Time'], types['std_msgs/msg/Header']
    Image = types['sensor_msgs/msg/Image']
    CompressedImage = types['sensor_msgs/msg/CompressedImage']
    CameraInfo = types['sensor_msgs/msg/CameraInfo']
    Roi = types['sensor_msgs/msg/RegionOfInterest']
    image_type = 'sensor_msgs/msg/CompressedImage' if compressed else 'sensor_msgs/msg/Image'
    suffix = 'image_raw/compressed' if compressed else 'image_raw'
    stamps = []
    with Writer(path, version=9, storage_plugin=storage) as writer:
        connections = {}
        for side in ('left', 'right'):
            connections[side] = writer.add_connection(f'{namespace}/{side}/{suffix}', image_type,
                                                      typestore=store)
            connections[side + '_info'] = writer.add_connection(
                f'{namespace}/{side}/camera_info', 'sensor_msgs/msg/CameraInfo', typestore=store)
        for index, pair in enumerate(images):
            stamp = STAMP0_NS + index * period_ns
            stamps.append(stamp)
            for side, image, model in (('left', pair[0], calibration.left),
                                       ('right', pair[1], calibration.right)):
                header = Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9),
                                frame_id=f'raiv_{side}_optical_frame')
                if compressed:
                    data = np.frombuffer(cv2.imencode('.png', image)[1].tobytes(), np.uint8)
                    msg = CompressedImage(header=header, format='bgr8; png compressed bgr8',
                                          data=data)
                else:
                    msg = Image(header=header, height=image.shape[0], width=image.shape[1],
                                encoding='bgr8', is_bigendian=0, step=image.shape[1] * 3,
                                data=np.ascontiguousarray(image).ravel())
                info = CameraInfo(header=header, height=model.height_px, width=model.width_px,
                                  distortion_model='plumb_bob', d=model.D.ravel(),
                                  k=model.K.ravel(), r=model.R.ravel(), p=model.P.ravel(),
                                  binning_x=0, binning_y=0,
                                  roi=Roi(x_offset=0, y_offset=0, height=0, width=0,
                                          do_rectify=False))
                # Recorded a little after capture, images before their camera_info.
                writer.write(connections[side], stamp + 5_000_000,
                             store.serialize_cdr(msg, image_type))
                writer.write(connections[side + '_info'], stamp + 6_000_000,
                             store.serialize_cdr(info, 'sensor_msgs/msg/CameraInfo'))
    return stamps


@pytest.fixture(scope='module')
def scene_frames(scene_pair):
    """Three frames of the sample scene at 800x650 (the moving box moves)."""
    renderer = Renderer(scene_pair.calibration)
    frames = [renderer.render(t, with_truth=False) for t in (0.0, 0.5, 1.0)]
    return scene_pair.calibration, [(f.left_bgr, f.right_bgr) for f in frames]


def _truth_share(depth_m: np.ndarray, truth_m: np.ndarray) -> float:
    known = np.isfinite(truth_m)
    return float(np.mean(np.abs(depth_m[known] - truth_m[known]) <= 0.02 * truth_m[known]))


def _depth_of(msg) -> np.ndarray:
    dtype = np.float32 if msg.encoding == '32FC1' else np.uint16
    return np.frombuffer(msg.data.tobytes(), dtype).reshape(msg.height, msg.width)


def test_depth_from_a_raw_sqlite_bag_round_trip(tmp_path, scene_frames, scene_pair, capsys):
    calibration, frames = scene_frames
    stamps = write_stereo_bag(tmp_path / 'in', calibration, frames)
    assert cli.main(['depth', '--bag', str(tmp_path / 'in'), '--out', str(tmp_path / 'out'),
                     '--scale', '1']) == 0
    out = capsys.readouterr()
    assert 'wrote 3 frames' in out.out
    assert '/raiv/left/image_raw, /raiv/right/image_raw' in out.out
    assert '3/3 pairs (100 %)' in out.err  # the progress line
    assert bags.bag_storage(tmp_path / 'out') == 'sqlite3'
    depth = read_messages(tmp_path / 'out', '/raiv/depth/image_rect')
    disparity = read_messages(tmp_path / 'out', '/raiv/disparity')
    infos = read_messages(tmp_path / 'out', '/raiv/depth/camera_info')
    assert [bags.stamp_ns(m) for _, m in depth] == stamps  # stamps copied from the input
    assert [bags.stamp_ns(m) for _, m in disparity] == stamps
    assert [bags.stamp_ns(m) for _, m in infos] == stamps
    assert [t for t, _ in depth] == [s + 5_000_000 for s in stamps]  # recorded times too
    assert {m.header.frame_id for _, m in depth} == {'raiv_left_optical_frame'}
    # The same numbers as the pipeline on the pair itself, and close to the true depth.
    pipeline = StereoPipeline(calibration, 1.0)
    for (_, msg), (left, right) in zip(depth, frames, strict=True):
        assert msg.encoding == '32FC1' and (msg.width, msg.height) == (800, 650)
        expected = pipeline.process(left, right, mask_out_of_range=True).depth_m  # the default
        np.testing.assert_array_equal(_depth_of(msg), expected)
    assert _truth_share(_depth_of(depth[0][1]), scene_pair.truth_m) > 0.8
    first = disparity[0][1]
    assert first.f == pytest.approx(calibration.focal_px)
    assert first.t == pytest.approx(calibration.baseline_m)
    assert (first.image.width, first.image.height) == (800, 650)
    assert first.min_disparity == pipeline.matcher.min_disparity
    info = infos[0][1]
    np.testing.assert_allclose(np.reshape(info.k, (3, 3)), pipeline.working.left.P[:, :3])
    assert (info.width, info.height) == (800, 650) and not np.any(info.d)


def test_depth_from_a_compressed_mcap_bag_in_millimetres(tmp_path, scene_frames, capsys):
    calibration, frames = scene_frames
    stamps = write_stereo_bag(tmp_path / 'in', calibration, frames[:2], namespace='/robot/cam',
                              compressed=True, storage=StoragePlugin.MCAP)
    assert cli.main(['depth', '--bag', str(tmp_path / 'in'), '--out', str(tmp_path / 'out'),
                     '--depth-format', '16UC1']) == 0
    assert '/robot/cam/left/image_raw/compressed' in capsys.readouterr().out
    assert bags.bag_storage(tmp_path / 'out') == 'mcap'  # the input's storage
    depth = read_messages(tmp_path / 'out', '/robot/cam/depth/image_rect')
    assert [bags.stamp_ns(m) for _, m in depth] == stamps
    assert depth[0][1].encoding == '16UC1' and (depth[0][1].width, depth[0][1].height) == \
        (400, 325)
    # PNG is lossless: the same millimetres as the pipeline on the pair at scale 0.5.
    pipeline = StereoPipeline(calibration, 0.5)
    expected = pipeline.process(*frames[0], mask_out_of_range=True).depth_m
    np.testing.assert_array_equal(_depth_of(depth[0][1]), depth_m_to_mm_u16(expected))


def test_topics_found_by_name_given_or_refused():
    image, compressed = 'sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage'
    info = 'sensor_msgs/msg/CameraInfo'
    topics = {'/cam/left/image_raw': image, '/cam/left/image_raw/compressed': compressed,
              '/cam/left/image_rect': image, '/cam/right/image_raw': image,
              '/cam/left/camera_info': info, '/cam/right/camera_info': info,
              '/tf': 'tf2_msgs/msg/TFMessage'}
    found = find_stereo_topics(topics)
    assert found.as_tuple() == ('/cam/left/image_raw', '/cam/right/image_raw',
                                '/cam/left/camera_info', '/cam/right/camera_info')
    assert found.namespace == '/cam'
    given = find_stereo_topics(topics, left_image='/cam/left/image_rect')
    assert given.left_image == '/cam/left/image_rect'
    two_rights = dict(topics, **{'/other/right/image_raw': image})
    with pytest.raises(BagError, match='several right image topics.*--right-topic'):
        find_stereo_topics(two_rights)
    with pytest.raises(BagError, match='no right camera_info topic.*--right-info-topic'):
        find_stereo_topics({k: v for k, v in topics.items() if k != '/cam/right/camera_info'})
    with pytest.raises(BagError, match='--left-topic /nope is not in the bag'):
        find_stereo_topics(topics, left_image='/nope')
    with pytest.raises(BagError, match='carries tf2_msgs/msg/TFMessage, not an image'):
        find_stereo_topics(topics, left_image='/tf')
    # zed-style names: left_raw/image_raw_color and right_raw/...
    zed = {'/zed/left_raw/image_raw_color': image, '/zed/right_raw/image_raw_color': image,
           '/zed/left_raw/camera_info': info, '/zed/right_raw/camera_info': info}
    assert find_stereo_topics(zed).right_info == '/zed/right_raw/camera_info'


def test_bag_problems_are_one_line(tmp_path, scene_frames, capsys):
    calibration, frames = scene_frames
    run = ['depth', '--bag', str(tmp_path / 'in'), '--out', str(tmp_path / 'out')]
    assert cli.main(run) == 1
    assert 'no bag at' in capsys.readouterr().err
    write_stereo_bag(tmp_path / 'in', calibration, frames[:1])
    (tmp_path / 'out').mkdir()
    assert cli.main(run) == 1
    assert 'exists; give a new folder name' in capsys.readouterr().err
    assert cli.main(['depth', '--out', str(tmp_path / 'x')]) == 1
    assert 'give LEFT RIGHT image files, or --bag IN' in capsys.readouterr().err
    # Left and right stamped 3 ms apart: no pair until --sync-slop-s allows it.
    store = get_typestore(Stores.LATEST)
    skewed = tmp_path / 'skewed'
    with Writer(skewed, version=9) as writer:
        for side, offset in (('left', 0), ('right', 3_000_000)):
            connection = writer.add_connection(f'/{side}/image_raw', 'sensor_msgs/msg/Image',
                                               typestore=store)
            Header, Time = store.types['std_msgs/msg/Header'], \
                store.types['builtin_interfaces/msg/Time']
            image = frames[0][0 if side == 'left' else 1]
            msg = store.types['sensor_msgs/msg/Image'](
                header=Header(stamp=Time(sec=1, nanosec=offset), frame_id=side),
                height=650, width=800, encoding='bgr8', is_bigendian=0, step=2400,
                data=image.ravel())
            writer.write(connection, 1_000_000_000 + offset,
                         store.serialize_cdr(msg, 'sensor_msgs/msg/Image'))
    files = []
    for side, model in (('left', calibration.left), ('right', calibration.right)):
        from raiv_stereo.core.calibration_io import save_camera_info_yaml
        save_camera_info_yaml(tmp_path / f'{side}.yaml', model, side)
        files.append(str(tmp_path / f'{side}.yaml'))
    skew_run = ['depth', '--bag', str(skewed), '--calibration', *files]
    assert cli.main(skew_run + ['--out', str(tmp_path / 'o1')]) == 1
    assert 'no synchronized pair' in capsys.readouterr().err
    assert cli.main(skew_run + ['--out', str(tmp_path / 'o2'), '--sync-slop-s', '0.005']) == 0
    assert 'wrote 1 frames' in capsys.readouterr().out


def test_bag_source_replays_at_the_recorded_rate(tmp_path, scene_frames):
    from raiv_stereo.sources import EndOfSource, open_source
    from raiv_stereo.sources.bag import BagSource

    calibration, frames = scene_frames
    stamps = write_stereo_bag(tmp_path / 'in', calibration, frames, period_ns=250_000_000)
    now = [10_000_000_000]
    source = BagSource(bags.StereoBagReader(tmp_path / 'in'), loop=True,
                       clock_ns=lambda: now[0])
    assert source.calibration.key == calibration.key  # the bag's camera_info
    got = []
    for _ in range(12):  # 12 polls 100 ms apart: pairs at 0, 250 and 500 ms, then again
        frame = source.read()
        if frame is not None:
            got.append((now[0], frame))
        now[0] += 100_000_000
    times = [t - 10_000_000_000 for t, _ in got]
    assert times[:3] == [0, 300_000_000, 500_000_000]
    assert [f.capture_time_ns - 10_000_000_000 for _, f in got[:3]] == \
        [s - stamps[0] for s in stamps]
    np.testing.assert_array_equal(got[1][1].left, frames[1][0])
    # Looped: the second pass follows one recorded interval after the last pair.
    assert got[3][1].capture_time_ns - got[2][1].capture_time_ns == 250_000_000
    assert [f.sequence for _, f in got] == list(range(len(got)))
    once = open_source('bag', {'bag.path': str(tmp_path / 'in'), 'loop': False}, calibration)
    with pytest.raises(EndOfSource):
        for _ in range(1000):
            once.read()
            import time
            time.sleep(0.01)
    from raiv_stereo.sources import SourceError
    with pytest.raises(SourceError, match='bag.topics needs four topics'):
        open_source('bag', {'bag.path': str(tmp_path / 'in'), 'bag.topics': '/a,/b'},
                    calibration)


def test_camera_node_replays_a_bag(tmp_path, scene_frames, ros_session):
    from helpers import CAMERA_TOPICS, stamp_key
    from raiv_stereo.ros.conversions import msg_to_image

    calibration, frames = scene_frames
    stamps = write_stereo_bag(tmp_path / 'in', calibration, frames)
    camera = ros_session.camera('/bag_cam', source='bag', **{'bag.path': str(tmp_path / 'in')},
                                loop=False)
    got = ros_session.collector('/bag_cam')
    assert ros_session.spin_until(
        lambda: camera.finished and all(len(got[key]) >= 3 for key in CAMERA_TOPICS))
    assert [len(got[key]) for key in CAMERA_TOPICS] == [3, 3, 3, 3]
    left_stamps = [stamp_key(m) for m in got['left']]
    assert [s - left_stamps[0] for s in left_stamps] == [s - stamps[0] for s in stamps]
    for key in ('right', 'left_info', 'right_info'):
        assert [stamp_key(m) for m in got[key]] == left_stamps
    np.testing.assert_array_equal(msg_to_image(got['left'][2]), frames[2][0])
    np.testing.assert_allclose(np.reshape(got['right_info'][0].p, (3, 4)),
                               calibration.right.P)


def test_bag_source_needs_a_path():
    from raiv_stereo.params import camera as camera_params

    assert camera_params.camera_settings_problems({'source': 'bag'}) == [
        "source 'bag' needs bag.path (a rosbag2 folder)"]
    assert camera_params.camera_settings_problems({'source': 'bag', 'bag.path': '/x'}) == []
