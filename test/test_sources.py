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

"""Frame sources on small files written here: order, looping, end of source, clear errors."""

import sys
import time

import cv2
import numpy as np
import pytest
from raiv_stereo.core.calibration import raiv_nominal
from raiv_stereo.eval.scene import Plane, Renderer, sample_scene, Scene, truth_depth_m
from raiv_stereo.sources import EndOfSource, open_source, SourceError
from raiv_stereo.sources.camera import parse_device

CALIB = raiv_nominal().scaled(0.1)  # 160x130


def _pair(k, size=(40, 30)):
    """Return a distinguishable left/right pair number k (uniform levels survive MJPG)."""
    w, h = size
    left = np.full((h, w, 3), 20 + 40 * k, np.uint8)
    right = np.full((h, w, 3), 30 + 40 * k, np.uint8)
    right[:, :, 0] = 200  # right differs in its blue channel
    return left, right


def _levels(frame):
    return tuple(int(round(float(im[:, :, 1].mean()))) for im in (frame.left, frame.right))


def _write_pairs(directory, count=3, size=(40, 30)):
    (directory / 'left').mkdir(parents=True)
    (directory / 'right').mkdir()
    for k in range(count):
        left, right = _pair(k, size)
        cv2.imwrite(str(directory / 'left' / f'img_{k:03d}.png'), left)
        cv2.imwrite(str(directory / 'right' / f'img_{k:03d}.png'), right)


# --- sample -----------------------------------------------------------------------------------

def test_sample_frames_have_the_calibration_size_and_advance_scene_time():
    calib = raiv_nominal().scaled(0.25)
    source = open_source('sample', {'rate_hz': 20.0}, calib)
    before = time.time_ns()
    frames = [source.read() for _ in range(3)]
    for k, frame in enumerate(frames):
        assert frame.left.shape == (325, 400, 3) and frame.right.shape == (325, 400, 3)
        assert frame.left.dtype == np.uint8
        assert frame.sequence == k
        assert frame.scene_time_s == pytest.approx(k / 20.0)
        assert before <= frame.capture_time_ns <= time.time_ns()
    # The box moves: consecutive frames differ, but only where it is.
    changed = np.any(frames[0].left != frames[2].left, axis=2)
    assert 0.001 < changed.mean() < 0.2


def test_sample_rejects_a_non_positive_rate():
    with pytest.raises(SourceError, match='rate_hz'):
        open_source('sample', {'rate_hz': 0.0}, CALIB)
    with pytest.raises(SourceError, match='sample.frames'):
        open_source('sample', {'sample.frames': -1}, CALIB)


def test_sample_replay_renders_n_frames_once_then_loops_them_with_their_scene_time():
    live = open_source('sample', {'rate_hz': 20.0}, CALIB)
    replay = open_source('sample', {'rate_hz': 20.0, 'sample.frames': 3}, CALIB)
    lives = [live.read() for _ in range(3)]
    replays = [replay.read() for _ in range(7)]
    for k, frame in enumerate(replays):
        assert frame.sequence == k
        assert frame.scene_time_s == pytest.approx((k % 3) / 20.0)
        first = lives[k % 3]
        assert np.array_equal(frame.left, first.left) and np.array_equal(frame.right, first.right)
    assert replays[3].left is replays[0].left  # from memory, not rendered again
    assert not replays[0].left.flags.writeable
    assert not np.array_equal(replays[0].left, replays[1].left)  # the box still moves


def test_fast_render_equals_a_full_trace_of_the_same_instant():
    # Freeze the moving box where it is at t: an all-static scene is traced over every pixel.
    calib = raiv_nominal().scaled(0.25)
    scene = sample_scene()
    renderer = Renderer(calib, scene)
    for t in (0.0, 0.7, 1.0, 3.1):
        frozen = Scene(planes=tuple(
            Plane(**{**p.__dict__, 'center_m': tuple(p.center_at(t)), 'motion_m': (0, 0, 0)})
            if p.moving else p for p in scene.planes))
        fast = renderer.render(t, with_truth=False)
        full = Renderer(calib, frozen).render(0.0, with_truth=False)
        assert np.array_equal(fast.left_bgr, full.left_bgr)
        assert np.array_equal(fast.right_bgr, full.right_bgr)


def test_sample_disparity_agrees_with_f_b_over_z():
    calib = raiv_nominal().scaled(0.5)  # 800x650, f = 466.7 px, B = 65 mm: rectified already
    source = open_source('sample', {'rate_hz': 10.0}, calib)
    source.read()
    frame = source.read()  # scene time 0.1 s: the box is moving
    truth_px = calib.focal_px * calib.baseline_m / truth_depth_m(calib, sample_scene(),
                                                                 frame.scene_time_s)
    sgbm = cv2.StereoSGBM_create(minDisparity=0, numDisparities=80, blockSize=5, P1=8 * 25,
                                 P2=32 * 25, uniquenessRatio=10,
                                 mode=cv2.STEREO_SGBM_MODE_SGBM_3WAY)
    left, right = (cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) for im in (frame.left, frame.right))
    disparity = sgbm.compute(left, right).astype(np.float32) / 16.0
    valid = disparity > 0
    valid[:, :90] = False  # no match possible left of the search window
    assert valid.mean() > 0.6
    error = np.abs(disparity[valid] - truth_px[valid])
    assert np.median(error) < 0.5
    assert np.mean(error < 1.0) > 0.95
    # Where the moving box is now but not at 2 s, the pair matches the truth of scene_time_s.
    other_px = calib.focal_px * calib.baseline_m / truth_depth_m(calib, sample_scene(), 2.0)
    moved = valid & (np.abs(truth_px - other_px) > 2.0)
    assert moved.sum() > 2000
    assert np.median(np.abs(disparity[moved] - truth_px[moved])) < 0.5
    # The near card (0.5 m, 60.7 px) and the wall (2.8 m, 10.8 px) both show up at their depth.
    assert np.nanmax(truth_px) == pytest.approx(60.67, abs=0.01)
    assert np.nanmin(truth_px) == pytest.approx(10.83, abs=0.01)


# --- images -----------------------------------------------------------------------------------

@pytest.mark.parametrize('mode', ['directory', 'glob', 'list'])
def test_images_play_in_sorted_order_then_end(tmp_path, mode):
    _write_pairs(tmp_path)
    if mode == 'directory':
        options = {'images.left': str(tmp_path / 'left'), 'images.right': str(tmp_path / 'right')}
    elif mode == 'glob':
        options = {'images.left': str(tmp_path / 'left' / '*.png'),
                   'images.right': str(tmp_path / 'right' / 'img_*.png')}
    else:
        lines = [f'left/img_{k:03d}.png right/img_{k:03d}.png' for k in (2, 0, 1)]
        (tmp_path / 'pairs.txt').write_text('# left right\n\n' + '\n'.join(lines) + '\n')
        options = {'images.list': str(tmp_path / 'pairs.txt')}
    source = open_source('images', {**options, 'loop': False}, CALIB)
    levels = [_levels(source.read()) for _ in range(3)]
    expected_order = (2, 0, 1) if mode == 'list' else (0, 1, 2)
    assert levels == [(20 + 40 * k, 30 + 40 * k) for k in expected_order]
    with pytest.raises(EndOfSource):
        source.read()
    with pytest.raises(EndOfSource):
        source.read()


def test_images_loop_and_single_pair(tmp_path):
    _write_pairs(tmp_path, count=2)
    source = open_source('images', {'images.left': str(tmp_path / 'left'),
                                    'images.right': str(tmp_path / 'right'), 'loop': True}, CALIB)
    frames = [source.read() for _ in range(5)]
    assert [_levels(f)[0] for f in frames] == [20, 60, 20, 60, 20]
    assert [f.sequence for f in frames] == [0, 1, 2, 3, 4]
    assert frames[0].left.shape == (30, 40, 3)  # native size: the node resizes
    single = open_source('images', {'images.left': str(tmp_path / 'left' / 'img_001.png'),
                                    'images.right': str(tmp_path / 'right' / 'img_001.png'),
                                    'loop': True}, CALIB)
    assert [_levels(single.read())[0] for _ in range(2)] == [60, 60]


def test_images_errors_name_the_path(tmp_path):
    _write_pairs(tmp_path)
    missing = str(tmp_path / 'nowhere' / '*.png')
    with pytest.raises(SourceError, match='nowhere'):
        open_source('images', {'images.left': missing,
                               'images.right': str(tmp_path / 'right')}, CALIB)
    with pytest.raises(SourceError, match='no_such_dir'):
        open_source('images', {'images.left': str(tmp_path / 'left'),
                               'images.right': str(tmp_path / 'no_such_dir')}, CALIB)
    with pytest.raises(SourceError, match='images.left and images.right'):
        open_source('images', {}, CALIB)
    # Unequal counts.
    (tmp_path / 'right' / 'img_000.png').unlink()
    with pytest.raises(SourceError, match=r'3 files.*2'):
        open_source('images', {'images.left': str(tmp_path / 'left'),
                               'images.right': str(tmp_path / 'right')}, CALIB)
    # A list naming a missing file.
    (tmp_path / 'pairs.txt').write_text('left/img_000.png right/img_000.png\n')
    with pytest.raises(SourceError, match=r'pairs.txt:1.*img_000.png'):
        open_source('images', {'images.list': str(tmp_path / 'pairs.txt')}, CALIB)
    (tmp_path / 'bad.txt').write_text('only_one_path.png\n')
    with pytest.raises(SourceError, match='bad.txt:1'):
        open_source('images', {'images.list': str(tmp_path / 'bad.txt')}, CALIB)


def test_images_unreadable_and_mismatched_sizes(tmp_path):
    left, right = _pair(0)
    cv2.imwrite(str(tmp_path / 'l.png'), left)
    (tmp_path / 'r.png').write_bytes(b'not a png at all')
    source = open_source('images', {'images.left': str(tmp_path / 'l.png'),
                                    'images.right': str(tmp_path / 'r.png')}, CALIB)
    with pytest.raises(SourceError, match=r'r\.png'):
        source.read()
    cv2.imwrite(str(tmp_path / 'big.png'), np.zeros((31, 40, 3), np.uint8))
    source = open_source('images', {'images.left': str(tmp_path / 'l.png'),
                                    'images.right': str(tmp_path / 'big.png')}, CALIB)
    with pytest.raises(SourceError, match=r'40x30.*40x31'):
        source.read()


# --- video ------------------------------------------------------------------------------------

def _write_video(path, frames):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10.0, (w, h))
    assert writer.isOpened()
    for image in frames:
        writer.write(image)
    writer.release()


def test_video_pair_plays_in_order_and_ends(tmp_path):
    pairs = [_pair(k, (48, 32)) for k in range(3)]
    _write_video(tmp_path / 'l.avi', [p[0] for p in pairs])
    _write_video(tmp_path / 'r.avi', [p[1] for p in pairs])
    options = {'video.left': str(tmp_path / 'l.avi'), 'video.right': str(tmp_path / 'r.avi')}
    source = open_source('video', {**options, 'loop': False}, CALIB)
    levels = [_levels(source.read()) for _ in range(3)]
    for k, (left, right) in enumerate(levels):
        assert abs(left - (20 + 40 * k)) <= 3 and abs(right - (30 + 40 * k)) <= 3
    with pytest.raises(EndOfSource):
        source.read()
    source.close()
    looped = open_source('video', {**options, 'loop': True}, CALIB)
    firsts = [_levels(looped.read())[0] for _ in range(7)]
    assert [round((v - 20) / 40) for v in firsts] == [0, 1, 2, 0, 1, 2, 0]
    looped.close()


def test_video_side_by_side(tmp_path):
    frames = [np.hstack(_pair(k, (48, 32))) for k in range(2)]
    _write_video(tmp_path / 'sbs.avi', frames)
    source = open_source('video', {'video.side_by_side': str(tmp_path / 'sbs.avi'),
                                   'loop': False}, CALIB)
    first = source.read()
    assert first.left.shape == (32, 48, 3) and first.right.shape == (32, 48, 3)
    assert abs(_levels(first)[0] - 20) <= 3 and abs(_levels(first)[1] - 30) <= 3
    assert abs(float(first.right[4:-4, 4:-4, 0].mean()) - 200) <= 4
    source.read()
    with pytest.raises(EndOfSource):
        source.read()


def test_video_errors_name_the_file(tmp_path):
    with pytest.raises(SourceError, match='missing.avi'):
        open_source('video', {'video.side_by_side': str(tmp_path / 'missing.avi')}, CALIB)
    (tmp_path / 'junk.avi').write_bytes(b'\x00' * 100)
    with pytest.raises(SourceError, match='junk.avi'):
        source = open_source('video', {'video.side_by_side': str(tmp_path / 'junk.avi')}, CALIB)
        source.read()
    with pytest.raises(SourceError, match='video.left and video.right'):
        open_source('video', {'video.left': str(tmp_path / 'junk.avi')}, CALIB)
    _write_video(tmp_path / 'l.avi', [np.zeros((32, 48, 3), np.uint8)] * 2)
    _write_video(tmp_path / 'r.avi', [np.zeros((40, 48, 3), np.uint8)] * 2)
    source = open_source('video', {'video.left': str(tmp_path / 'l.avi'),
                                   'video.right': str(tmp_path / 'r.avi')}, CALIB)
    with pytest.raises(SourceError, match=r'48x32.*48x40'):
        source.read()


# --- camera -----------------------------------------------------------------------------------

def test_parse_device():
    assert parse_device(0) == 0 and parse_device('2') == 2
    assert parse_device(-1) is None and parse_device('') is None and parse_device('-1') is None
    assert parse_device('/dev/video3') == '/dev/video3'


def test_camera_that_does_not_open_gives_a_clear_error(tmp_path):
    missing = str(tmp_path / 'video99')
    with pytest.raises(SourceError, match='video99.*does not exist'):
        open_source('camera', {'camera.device_left': missing, 'camera.side_by_side': True}, CALIB)
    with pytest.raises(SourceError, match='cannot open camera device 63'):
        open_source('camera', {'camera.device_left': 63, 'camera.device_right': 62}, CALIB)
    with pytest.raises(SourceError, match='camera.device_right'):
        open_source('camera', {'camera.device_left': 0}, CALIB)


# --- raiv -------------------------------------------------------------------------------------

def test_raiv_without_the_sdk_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, 'qCU_Data', None)  # import raises ImportError
    with pytest.raises(SourceError, match=r'qCU_Data\) is not importable: this source runs only '
                                          'on the camera'):
        open_source('raiv', {}, CALIB)


# --- one interface, one table --------------------------------------------------------------------


def test_each_source_declares_its_kind_and_its_options_become_namespaced_node_parameters():
    from raiv_stereo import sources
    from raiv_stereo.params import camera as camera_params

    assert sources.KINDS == ('sample', 'images', 'video', 'camera', 'raiv', 'stream', 'bag')
    assert camera_params.BY_NAME['source'].choices == sources.KINDS
    pushed = {kind for kind in sources.KINDS if sources.source_class(kind).pushed}
    assert pushed == {'raiv', 'stream', 'bag'}
    for kind in sources.KINDS:
        options = sources.source_class(kind).options
        assert options, kind
        for spec in options:
            node_spec = camera_params.BY_NAME[f'{kind}.{spec.name}']
            assert (node_spec.default, node_spec.value_range, node_spec.choices) == \
                (spec.default, spec.value_range, spec.choices)
            assert node_spec.read_only
    old = {'sample_frames', 'images_left', 'video_left', 'camera_device_left', 'raiv_input',
           'swap_left_right', 'stream_port', 'stream_token', 'bag_path'}
    assert not old & set(camera_params.BY_NAME), 'per-source parameters are namespaced'


@pytest.mark.parametrize('kind, options, expected', [
    ('stream', {'stream.port': 70000}, 'stream.port is 70000; allowed 0..65535'),
    ('stream', {'stream.mode': 'push'}, "stream.mode is 'push'; choose one of listen, connect"),
    ('stream', {'stream.mode': 'connect'}, "stream.mode 'connect' needs stream.host"),
    ('stream', {'stream.prot': 1}, "unknown parameter 'stream.prot'; did you mean 'stream.port'?"),
    ('camera', {'camera.fps': -1.0}, 'camera.fps is -1; allowed 0..1000'),
    ('raiv', {'raiv.input': 'depth'}, "raiv.input is 'depth'; choose one of frame, ai"),
    ('sample', {'sample.frames': 2000}, 'sample.frames is 2000; allowed 0..1000'),
    ('video', {'video.left': 'l.avi', 'video.side_by_side': 's.avi'},
     'give either video.side_by_side or video.left + video.right, not both'),
    ('images', {'images.left': 'l.png', 'images.list': 'pairs.txt'},  # left would be ignored
     'give either images.list or images.left + images.right, not both'),
    ('images', {'images.left': 'l.png'},
     "source 'images' needs images.left and images.right (files, directories or glob "
     'patterns), or images.list'),
    ('bag', {'bag.path': '/x', 'bag.topics': '/a'}, 'bag.topics needs four topics'),
])
def test_a_bad_option_is_refused_by_the_one_table_the_same_way_everywhere(kind, options,
                                                                          expected):
    from raiv_stereo.params import camera as camera_params

    with pytest.raises(SourceError) as opened:
        open_source(kind, options, CALIB)  # refused before any file, socket or device is opened
    node = camera_params.camera_settings_problems({'source': kind, **options})
    assert expected in str(opened.value)
    assert any(expected in problem for problem in node), node
    assert str(opened.value) == '; '.join(node)


def test_the_device_sender_reads_through_the_same_sources(tmp_path):
    from raiv_stereo.device import sender
    from raiv_stereo.sources.images import ImageSource
    from raiv_stereo.sources.sample import SampleSource

    for side in ('left', 'right'):
        (tmp_path / side).mkdir()
        for index in range(2):
            image = np.full((13, 16, 3), 40 * index + (side == 'right'), np.uint8)
            cv2.imwrite(str(tmp_path / side / f'img_{index}.png'), image)
    files = sender.make_provider(sender.parse_args(['--from-files', str(tmp_path)]))
    assert isinstance(files.source, ImageSource)
    pairs = [files.next_pair() for _ in range(2)]
    assert [int(p.left[0, 0, 0]) for p in pairs] == [0, 40]
    assert [int(p.right[0, 0, 0]) for p in pairs] == [1, 41]
    with pytest.raises(StopIteration):
        files.next_pair()  # played once: the images source's end
    assert files.calibration() is None
    sample = sender.make_provider(sender.parse_args(['--sample', '--sample-scale', '0.25']))
    assert isinstance(sample.source, SampleSource)
    assert sample.next_pair().left.shape == (325, 400, 3)
    assert sample.calibration() == raiv_nominal().scaled(0.25).to_dict()
