"""The range of days a figure may ask for: wide enough for any bill, narrow enough for every engine."""

from datetime import date

EARLIEST, LATEST = date(1970, 1, 1), date(2199, 12, 31)
