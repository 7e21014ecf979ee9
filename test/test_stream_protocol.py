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

"""Stream protocol v1: encoding, incremental decoding, limits and every malformed-input error."""

import struct
import zlib

import cv2
from helpers import textured_pair
from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from raiv_stereo.core.calibration import raiv_nominal, StereoCalibration
from raiv_stereo.sources import stream_protocol as sp


def _pair(height=48, width=64, channels=3, seed=0):
    return textured_pair(height, width, channels, shift_px=5, seed=seed)


def _decode_all(data, chunk=None):
    decoder = sp.FrameDecoder()
    if chunk is None:
        return decoder.feed(data)
    messages = []
    for start in range(0, len(data), chunk):
        messages += decoder.feed(data[start:start + chunk])
    return messages


def _message(message_type, payload, version=sp.PROTOCOL_VERSION, crc=None, length=None):
    crc = zlib.crc32(payload) if crc is None else crc
    length = len(payload) if length is None else length
    return sp.HEADER.pack(sp.MAGIC, version, message_type, 0, length, crc) + payload


def _frame_payload(left_bytes, right_bytes, codec=sp.CODEC_RAW, dims=(64, 48, 3)):
    width, height, channels = dims
    parts = [sp.FRAME_HEAD.pack(7, 123)]
    for data in (left_bytes, right_bytes):
        parts += [sp.IMAGE_HEAD.pack(codec, width, height, channels, len(data)), data]
    return b''.join(parts)


def test_header_layout_is_16_bytes_big_endian():
    header = sp.to_bytes(sp.encode_message(sp.PING))
    assert len(header) == sp.HEADER_SIZE == 16
    assert header[:4] == b'RAIV' and header[4] == 1 and header[5] == sp.PING
    assert struct.unpack('>II', header[8:16]) == (0, zlib.crc32(b''))


@pytest.mark.parametrize('codec', ['raw', 'png'])
@pytest.mark.parametrize('channels', [1, 3])
def test_lossless_round_trip_is_exact(codec, channels):
    left, right = _pair(channels=channels)
    data = sp.to_bytes(sp.encode_frame(41, 987654321, left, right, codec))
    (message,) = _decode_all(data)
    frame = sp.decode_frame(message)
    assert (frame.sequence, frame.capture_time_ns, frame.codec) == (41, 987654321, codec)
    np.testing.assert_array_equal(frame.left, left)
    np.testing.assert_array_equal(frame.right, right)


def test_jpeg_round_trip_is_close():
    left = cv2.GaussianBlur(_pair(240, 320)[0], (9, 9), 3)
    data = sp.to_bytes(sp.encode_frame(1, 2, left, left, 'jpeg', jpeg_quality=95))
    frame = sp.decode_frame(_decode_all(data)[0])
    assert frame.codec == 'jpeg' and frame.left.shape == left.shape
    assert np.abs(frame.left.astype(int) - left).mean() < 3.0
    assert len(data) < left.nbytes  # compressed smaller than one raw image


def test_byte_by_byte_feeding_gives_the_same_messages():
    left, right = _pair(8, 10)
    calibration = raiv_nominal().to_dict()
    data = (sp.to_bytes(sp.encode_hello('tok', 'dev')) + sp.to_bytes(sp.encode_calibration(
        calibration)) + sp.to_bytes(sp.encode_frame(3, 4, left, right)))
    messages = _decode_all(data, chunk=1)
    assert [m.type for m in messages] == [sp.HELLO, sp.CALIBRATION, sp.FRAME]
    assert sp.decode_hello(messages[0]) == {'protocol': 1, 'token': 'tok', 'sender': 'dev'}
    restored = StereoCalibration.from_dict(sp.decode_json(messages[1]))
    assert restored.key == raiv_nominal().key
    np.testing.assert_array_equal(sp.decode_frame(messages[2]).right, right)


def test_raw_encoding_does_not_copy_the_images():
    left, right = _pair()
    parts = sp.encode_frame(0, 0, left, right, 'raw')
    assert any(isinstance(p, memoryview) and np.shares_memory(np.asarray(p), left)
               for p in parts)


def test_full_size_raw_pair_round_trips_in_1_mb_chunks():
    left, right = _pair(1300, 1600)
    data = sp.to_bytes(sp.encode_frame(0, 0, left, right, 'raw'))
    frame = sp.decode_frame(_decode_all(data, chunk=1 << 20)[0])
    assert len(data) == 16 + 16 + 2 * (10 + 1600 * 1300 * 3)
    np.testing.assert_array_equal(frame.left, left)
    np.testing.assert_array_equal(frame.right, right)


def test_bad_magic_is_rejected():
    with pytest.raises(sp.ProtocolError, match='bad magic'):
        _decode_all(b'GET / HTTP/1.1\r\nHost: x\r\n\r\n')


def test_unknown_version_is_rejected():
    with pytest.raises(sp.ProtocolError, match='unknown protocol version 2'):
        _decode_all(_message(sp.PING, b'', version=2))


def test_unknown_type_is_rejected():
    with pytest.raises(sp.ProtocolError, match='unknown message type 99'):
        _decode_all(_message(99, b''))


def test_oversized_length_is_rejected_before_allocating():
    decoder = sp.FrameDecoder()
    header = sp.HEADER.pack(sp.MAGIC, 1, sp.FRAME, 0, sp.MAX_FRAME_PAYLOAD + 1, 0)
    with pytest.raises(sp.ProtocolError, match='exceeds the limit'):
        decoder.feed(header)
    assert decoder.buffered_bytes == 0
    with pytest.raises(sp.ProtocolError, match='HELLO length field'):
        sp.FrameDecoder().feed(sp.HEADER.pack(sp.MAGIC, 1, sp.HELLO, 0, 0xFFFFFFFF, 0))


def test_encoding_refuses_oversized_images():
    big = np.zeros((10, sp.MAX_WIDTH_PX + 1), np.uint8)
    with pytest.raises(sp.ProtocolError, match='exceeds the protocol limit'):
        sp.encode_frame(0, 0, big, big)


def test_crc_mismatch_is_rejected():
    data = bytearray(sp.to_bytes(sp.encode_frame(0, 0, *_pair())))
    data[100] ^= 0x01
    with pytest.raises(sp.ProtocolError, match='crc32.*corrupted'):
        _decode_all(bytes(data))


def test_unexpected_type_for_the_state_is_rejected():
    decoder = sp.FrameDecoder(allowed_types=[sp.HELLO])
    with pytest.raises(sp.ProtocolError, match='unexpected FRAME message here'):
        decoder.feed(sp.to_bytes(sp.encode_frame(0, 0, *_pair())))


def test_truncated_png_is_rejected():
    left, _ = _pair()
    png = cv2.imencode('.png', left)[1].tobytes()
    payload = _frame_payload(png[:len(png) // 2], png, sp.CODEC_PNG)
    with pytest.raises(sp.ProtocolError, match='left png .* truncated'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_truncated_jpeg_is_rejected():
    left, _ = _pair()
    jpeg = cv2.imencode('.jpg', left)[1].tobytes()
    payload = _frame_payload(jpeg, jpeg[:len(jpeg) * 2 // 3], sp.CODEC_JPEG)
    with pytest.raises(sp.ProtocolError, match='right jpeg .* truncated'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_corrupt_png_with_intact_ends_is_rejected():
    left, _ = _pair()
    png = bytearray(cv2.imencode('.png', left)[1].tobytes())
    png[60:80] = bytes(20)  # inside the compressed image data; the end marker is intact
    payload = _frame_payload(bytes(png), bytes(png), sp.CODEC_PNG)
    with pytest.raises(sp.ProtocolError, match='left png .* truncated or corrupt'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_image_that_is_not_png_is_rejected():
    payload = _frame_payload(b'not a png at all', b'x', sp.CODEC_PNG)
    with pytest.raises(sp.ProtocolError, match='not a valid png'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_png_size_mismatch_with_header_is_rejected_before_decoding():
    left, _ = _pair()
    png = cv2.imencode('.png', left)[1].tobytes()
    payload = _frame_payload(png, png, sp.CODEC_PNG, dims=(32, 48, 3))
    with pytest.raises(sp.ProtocolError, match='left png is 64x48 but the frame header says'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_jpeg_size_mismatch_with_header_is_rejected():
    left, _ = _pair()
    jpeg = cv2.imencode('.jpg', left)[1].tobytes()
    payload = _frame_payload(jpeg, jpeg, sp.CODEC_JPEG, dims=(64, 50, 3))
    with pytest.raises(sp.ProtocolError, match='64x48 but the frame header says 64x50'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_channel_mismatch_is_rejected():
    gray = _pair(channels=1)[0]
    png = cv2.imencode('.png', gray)[1].tobytes()
    payload = _frame_payload(png, png, sp.CODEC_PNG, dims=(64, 48, 3))
    with pytest.raises(sp.ProtocolError, match=r'decoded to uint8 \(48, 64\).*\(48, 64, 3\)'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_raw_byte_count_mismatch_is_rejected():
    payload = _frame_payload(bytes(64 * 48 * 3 - 1), bytes(64 * 48 * 3 - 1))
    with pytest.raises(sp.ProtocolError, match='left raw image has 9215 bytes'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_image_length_past_the_payload_is_rejected():
    payload = _frame_payload(bytes(10), bytes(10), dims=(5, 2, 1))[:-5]
    with pytest.raises(sp.ProtocolError, match='FRAME truncated'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_header_dimensions_beyond_limits_are_rejected():
    payload = _frame_payload(b'', b'', dims=(sp.MAX_WIDTH_PX + 1, 10, 3))
    with pytest.raises(sp.ProtocolError, match='allowed up to 2048x2048'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_left_right_shape_mismatch_and_trailing_bytes_are_rejected():
    left, _ = _pair()
    data = sp.to_bytes(sp.encode_frame(0, 0, left, left[:, :32]))
    with pytest.raises(sp.ProtocolError, match='left image is .* but right is'):
        sp.decode_frame(_decode_all(data)[0])
    payload = _frame_payload(left.tobytes(), left.tobytes()) + b'xx'
    with pytest.raises(sp.ProtocolError, match='2 unexpected trailing bytes'):
        sp.decode_frame(_decode_all(_message(sp.FRAME, payload))[0])


def test_bad_json_is_rejected():
    with pytest.raises(sp.ProtocolError, match='HELLO payload is not UTF-8 JSON'):
        sp.decode_hello(_decode_all(_message(sp.HELLO, b'\xff{'))[0])


def test_fuzzed_bytes_raise_only_protocol_errors():
    rng = np.random.default_rng(20240601)
    valid = sp.to_bytes(sp.encode_frame(5, 6, *_pair(12, 16), codec='png'))
    for _ in range(300):
        data = bytearray(valid)
        for _ in range(int(rng.integers(1, 4))):
            data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            data = data[:int(rng.integers(0, len(data)))]
        if rng.random() < 0.2:
            data = bytearray(rng.integers(0, 256, int(rng.integers(1, 200)), dtype=np.uint8))
        try:
            for message in _decode_all(bytes(data), chunk=int(rng.integers(1, 64))):
                if message.type == sp.FRAME:
                    frame = sp.decode_frame(message)
                    assert frame.left.shape == frame.right.shape == (12, 16, 3)
        except sp.ProtocolError:
            pass


@pytest.mark.parametrize('codec', ['png', 'jpeg'])
def test_parallel_decoding_gives_the_same_pair(codec):
    from concurrent.futures import ThreadPoolExecutor
    left, right = _pair(120, 160)
    message = _decode_all(sp.to_bytes(sp.encode_frame(2, 3, left, right, codec)))[0]
    with ThreadPoolExecutor(2) as pool:
        parallel = sp.decode_frame(message, pool)
    serial = sp.decode_frame(message)
    np.testing.assert_array_equal(parallel.left, serial.left)
    np.testing.assert_array_equal(parallel.right, serial.right)
    if codec == 'png':
        np.testing.assert_array_equal(parallel.right, right)


# --- property-based fuzzing: whatever the bytes, the decoder raises only ProtocolError

FUZZ = {'max_examples': 200, 'deadline': None,
        'suppress_health_check': [HealthCheck.too_slow]}


def _json_values():
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | \
        st.text(max_size=20) | st.just('\ud800') | st.just(float('inf'))
    return st.recursive(leaves, lambda inner: st.lists(inner, max_size=4) |
                        st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)


def _only_protocol_errors(call, *args):
    try:
        call(*args)
    except sp.ProtocolError:
        pass


@settings(**FUZZ)
@given(st.binary(max_size=2048), st.integers(1, 64),
       st.one_of(st.none(), st.integers(0, 9)))
def test_fuzz_feed_raises_only_protocol_errors(data, chunk, framed_type):
    if framed_type is not None:  # a valid header around the fuzz: the payload decoders run
        data = _message(framed_type, data)
    decoder = sp.FrameDecoder()
    try:
        for start in range(0, len(data), chunk):
            for message in decoder.feed(data[start:start + chunk]):
                for decode in (sp.decode_hello, sp.decode_calibration, sp.decode_reject,
                               sp.decode_frame):
                    _only_protocol_errors(decode, message)
    except sp.ProtocolError:
        pass


@settings(**FUZZ)
@given(st.sampled_from([sp.HELLO, sp.CALIBRATION, sp.REJECT]),
       st.one_of(_json_values(), st.binary(max_size=512).map(bytes.hex)),
       st.booleans())
def test_fuzz_json_payloads_raise_only_protocol_errors(message_type, value, raw):
    import json
    text = value if raw and isinstance(value, str) else json.dumps(value)
    message = sp.Message(message_type, text.encode('utf-8', 'surrogatepass'))
    for decode in (sp.decode_hello, sp.decode_calibration, sp.decode_reject):
        _only_protocol_errors(decode, message)


@settings(**FUZZ)
@given(st.dictionaries(st.sampled_from(['width', 'height', 'K', 'D', 'R', 'P',
                                        'distortion_model']), _json_values(), max_size=7),
       st.sampled_from(['left', 'right']))
def test_fuzz_calibration_fields_raise_only_protocol_errors(changes, side):
    data = raiv_nominal().to_dict()
    data[side].update(changes)
    message = sp.Message(sp.CALIBRATION, sp.to_bytes(sp.encode_calibration(data))[16:])
    try:
        checked = sp.decode_calibration(message)
    except sp.ProtocolError:
        return
    for camera in (checked['left'], checked['right']):
        assert 0 < camera['width'] <= sp.MAX_WIDTH_PX
        assert 0 < camera['height'] <= sp.MAX_HEIGHT_PX


@settings(**FUZZ)
@given(st.integers(0, 400), st.binary(min_size=1, max_size=8))
def test_fuzz_mutated_png_frames_raise_only_protocol_errors(position, patch):
    left, right = _pair(12, 16)
    data = bytearray(sp.to_bytes(sp.encode_frame(1, 2, left, right, 'png')))
    position = min(position, len(data) - 1)
    data[position:position + len(patch)] = patch
    try:
        for message in _decode_all(bytes(data)):
            frame = sp.decode_frame(message)
            assert frame.left.shape == frame.right.shape == (12, 16, 3)
    except sp.ProtocolError:
        pass


def test_deep_json_is_refused_without_recursion():
    for depth in (sp.MAX_JSON_DEPTH + 1, 30000):
        payload = ('[' * depth + ']' * depth).encode()
        with pytest.raises(sp.ProtocolError, match='nests JSON deeper than'):
            sp.decode_json(sp.Message(sp.HELLO, payload))
    assert sp.decode_json(sp.Message(sp.HELLO, b'[' * 8 + b']' * 8)) == [[[[[[[[]]]]]]]]


def test_calibration_round_trips_and_its_size_is_bounded():
    calibration = raiv_nominal()
    message = sp.Message(sp.CALIBRATION, sp.to_bytes(sp.encode_calibration(
        calibration.to_dict()))[16:])
    assert StereoCalibration.from_dict(sp.decode_calibration(message)).key == calibration.key
    for width, height in ((1600000, 1300000), (0, 10), (2049, 10), (True, 10)):
        data = calibration.to_dict()
        data['right'].update(width=width, height=height)
        message = sp.Message(sp.CALIBRATION, sp.to_bytes(sp.encode_calibration(data))[16:])
        with pytest.raises(sp.ProtocolError, match='right image size .* within the protocol'):
            sp.decode_calibration(message)


def test_png_inflation_is_checked_against_ihdr():
    left, _ = _pair(37, 53)
    for image in (left, left[:, :, 0]):
        for interlaced in (False, True):
            png = cv2.imencode('.png', image)[1].tobytes()
            if interlaced:  # Adam7, written by hand: IHDR flag and the passes' sizes
                png = _interlaced_png(image)
            sp.check_png_inflation(memoryview(png))
            assert cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED).shape == \
                image.shape
    bomb = _png_chunks(53, 37, 2, zlib.compress(bytes(37 * (1 + 53 * 3) + 1)))
    with pytest.raises(sp.ProtocolError, match='inflates to more than the 5920 bytes'):
        sp.check_png_inflation(memoryview(bomb))


def _png_chunks(width, height, colour, idat, interlace=0):
    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + \
            struct.pack('>I', zlib.crc32(kind + data))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, colour, 0, 0, interlace)
    return b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', idat) + \
        chunk(b'IEND', b'')


def _interlaced_png(image):
    """Return `image` as an Adam7 PNG (filter 0 rows), for the inflated-size arithmetic."""
    channels = 1 if image.ndim == 2 else 3
    rgb = image if channels == 1 else image[:, :, ::-1]
    rows = b''
    for x0, y0, dx, dy in ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
                           (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)):
        sub = rgb[y0::dy, x0::dx]
        if sub.size:
            rows += b''.join(b'\x00' + row.tobytes() for row in sub)
    height, width = image.shape[:2]
    return _png_chunks(width, height, 0 if channels == 1 else 2, zlib.compress(rows),
                       interlace=1)
