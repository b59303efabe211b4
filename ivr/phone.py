"""Phone numbers as Twilio sends them in ``From`` and ``To``, and which can be called back.

Pure: the call flow asks whether a callback is possible, the simulator whether a scripted
caller ID is one Twilio would send.
"""

from __future__ import annotations

import re

#: E.164: a '+' and 3 to 15 digits, the first not 0
E164 = re.compile(r"\+[1-9][0-9]{2,14}")
#: ``From`` of a caller who withholds their number
WITHHELD = "anonymous"
#: the E.164 look-alikes carriers send for a withheld number (+266696687 spells ANONYMOUS,
#: +7378742833 RESTRICTED, +2562533 BLOCKED, +8656696 and +86282452253 UNKNOWN; Twilio
#: support, "strange numbers in my call logs")
WITHHELD_LOOKALIKES = frozenset({"+266696687", "+7378742833", "+2562533", "+8656696",
                                 "+86282452253"})


def callable_number(number: str) -> bool:
    """Whether an agent could call ``number`` back: E.164, and not a withheld number."""
    return E164.fullmatch(number) is not None and number not in WITHHELD_LOOKALIKES


def number_problem(number: str, *, withheld_ok: bool = False) -> str | None:
    """Why ``number`` is not a phone number Twilio would send (None when it is): the app
    looks callers up, throttles and books callbacks by it, so a scripted ``abc`` would
    exercise nothing real. ``withheld_ok``: a caller ID may be ``anonymous``."""
    if E164.fullmatch(number) or (withheld_ok and number.lower() == WITHHELD):
        return None
    withheld = f", or {WITHHELD!r} for a withheld caller ID" if withheld_ok else ""
    return (f"{number!r} is not a phone number: give it in E.164, a '+' and 3 to 15 digits "
            f"(e.g. +15005550006){withheld}")
