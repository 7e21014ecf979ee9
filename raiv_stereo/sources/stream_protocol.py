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
RAiV stream protocol v1: versioned, length-prefixed binary messages (device -> robot, no ROS).

Every message is a 16-byte header, then `length` payload bytes (big-endian throughout):
magic b'RAIV', version u8, type u8, flags u16 (0, reserved), length u32, crc32(payload) u32.
Limits are checked on the header, before any payload buffer is allocated. The layout is
documented for users in the README (notes/protocol.md); change PROTOCOL_VERSION with it.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass
import json
import socket
import ssl
import struct
from typing import Any, Iterable, Sequence
import zlib

import cv2
import numpy as np
from raiv_stereo.sources.image_header import ImageHeaderError, read_image_header

MAGIC = b'RAIV'
PROTOCOL_VERSION = 1
HEADER = struct.Struct('>4sBBHII')
HEADER_SIZE = HEADER.size  # 16

# Message types.
HELLO = 1  # sender -> receiver, first message: JSON {"protocol", "token", "sender"}
WELCOME = 2  # receiver -> sender: accepted, JSON {"receiver"}
REJECT = 3  # either way, then close: JSON {"code", "reason"}
CALIBRATION = 4  # sender -> receiver: JSON StereoCalibration.to_dict()
FRAME = 5  # sender -> receiver: one stereo pair (FRAME_HEAD, then IMAGE_HEAD + bytes twice)
PING = 6  # either way, empty: keeps an idle connection alive
BYE = 7  # sender -> receiver, empty: orderly end of stream
MESSAGE_NAMES = {HELLO: 'HELLO', WELCOME: 'WELCOME', REJECT: 'REJECT',
                 CALIBRATION: 'CALIBRATION', FRAME: 'FRAME', PING: 'PING', BYE: 'BYE'}

# REJECT codes.
REJECT_AUTH = 1  # missing or wrong token: a configuration error, do not retry blindly
REJECT_BUSY = 2  # the receiver already serves its maximum number of senders: retry later
REJECT_PROTOCOL = 3  # malformed input, unknown version or type: fix the sender

# Image codecs inside a FRAME.
CODEC_RAW = 0
CODEC_PNG = 1
CODEC_JPEG = 2
CODECS = {'raw': CODEC_RAW, 'png': CODEC_PNG, 'jpeg': CODEC_JPEG}
CODEC_NAMES = {value: name for name, value in CODECS.items()}

FRAME_HEAD = struct.Struct('>QQ')  # sequence u64, capture_time_ns u64 (device clock)
IMAGE_HEAD = struct.Struct('>BHHBI')  # codec u8, width u16, height u16, channels u8, length u32

# Protocol limits (part of the v1 specification, not tunables): a 2048 x 2048 BGR pair raw.
MAX_WIDTH_PX = 2048
MAX_HEIGHT_PX = 2048
CHANNELS = (1, 3)
MAX_IMAGE_BYTES = MAX_WIDTH_PX * MAX_HEIGHT_PX * 3
MAX_FRAME_PAYLOAD = FRAME_HEAD.size + 2 * (IMAGE_HEAD.size + MAX_IMAGE_BYTES)
MAX_CONTROL_PAYLOAD = 64 * 1024  # HELLO, WELCOME, REJECT, PING, BYE
MAX_CALIBRATION_PAYLOAD = 1024 * 1024
MAX_PAYLOAD = {FRAME: MAX_FRAME_PAYLOAD, CALIBRATION: MAX_CALIBRATION_PAYLOAD}
MAX_JSON_DEPTH = 8  # nesting of JSON arrays/objects (a calibration needs 3)
MAX_TEXT_CHARS = 256  # token, sender name
MAX_DESCRIPTION_CHARS = 1024  # a calibration's description
MAX_DISTORTION_COEFFS = 14  # OpenCV's largest distortion model
KEEPALIVE_S = 1.0  # a sender idle this long sends PING, so receivers can time out dead peers


# PNG 'sub' filter only (OpenCV >= 4.10): about half the encode time of the adaptive filters
# for the same size on camera images.
_PNG_FAST_FILTER = ([cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_SUB]
                    if hasattr(cv2, 'IMWRITE_PNG_FILTER') else [])


class ProtocolError(ValueError):
    """Bytes that do not follow the stream protocol; the message says what and where."""


@dataclass
class Message:
    """One complete, checksum-verified message."""

    type: int  # noqa: A003 (the protocol's own word: the message type)
    payload: bytes | bytearray | memoryview
    flags: int = 0

    @property
    def name(self) -> str:
        """Return the message type's name."""
        return MESSAGE_NAMES.get(self.type, f'type {self.type}')


@dataclass
class FramePayload:
    """A decoded FRAME: the pair, its device capture time and the codec it travelled in."""

    sequence: int
    capture_time_ns: int
    left: np.ndarray
    right: np.ndarray
    codec: str


def max_payload(message_type: int) -> int:
    """Return the largest payload allowed for a message type."""
    return MAX_PAYLOAD.get(message_type, MAX_CONTROL_PAYLOAD)


# ---------------------------------------------------------------- encoding

def encode_message(message_type: int, parts: Sequence[bytes | bytearray | memoryview] = (),
                   flags: int = 0) -> list[bytes | memoryview]:
    """Return [header, *parts] of one message; the parts are not copied (send with send_parts)."""
    if message_type not in MESSAGE_NAMES:
        raise ProtocolError(f'cannot encode unknown message type {message_type}')
    views = [memoryview(part).cast('B') for part in parts]
    length = sum(view.nbytes for view in views)
    if length > max_payload(message_type):
        raise ProtocolError(f'{MESSAGE_NAMES[message_type]} payload of {length} bytes exceeds '
                            f'the protocol limit of {max_payload(message_type)} bytes')
    crc = 0
    for view in views:
        crc = zlib.crc32(view, crc)
    return [HEADER.pack(MAGIC, PROTOCOL_VERSION, message_type, flags, length, crc), *views]


def encode_json(message_type: int, data: Any) -> list[bytes | memoryview]:
    """Return a message whose payload is compact UTF-8 JSON."""
    return encode_message(message_type, [json.dumps(data, separators=(',', ':')).encode()])


def encode_hello(token: str = '', sender: str = '') -> list[bytes | memoryview]:
    """Return the HELLO a sender sends first (token '' when the receiver needs none)."""
    return encode_json(HELLO, {'protocol': PROTOCOL_VERSION, 'token': token, 'sender': sender})


def encode_reject(code: int, reason: str) -> list[bytes | memoryview]:
    """Return a REJECT telling the peer why it is being disconnected."""
    return encode_json(REJECT, {'code': code, 'reason': reason})


def encode_calibration(calibration_dict: dict[str, Any]) -> list[bytes | memoryview]:
    """Return a CALIBRATION message carrying StereoCalibration.to_dict()."""
    return encode_json(CALIBRATION, calibration_dict)


def encode_image(image: np.ndarray, codec: str = 'raw',
                 jpeg_quality: int = 90, png_level: int = 1) -> tuple[bytes, memoryview]:
    """Return (IMAGE_HEAD, bytes) for one 8-bit gray or BGR image; raw bytes are not copied."""
    if codec not in CODECS:
        raise ProtocolError(f'unknown codec {codec!r}; use one of {", ".join(CODECS)}')
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or \
            (image.ndim == 3 and image.shape[2] not in CHANNELS):
        raise ProtocolError(f'images must be 8-bit gray or BGR, got dtype {image.dtype}, '
                            f'shape {image.shape}')
    height, width = image.shape[:2]
    channels = 1 if image.ndim == 2 else image.shape[2]
    if not (0 < width <= MAX_WIDTH_PX and 0 < height <= MAX_HEIGHT_PX):
        raise ProtocolError(f'image of {width}x{height} exceeds the protocol limit of '
                            f'{MAX_WIDTH_PX}x{MAX_HEIGHT_PX}')
    if codec == 'raw':
        data = memoryview(np.ascontiguousarray(image)).cast('B')
    else:
        params = ([cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if codec == 'jpeg'
                  else [cv2.IMWRITE_PNG_COMPRESSION, int(png_level)] + _PNG_FAST_FILTER)
        ok, encoded = cv2.imencode('.jpg' if codec == 'jpeg' else '.png', image, params)
        if not ok:
            raise ProtocolError(f'OpenCV could not encode a {width}x{height} image as {codec}')
        data = memoryview(encoded).cast('B')
    return IMAGE_HEAD.pack(CODECS[codec], width, height, channels, data.nbytes), data


def encode_frame(sequence: int, capture_time_ns: int, left: np.ndarray, right: np.ndarray,
                 codec: str = 'raw', jpeg_quality: int = 90, png_level: int = 1,
                 encoded: Sequence[tuple[bytes, memoryview]] | None = None,
                 ) -> list[bytes | memoryview]:
    """Return one FRAME message as buffers; pass `encoded` to reuse encode_image() results."""
    if encoded is None:
        encoded = [encode_image(image, codec, jpeg_quality, png_level) for image in (left, right)]
    (left_head, left_data), (right_head, right_data) = encoded
    head = FRAME_HEAD.pack(sequence, capture_time_ns) + left_head
    return encode_message(FRAME, [head, left_data, right_head, right_data])


def to_bytes(buffers: Iterable[bytes | memoryview]) -> bytes:
    """Join encoded buffers into one bytes object (tests, fuzzing)."""
    return b''.join(buffers)


def send_parts(sock: socket.socket, buffers: Sequence[bytes | memoryview]) -> None:
    """Send buffers with scatter/gather writes, resuming after partial sends (no big copy)."""
    views = [memoryview(buffer).cast('B') for buffer in buffers if len(buffer)]
    if isinstance(sock, ssl.SSLSocket):  # TLS has no sendmsg: one record stream per buffer
        for view in views:
            sock.sendall(view)
        return
    while views:
        sent = sock.sendmsg(views[:64])
        while sent and views:
            if sent >= views[0].nbytes:
                sent -= views[0].nbytes
                views.pop(0)
            else:
                views[0] = views[0][sent:]
                sent = 0


# ---------------------------------------------------------------- decoding

def parse_header(header: bytes | bytearray | memoryview) -> tuple[int, int, int, int]:
    """Check one 16-byte header; return (type, flags, length, crc) or raise ProtocolError."""
    magic, version, message_type, flags, length, crc = HEADER.unpack(header)
    if magic != MAGIC:
        raise ProtocolError(f'bad magic {bytes(magic)!r} (expected {MAGIC!r}): the peer is not a '
                            'RAiV stream sender or the stream lost sync')
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f'unknown protocol version {version} (this receiver speaks version '
                            f'{PROTOCOL_VERSION}); update the sender or the receiver')
    if message_type not in MESSAGE_NAMES:
        raise ProtocolError(f'unknown message type {message_type}')
    limit = max_payload(message_type)
    if length > limit:
        raise ProtocolError(f'{MESSAGE_NAMES[message_type]} length field {length} exceeds the '
                            f'limit of {limit} bytes; refusing to allocate it')
    return message_type, flags, length, crc


class FrameDecoder:
    """
    Incremental reader: feed() socket bytes, get complete, verified messages back.

    Memory is bounded: one header, and one payload buffer allocated only after the header's
    length passed the limits. After a ProtocolError the stream is out of sync: drop the decoder.
    """

    def __init__(self, allowed_types: Iterable[int] | None = None) -> None:
        self.allowed_types: set[int] | None = set(allowed_types) if allowed_types else None
        """Message types accepted (None = all); e.g. only HELLO before a sender is admitted."""
        self._header = bytearray()
        self._payload: bytearray | None = None
        self._filled = 0
        self._pending: tuple[int, int, int] | None = None

    @property
    def mid_message(self) -> bool:
        """Return True while a message has started but is not complete."""
        return bool(self._header) or self._payload is not None

    @property
    def buffered_bytes(self) -> int:
        """Return the bytes held for the incomplete message (allocated payload included)."""
        return len(self._header) + (len(self._payload) if self._payload is not None else 0)

    def feed(self, data: bytes | bytearray | memoryview) -> list[Message]:
        """Consume bytes; return the messages they complete; raise ProtocolError on bad input."""
        view = memoryview(data).cast('B')
        messages: list[Message] = []
        while view.nbytes:
            if self._payload is None:
                take = min(HEADER_SIZE - len(self._header), view.nbytes)
                self._header += view[:take]
                view = view[take:]
                if len(self._header) < HEADER_SIZE:
                    break
                header = bytes(self._header)
                self._header.clear()
                message_type, flags, length, crc = parse_header(header)
                if self.allowed_types is not None and message_type not in self.allowed_types:
                    raise ProtocolError(
                        f'unexpected {MESSAGE_NAMES[message_type]} message here (expected '
                        f'{", ".join(MESSAGE_NAMES[t] for t in sorted(self.allowed_types))})')
                self._payload, self._filled = bytearray(length), 0
                self._pending = (message_type, flags, crc)
            take = min(len(self._payload) - self._filled, view.nbytes)
            self._payload[self._filled:self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled == len(self._payload):
                messages.append(self._finish())
        return messages

    def _finish(self) -> Message:
        """Verify the completed payload's checksum and return it as a Message."""
        assert self._payload is not None and self._pending is not None
        payload, (message_type, flags, crc) = self._payload, self._pending
        self._payload, self._pending, self._filled = None, None, 0
        actual = zlib.crc32(payload)
        if actual != crc:
            raise ProtocolError(f'{MESSAGE_NAMES[message_type]} payload of {len(payload)} bytes '
                                f'has crc32 {actual:08x}, header says {crc:08x}: corrupted')
        return Message(message_type, payload, flags)


def _json_depth(data: Any) -> int:
    """Return how deeply arrays/objects nest in parsed JSON (iterative: no recursion limit)."""
    depth, stack = 0, [(data, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (dict, list)):
            depth = max(depth, level)
            if depth > MAX_JSON_DEPTH:
                return depth
            stack.extend((item, level + 1)
                         for item in (value.values() if isinstance(value, dict) else value))
    return depth


def decode_json(message: Message) -> Any:
    """
    Return the JSON payload of a control or calibration message (nesting bounded).

    Every way a payload can fail (bad UTF-8 or JSON, nesting too deep for the parser, huge
    numbers) is a ProtocolError: the caller answers REJECT and closes the connection.
    """
    try:
        data = json.loads(bytes(message.payload).decode('utf-8'))
    except RecursionError:
        raise ProtocolError(f'{message.name} payload nests JSON deeper than '
                            f'{MAX_JSON_DEPTH} levels') from None
    except (UnicodeDecodeError, ValueError, OverflowError) as error:
        raise ProtocolError(f'{message.name} payload is not UTF-8 JSON: {error}') from None
    if _json_depth(data) > MAX_JSON_DEPTH:
        raise ProtocolError(f'{message.name} payload nests JSON deeper than '
                            f'{MAX_JSON_DEPTH} levels')
    return data


def _text(data: dict, key: str, what: str, limit: int = MAX_TEXT_CHARS) -> str:
    """Return data[key] as a UTF-8-encodable string of at most `limit` characters."""
    value = data.get(key, '')
    if not isinstance(value, str):
        raise ProtocolError(f'{what} "{key}" must be a string, got {type(value).__name__}')
    if len(value) > limit:
        raise ProtocolError(f'{what} "{key}" has {len(value)} characters; at most {limit}')
    try:
        value.encode('utf-8')
    except UnicodeEncodeError:
        raise ProtocolError(f'{what} "{key}" is not valid Unicode (a lone surrogate '
                            'escape)') from None
    return value


def decode_hello(message: Message) -> dict[str, Any]:
    """Return a HELLO's fields: protocol (int), token (str), sender (str)."""
    data = decode_json(message)
    if not isinstance(data, dict):
        raise ProtocolError('HELLO payload must be a JSON object with a string "token"')
    protocol = data.get('protocol', PROTOCOL_VERSION)
    if type(protocol) is not int:
        raise ProtocolError(f'HELLO "protocol" must be an integer, got {type(protocol).__name__}')
    return {'protocol': protocol, 'token': _text(data, 'token', 'HELLO'),
            'sender': _text(data, 'sender', 'HELLO')}


def _matrix(camera: dict, key: str, side: str, sizes: Iterable[int]) -> list[float]:
    """Return camera[key] as a flat list of finite numbers whose count is one of `sizes`."""
    values = camera.get(key)
    if isinstance(values, list) and values and all(isinstance(row, list) for row in values):
        values = [item for row in values for item in row]
    sizes = tuple(sizes)
    if not isinstance(values, list) or len(values) not in sizes:
        count = str(sizes[0]) if len(sizes) == 1 else f'{sizes[0]} to {sizes[-1]}'
        raise ProtocolError(f'CALIBRATION {side} "{key}" must be a list of {count} numbers')
    for value in values:
        if type(value) not in (int, float) or not -1e308 < value < 1e308:  # NaN, inf, 1e999
            raise ProtocolError(f'CALIBRATION {side} "{key}" holds {str(value)[:32]!r}; only '
                                'finite numbers are allowed')
    return values


def decode_calibration(message: Message) -> dict[str, Any]:
    """
    Return a CALIBRATION's dict, its shape checked and bounded (StereoCalibration.from_dict).

    Image sizes must lie within the protocol's image limits, so a calibration can never make the
    receiver allocate more than a frame could; matrices must hold finite numbers.
    """
    data = decode_json(message)
    if not isinstance(data, dict) or not all(isinstance(data.get(side), dict)
                                             for side in ('left', 'right')):
        raise ProtocolError('CALIBRATION must be a JSON object with "left" and "right" objects')
    checked: dict[str, Any] = {'description': _text(data, 'description', 'CALIBRATION',
                                                    MAX_DESCRIPTION_CHARS) or 'calibration'}
    for side in ('left', 'right'):
        camera = data[side]
        width, height = camera.get('width'), camera.get('height')
        if type(width) is not int or type(height) is not int or \
                not (0 < width <= MAX_WIDTH_PX and 0 < height <= MAX_HEIGHT_PX):
            raise ProtocolError(f'CALIBRATION {side} image size {str(width)[:24]}x'
                                f'{str(height)[:24]} is not whole pixels within the protocol '
                                f'limit of {MAX_WIDTH_PX}x{MAX_HEIGHT_PX}')
        checked[side] = {
            'width': width, 'height': height,
            'distortion_model': _text(camera, 'distortion_model', f'CALIBRATION {side}')
            or 'plumb_bob',
            'K': _matrix(camera, 'K', side, (9,)),
            'D': _matrix(camera, 'D', side, range(MAX_DISTORTION_COEFFS + 1)),
            'R': _matrix(camera, 'R', side, (9,)),
            'P': _matrix(camera, 'P', side, (12,))}
    return checked


def decode_reject(message: Message) -> tuple[int, str]:
    """Return (code, reason) of a REJECT."""
    data = decode_json(message)
    if not isinstance(data, dict):
        raise ProtocolError('REJECT payload must be a JSON object')
    code = data.get('code', 0)
    return (code if type(code) is int else 0,
            _text(data, 'reason', 'REJECT', MAX_CONTROL_PAYLOAD) or 'no reason given')


@dataclass
class _Image:
    """One image of a FRAME, checked but not yet decoded."""

    side: str
    codec: str
    shape: tuple[int, ...]
    data: memoryview


def _parse_image(payload: memoryview, offset: int, side: str) -> tuple[_Image, int]:
    """Check one IMAGE_HEAD + bytes at offset without decoding; return (image, next offset)."""
    if offset + IMAGE_HEAD.size > payload.nbytes:
        raise ProtocolError(f'FRAME truncated: no room for the {side} image header')
    codec, width, height, channels, length = IMAGE_HEAD.unpack_from(payload, offset)
    offset += IMAGE_HEAD.size
    if codec not in CODEC_NAMES:
        raise ProtocolError(f'{side} image has unknown codec {codec}')
    if not (0 < width <= MAX_WIDTH_PX and 0 < height <= MAX_HEIGHT_PX) or channels not in CHANNELS:
        raise ProtocolError(f'{side} image header says {width}x{height}x{channels}; allowed up to '
                            f'{MAX_WIDTH_PX}x{MAX_HEIGHT_PX} with 1 or 3 channels')
    if offset + length > payload.nbytes:
        raise ProtocolError(f'FRAME truncated: {side} image needs {length} bytes, '
                            f'{payload.nbytes - offset} left')
    data = payload[offset:offset + length]
    name = CODEC_NAMES[codec]
    shape = (height, width) if channels == 1 else (height, width, channels)
    if codec == CODEC_RAW:
        if length != width * height * channels:
            raise ProtocolError(f'{side} raw image has {length} bytes, but {width}x{height}x'
                                f'{channels} needs {width * height * channels}')
        return _Image(side, name, shape, data), offset + length
    try:  # the size the decoder would allocate, read before decoding
        announced = read_image_header(data)
    except ImageHeaderError as error:
        raise ProtocolError(f'{side} image is not a valid {name} (no readable {name} header: '
                            f'{error})') from None
    if announced.kind != name:
        raise ProtocolError(f'{side} image is not a valid {name} (no readable {name} header: '
                            f'it is a {announced.kind})')
    if (announced.width_px, announced.height_px) != (width, height):
        raise ProtocolError(f'{side} {name} is {announced.width_px}x{announced.height_px} but '
                            f'the frame header says {width}x{height}')
    tail = bytes(data[-12:])
    if (codec == CODEC_PNG and tail[4:8] != b'IEND') or \
            (codec == CODEC_JPEG and tail[-2:] != b'\xff\xd9'):
        raise ProtocolError(f'{side} {name} image ({length} bytes) is truncated: it lacks the '
                            f'{name} end marker')
    return _Image(side, name, shape, data), offset + length


_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type -> samples per pixel
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
          (0, 1, 1, 2))  # interlace passes: x0, y0, dx, dy


def _png_inflated_bytes(width: int, height: int, depth: int, colour: int, interlace: int) -> int:
    """Return the filtered image bytes a PNG's IHDR promises (what IDAT must inflate to)."""
    bits = depth * _PNG_SAMPLES[colour]
    if not interlace:
        return height * (1 + (width * bits + 7) // 8)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        pass_w, pass_h = (width - x0 + dx - 1) // dx, (height - y0 + dy - 1) // dy
        if pass_w > 0 and pass_h > 0:
            total += pass_h * (1 + (pass_w * bits + 7) // 8)
    return total


def check_png_inflation(data: memoryview, side: str = 'image') -> None:
    """
    Refuse a PNG whose compressed data inflates to more than its IHDR size (a zlib bomb).

    OpenCV's decoder inflates all of IDAT, however much that is; this bounded inflate stops one
    byte past what the header promises, so a bomb costs no more than an honest image.
    """
    data = memoryview(data).cast('B')
    pos, expected, inflater, left = 8, -1, zlib.decompressobj(), 0
    while pos + 12 <= data.nbytes:
        length, kind = struct.unpack_from('>I4s', data, pos)
        body = data[pos + 8:pos + 8 + length]
        if body.nbytes != length:
            raise ProtocolError(f'{side} png is truncated inside its {kind!r} chunk')
        if kind == b'IHDR':
            if length != 13 or expected >= 0:
                raise ProtocolError(f'{side} png has a malformed IHDR chunk')
            width, height, depth, colour, _, _, interlace = struct.unpack('>IIBBBBB', body)
            if colour not in _PNG_SAMPLES or depth not in (1, 2, 4, 8, 16) or interlace > 1:
                raise ProtocolError(f'{side} png has colour type {colour}, bit depth {depth}, '
                                    f'interlace {interlace}: not a valid PNG image')
            expected = _png_inflated_bytes(width, height, depth, colour, interlace)
            left = expected + 1
        elif kind == b'IDAT':
            if expected < 0:
                raise ProtocolError(f'{side} png has image data before its IHDR chunk')
            while body.nbytes and not inflater.eof:
                try:
                    left -= len(inflater.decompress(body, left))
                except zlib.error as error:
                    raise ProtocolError(f'{side} png image ({data.nbytes} bytes) is truncated or '
                                        f'corrupt: its image data does not inflate ({error})'
                                        ) from None
                if left <= 0:
                    raise ProtocolError(
                        f'{side} png inflates to more than the {expected} bytes its '
                        f'{width}x{height} header promises (a compression bomb); refused')
                body = memoryview(inflater.unconsumed_tail).cast('B')
        elif kind == b'IEND':
            return
        pos += 12 + length


def _decode_pixels(image: _Image) -> np.ndarray:
    """Return the pixels of a checked image (a view for raw, OpenCV-decoded otherwise)."""
    if image.codec == 'raw':
        return np.frombuffer(image.data, np.uint8).reshape(image.shape)
    if image.codec == 'png':
        check_png_inflation(image.data, image.side)
    pixels = cv2.imdecode(np.frombuffer(image.data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ProtocolError(f'{image.side} {image.codec} image ({image.data.nbytes} bytes) is '
                            'truncated or corrupt: OpenCV could not decode it')
    if pixels.dtype != np.uint8 or pixels.shape != image.shape:
        raise ProtocolError(f'{image.side} {image.codec} decoded to {pixels.dtype} '
                            f'{pixels.shape}, but the frame header says uint8 {image.shape}')
    return pixels


def decode_frame(message: Message, executor: Executor | None = None) -> FramePayload:
    """
    Decode a FRAME into images; raise ProtocolError on any inconsistency (never half a pair).

    With an executor, the two compressed images decode in parallel (OpenCV releases the GIL).
    """
    payload = memoryview(message.payload).cast('B')
    if payload.nbytes < FRAME_HEAD.size:
        raise ProtocolError(f'FRAME of {payload.nbytes} bytes is shorter than its '
                            f'{FRAME_HEAD.size}-byte head')
    sequence, capture_time_ns = FRAME_HEAD.unpack_from(payload, 0)
    left, offset = _parse_image(payload, FRAME_HEAD.size, 'left')
    right, offset = _parse_image(payload, offset, 'right')
    if offset != payload.nbytes:
        raise ProtocolError(f'FRAME has {payload.nbytes - offset} unexpected trailing bytes')
    if left.shape != right.shape:
        raise ProtocolError(f'left image is {left.shape} but right is {right.shape}; a stereo '
                            'pair must share one size and channel count')
    if executor is None or left.codec == 'raw':
        left_pixels, right_pixels = _decode_pixels(left), _decode_pixels(right)
    else:
        left_pixels, right_pixels = executor.map(_decode_pixels, (left, right))
    codec = left.codec if left.codec == right.codec else f'{left.codec}+{right.codec}'
    return FramePayload(sequence, capture_time_ns, left_pixels, right_pixels, codec)
