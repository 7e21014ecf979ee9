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
Network stream source: stereo pairs and calibration from a RAiV sender (stream_protocol, v1).

A background thread owns the sockets and decodes; read() only hands over the newest complete
pair. Every fault (garbage, oversized or unknown messages, corrupt images, stalls, strangers)
resets that one connection with a rate-limited log line on logger 'raiv_stereo.stream'; the
source goes on.
"""

from __future__ import annotations

import collections
from concurrent.futures import ThreadPoolExecutor
import errno
import hmac
import logging
import os
from pathlib import Path
import secrets
import select
import selectors
import socket
import ssl
import threading
import time
from typing import Any, Mapping

from raiv_stereo.core.calibration import CalibrationError, same_aspect, StereoCalibration
from raiv_stereo.params.spec import FloatRange, IntRange, ParamSpec
from raiv_stereo.sources import FrameSource, SourceError, StereoFrame, stream_protocol as sp

LOGGER = logging.getLogger('raiv_stereo.stream')
RECV_CHUNK_BYTES = 1 << 20
SOCKET_BUFFER_BYTES = 2 << 20  # ample for a LAN's bandwidth x delay, small enough for latency
MAX_PENDING = 4  # connections allowed to wait for their HELLO besides the admitted senders
TLS_READS_PER_ROUND = 256  # TLS records (16 KiB each) read from one connection per round
LISTEN_BACKLOG = 64  # a burst of connects waits in the kernel, not a 1 s SYN retry
CONNECT_BACKOFF_S = (0.2, 2.0)  # connect mode: first and longest retry delay
LOG_THROTTLE_S = 5.0  # one warning per kind this often, with a count (as the nodes' errors)
TOKEN_AUTO = 'auto'  # stream.token: generate one on first start and keep it under ROS_HOME
TOKEN_NONE = ('', 'none')  # stream.token: no authentication (said explicitly, warned about)
TRICKLE_FACTOR = 4  # a message still incomplete after this many stream.timeout_s is dropped
CLOCK_WINDOW = 64  # frames in the sliding window of the device-clock offset estimate
MODES = ('listen', 'connect')
MODE = 'listen'
HOST = '0.0.0.0'
PORT = 12345
TIMEOUT_S = 5.0
MAX_SENDERS = 1
COMPRESSION_CODECS = {'any': ('raw', 'png', 'jpeg'), 'none': ('raw',), 'raw': ('raw',),
                      'png': ('png',), 'jpeg': ('jpeg',)}
COMPRESSIONS = ('any', 'none', 'png', 'jpeg')
"""stream.compression choices ('raw' is also accepted in code, as 'none')."""
COMPRESSION = 'any'


class ClockMapper:
    """
    Maps device capture times to this host's time.time_ns() clock, monotonically.

    The offset is the minimum of (arrival - capture) over a sliding window: the least-delayed
    frame bounds the true offset, so stamps sit close to capture and never after arrival.
    """

    def __init__(self, window: int = CLOCK_WINDOW) -> None:
        self._samples: collections.deque[int] = collections.deque(maxlen=window)
        self._last_capture_ns: int | None = None
        self.last_stamp_ns = 0

    def reset(self) -> None:
        """Forget the offset (new sender, or the device clock jumped)."""
        self._samples.clear()
        self._last_capture_ns = None

    @property
    def offset_ns(self) -> int | None:
        """Return the current offset estimate (host - device), None before the first frame."""
        return min(self._samples) if self._samples else None

    def to_host_ns(self, capture_ns: int, arrival_ns: int, not_before_ns: int = 0) -> int:
        """
        Return the host-clock stamp of a frame captured at capture_ns (device clock).

        Stamps increase strictly, also past `not_before_ns` (the last stamp of any sender).
        """
        if self._last_capture_ns is not None and capture_ns < self._last_capture_ns:
            self.reset()  # the device clock stepped back (or the device restarted)
        self._last_capture_ns = capture_ns
        self._samples.append(arrival_ns - capture_ns)
        stamp = min(capture_ns + min(self._samples), arrival_ns)
        stamp = max(stamp, self.last_stamp_ns + 1, not_before_ns + 1)
        self.last_stamp_ns = stamp
        return stamp


def token_path() -> Path:
    """Return where `stream.token: auto` keeps its token: $ROS_HOME (else ~/.ros)/raiv_stereo."""
    return Path(os.environ.get('ROS_HOME') or Path.home() / '.ros') / 'raiv_stereo' / \
        'stream_token'


def stored_token() -> str:
    """Return the token `stream.token: auto` stored on this host, '' when there is none."""
    try:
        return token_path().read_text(encoding='utf-8').strip()
    except (OSError, UnicodeDecodeError):
        return ''


def resolve_token(value: str, host: str, port: int) -> str:
    """
    Return the token senders must present for the stream.token parameter's value.

    'auto' reads the token stored under ROS_HOME, generating it (mode 0600) on first start and
    logging the sender command line that carries it; '' or 'none' means no token at all.
    """
    if value.strip().lower() in TOKEN_NONE:
        return ''
    if value != TOKEN_AUTO:
        return value
    path = token_path()
    token = stored_token()
    if token:
        LOGGER.info('stream: senders need the token stored in %s', path)
        return token
    token = secrets.token_urlsafe(18)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, 'w', encoding='utf-8') as file:
            file.write(token + '\n')
    except OSError as error:
        raise SourceError(f'stream.token auto: cannot store a token in {path}: '
                          f'{error.strerror or error}; set stream.token to a secret of your '
                          'own (or ROS_HOME to a writable folder)') from None
    robot = host if host not in ('', '0.0.0.0', '::') else "<this robot's address>"
    LOGGER.warning('stream: generated a stream token and stored it in %s (kept for the next '
                   'starts). Start the sender with: raiv-stereo-sender --host %s --port %d '
                   '--token %s', path, robot, port, token)
    return token


def tls_server_context(cert_file: str, key_file: str = '') -> ssl.SSLContext:
    """Return a TLS 1.2+ server context for the certificate (and key) files, or SourceError."""
    if not cert_file:
        raise SourceError('stream.tls_key needs stream.tls_cert (the certificate, PEM)')
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file or None)
    except (OSError, ssl.SSLError) as error:
        raise SourceError(f'stream.tls_cert {cert_file!r} / stream.tls_key {key_file!r}: cannot '
                          f'load the certificate and its key: {error}') from None
    return context


class _Throttle:
    """One log line per kind per LOG_THROTTLE_S; the next line says how many were held back."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._held: collections.Counter[str] = collections.Counter()

    def log(self, kind: str, level: int, message: str) -> None:
        """Log `message` unless a line of this kind was logged within LOG_THROTTLE_S."""
        now = time.monotonic()
        if now - self._last.get(kind, -LOG_THROTTLE_S) < LOG_THROTTLE_S:
            self._held[kind] += 1
            return
        held, self._held[kind] = self._held[kind], 0
        self._last[kind] = now
        if held:
            message += f' ({held} similar line{"s" if held > 1 else ""} held back in the last ' \
                       f'{LOG_THROTTLE_S:g} s)'
        LOGGER.log(level, 'stream: %s', message)


class _Connection:
    """One peer: its socket, incremental decoder and admission state."""

    def __init__(self, sock: socket.socket, peer: str) -> None:
        self.sock = sock
        self.peer = peer
        self.decoder = sp.FrameDecoder(allowed_types=[sp.HELLO])
        self.admitted = False
        self.sender = ''
        self.accepted_at = time.monotonic()
        """A HELLO must be complete this long after the connection opened (stream.timeout_s)."""
        self.last_rx = self.accepted_at
        self.message_start: float | None = None
        """When the message being received began (a trickling peer is timed out too)."""
        self.clock = ClockMapper()
        self.size_warned: tuple[str, tuple[int, int]] | None = None
        self.calibration: StereoCalibration | None = None
        """The last calibration this sender sent, checked against its next frame."""
        self.frame_size: tuple[int, int] | None = None
        self.handshaking = isinstance(sock, ssl.SSLSocket)
        """TLS: the handshake is not done yet (it counts toward the HELLO deadline)."""


class StreamSource(FrameSource):
    """Stereo pairs pushed by a RAiV sender over TCP; listens (default) or connects."""

    kind = 'stream'
    pushed = True
    options = (
        ParamSpec('mode', MODE,
                  "'listen' for the device to connect, or 'connect' to the device",
                  choices=MODES),
        ParamSpec('host', HOST,
                  'address to listen on, or the device to connect to'),
        ParamSpec('port', PORT, 'TCP port (0 = any free port, logged)',
                  IntRange(0, 65535)),
        ParamSpec('token', TOKEN_AUTO,
                  "shared secret a sender must present; 'auto' = generated on first start, kept "
                  'in $ROS_HOME/raiv_stereo/stream_token and logged with the sender command '
                  "line; 'none' = no token (a warning at start)"),
        ParamSpec('timeout_s', TIMEOUT_S,
                  'a sender silent this long (or stalled mid-frame) is dropped, s',
                  FloatRange(0.1, 3600.0)),
        ParamSpec('max_senders', MAX_SENDERS, 'senders connected at a time',
                  IntRange(1, 16)),
        ParamSpec('compression', COMPRESSION,
                  "image compression accepted from the sender ('any' = whatever it sends)",
                  choices=COMPRESSIONS),
        ParamSpec('tls_cert', '', "TLS certificate, PEM (stream.mode 'listen'); senders connect "
                  'with --tls-ca; path; empty = not used'),
        ParamSpec('tls_key', '',
                  "the certificate's private key, PEM (empty = in stream.tls_cert)"),
    )

    @classmethod
    def option_problems(cls, values: Mapping[str, Any]) -> list[str]:
        """Require a device address to connect to, TLS only when listening, a key with a cert."""
        problems = []
        if values['mode'] == 'connect' and values['host'].strip() in ('', '0.0.0.0', '::'):
            problems.append("stream.mode 'connect' needs stream.host set to the device's address")
        if values['tls_key'] and not values['tls_cert']:
            problems.append('stream.tls_key needs stream.tls_cert (the certificate, PEM)')
        if values['tls_cert'] and values['mode'] != 'listen':
            problems.append("stream.tls_cert works with stream.mode 'listen' only")
        return problems

    def __init__(self, mode: str = MODE, host: str = HOST,
                 port: int = PORT, token: str = '',
                 timeout_s: float = TIMEOUT_S,
                 max_senders: int = MAX_SENDERS,
                 compression: str = COMPRESSION,
                 tls_cert: str = '', tls_key: str = '') -> None:
        if mode not in MODES:
            raise SourceError(f'stream.mode {mode!r} is not one of {MODES}')
        if compression not in COMPRESSION_CODECS:
            raise SourceError(f'stream.compression {compression!r} is not one of '
                              f'{", ".join(COMPRESSION_CODECS)}')
        if timeout_s <= 0 or max_senders < 1:
            raise SourceError(f'stream.timeout_s ({timeout_s}) must be > 0 and '
                              f'stream.max_senders ({max_senders}) >= 1')
        if not 0 <= port <= 65535:
            raise SourceError(f'stream.port {port} is not a TCP port (0-65535)')
        self.mode, self.host, self.port = mode, host, port
        self.token, self.timeout_s, self.max_senders = token, float(timeout_s), max_senders
        self._tls = tls_server_context(tls_cert, tls_key) if tls_cert or tls_key else None
        if self._tls is not None and mode != 'listen':
            raise SourceError('stream.tls_cert works with stream.mode listen (the sender '
                              'connects with --tls-ca); in connect mode leave it empty')
        self._throttle = _Throttle()
        self.token_hint = ''
        """Where the token is, for the REJECT a sender without it gets."""
        self.allowed_codecs = COMPRESSION_CODECS[compression]
        self.calibration: StereoCalibration | None = None
        self.counters: dict[str, int] = collections.Counter()
        """frames_received, frames_delivered, frames_superseded, connections, rejected,
        protocol_errors, timeouts, disconnects, calibrations, bytes_received."""
        self.last_error = ''
        self.last_device_time_ns: int | None = None
        """Device capture time of the last frame read() returned (for latency figures)."""
        self.last_arrival_ns: int | None = None
        self._lock = threading.Lock()
        self._latest: tuple[StereoFrame, int, int] | None = None
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._connections: dict[socket.socket, _Connection] = {}
        self._listener: socket.socket | None = None
        self._last_stamp_ns = 0
        self._buffer = memoryview(bytearray(RECV_CHUNK_BYTES))
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix='raiv-stream-decode')
        self._next_connect = 0.0
        self._backoff_s = CONNECT_BACKOFF_S[0]
        self._state = ''
        if mode == 'listen':
            self._listener = self._listen(host, port)
            self.address: tuple[str, int] = self._listener.getsockname()[:2]
            self._state = f'listening on {self.address[0]}:{self.address[1]}, no sender'
        else:
            if host in ('', '0.0.0.0', '::'):
                raise SourceError('stream.mode connect needs stream.host set to the sender '
                                  f'address (got {host!r})')
            self.address = (host, port)
            self._state = f'connecting to {host}:{port}'
        if self._tls is not None:
            self._state += ' (TLS)'
        if not token:
            LOGGER.warning('stream: no stream.token: any host that can reach %s:%d may stream '
                           "pairs to this robot; set stream.token (or 'auto') to require one",
                           *self.address)
        self._thread = threading.Thread(target=self._run, name='raiv-stream', daemon=True)
        self._thread.start()

    @classmethod
    def from_options(cls, options: Mapping[str, Any],
                     calibration: StereoCalibration) -> StreamSource:
        """Build from the checked stream.* options (mode, host, port, token, ...)."""
        del calibration  # the stream carries its own (native-size) calibration
        host, port, value = options['host'], options['port'], options['token']
        source = cls(mode=options['mode'], host=host, port=port,
                     token=resolve_token(value, host, port), timeout_s=options['timeout_s'],
                     max_senders=options['max_senders'], compression=options['compression'],
                     tls_cert=options['tls_cert'], tls_key=options['tls_key'])
        if value == TOKEN_AUTO:
            source.token_hint = f'; stream.token auto: the receiver keeps it in {token_path()}'
        return source

    # ------------------------------------------------------------ public API

    def read(self) -> StereoFrame | None:
        """Return the newest complete pair not yet returned, or None (never blocks)."""
        with self._lock:
            latest, self._latest = self._latest, None
        if latest is None:
            return None
        frame, self.last_device_time_ns, self.last_arrival_ns = latest
        self.counters['frames_delivered'] += 1
        return frame

    @property
    def status(self) -> str:
        """Return a one-line state for diagnostics (listening, streaming from whom, last error)."""
        with self._lock:
            state = self._state
        return state + (f'; last error: {self.last_error}' if self.last_error else '')

    @property
    def connected_senders(self) -> int:
        """Return how many senders are admitted right now."""
        with self._lock:
            return sum(conn.admitted for conn in self._connections.values())

    def close(self) -> None:
        """Stop the I/O thread and close every socket (returns within about a second)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    # ------------------------------------------------------------ I/O thread

    @staticmethod
    def _listen(host: str, port: int) -> socket.socket:
        """Bind the listening socket or raise SourceError saying why."""
        family = socket.AF_INET6 if ':' in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # a bounded receive window: a backlog of stale pairs cannot build up in the kernel
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER_BYTES)
            sock.bind((host, port))
            sock.listen(LISTEN_BACKLOG)
            sock.setblocking(False)
            return sock
        except OSError as error:
            sock.close()
            raise SourceError(f'cannot listen on {host}:{port}: {error.strerror or error}; '
                              'choose another stream.port or stop the program using it') from None

    def _run(self) -> None:
        """Serve sockets until close(); no exception escapes (each one resets a connection)."""
        if self._listener is not None:
            self._selector.register(self._listener, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception as error:  # a bug must not kill the stream: log, keep going
                    LOGGER.exception('stream: unexpected error: %s', error)
                    self._set_error(f'internal error: {error}')
                    time.sleep(0.05)
        finally:
            for conn in list(self._connections.values()):
                self._drop(conn, None)
            if self._listener is not None:
                self._listener.close()
            self._selector.close()
            self._pool.shutdown(wait=False)

    def _step(self) -> None:
        """One select round: accept/connect, read, and time out stalled peers."""
        if self.mode == 'connect' and not self._connections and \
                time.monotonic() >= self._next_connect:
            self._connect()
        for key, _ in self._selector.select(timeout=0.05):
            if key.fileobj is self._listener:
                self._accept()
            elif key.fileobj in self._connections:
                self._receive(self._connections[key.fileobj])
        now = time.monotonic()
        for conn in list(self._connections.values()):
            silent_s = now - conn.last_rx
            message_s = now - conn.message_start if conn.message_start is not None else 0.0
            if not conn.admitted and now - conn.accepted_at > self.timeout_s:
                # a deadline from the connection's start: trickling bytes do not extend it
                self.counters['timeouts'] += 1
                self._fault(conn, f'timed out: sent no complete HELLO within '
                                  f'{self.timeout_s:g} s (stream.timeout_s)', sp.REJECT_PROTOCOL)
                continue
            if silent_s <= self.timeout_s and message_s <= TRICKLE_FACTOR * self.timeout_s:
                continue
            if silent_s > self.timeout_s and self._bytes_waiting(conn):
                continue  # not silent: this thread was busy; the bytes are read next round
            if silent_s <= self.timeout_s:
                why = f'one message took over {message_s:.1f} s ({TRICKLE_FACTOR} x ' \
                      f'stream.timeout_s); partial message dropped'
            elif conn.decoder.mid_message:
                why = f'stalled mid-message for {silent_s:.1f} s (stream.timeout_s ' \
                      f'{self.timeout_s:g}); partial message dropped'
            else:
                why = f'silent for {silent_s:.1f} s (senders send PING every ' \
                      f'{sp.KEEPALIVE_S:g} s)'
            self.counters['timeouts'] += 1
            self._fault(conn, f'timed out: {why}', sp.REJECT_PROTOCOL)

    def _connect(self) -> None:
        """Connect mode: one attempt to reach the sender, with growing backoff on failure."""
        try:
            sock = socket.create_connection(self.address, timeout=min(1.0, self.timeout_s))
        except OSError as error:
            self._next_connect = time.monotonic() + self._backoff_s
            self._set_state(f'connecting to {self.address[0]}:{self.address[1]} '
                            f'(retry in {self._backoff_s:g} s: {error.strerror or error})')
            self._backoff_s = min(self._backoff_s * 2, CONNECT_BACKOFF_S[1])
            return
        self._backoff_s = CONNECT_BACKOFF_S[0]
        self._add(sock, f'{self.address[0]}:{self.address[1]}')

    def _accept(self) -> None:
        """Accept up to MAX_PENDING peers (the backlog drains; waiting peers still get read)."""
        for _ in range(MAX_PENDING):
            try:
                sock, address = self._listener.accept()  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno in (errno.EMFILE, errno.ENFILE):
                    time.sleep(0.1)
                return
            self._make_room(f'{address[0]}:{address[1]}')
            self._add(sock, f'{address[0]}:{address[1]}')

    def _make_room(self, peer: str) -> None:
        """
        Keep at most MAX_PENDING connections waiting for a HELLO: drop the one waiting longest.

        A real sender says HELLO at once, so peers that hold the slots cannot lock it out.
        """
        pending = [conn for conn in self._connections.values() if not conn.admitted]
        if len(pending) < MAX_PENDING:
            return
        oldest = min(pending, key=lambda conn: conn.accepted_at)
        self.counters['rejected'] += 1
        reason = (f'{MAX_PENDING} connections were waiting for their HELLO; dropped the '
                  f'oldest, {oldest.peer}, for {peer}')
        self._set_error(reason)
        self._throttle.log('refused', logging.WARNING, reason)
        self._send(oldest.sock, sp.encode_reject(sp.REJECT_BUSY, 'too many connections '
                                                 'waiting for their HELLO; try again'))
        self._drop(oldest, None)

    def _add(self, sock: socket.socket, peer: str) -> None:
        """Register a new connection, waiting for its HELLO."""
        sock.setblocking(False)
        if self._tls is not None:
            sock = self._tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        conn = _Connection(sock, peer)
        with self._lock:
            self._connections[sock] = conn
        self._selector.register(sock, selectors.EVENT_READ)
        self.counters['connections'] += 1
        self._throttle.log('connected', logging.INFO, f'{peer} connected, waiting for HELLO')

    def _receive(self, conn: _Connection) -> None:
        """Read what the socket has (TLS: also what is decrypted already) and handle it."""
        if conn.handshaking and not self._handshake(conn):
            return
        # TLS hands out one record (16 KiB) per read: read on until it would block, a bounded
        # number of times so other connections are served too.
        reads = TLS_READS_PER_ROUND if isinstance(conn.sock, ssl.SSLSocket) else 1
        for _ in range(reads):
            if not self._receive_once(conn) or conn.sock not in self._connections:
                return

    def _handshake(self, conn: _Connection) -> bool:
        """Advance a TLS handshake; return True once it is done (False: wait, or dropped)."""
        try:
            conn.sock.do_handshake()
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except (ssl.SSLError, OSError) as error:
            self.counters['protocol_errors'] += 1
            reason = getattr(error, 'reason', None) or error.strerror or error
            self._set_error(f'{conn.peer}: TLS handshake failed: {reason}')
            self._throttle.log('pending', logging.WARNING, f'{conn.peer}: TLS handshake failed '
                               f'({reason}); is the sender using --tls-ca?; connection reset')
            self._drop(conn, None)
            return False
        conn.handshaking = False
        return True

    def _receive_once(self, conn: _Connection) -> bool:
        """Read once and handle every complete message; return False when nothing more to do."""
        try:
            count = conn.sock.recv_into(self._buffer)
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False
        except OSError as error:
            self.counters['disconnects'] += 1
            self._drop(conn, f'{conn.peer}: connection error: {error.strerror or error}',
                       logging.WARNING)
            return False
        if count == 0:
            self.counters['disconnects'] += 1
            if conn.decoder.mid_message:
                self._set_error(f'{conn.peer} disconnected mid-message; partial message dropped')
                self._drop(conn, f'{conn.peer} disconnected mid-message '
                                 f'({conn.decoder.buffered_bytes} bytes dropped)', logging.WARNING)
            else:
                self._drop(conn, f'{conn.peer} disconnected', logging.INFO)
            return False
        conn.last_rx = time.monotonic()
        self.counters['bytes_received'] += count
        try:
            messages = conn.decoder.feed(self._buffer[:count])
            for message in messages:
                if not self._handle(conn, message):
                    return False
        except Exception as error:  # noqa: BLE001 (whatever the bytes caused: REJECT, close)
            self.counters['protocol_errors'] += 1
            reason = str(error) if isinstance(error, sp.ProtocolError) else \
                f'malformed input ({type(error).__name__}: {str(error)[:200]})'
            self._fault(conn, reason, sp.REJECT_PROTOCOL)
            return False
        # Silence counts from the end of this work: a slow decode is not the peer's silence.
        conn.last_rx = time.monotonic()
        if not conn.decoder.mid_message:
            conn.message_start = None
        elif messages or conn.message_start is None:
            conn.message_start = conn.last_rx  # a new message began in this chunk
        return True

    def _handle(self, conn: _Connection, message: sp.Message) -> bool:
        """Act on one message; return False when the connection was closed."""
        if message.type == sp.HELLO:
            return self._hello(conn, message)
        if message.type == sp.FRAME:
            self._frame(conn, sp.decode_frame(message, self._pool))
        elif message.type == sp.CALIBRATION:
            data = sp.decode_calibration(message)
            try:
                calibration = StereoCalibration.from_dict(data)
            except (CalibrationError, ArithmeticError, KeyError, TypeError, ValueError) as error:
                raise sp.ProtocolError(f'CALIBRATION is not a valid stereo calibration: '
                                       f'{error}') from None
            if conn.frame_size is not None:
                self._check_size(conn.frame_size, calibration)
            conn.calibration = calibration  # in use from the first frame that fits it
            self.counters['calibrations'] += 1
            LOGGER.info('stream: calibration from %s: %dx%d, baseline %.1f mm, f %.1f px',
                        conn.sender or conn.peer, *calibration.image_size,
                        calibration.baseline_mm, calibration.focal_px)
        elif message.type == sp.BYE:
            self._drop(conn, f'{conn.sender or conn.peer} ended the stream (BYE)', logging.INFO)
            return False
        elif message.type == sp.REJECT:
            _, reason = sp.decode_reject(message)
            self._drop(conn, f'{conn.peer} closed the stream: {reason}', logging.WARNING)
            return False
        return True

    def _hello(self, conn: _Connection, message: sp.Message) -> bool:
        """Admit a sender whose HELLO carries the right token, if a sender slot is free."""
        hello = sp.decode_hello(message)
        if hello['protocol'] != sp.PROTOCOL_VERSION:
            raise sp.ProtocolError(f'sender speaks protocol {hello["protocol"]}, this receiver '
                                   f'{sp.PROTOCOL_VERSION}')
        if self.token and \
                not hmac.compare_digest(hello['token'].encode(), self.token.encode()):
            self.counters['rejected'] += 1
            what = 'no token' if not hello['token'] else 'a wrong token'
            self._fault(conn, f"refused: HELLO carries {what} (set the sender's --token to the "
                              f"node's stream.token{self.token_hint})", sp.REJECT_AUTH)
            return False
        admitted = sum(c.admitted for c in self._connections.values())
        if admitted >= self.max_senders:
            self.counters['rejected'] += 1
            self._fault(conn, f'refused: already streaming from {admitted} sender(s) '
                              f'(stream.max_senders {self.max_senders})', sp.REJECT_BUSY)
            return False
        conn.admitted, conn.sender = True, hello['sender'] or conn.peer
        conn.decoder.allowed_types = {sp.CALIBRATION, sp.FRAME, sp.PING, sp.BYE, sp.REJECT}
        self._set_state(f'streaming from {conn.sender} ({conn.peer})')
        self._send(conn.sock, sp.encode_json(sp.WELCOME, {'receiver': 'raiv_stereo'}))
        LOGGER.info('stream: sender %s (%s) admitted', conn.sender, conn.peer)
        return True

    def _frame(self, conn: _Connection, frame: sp.FramePayload) -> None:
        """Stamp a decoded pair in this host's clock and make it the newest one."""
        arrival_ns = time.time_ns()
        if frame.codec not in self.allowed_codecs:
            raise sp.ProtocolError(f'frame travelled as {frame.codec}, but stream.compression '
                                   f'allows only {", ".join(self.allowed_codecs)}')
        size = (frame.left.shape[1], frame.left.shape[0])
        conn.frame_size = size
        if conn.calibration is not None:
            self._check_size(size, conn.calibration)
            self.calibration, conn.calibration = conn.calibration, None
        calibration = self.calibration
        if calibration is not None and calibration.image_size != size and \
                conn.size_warned != (calibration.key, size):
            conn.size_warned = (calibration.key, size)
            LOGGER.warning('stream: %s sends %dx%d pairs but its calibration is for %dx%d; '
                           "check the sender's --calibration", conn.sender, *size,
                           *calibration.image_size)
        stamp_ns = conn.clock.to_host_ns(frame.capture_time_ns, arrival_ns, self._last_stamp_ns)
        self._last_stamp_ns = stamp_ns
        pair = StereoFrame(frame.left, frame.right, capture_time_ns=stamp_ns,
                           sequence=frame.sequence)
        self.counters['frames_received'] += 1
        with self._lock:
            if self._latest is not None:
                self.counters['frames_superseded'] += 1
            self._latest = (pair, frame.capture_time_ns, arrival_ns)

    @staticmethod
    def _check_size(size: tuple[int, int], calibration: StereoCalibration) -> None:
        """Refuse a calibration whose image shape is not the shape of the frames it describes."""
        width, height = calibration.image_size
        if not same_aspect(size, (width, height)):
            raise sp.ProtocolError(
                f'the calibration is for {width}x{height} images but the frames are '
                f'{size[0]}x{size[1]} (another aspect ratio); send the calibration of these '
                "frames (the sender's --calibration)")

    # ------------------------------------------------------------ helpers

    def _fault(self, conn: _Connection, reason: str, code: int) -> None:
        """Log why (rate-limited per kind of peer), tell the peer and reset the connection."""
        self._set_error(f'{conn.peer}: {reason}')
        self._send(conn.sock, sp.encode_reject(code, reason))
        self._throttle.log('sender' if conn.admitted else 'pending', logging.WARNING,
                           f'{conn.peer}: {reason}; connection reset')
        self._drop(conn, None)

    @staticmethod
    def _bytes_waiting(conn: _Connection) -> bool:
        """Return True when the peer's bytes (or its close) wait to be read: it is not silent."""
        if isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending():
            return True
        poller = select.poll()  # poll, not select: any descriptor number
        try:
            poller.register(conn.sock, select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError):
            return False

    @staticmethod
    def _send(sock: socket.socket, buffers: list[bytes | memoryview]) -> None:
        """Send a small control message without blocking; drop it if the socket is full."""
        try:
            sock.send(sp.to_bytes(buffers))
        except OSError:
            pass

    def _drop(self, conn: _Connection, reason: str | None, level: int = logging.INFO) -> None:
        """Close a connection (whatever it had half-received is discarded)."""
        if reason:
            self._throttle.log(f'{"sender" if conn.admitted else "pending"} {level}', level,
                               reason)
        with self._lock:
            self._connections.pop(conn.sock, None)
            if conn.admitted and not any(c.admitted for c in self._connections.values()):
                self._state = (f'listening on {self.address[0]}:{self.address[1]}, no sender'
                               if self.mode == 'listen'
                               else f'connecting to {self.address[0]}:{self.address[1]}')
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()
        if self.mode == 'connect':
            self._next_connect = time.monotonic() + self._backoff_s

    def _set_state(self, state: str) -> None:
        """Record the connection state for `status`."""
        with self._lock:
            self._state = state

    def _set_error(self, error: str) -> None:
        """Record the last fault for `status` / `last_error`."""
        with self._lock:
            self.last_error = error


def _host_addresses() -> list[str]:
    """Return this host's IPv4 addresses other peers may reach (the default route's first)."""
    found = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(('192.0.2.1', 9))  # no packet is sent: only picks the route
            found.append(probe.getsockname()[0])
    except OSError:
        pass
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)
        found += [info[4][0] for info in infos]
    except OSError:
        pass
    return [a for a in dict.fromkeys(found) if not a.startswith('127.')]


def stream_waiting_text(source: Any, values: dict[str, Any]) -> str:
    """
    Return what a listening stream source waits for, with the command to run on the camera.

    `source:=auto` on a PC is a stream server: without this the node only said it published.
    """
    address = getattr(source, 'address', None)
    if getattr(source, 'mode', None) != 'listen' or address is None:
        return ''
    host, port = address[0], address[1]
    here = [host] if host not in ('0.0.0.0', '::', '') else \
        (_host_addresses() or ["<this computer's address>"])
    token = ' --token <stream.token>' if values.get('stream.token') else ''
    return (f"stream server listening on {host}:{port}: waiting for the camera's sender. On "
            f'the camera run: raiv-stereo-sender --host {here[0]} --port {port}{token}' +
            (f' (this computer is also {", ".join(here[1:])})' if len(here) > 1 else ''))
