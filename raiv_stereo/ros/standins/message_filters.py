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
raiv_stereo's own pairing of topics by header stamp, standing in for `message_filters` without ROS.

Written from what the depth node needs: Subscriber, exact and approximate synchronizers over N
inputs with a bounded queue per input, and the registerCallback / connectInput calls.
"""

import threading
from typing import Any, Callable


class SimpleFilter:
    """A message source: callbacks registered with extra arguments, called for each output."""

    def __init__(self) -> None:
        self._callbacks: list[tuple[Callable[..., Any], tuple]] = []

    def registerCallback(self, callback: Callable[..., Any], *args: Any) -> None:  # noqa: N802
        """Call `callback(*messages, *args)` for every output, in registration order."""
        self._callbacks.append((callback, args))

    def signalMessage(self, *messages: Any) -> None:  # noqa: N802
        """Pass one output (a message, or a synchronized set) to every registered callback."""
        for callback, args in list(self._callbacks):
            callback(*messages, *args)


class Subscriber(SimpleFilter):
    """An rclpy subscription as a source; `qos_profile` and other options only by keyword."""

    def __init__(self, node: Any, msg_type: type, topic: str, /, *,
                 qos_profile: Any = 10, **kwargs: Any) -> None:
        super().__init__()
        self.topic = topic
        self.sub = node.create_subscription(msg_type, topic, self.signalMessage, qos_profile,
                                            **kwargs)

    def getTopic(self) -> str:  # noqa: N802
        """Return the topic name as given (relative names stay relative)."""
        return self.topic


class TimeSynchronizer(SimpleFilter):
    """
    Output one message per input when all inputs hold the same stamp.

    Each input keeps at most `queue_size` unmatched messages keyed by stamp (a repeated stamp
    replaces the older message); past that the oldest stamp is dropped. Arrival order does not
    matter: a set goes out as soon as its last member arrives, and only its members are removed.
    """

    def __init__(self, fs: list, queue_size: int) -> None:
        super().__init__()
        if int(queue_size) < 1:
            raise ValueError(f'queue_size must be at least 1, got {queue_size}')
        self.queue_size = int(queue_size)
        self._lock = threading.Lock()
        self.queues: list[dict[int, Any]] = []
        self.connectInput(fs)

    def connectInput(self, fs: list) -> None:  # noqa: N802
        """Take messages from these sources (one queue each), forgetting anything queued."""
        with self._lock:
            self.queues = [{} for _ in fs]
        for index, source in enumerate(fs):
            source.registerCallback(self._arrive, index)

    def _arrive(self, msg: Any, index: int) -> None:
        stamp = msg.header.stamp  # builtin_interfaces/Time
        stamp_ns = stamp.sec * 1_000_000_000 + stamp.nanosec
        with self._lock:
            queue = self.queues[index]
            queue[stamp_ns] = msg
            if len(queue) > self.queue_size:
                del queue[min(queue)]
            chosen = self._choose(index, stamp_ns)
            if chosen is None:
                return
            matched = [queue.pop(stamp) for queue, stamp in zip(self.queues, chosen, strict=True)]
        self.signalMessage(*matched)

    def _choose(self, index: int, stamp_ns: int) -> list[int] | None:
        """Return one stamp per input forming a set with the new message, or None."""
        if all(stamp_ns in queue for queue in self.queues):
            return [stamp_ns] * len(self.queues)
        return None


class ApproximateTimeSynchronizer(TimeSynchronizer):
    """
    Output one message per input when their stamps lie within `slop` seconds of each other.

    Each new message is tried against the queued ones: among the sets that include it and span
    at most `slop` (inclusive), the one with the smallest span goes out, each input's member the
    closest to the new message. Queues are bounded as in TimeSynchronizer.
    """

    def __init__(self, fs: list, queue_size: int, slop: float) -> None:
        if not float(slop) >= 0.0:
            raise ValueError(f'slop must be a non-negative number of seconds, got {slop}')
        self.slop_ns = round(float(slop) * 1e9)
        super().__init__(fs, queue_size)

    def _choose(self, index: int, stamp_ns: int) -> list[int] | None:
        # Every acceptable set lies in a window [start, start + slop] holding the new stamp, and
        # its oldest stamp is the window's start: trying each nearby stamp as the start covers
        # them all.
        near = [[s for s in queue if abs(s - stamp_ns) <= self.slop_ns] for queue in self.queues]
        near[index] = [stamp_ns]
        starts = sorted({s for stamps in near for s in stamps if s <= stamp_ns})
        best, best_span = None, None
        for start in starts:
            end = start + self.slop_ns
            chosen = []
            for stamps in near:
                inside = [s for s in stamps if start <= s <= end]
                if not inside:
                    break
                chosen.append(min(inside, key=lambda s: (abs(s - stamp_ns), s)))
            else:
                span = max(chosen) - min(chosen)
                if best_span is None or span < best_span:
                    best, best_span = chosen, span
        return best
