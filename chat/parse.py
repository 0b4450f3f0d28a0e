"""Turn what a user typed into one typed intent (docs/design.md, Commands and replies).

    parse("朝8時と夜9時にお願い") == Times(((8, 0), (21, 0)))
    parse("20時も") == Times(((20, 0),), add=True)
    parse("月水金 8時") == Times(((8, 0),), days=DayWords(weekdays=0b10101))
    parse("20時を削除") == Removal(((20, 0),))
    parse("8時の薬は血圧の薬") == Naming((8, 0), "血圧の薬")

Rules, first match wins: asking for the setting, the history (記録) or the help; family watch
(見守り解除, 見守り, six digits alone); タイムゾーン <zone>; naming a time's medicine; a delete
word (with times: remove those; alone: remove all); took (unless a later word is there too);
times (valid or not), with the day words before them; later; anything else.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Optional, Tuple

from domain.days import DayWords, weekday_mask
from domain.rounds import Time
from chat.texts import DAY_CHARACTERS
from domain.wallclock import zone_name


@dataclass(frozen=True)
class Times:
    """One or more times of day: the whole schedule, or (`add`) times to add to it; `days`
    what the message said about days (None: nothing)."""
    times: Tuple[Time, ...]
    add: bool = False
    days: Optional[DayWords] = None
    in_passing: bool = False  # other words around the times (明日は10時に病院です)

    def __post_init__(self) -> None:
        if not self.times:
            raise ValueError("no times")
        for hour, minute in self.times:
            if not (0 <= hour <= 23 and 0 <= minute <= 59):
                raise ValueError(f"not a time of day: {hour}:{minute}")


@dataclass(frozen=True)
class Removal:
    """A delete word: remove these times, or every time when none is named."""
    times: Tuple[Time, ...] = ()


@dataclass(frozen=True)
class Naming:
    """{time}の薬は{name}: the medicine taken at `time`; `name` None for 名前なし."""
    time: Time
    name: Optional[str]


@dataclass(frozen=True)
class BadTime:
    """Time-shaped but impossible: 25時, 7時60分, 24:00, 午後13時."""


@dataclass(frozen=True)
class SettingQuery:
    """設定教えて."""


@dataclass(frozen=True)
class HistoryQuery:
    """記録: how the last four weeks went."""


@dataclass(frozen=True)
class HelpQuery:
    """使い方."""


@dataclass(frozen=True)
class WatchRequest:
    """見守り: the sender wants a code for someone to watch them."""


@dataclass(frozen=True)
class WatchEnd:
    """見守り解除: end the watches on either side."""


@dataclass(frozen=True)
class WatchCode:
    """Six digits and nothing else: a watch code someone gave the sender."""
    code: str


@dataclass(frozen=True)
class ZoneChange:
    """タイムゾーン <IANA name>: `zone` is the name, or None when it names no zone."""
    zone: Optional[str]


@dataclass(frozen=True)
class Took:
    """飲んだ / 飲みました: an answer, even when it also names a time (8時に飲んだ)."""


@dataclass(frozen=True)
class Later:
    pass


@dataclass(frozen=True)
class Other:
    pass


Intent = (Times | Removal | Naming | BadTime | SettingQuery | HistoryQuery | HelpQuery
          | WatchRequest | WatchEnd | WatchCode | ZoneChange | Took | Later | Other)

SHOW_WORDS = ("設定教えて", "設定おしえて")
RECORD_WORDS = ("記録", "きろく")
HELP_WORDS = ("使い方", "つかいかた", "ヘルプ")
DELETE_WORDS = ("ばいばい", "バイバイ", "削除", "解除", "設定削除", "設定解除")
LATER_WORDS = ("あとで", "後で", "まだ", "飲んでない", "のんでない")
TOOK_WORDS = ("飲んだ", "のんだ", "飲みました", "のみました")
ADD_WORD = "追加"
WATCH_WORD = "見守り"
WATCH_END_WORD = "見守り解除"
ZONE_WORD = "タイムゾーン"
_CODE = re.compile(r"[0-9]{6}")
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+)*")

_KANJI = "\u3005\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
# A delete word counts only when no kanji is glued to either side, so compounds such as
# 削除済み or 未解除 are not commands (the Go bot's `[削除|解除]` deleted on any 除).
_DELETE = re.compile(
    f"(?<![{_KANJI}])(?:{'|'.join(map(re.escape, DELETE_WORDS))})(?![{_KANJI}])"
)

# Digit runs are captured whole (the lookbehind forbids starting inside a run, which also
# keeps the search linear) and their length is checked before int().
# 時間 is a duration (3時間後), not a time of day; digits followed by 時 are the next hour
# (8時20時 is two times), not minutes.
_TIME = re.compile(
    r"(?:(?P<part>午前|午後|朝|夜|晩)\s*)?"
    r"(?<![0-9])(?P<hour>[0-9]+)"
    r"(?:時(?!間)(?:(?P<half>半)|(?P<minute>[0-9]+)(?![0-9]*時)分?)?"
    r"|:(?P<colon_minute>[0-9]+))"
)
_MAX_DIGITS = 2
_MORNING = ("午前", "朝")
_EVENING = ("夜", "晩")

NO_NAME = "名前なし"
# What follows 〜の薬は in an answer or a question rather than a name.
_NOT_A_NAME = re.compile("|".join(map(re.escape, TOOK_WORDS + LATER_WORDS + (
    "飲む", "飲ん", "飲め", "もう", "?", "何", "なに", "どれ"))))
# 8時の薬の名前を削除, 8時の名前を消して: the name goes, not the time.
_NAME_REMOVAL = re.compile(r"(?P<time>.+?)の(?:薬の)?名前(?:を|は)?\s*(?:削除|消して|消す|なし|なくして)")
# {time}の薬は{name}: the name is the rest of the message.
_NAMING = re.compile(r"\s*(?P<time>.+?)の薬は\s*(?P<name>.*?)\s*")
# Day words before the times: 月水金, 毎週月曜, 月曜と木曜の, 土・日曜日, 1日おき, 隔日, 毎日.
_DAY_WORDS = re.compile(
    rf"(?:{ADD_WORD})?\s*(?:(?P<every_other>1日おき|隔日)|(?P<every_day>毎日)"
    rf"|(?:毎週)?\s*(?P<weekdays>[{DAY_CHARACTERS}](?:曜日|曜)?"
    rf"(?:\s*[・、と]?\s*[{DAY_CHARACTERS}](?:曜日|曜)?)*))"
    r"\s*の?\s*"
)
_ONE_DAY = re.compile(rf"([{DAY_CHARACTERS}])(?:曜日|曜)?")
# What may stand around the times of a message that is only a schedule (毎 of 毎朝, 毎晩:
# the time takes its 朝, 晩), with at most one ending word.
_ONLY_SCHEDULE = re.compile(
    r"(?:毎日|毎|朝|夜|晩|午前|午後|[\s、・と,])*(?:にして|に変更|にお願い|お願い|に|で|です)?。?")


def parse(text: str) -> Intent:
    text = unicodedata.normalize("NFKC", text).strip()
    if any(word in text for word in SHOW_WORDS):
        return SettingQuery()
    if any(word in text for word in RECORD_WORDS):
        return HistoryQuery()
    if any(word in text for word in HELP_WORDS):
        return HelpQuery()
    if WATCH_END_WORD in text:
        return WatchEnd()
    if WATCH_WORD in text:
        return WatchRequest()
    if ZONE_WORD in text:
        name = _ZONE_NAME.search(text)
        return ZoneChange(zone_name(name.group()) if name else None)
    if _CODE.fullmatch(re.sub(r"\s+", "", text)):
        return WatchCode(re.sub(r"\s+", "", text))
    naming = _naming(text) or _name_removal(text)
    if naming is not None:
        return naming
    matches = list(_TIME.finditer(text))
    times = [_to_time(match) for match in matches]
    if _DELETE.search(text):
        return BadTime() if None in times else Removal(tuple(times))
    later = any(word in text for word in LATER_WORDS)
    if not later and any(word in text for word in TOOK_WORDS):
        return Took()
    if times:
        if None in times:
            return BadTime()
        add = ADD_WORD in text or any(text.startswith("も", match.end()) for match in matches)
        days = _day_words(text[:matches[0].start()])
        return Times(tuple(times), add=add, days=days,
                     in_passing=not add and not _only_schedule(text, matches, days))
    if later:
        return Later()
    return Other()


def _naming(text: str):
    """Naming (or BadTime for an impossible time), when `text` names a time's medicine."""
    named = _NAMING.fullmatch(text)
    hour_minute = None if named is None else _time_in(named["time"])
    if hour_minute is None or isinstance(hour_minute, BadTime):
        return hour_minute
    name = named["name"]
    if not name or _NOT_A_NAME.search(name):
        return None  # 8時の薬は飲んだ, 8時の薬は?: an answer or a question, not a name
    return Naming(hour_minute, None if name == NO_NAME else name)


def _only_schedule(text: str, matches, days: Optional[DayWords]) -> bool:
    """Nothing but times, day words, 朝/夜/午前/午後, separators and one ending word."""
    rest = "" if days is not None else text[:matches[0].start()]
    for match, following in zip(matches, matches[1:] + [None]):
        rest += " " + text[match.end():following.start() if following else len(text)]
    return _ONLY_SCHEDULE.fullmatch(rest) is not None


def _name_removal(text: str):
    """Naming(time, None) when `text` asks for a time's name to go."""
    removal = _NAME_REMOVAL.match(text)
    hour_minute = None if removal is None else _time_in(removal["time"])
    if hour_minute is None or isinstance(hour_minute, BadTime):
        return hour_minute
    return Naming(hour_minute, None)


def _time_in(text: str):
    """The time `text` is, BadTime when it cannot exist, None when it is not a time."""
    time = _TIME.fullmatch(text.strip())
    if time is None:
        return None
    return _to_time(time) or BadTime()


def _day_words(prefix: str) -> Optional[DayWords]:
    """What the words before the first time say about days (None: nothing)."""
    words = _DAY_WORDS.fullmatch(prefix)
    if words is None:
        return None
    if words["every_other"]:
        return DayWords(every_other=True)
    if words["every_day"]:
        return DayWords()
    return DayWords(weekdays=weekday_mask(
        DAY_CHARACTERS.index(day) for day in _ONE_DAY.findall(words["weekdays"])))


def _to_time(match: re.Match[str]):
    """(hour, minute), or None when the time cannot exist."""
    hour_text = match["hour"]
    minute_text = match["minute"] or match["colon_minute"] or ("30" if match["half"] else "0")
    if len(hour_text) > _MAX_DIGITS or len(minute_text) > _MAX_DIGITS:
        return None
    hour, minute = int(hour_text), int(minute_text)
    part = match["part"]
    if part in _MORNING:
        if hour > 12:
            return None
        hour %= 12                       # 午前12時 = 0:00
    elif part == "午後":
        if hour > 12:
            return None
        hour = hour % 12 + 12            # 午後0時 = 午後12時 = 12:00
    elif part in _EVENING:               # 夜/晩: 夜9時 = 21:00, 夜12時 = 0:00, 夜21時 = 21:00
        if hour < 12:
            hour += 12
        elif hour == 12:
            hour = 0
    if hour > 23 or minute > 59:
        return None
    return hour, minute
