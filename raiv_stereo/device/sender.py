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
raiv-stereo-sender: streams stereo pairs and calibration to the robot (stream_protocol v1).

Runs on the RAiV camera (pure Python + numpy + OpenCV, no ROS). Pairs come from the device SDK
(qCU_Data, the default), from image files (--from-files, for testing anywhere) or from the
synthetic scene (--sample). It reconnects with backoff whenever the robot side goes away.

On the camera, pairs and the factory calibration come through the same SDK calls as the
camera node's raiv source (raiv_stereo.sources.raiv: getDataFrame() or getDataAi(),
load_calibration() + load_rectification()). The capture time is this device's time.time_ns() when
the SDK returned a new pair.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
import importlib.util
import logging
import os
import select
import socket
import ssl
import sys
import time
from typing import Any, Callable

import cv2
import numpy as np
from raiv_stereo import sources
from raiv_stereo.core.calibration import (
    CalibrationError,
    raiv_nominal,
    scaled_size,
    StereoCalibration,
)
from raiv_stereo.core.calibration_io import load_calibration
from raiv_stereo.sources import EndOfSource, open_source
from raiv_stereo.sources import raiv as raiv_source, stream as stream_source
from raiv_stereo.sources import stream_protocol as sp
from raiv_stereo.sources.images import expand_images, ImageSource
from raiv_stereo.sources.sample import SampleSource

LOGGER = logging.getLogger('raiv_stereo.sender')
ROBOT_HOST = '192.168.10.2'  # the maker's example PC address (connect mode default)
LOOPBACK_HOSTS = ('127.0.0.1', 'localhost', '::1')
JPEG_QUALITY = 90
PNG_LEVEL = 1  # OpenCV's fastest zlib level: PNG mostly buys bandwidth, not ratio
BACKOFF_S = (0.2, 5.0)  # reconnect delay: first and longest
HANDSHAKE_TIMEOUT_S = 5.0
SEND_BUFFER_BYTES = 1 << 20
SEND_TIMEOUT_S = 10.0  # a robot that stops reading this long is dropped and reconnected
EXIT_OK, EXIT_UNAVAILABLE, EXIT_REFUSED = 0, 2, 3


class Refused(Exception):
    """The receiver sent REJECT; `code` says whether retrying can help."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class Pair:
    """One captured pair in the device clock."""

    def __init__(self, left: np.ndarray, right: np.ndarray, capture_time_ns: int) -> None:
        self.left, self.right, self.capture_time_ns = left, right, capture_time_ns


# ---------------------------------------------------------------- pair providers

def file_pairs(specs: list[str]) -> list[tuple[str, str]]:
    """
    Return (left, right) paths from LEFT RIGHT globs/directories, or from one directory.

    One directory holds left/ and right/ subdirectories, or files named *left* and *right*.
    The images source (sources/images.py) expands each side.
    """
    if len(specs) == 1:
        root = specs[0]
        sides = [os.path.join(root, 'left'), os.path.join(root, 'right')]
        if all(os.path.isdir(side) for side in sides):
            specs = sides
        elif os.path.isdir(root):
            files = expand_images(root, 'left')
            return _zip_pairs([f for f in files if 'left' in os.path.basename(f).lower()],
                              [f for f in files if 'right' in os.path.basename(f).lower()],
                              root, root)
        else:
            raise ValueError(f'--from-files with one argument needs a directory, got {root!r}')
    if len(specs) != 2:
        raise ValueError('--from-files takes LEFT RIGHT (globs or directories) or one directory')
    return _zip_pairs(expand_images(specs[0], 'left'), expand_images(specs[1], 'right'),
                      specs[0], specs[1])


def _zip_pairs(left: list[str], right: list[str], left_spec: str,
               right_spec: str) -> list[tuple[str, str]]:
    """Pair two sorted lists, refusing empty or unequal ones."""
    if not left or not right:
        raise ValueError(f'no images found for {left_spec!r} (left: {len(left)}) or '
                         f'{right_spec!r} (right: {len(right)})')
    if len(left) != len(right):
        raise ValueError(f'{len(left)} left images but {len(right)} right images')
    return list(zip(left, right, strict=True))


class SourceProvider:
    """Pairs from one of the package's frame sources (sources/), with the calibration to send."""

    def __init__(self, source: Any, calibration: Any = None) -> None:
        """Take an open FrameSource; `calibration` is sent when the source knows none."""
        self.source = source
        self._calibration = calibration

    def calibration(self) -> dict[str, Any] | None:
        """Return what to send: the device's own calibration, else the given one (a dict)."""
        known = self.source.calibration or self._calibration
        return None if known is None else known.to_dict()

    def next_pair(self) -> Pair | None:
        """Return the next pair, None when none is ready; StopIteration after the last file."""
        try:
            frame = self.source.read()
        except EndOfSource:
            raise StopIteration from None
        if frame is None:
            return None
        return Pair(frame.left, frame.right, frame.capture_time_ns or time.time_ns())


class FileCalibration:
    """--calibration files, reloaded when they change on disk."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self._stamp: tuple[float, ...] = ()
        self._value: dict[str, Any] | None = None

    def get(self) -> dict[str, Any] | None:
        """Return the calibration dict, reloading it if a file's mtime changed."""
        try:
            stamp = tuple(os.stat(path).st_mtime_ns for path in self.paths)
        except OSError as error:
            LOGGER.warning('calibration file: %s (keeping the last one)', error)
            return self._value
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                self._value = load_calibration(self.paths).to_dict()
            except (CalibrationError, OSError, ValueError) as error:
                LOGGER.error('calibration %s is not usable: %s', self.paths, error)
        return self._value


# ---------------------------------------------------------------- connection

class Link:
    """The TCP connection to the robot, in connect or listen mode, with the HELLO handshake."""

    def __init__(self, mode: str, host: str, port: int, token: str, name: str,
                 tls: ssl.SSLContext | None = None, tls_name: str = '') -> None:
        self.mode, self.host, self.port, self.token, self.name = mode, host, port, token, name
        self.tls, self.tls_name = tls, tls_name or host
        self._listener: socket.socket | None = None

    def connect(self, stop: Callable[[], bool] = lambda: False) -> socket.socket:
        """Connect (or accept), say HELLO, and return the socket once WELCOME arrives."""
        if self.mode == 'connect':
            sock = socket.create_connection((self.host, self.port), timeout=HANDSHAKE_TIMEOUT_S)
            if self.tls is not None:
                try:
                    sock = self.tls.wrap_socket(sock, server_hostname=self.tls_name)
                except BaseException:
                    sock.close()
                    raise
        else:
            if self._listener is None:
                self._listener = socket.create_server((self.host, self.port), reuse_port=False)
                LOGGER.info('listening on %s:%d for the robot', *self._listener.getsockname()[:2])
            self._listener.settimeout(0.5)
            while True:
                try:
                    sock, _ = self._listener.accept()
                    break
                except TimeoutError:
                    if stop():
                        raise OSError('stopped') from None
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # a bounded send queue: when the link is the bottleneck, the next pair read is fresh
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
            sock.settimeout(HANDSHAKE_TIMEOUT_S)
            sp.send_parts(sock, sp.encode_hello(self.token, self.name))
            decoder = sp.FrameDecoder(allowed_types=[sp.WELCOME, sp.REJECT, sp.PING])
            while True:
                data = sock.recv(65536)
                if not data:
                    raise OSError('the receiver closed the connection during the handshake')
                for message in decoder.feed(data):
                    if message.type == sp.REJECT:
                        raise Refused(*sp.decode_reject(message))
                    if message.type == sp.WELCOME:
                        sock.settimeout(SEND_TIMEOUT_S)
                        return sock
        except BaseException:
            sock.close()
            raise

    def close(self) -> None:
        """Close the listening socket (listen mode)."""
        if self._listener is not None:
            self._listener.close()
            self._listener = None


def check_incoming(sock: socket.socket, decoder: sp.FrameDecoder) -> None:
    """Read what the receiver sent (REJECT, PING) without blocking; raise when it is gone."""
    while select.select([sock], [], [], 0)[0] or \
            (isinstance(sock, ssl.SSLSocket) and sock.pending()):
        data = sock.recv(65536)
        if not data:
            raise OSError('the receiver closed the connection')
        for message in decoder.feed(data):
            if message.type == sp.REJECT:
                raise Refused(*sp.decode_reject(message))


# ---------------------------------------------------------------- main loop

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog='raiv-stereo-sender',
        description='Stream stereo pairs and calibration from the RAiV camera to the robot.')
    source = parser.add_mutually_exclusive_group()
    source.add_argument('--from-files', nargs='+', metavar='SPEC',
                        help='replay image pairs: LEFT_GLOB RIGHT_GLOB, two directories, or one '
                             'directory with left/ and right/ (or *left*/*right* files)')
    source.add_argument('--sample', action='store_true',
                        help='stream the built-in synthetic scene instead of the camera')
    parser.add_argument('--sample-scale', type=float, default=0.5,
                        help='--sample image size relative to 1600x1300 (default 0.5)')
    parser.add_argument('--loop', action='store_true', help='replay --from-files forever')
    parser.add_argument('--raiv-input', choices=raiv_source.INPUTS,
                        default=raiv_source.INPUT,
                        help="SDK input: 'frame' = getDataFrame() (raw 1600x1300 pair, default), "
                             "'ai' = getDataAi() (the AI processor's input frames)")
    parser.add_argument('--swap-left-right', action='store_true',
                        help="the SDK pair the other way round from the maker's stereo-frame "
                             'example (index 0 left)')
    parser.add_argument('--mode', choices=('connect', 'listen'), default='connect',
                        help='connect to the robot (default; the node listens) or listen for it')
    parser.add_argument('--host', default=None,
                        help=f'robot address (connect, default {ROBOT_HOST}) or the address to '
                             'listen on (listen, default 0.0.0.0)')
    parser.add_argument('--port', type=int, default=stream_source.PORT)
    parser.add_argument('--codec', choices=tuple(sp.CODECS), default='raw',
                        help='raw (fastest on a LAN), png (lossless) or jpeg (lossy, smallest)')
    parser.add_argument('--jpeg-quality', type=int, default=JPEG_QUALITY)
    parser.add_argument('--png-level', type=int, default=PNG_LEVEL, choices=range(10))
    parser.add_argument('--scale', type=float, default=1.0,
                        help='resize pairs (and the calibration) before sending, e.g. 0.5 for '
                             "the maker's 800x650: a quarter of the bytes")
    parser.add_argument('--rate-hz', type=float, default=sources.RATE_HZ,
                        help='maximum pairs per second (0 = as fast as possible)')
    parser.add_argument('--token', default=None,
                        help="shared secret: the node's stream.token (default: when connecting "
                             'to this host, the token the node stored under ROS_HOME)')
    parser.add_argument('--tls-ca', metavar='FILE',
                        help="connect with TLS, trusting the robot's certificate if FILE (PEM; "
                             "the node's stream.tls_cert for a self-signed one) vouches for it")
    parser.add_argument('--tls-name', default='',
                        help="name the robot's certificate must carry (default: --host)")
    parser.add_argument('--calibration', nargs='+', metavar='FILE',
                        help='calibration to send: one OpenCV stereo file or a left/right '
                             'camera_info YAML pair (reloaded when changed)')
    parser.add_argument('--count', type=int, default=0,
                        help='stop after sending N pairs (0 = never)')
    parser.add_argument('--name', default=socket.gethostname(), help='sender name in logs')
    parser.add_argument('-q', '--quiet', action='store_true', help='log warnings only')
    args = parser.parse_args(argv)
    if not 0.05 <= args.scale <= 1.0:
        parser.error(f'--scale must be in [0.05, 1], got {args.scale}')
    if args.host is None:
        args.host = ROBOT_HOST if args.mode == 'connect' else '0.0.0.0'
    if args.tls_ca and args.mode != 'connect':
        parser.error('--tls-ca works with --mode connect (the robot listens with '
                     'stream.tls_cert)')
    return args


def tls_context(ca_file: str | None) -> ssl.SSLContext | None:
    """Return a TLS 1.2+ client context trusting `ca_file` (None without --tls-ca)."""
    if not ca_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def make_provider(args: argparse.Namespace) -> SourceProvider:
    """Return the source the arguments select; raise SourceError/ValueError when unavailable."""
    if args.from_files:
        return SourceProvider(ImageSource(file_pairs(args.from_files), args.loop))
    if args.sample:
        calibration = raiv_nominal().scaled(args.sample_scale)
        return SourceProvider(SampleSource(calibration, args.rate_hz or sources.RATE_HZ),
                              calibration)
    source = open_source('raiv', {'raiv.input': args.raiv_input,
                                  'raiv.swap_left_right': args.swap_left_right}, raiv_nominal())
    if source.calibration is None:
        if not args.calibration:
            source.close()
            raise CalibrationError(f'{source.calibration_problem}; or give --calibration')
        LOGGER.warning('%s; sending --calibration', source.calibration_problem)
    return SourceProvider(source)


def default_token(args: argparse.Namespace) -> str:
    """
    Return --token, else the token a node on this host stored (connect mode to loopback only).

    The stored token never goes to another host: for a remote robot, pass --token.
    """
    if args.token is not None:
        return args.token
    if args.mode == 'connect' and args.host in LOOPBACK_HOSTS:
        return stream_source.stored_token()
    return ''


def main(argv: list[str] | None = None) -> int:
    """Run the sender; exit 0 when --count pairs were sent, 2 when no source, 3 when refused."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format='raiv-stereo-sender: %(message)s')
    try:
        provider = make_provider(args)
    except Exception as error:  # SDK absent (SourceError), no files, init failure
        print(f'raiv-stereo-sender: cannot read pairs: {error}', file=sys.stderr)
        if not (args.from_files or args.sample) and \
                importlib.util.find_spec(raiv_source.DATA_MODULE) is None:
            print('raiv-stereo-sender: the RAiV SDK is only on the camera; here use '
                  '--from-files LEFT RIGHT or --sample', file=sys.stderr)
        return EXIT_UNAVAILABLE
    file_calibration = FileCalibration(args.calibration) if args.calibration else None
    try:
        tls = tls_context(args.tls_ca)
    except (OSError, ssl.SSLError) as error:
        print(f'raiv-stereo-sender: --tls-ca {args.tls_ca}: {error}', file=sys.stderr)
        return EXIT_REFUSED
    link = Link(args.mode, args.host, args.port, default_token(args), args.name, tls,
                args.tls_name)
    try:
        return stream(args, provider, file_calibration, link)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        link.close()


def stream(args: argparse.Namespace, provider: Any, file_calibration: FileCalibration | None,
           link: Link) -> int:
    """Send pairs until --count or the end of the files, reconnecting whenever needed."""
    sent, backoff_s, sock = 0, BACKOFF_S[0], None
    pending: Pair | None = None
    sent_calibration: dict[str, Any] | None = None
    period_s = 1.0 / args.rate_hz if args.rate_hz > 0 else 0.0
    next_due = last_tx = time.monotonic()
    encoder = ThreadPoolExecutor(max_workers=2) if args.codec != 'raw' else None
    decoder = sp.FrameDecoder(allowed_types=[sp.REJECT, sp.PING])
    try:
        while args.count <= 0 or sent < args.count:
            if sock is None:
                try:
                    sock = link.connect()
                except Refused as refusal:
                    if refusal.code == sp.REJECT_AUTH:
                        LOGGER.error('refused by the receiver: %s', refusal)
                        return EXIT_REFUSED
                    LOGGER.warning('refused by the receiver: %s; retrying in %.1f s',
                                   refusal, backoff_s)
                except ssl.SSLCertVerificationError as error:
                    LOGGER.error("TLS: the robot's certificate is not trusted (%s); check "
                                 '--tls-ca and --tls-name', error.verify_message or error)
                    return EXIT_REFUSED
                except (OSError, sp.ProtocolError) as error:
                    LOGGER.warning('no connection to %s:%d (%s); retrying in %.1f s',
                                   link.host, link.port, error, backoff_s)
                if sock is None:
                    time.sleep(backoff_s)
                    backoff_s = min(backoff_s * 2, BACKOFF_S[1])
                    continue
                LOGGER.info('connected to %s:%d', link.host, link.port)
                backoff_s, sent_calibration = BACKOFF_S[0], None
                decoder = sp.FrameDecoder(allowed_types=[sp.REJECT, sp.PING])
            try:
                check_incoming(sock, decoder)
                if pending is None:
                    delay_s = next_due - time.monotonic()
                    if delay_s > 0:
                        time.sleep(min(delay_s, sp.KEEPALIVE_S / 2))
                        if time.monotonic() - last_tx >= sp.KEEPALIVE_S:
                            sp.send_parts(sock, sp.encode_message(sp.PING))
                            last_tx = time.monotonic()
                        continue
                    try:
                        pending = provider.next_pair()
                    except StopIteration:
                        break
                    except Exception as error:  # unreadable file, unexpected SDK data
                        LOGGER.error('cannot read a pair (%s); skipped', error)
                        time.sleep(0.1)
                        continue
                    if pending is None:  # the device has no new pair yet
                        next_due = time.monotonic() + 0.005
                        continue
                    next_due = max(next_due, time.monotonic()) + period_s if period_s else 0.0
                calibration = scaled_calibration(
                    file_calibration.get() if file_calibration else provider.calibration(),
                    args.scale)
                if calibration is not None and calibration != sent_calibration:
                    sp.send_parts(sock, sp.encode_calibration(calibration))
                    sent_calibration = calibration
                    LOGGER.info('calibration sent')
                sp.send_parts(sock, encode_pair(pending, sent, args, encoder))
                last_tx = time.monotonic()
                pending, sent = None, sent + 1
            except Refused as refusal:
                LOGGER.warning('the receiver closed the stream: %s', refusal)
                sock.close()
                sock = None
                if refusal.code == sp.REJECT_AUTH:
                    return EXIT_REFUSED
            except (OSError, sp.ProtocolError) as error:
                LOGGER.warning('connection lost (%s); reconnecting', error)
                sock.close()
                sock = None
        if sock is not None:
            try:
                sp.send_parts(sock, sp.encode_message(sp.BYE))
                sock.shutdown(socket.SHUT_WR)
                sock.settimeout(1.0)
                while sock.recv(65536):  # let the receiver read everything before closing
                    pass
            except OSError:
                pass
        LOGGER.info('sent %d pairs', sent)
        return EXIT_OK
    finally:
        if sock is not None:
            sock.close()
        if encoder is not None:
            encoder.shutdown()


def scaled_calibration(calibration: dict[str, Any] | None,
                       scale: float) -> dict[str, Any] | None:
    """Return the calibration dict for pairs resized by `scale` (the package's rounding)."""
    if calibration is None or scale == 1.0:
        return calibration
    try:
        return StereoCalibration.from_dict(calibration).scaled(scale).to_dict()
    except CalibrationError as error:
        LOGGER.error('calibration not usable: %s', error)
        return None


def encode_pair(pair: Pair, sequence: int, args: argparse.Namespace,
                encoder: ThreadPoolExecutor | None) -> list[bytes | memoryview]:
    """Encode a pair as one FRAME (resized by --scale), compressing left and right in parallel."""
    if args.scale != 1.0:
        height, width = pair.left.shape[:2]
        size = scaled_size((width, height), args.scale)
        pair = Pair(cv2.resize(pair.left, size, interpolation=cv2.INTER_AREA),
                    cv2.resize(pair.right, size, interpolation=cv2.INTER_AREA),
                    pair.capture_time_ns)

    def one(image: np.ndarray) -> tuple[bytes, memoryview]:
        return sp.encode_image(image, args.codec, args.jpeg_quality, args.png_level)
    if encoder is None:
        encoded = [one(pair.left), one(pair.right)]
    else:
        encoded = list(encoder.map(one, (pair.left, pair.right)))
    return sp.encode_frame(sequence, pair.capture_time_ns, pair.left, pair.right,
                           encoded=encoded)


if __name__ == '__main__':
    sys.exit(main())
