# -*- test-case-name: tests.core.test_sensor -*-
"""
Tests for L{txinetd.core.sensor}: the SENSOR list.
"""

from __future__ import annotations

import ipaddress
from typing import TypeVar

from twisted.trial.unittest import SynchronousTestCase

from txinetd.core.events import Level, ProgramMessage
from txinetd.core.sensor import SensorList

_T = TypeVar("_T")


class SensorListTests(SynchronousTestCase):
    """
    L{SensorList}, the global deny list.
    """

    def test_addAndExpire(self) -> None:
        """
        A client is listed for C{deny_time} minutes and then expires.
        """
        sensor = SensorList()
        self.assertEqual(
            sensor.add("192.0.2.1", 1000.0, 2),
            ProgramMessage(
                Level.CRITICAL, "Adding 192.0.2.1 to the global_no_access list for 2 minutes"
            ),
        )
        self.assertTrue(sensor.contains("192.0.2.1", 1119.9))
        self.assertFalse(sensor.contains("192.0.2.1", 1120.0))
        self.assertFalse(sensor.contains("192.0.2.2", 1000.0))
        self.assertEqual(sensor.expire(1119.0).removed, ())
        expiry = sensor.expire(1120.0)
        self.assertEqual(expiry.removed, ("192.0.2.1",))
        self.assertEqual(
            expiry.messages,
            (
                ProgramMessage(
                    Level.INFO, "At least 1 DENY_TIME has expired, global_no_access list updated"
                ),
                ProgramMessage(Level.INFO, "global_no_access list is empty."),
            ),
        )
        self.assertEqual(len(sensor), 0)

    def test_partialExpiry(self) -> None:
        """
        While entries remain, expiry does not say the list is empty.
        """
        sensor = SensorList()
        sensor.add("192.0.2.1", 0.0, 1)
        sensor.add("192.0.2.2", 0.0, 5)
        expiry = sensor.expire(60.0)
        self.assertEqual(expiry.removed, ("192.0.2.1",))
        self.assertEqual(len(expiry.messages), 1)
        self.assertEqual(len(sensor), 1)

    def test_forever(self) -> None:
        """
        C{FOREVER} (L{None} or negative) never expires, and is logged as -1
        minutes.
        """
        sensor = SensorList()
        self.assertEqual(
            sensor.add("2001:db8::1", 0.0, None),
            ProgramMessage(
                Level.CRITICAL, "Adding 2001:db8::1 to the global_no_access list for -1 minutes"
            ),
        )
        sensor.add("192.0.2.3", 0.0, -1)
        self.assertEqual(sensor.expire(1e12).removed, ())
        self.assertTrue(sensor.contains("2001:db8::1", 1e12))
        self.assertTrue(sensor.contains("192.0.2.3", 1e12))

    def test_never(self) -> None:
        """
        C{NEVER} (0) lists nothing and says nothing.
        """
        sensor = SensorList()
        self.assertIsNone(sensor.add("192.0.2.1", 0.0, 0))
        self.assertFalse(sensor.contains("192.0.2.1", 0.0))
        self.assertEqual(len(sensor), 0)

    def test_repeatedHitsExtend(self) -> None:
        """
        A repeated hit extends the expiry, silently; it never shortens it.
        """
        sensor = SensorList()
        sensor.add("192.0.2.1", 0.0, 10)
        self.assertIsNone(sensor.add("192.0.2.1", 300.0, 10))
        self.assertTrue(sensor.contains("192.0.2.1", 899.0))
        self.assertFalse(sensor.contains("192.0.2.1", 900.0))
        sensor.add("192.0.2.1", 310.0, 1)
        self.assertTrue(sensor.contains("192.0.2.1", 899.0))
        sensor.add("192.0.2.1", 320.0, None)
        self.assertTrue(sensor.contains("192.0.2.1", 1e9))
        sensor.add("192.0.2.1", 330.0, 1)
        self.assertTrue(sensor.contains("192.0.2.1", 1e9))

    def test_expiredEntryListedAgain(self) -> None:
        """
        A hit after expiry but before the scan lists the client afresh.
        """
        sensor = SensorList()
        sensor.add("192.0.2.1", 0.0, 1)
        message = sensor.add("192.0.2.1", 100.0, 1)
        self.assertEqual(message and message.level, Level.CRITICAL)
        self.assertTrue(sensor.contains("192.0.2.1", 159.0))
        self.assertEqual(len(sensor), 1)

    def test_mapped(self) -> None:
        """
        IPv4-mapped addresses are stored and looked up as IPv4.
        """
        sensor = SensorList()
        message = sensor.add("::ffff:192.0.2.1", 0.0, 1)
        self.assertEqual(
            message and message.text, "Adding 192.0.2.1 to the global_no_access list for 1 minutes"
        )
        self.assertTrue(sensor.contains("192.0.2.1", 1.0))
        self.assertFalse(sensor.contains("192.0.2.0", 1.0))

    def test_maximum(self) -> None:
        """
        Past the maximum, new clients are not listed; listed ones still
        extend.
        """
        sensor = SensorList()
        for index in range(SensorList.maximum):
            sensor.add(ipaddress.IPv4Address(0x0A000000 + index), 0.0, 5)
        self.assertEqual(
            sensor.add("192.0.2.1", 0.0, 5),
            ProgramMessage(Level.ERROR, "Maximum global_no_access count reached."),
        )
        self.assertFalse(sensor.contains("192.0.2.1", 0.0))
        self.assertIsNone(sensor.add("10.0.0.0", 100.0, 5))
        self.assertTrue(sensor.contains("10.0.0.0", 350.0))
        self.assertEqual(len(sensor), SensorList.maximum)
