from __future__ import annotations

import calendar

import pytest

from device.kiosk.clockcheck import ClockError, check_clock


@pytest.mark.parametrize(
    "when", [0, calendar.timegm((2026, 10, 31, 23, 0, 0)), calendar.timegm((2101, 1, 1, 0, 0, 0))]
)
def test_obviously_wrong_clock_refuses_to_start(when):
    with pytest.raises(ClockError, match="cannot be right"):
        check_clock(when)


def test_plausible_clock_passes():
    check_clock(calendar.timegm((2027, 3, 1, 12, 0, 0)))
