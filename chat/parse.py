"""Turn what a user typed into one typed intent (DESIGN.md §1).

    parse("明日から7時半にお願い") == SetTime(7, 30)

Rules, first match wins: show setting, delete, took (unless a later word is there too),
a time (valid or not), later, other.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class SetTime:
    hour: int
    minute: int

    def __post_init__(self) -> None:
        if not (0 <= self.hour <= 23 and 0 <= self.minute <= 59):
            raise ValueError(f"not a time of day: {self.hour}:{self.minute}")


@dataclass(frozen=True)
class BadTime:
    """Time-shaped but impossible: 25時, 7時60分, 24:00, 午後13時."""


@dataclass(frozen=True)
class ShowSetting:
    pass


@dataclass(frozen=True)
class DeleteSetting:
    pass


@dataclass(frozen=True)
class Later:
    pass


@dataclass(frozen=True)
class Took:
    """飲んだ / 飲みました: an answer, even when it also names a time (8時に飲んだ)."""


@dataclass(frozen=True)
class Other:
    pass


Intent = SetTime | BadTime | ShowSetting | DeleteSetting | Took | Later | Other

SHOW_WORDS = ("設定教えて", "設定おしえて")
DELETE_WORDS = ("ばいばい", "バイバイ", "削除", "解除", "設定削除", "設定解除")
LATER_WORDS = ("あとで", "後で", "まだ", "飲んでない", "のんでない")
TOOK_WORDS = ("飲んだ", "のんだ", "飲みました", "のみました")

_KANJI = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# A delete word counts only when no kanji is glued to either side, so compounds such as
# 削除済み or 未解除 are not commands (the Go bot's `[削除|解除]` deleted on any 除).
_DELETE = re.compile(
    f"(?<![{_KANJI}])(?:{'|'.join(map(re.escape, DELETE_WORDS))})(?![{_KANJI}])"
)

# Digit runs are captured whole (the lookbehind forbids starting inside a run, which also
# keeps the search linear) and their length is checked before int().
# 時間 is a duration (3時間後), not a time of day.
_TIME = re.compile(
    r"(?:(?P<ampm>午前|午後)\s*)?"
    r"(?<![0-9])(?P<hour>[0-9]+)"
    r"(?:時(?!間)(?:(?P<half>半)|(?P<minute>[0-9]+)分?)?"
    r"|:(?P<colon_minute>[0-9]+))"
)
_MAX_DIGITS = 2


def parse(text: str) -> Intent:
    text = unicodedata.normalize("NFKC", text).strip()
    if any(word in text for word in SHOW_WORDS):
        return ShowSetting()
    if _DELETE.search(text):
        return DeleteSetting()
    later = any(word in text for word in LATER_WORDS)
    if not later and any(word in text for word in TOOK_WORDS):
        return Took()
    if match := _TIME.search(text):
        return _to_time(match)
    if later:
        return Later()
    return Other()


def _to_time(match: re.Match[str]) -> SetTime | BadTime:
    hour_text = match["hour"]
    minute_text = match["minute"] or match["colon_minute"] or ("30" if match["half"] else "0")
    if len(hour_text) > _MAX_DIGITS or len(minute_text) > _MAX_DIGITS:
        return BadTime()
    hour, minute = int(hour_text), int(minute_text)
    if match["ampm"]:
        if hour > 12:
            return BadTime()
        # 午前12時 = 0:00, 午後0時 = 午後12時 = 12:00
        hour = hour % 12 + (12 if match["ampm"] == "午後" else 0)
    if hour > 23 or minute > 59:
        return BadTime()
    return SetTime(hour, minute)
