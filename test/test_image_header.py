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

"""Compressed images are sized from their header and bounded before any decoder sees them."""

import struct
from types import SimpleNamespace

import cv2
from helpers import textured_pair
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from raiv_stereo.params import depth as depth_params
from raiv_stereo.ros import conversions
from raiv_stereo.sources import rosbag_io, stream_protocol as sp
from raiv_stereo.sources.image_header import (
    checked_image_header,
    ImageHeader,
    ImageHeaderError,
    ImageTooLarge,
    read_image_header,
)
from sensor_msgs.msg import CompressedImage
from test_depth_node import _header_ns, _stamp

LIMIT = depth_params.MAX_IMAGE_PIXELS


def _jpeg(image, *flags):
    return cv2.imencode('.jpg', image, [cv2.IMWRITE_JPEG_QUALITY, 95, *flags])[1].tobytes()


def _png(image):
    return cv2.imencode('.png', image)[1].tobytes()


def _with_sof_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Return the JPEG with its frame header (SOF0) claiming another size, data unchanged."""
    at = jpeg.index(b'\xff\xc0')
    return jpeg[:at + 5] + struct.pack('>HH', height, width) + jpeg[at + 9:]


LEFT, _RIGHT = textured_pair(48, 64, seed=3, cell_px=4)
BOMB = _with_sof_size(_jpeg(LEFT), 30000, 30000)  # 900 Mpixel, 2.7 GB once decoded as BGR


@pytest.mark.parametrize('width, height', [(1, 1), (64, 48), (1600, 1300), (3, 4097)])
def test_the_header_gives_the_size_opencv_decodes(width, height):
    rng = np.random.default_rng(width)
    bgr = rng.integers(0, 255, (height, width, 3), np.uint8)
    for data, fmt, channels in ((_jpeg(bgr), 'jpeg', 3), (_jpeg(bgr[..., 0]), 'jpeg', 1),
                                (_jpeg(bgr, cv2.IMWRITE_JPEG_PROGRESSIVE, 1), 'jpeg', 3),
                                (_png(bgr), 'png', 3), (_png(bgr[..., 0]), 'png', 1),
                                (_png(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA)), 'png', 4),
                                (_png(bgr.astype(np.uint16) * 257), 'png', 3)):
        assert read_image_header(data) == ImageHeader(fmt, width, height, channels)
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        assert decoded.shape[:2] == (height, width)


def test_a_jpeg_header_is_found_past_large_metadata_and_fill_bytes():
    jpeg = _jpeg(LEFT)
    app = b'\xff\xe1' + struct.pack('>H', 65535) + b'\xff\xc0' * 32766 + b'!'  # SOF lookalikes
    padded = jpeg[:2] + app * 3 + b'\xff\xff\xff' + jpeg[2:]
    assert read_image_header(padded) == ImageHeader('jpeg', 64, 48, 3)
    decoded = cv2.imdecode(np.frombuffer(padded, np.uint8), cv2.IMREAD_UNCHANGED)
    assert decoded.shape == (48, 64, 3)


def test_an_oversized_header_is_refused_with_its_size_and_the_limit():
    assert read_image_header(BOMB).width_px == 30000
    with pytest.raises(ImageTooLarge, match=r'JPEG announces 30000x30000 \(900000000 pixels\), '
                                            rf'above the limit of {LIMIT} pixels'):
        checked_image_header(BOMB, LIMIT)
    png = bytearray(_png(LEFT))
    png[16:24] = struct.pack('>II', 70000, 70000)
    with pytest.raises(ImageTooLarge, match='PNG announces 70000x70000'):
        checked_image_header(bytes(png), LIMIT)
    assert checked_image_header(_jpeg(LEFT), 64 * 48).pixels == 64 * 48


@pytest.mark.parametrize('data, message', [
    (b'', 'neither JPEG nor PNG'),
    (b'BM\x00\x00 a bitmap', 'neither JPEG nor PNG'),
    (b'\xff\xd8\xff', 'ends before its frame header'),
    (b'\xff\xd8\xff\xe0\x00\x01', 'impossible length 1'),
    (b'\xff\xd8\xff\xda\x00\x08', 'marker 0xda before its frame header'),  # scan before frame
    (b'\xff\xd8\xff\xe0\x00\x02junk', 'byte 0x6a at offset 6 where a marker belongs'),
    (b'\xff\xd8\xff\xc0\x00\x11\x08\x00\x00\x00\x40\x03', 'announces 64x0'),
    (b'\xff\xd8' + b'\xff' * 5000, 'more than 4096 segments'),
    (b'\x89PNG\r\n\x1a\n', 'shorter than its header'),
    (b'\x89PNG\r\n\x1a\n' + struct.pack('>I4sIIBB', 13, b'IDAT', 1, 1, 8, 2) + bytes(7),
     'does not start with its 13-byte IHDR'),
    (b'\x89PNG\r\n\x1a\n' + struct.pack('>I4sIIBB', 13, b'IHDR', 1, 1, 8, 5) + bytes(7),
     'colour type 5'),
])
def test_unreadable_headers_are_refused_with_the_reason(data, message):
    with pytest.raises(ImageHeaderError, match=message):
        read_image_header(data)


_SAMPLES = [_jpeg(LEFT), _jpeg(LEFT[..., 1]), _png(LEFT), _png(LEFT[..., 1]),
            _jpeg(LEFT, cv2.IMWRITE_JPEG_PROGRESSIVE, 1)]


@st.composite
def _mangled(draw):
    """Return a real JPEG/PNG with bytes overwritten, cut or inserted, as attackers send."""
    data = bytearray(draw(st.sampled_from(_SAMPLES)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, 300))  # the headers, up to the JPEG frame header
        data[at:at + 1] = draw(st.binary(min_size=0, max_size=3))
    return bytes(data[:draw(st.integers(0, len(data)))])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(st.binary(max_size=64), _mangled(),
                      st.binary(max_size=40).map(lambda b: b'\xff\xd8\xff' + b),
                      st.binary(max_size=40).map(lambda b: b'\x89PNG\r\n\x1a\n' + b)))
def test_fuzzed_bytes_give_a_header_or_the_modules_error(data):
    try:
        header = read_image_header(data)
    except ImageHeaderError as error:
        assert str(error)
        return
    assert header.kind in ('jpeg', 'png') and header.pixels > 0 and header.channels > 0
    if header.pixels <= 100_000:  # what the decoder reads is what the header said
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
        if decoded is not None:
            assert decoded.shape[:2] == (header.height_px, header.width_px)


# --- where untrusted compressed bytes enter: DDS, bag files, the stream -----------------------

@pytest.fixture
def no_decoding(monkeypatch):
    """Make any cv2.imdecode call fail the test: the bound must come before decoding."""
    def refuse(*_args):
        raise AssertionError('cv2.imdecode called on an image above the limit')
    monkeypatch.setattr(cv2, 'imdecode', refuse)


def test_a_compressed_message_above_the_limit_is_not_decoded(no_decoding):
    msg = CompressedImage(format='bgr8; jpeg compressed bgr8')
    msg.data.frombytes(BOMB)
    with pytest.raises(conversions.ConversionError,
                       match=rf'30000x30000 \(900000000 pixels\), above the limit of {LIMIT}'):
        conversions.compressed_to_image(msg)
    with pytest.raises(conversions.ConversionError, match='does not decode as JPEG or PNG'):
        conversions.compressed_to_image(CompressedImage(format='bmp', data=b'BM' + bytes(60)))


def test_a_bag_image_above_the_limit_is_not_decoded(no_decoding):
    msg = SimpleNamespace(format='jpeg', data=list(BOMB))
    with pytest.raises(rosbag_io.BagError, match=r'/cam/left/image_raw/compressed: .* is not '
                                                 r'decoded: JPEG announces 30000x30000'):
        rosbag_io.image_from_msg(msg, '/cam/left/image_raw/compressed')


def test_a_stream_jpeg_is_sized_from_its_header_before_decoding(no_decoding):
    good = _jpeg(LEFT)
    head = sp.IMAGE_HEAD.pack(sp.CODEC_JPEG, 64, 48, 3, len(BOMB))
    payload = memoryview(sp.FRAME_HEAD.pack(1, 2) + head + BOMB + head + BOMB)
    with pytest.raises(sp.ProtocolError, match='left jpeg is 30000x30000 but the frame header '
                                               'says 64x48'):
        sp.decode_frame(sp.Message(sp.FRAME, payload))
    head = sp.IMAGE_HEAD.pack(sp.CODEC_JPEG, 64, 48, 3, len(good))
    png = _png(LEFT)
    png_head = sp.IMAGE_HEAD.pack(sp.CODEC_JPEG, 64, 48, 3, len(png))
    payload = memoryview(sp.FRAME_HEAD.pack(1, 2) + png_head + png + head + good)
    with pytest.raises(sp.ProtocolError, match='left image is not a valid jpeg .*it is a png'):
        sp.decode_frame(sp.Message(sp.FRAME, payload))


def test_depth_node_drops_an_oversized_jpeg_and_keeps_working(rig_factory, scene_pair):
    calibration, left, right, _ = scene_pair
    rig = rig_factory({'input_transport': 'compressed'}, outputs=('depth/image_rect',))
    bomb = _with_sof_size(_jpeg(left), 30000, 30000)

    def publish_bomb(i: int) -> None:
        header = conversions.ns_to_stamp(_stamp(i))
        infos = [conversions.camera_info_msg(m) for m in (calibration.left, calibration.right)]
        images = [conversions.compressed_msg(image, None, 95) for image in (left, right)]
        images[0].data = list(bomb)
        for msg, topic in zip(infos + images, ('left/camera_info', 'right/camera_info',
                                               *rig.image_topics), strict=True):
            msg.header.stamp = header
            rig.publishers[topic].publish(msg)

    line = rig.publish_until_log(publish_bomb, 'frame dropped', 'left/image_raw/compressed')
    assert f'30000x30000 (900000000 pixels), above the limit of {LIMIT}' in line
    good = rig.exchange('depth/image_rect', calibration, left, right, _stamp(1000))
    assert np.isfinite(conversions.depth_msg_to_m(good)).mean() > 0.5
    with rig.lock:
        stamps = {_header_ns(m) for m in rig.received['depth/image_rect']}
    assert stamps == {_stamp(1000)}  # nothing for any of the oversized pairs
