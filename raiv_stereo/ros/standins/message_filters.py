# Copyright 2009 Willow Garage, Inc.
# Copyright 2026 raiv_stereo developers
#
# Redistribution and use in source and binary forms, with or without
# modification, are permitted provided that the following conditions are met:
#
#    * Redistributions of source code must retain the above copyright
#      notice, this list of conditions and the following disclaimer.
#
#    * Redistributions in binary form must reproduce the above copyright
#      notice, this list of conditions and the following disclaimer in the
#      documentation and/or other materials provided with the distribution.
#
#    * Neither the name of the copyright holder nor the names of its
#      contributors may be used to endorse or promote products derived from
#      this software without specific prior written permission.
#
# THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
# AND ANY EXPRESS OR IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE
# IMPLIED WARRANTIES OF MERCHANTABILITY AND FITNESS FOR A PARTICULAR PURPOSE
# ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR CONTRIBUTORS BE
# LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR
# CONSEQUENTIAL DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF
# SUBSTITUTE GOODS OR SERVICES; LOSS OF USE, DATA, OR PROFITS; OR BUSINESS
# INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER IN
# CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE)
# ARISING IN ANY WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE
# POSSIBILITY OF SUCH DAMAGE.

"""
Stand-in for the `message_filters` Python module (ROS 2 Kilted, 7.1.x), used without ROS.

Only the API raiv_stereo uses: SimpleFilter, Subscriber, TimeSynchronizer and
ApproximateTimeSynchronizer, with the same signatures, matching and locking as the real one.
"""

# Matching logic adapted from ros2/message_filters src/message_filters/__init__.py, under its
# BSD 3-Clause licence (the header above).

from functools import reduce
import itertools
import threading

import rclpy
from rclpy.clock import ROSClock
from rclpy.duration import Duration
from rclpy.logging import LoggingSeverity
from rclpy.time import Time


class SimpleFilter:
    """A filter that forwards its output to registered callbacks."""

    def __init__(self):
        self.callbacks = {}

    def registerCallback(self, cb, *args):
        """Register `cb` to be called with this filter's output followed by `args`."""
        conn = len(self.callbacks)
        self.callbacks[conn] = (cb, args)
        return conn

    def signalMessage(self, *msg):
        """Call every registered callback with `msg` and its extra arguments."""
        for (cb, args) in self.callbacks.values():
            cb(*(msg + args))


class Subscriber(SimpleFilter):
    """
    A subscription as a filter: passes every received message to its callbacks.

    Kilted's real one is `__init__(self, *args, **kwargs)` with `qos_profile` defaulting to 10
    and usable only as a keyword; hence node, msg_type, topic positional and qos by keyword.
    """

    def __init__(self, node, msg_type, topic, /, *, qos_profile=10, **kwargs):
        SimpleFilter.__init__(self)
        self.node = node
        self.topic = topic
        self.sub = self.node.create_subscription(
            msg_type, topic, self.callback, qos_profile, **kwargs)

    def callback(self, msg):
        """Forward one received message."""
        self.signalMessage(msg)

    def getTopic(self):
        """Return the topic name as given."""
        return self.topic

    def __getattr__(self, key):
        """Serve the wrapped rclpy Subscription's attributes, as the real one does."""
        return self.sub.__getattribute__(key)


class TimeSynchronizer(SimpleFilter):
    """Output one message per input when all inputs have a message with the same stamp."""

    def __init__(self, fs, queue_size):
        SimpleFilter.__init__(self)
        self.connectInput(fs)
        self.queue_size = queue_size
        self.lock = threading.Lock()

    def connectInput(self, fs):
        """Connect to the input filters `fs`, one queue each."""
        self.queues = [{} for f in fs]
        self.input_connections = [
            f.registerCallback(self.add, q, i_q)
            for i_q, (f, q) in enumerate(zip(fs, self.queues, strict=False))]

    def add(self, msg, my_queue, my_queue_index=None):
        """Queue `msg` by stamp and signal every stamp now present in all queues."""
        with self.lock:
            stamp = Time.from_msg(msg.header.stamp)
            my_queue[stamp.nanoseconds] = msg
            while len(my_queue) > self.queue_size:
                del my_queue[min(my_queue)]
            common = reduce(set.intersection, [set(q) for q in self.queues])
            for t in sorted(common):
                msgs = [q[t] for q in self.queues]
                self.signalMessage(*msgs)
                for q in self.queues:
                    del q[t]


class ApproximateTimeSynchronizer(TimeSynchronizer):
    """
    Output one message per input when their stamps all lie within `slop` seconds.

    Signature as in Kilted: pass `allow_headerless` by keyword (`queue_offset` comes first).
    """

    def __init__(self, fs, queue_size, slop, queue_offset=False, allow_headerless=False,
                 sync_arrival_time=False):
        TimeSynchronizer.__init__(self, fs, queue_size)
        self.slop = Duration(seconds=slop)
        self.allow_headerless = allow_headerless
        self.queue_offset = queue_offset
        self.sync_arrival_time = sync_arrival_time

    def add(self, msg, my_queue, my_queue_index=None):
        """Queue `msg`; signal the first combination (closest stamps first) within slop."""
        if not hasattr(msg, 'header') or not hasattr(msg.header, 'stamp') or \
                self.sync_arrival_time:
            if not self.allow_headerless and not self.sync_arrival_time:
                logger = rclpy.logging.get_logger('message_filters_approx')
                logger.set_level(LoggingSeverity.INFO)
                logger.warning('can not use message filters messages without timestamp '
                               'infomation when "allow_headerless" is disabled. auto assign '
                               'ROSTIME to headerless messages once enabling constructor '
                               'option of "allow_headerless".')
                return
            stamp = ROSClock().now()
        else:
            stamp = msg.header.stamp
            if not hasattr(stamp, 'nanoseconds'):
                stamp = Time.from_msg(stamp)
        new_timestamp = stamp.nanoseconds
        if my_queue_index is not None and self.queue_offset:
            new_timestamp -= self.queue_offset[my_queue_index]
        with self.lock:
            my_queue[new_timestamp] = msg
            while len(my_queue) > self.queue_size:
                del my_queue[min(my_queue)]
            if my_queue_index is None:
                search_queues = self.queues
            else:
                search_queues = self.queues[:my_queue_index] + self.queues[my_queue_index + 1:]
            # Per other queue: the stamps within slop of the new one, closest first.
            stamps = []
            for queue in search_queues:
                topic_stamps = []
                for s in queue:
                    stamp_delta = Duration(nanoseconds=abs(s - new_timestamp))
                    if stamp_delta > self.slop:
                        continue
                    topic_stamps.append((Time(nanoseconds=s, clock_type=stamp.clock_type),
                                         stamp_delta))
                if not topic_stamps:
                    return
                topic_stamps = sorted(topic_stamps, key=lambda x: x[1])
                stamps.append(topic_stamps)
            for vv in itertools.product(*[list(zip(*s, strict=False))[0] for s in stamps]):
                vv = list(vv)
                if my_queue_index is not None:
                    vv.insert(my_queue_index, stamp)
                qt = list(zip(self.queues, vv, strict=False))
                if ((max(vv) - min(vv)) < self.slop and
                        len([1 for q, t in qt if t.nanoseconds not in q]) == 0):
                    msgs = [q[t.nanoseconds] for q, t in qt]
                    self.signalMessage(*msgs)
                    for q, t in qt:
                        del q[t.nanoseconds]
                    break
