"""Every sentence the bot sends (the calendar's headers, weekdays and legend are with its card,
chat/history_card.py). The exact strings are a contract (docs/design.md, The chat
contract)."""
import re
from datetime import date, timedelta
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Optional, Tuple, Union

from domain.days import Days, DayWords, weekdays_of
from domain.rounds import Dose, Time

DAY_CHARACTERS = "月火水木金土日"   # Monday first, as days of the week are numbered
EVERY_OTHER_DAY = "1日おき"

# A time in a list: a dose (with its name and days), or a bare (hour, minute).
Item = Union[Dose, Time]


def time_text(hour: int, minute: int) -> str:
    """7時5分: plain integers."""
    return f"{hour:d}時{minute:d}分"


def days_text(days: Days) -> str:
    """月水金 (in the order 月火水木金土日), 1日おき, or "" for every day."""
    if days.every_other_from is not None:
        return EVERY_OTHER_DAY
    return "".join(DAY_CHARACTERS[weekday] for weekday in weekdays_of(days))


def time_item(item: Item) -> str:
    """8時0分, or 8時0分(血圧の薬・月水金) for a dose with a name or days."""
    hour, minute = item[0], item[1]
    parts = [part for part in (getattr(item, "name", None),
                               days_text(getattr(item, "days", Days()))) if part]
    text = time_text(hour, minute)
    return f"{text}({'・'.join(parts)})" if parts else text


def times_text(items: Iterable[Item]) -> str:
    """Ascending, joined with と: 8時0分と20時0分(血圧の薬)."""
    return "と".join(time_item(item) for item in sorted(items, key=lambda item: item[:2]))


def times_set(items: Iterable[Item]) -> str:
    return f"{times_text(items)}ですね。わかりました。"


def times_added(added: Iterable[Item], now: Iterable[Item]) -> str:
    return f"{times_text(added)}を追加しました。いまの設定: {times_text(now)}"


def times_already_set(already: Iterable[Item], now: Iterable[Item]) -> str:
    return f"{times_text(already)}はもう設定されていますよ。いまの設定: {times_text(now)}"


def times_removed(removed: Iterable[Item], now: Iterable[Item]) -> str:
    now = list(now)
    if not now:
        return f"{times_text(removed)}を削除しました。設定がなくなりました"
    return f"{times_text(removed)}を削除しました。いまの設定: {times_text(now)}"


def times_not_set(items: Iterable[Item]) -> str:
    return f"{times_text(items)}は設定されてないですよ"


def named(hour: int, minute: int, name: str) -> str:
    return f"{time_text(hour, minute)}の薬を「{name}」にしました。"


def name_cleared(hour: int, minute: int) -> str:
    return f"{time_text(hour, minute)}の薬の名前を消しました。"


NAME_TOO_LONG = "名前は20文字までです"


# -- a time mentioned in passing: ask before replacing the schedule ------------------------------
QUICK_CHANGE = "変える"
QUICK_KEEP = "そのまま"
KEPT = "いまの設定のままにしました。"


def change_question(proposed: Iterable[Item], now: Iterable[Item]) -> str:
    return f"{times_text(proposed)}に変えますか?\nいまの設定: {times_text(now)}"


def current_setting(items: Iterable[Item], zone: Optional[str] = None,
                    watchers: Iterable[str] = (), watching: Iterable[str] = ()) -> str:
    """The schedule (or that there is none); then, each on a line, the zone when it is not
    the bot's, who watches the user, and whom the user watches."""
    items = list(items)
    lines = [f"{times_text(items)}に設定されています" if items else NOT_SET]
    if zone:
        lines.append(f"タイムゾーン: {zone}")
    for heading, names in (("見守り", list(watchers)), ("見守っている人", list(watching))):
        if names:
            lines.append(f"{heading}: " + "、".join(f"{name}さん" for name in names))
    return "\n".join(lines)


def ask(attempt: int, name: Optional[str] = None) -> str:
    """The push for `attempt`: 0 is the first ask, k >= 1 the k-th re-ask; a named dose's
    asks start with its name (血圧の薬、飲んだ?)."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    asked = "飲んだ" + "?" * (attempt + 1)
    return f"{name}、{asked}" if name else asked


TIME_SET_FROM_TOMORROW = "今日はもう聞いたので、明日から聞きますね。"


def asked_today_so_from(first: date, today: date) -> str:
    """A replaced time was asked today, so the new ones start at `first` (a local date)."""
    if first == today + timedelta(days=1):
        return TIME_SET_FROM_TOMORROW
    return f"今日はもう聞いたので、{first.month}月{first.day}日から聞きますね。"
TOO_MANY_TIMES = "設定できるのは5つまでです"
BAD_TIME = "時間がおかしいよ。0時0分から23時59分の間で教えてね。"
NOT_SET = "設定されてないですよ"
DELETED = "設定を削除しました。 ばいばい"
WELL_DONE = "よくできました"
LATER = "わかりました。また後で聞きますね。"
PLEASE_SET_TIME = "時間を設定してください"

HELP = (
    "使い方\n"
    "・時間を送ると、毎日その時間に「飲んだ?」と聞きます(例: 7時30分 / 21:00 / 8時と20時)\n"
    "・「20時も」「追加 13時」で時間を追加、「20時を削除」でその時間だけ削除(5つまで)\n"
    "・「時間を選ぶ」ボタンやメニューの「時間を追加」で、時間を選んで追加\n"
    "・曜日や間隔は時間の前に(例: 月水金 8時 / 毎週月曜 8時も / 1日おき 21時)\n"
    "・「8時の薬は血圧の薬」で薬に名前をつける\n"
    "・「設定教えて」で今の設定を確認\n"
    "・「記録」で直近4週間の記録\n"
    "・「見守り」で見守りコード。家族がその6桁を送ると、飲み忘れを家族に知らせます\n"
    "・「見守り解除」で見守りをやめる\n"
    "・「タイムゾーン Europe/London」か位置情報を送ると、その地域の時刻で聞きます\n"
    "・「ばいばい」で設定を削除"
)


def history_title(name: Optional[str] = None) -> str:
    """The heading of a calendar: the user's own (記録), or a person's they watch."""
    return "記録" if name is None else f"{name}さんの記録"


def history_summary(taken_days: int, late_days: int, missed_days: int,
                    name: Optional[str] = None) -> str:
    """A calendar's line of the altText (what a client without Flex shows)."""
    return (f"{history_title(name)}(直近28日): "
            f"○{taken_days}日 △{late_days}日 ×{missed_days}日")


def greeting(snooze_interval_seconds: float) -> str:
    return (
        "はじめまして、管理上手のうさちゃんです。\n"
        "毎日決まった時間に「飲んだ?」と聞いて、お薬の飲み忘れを防ぎます。"
        f"返事がないときは{_interval(snooze_interval_seconds)}ごとにもう一度聞きますね。\n"
        "設定の確認は「設定教えて」、やめるときは「ばいばい」と送ってください。\n"
        "まずは、何時に聞けばいいか教えてね(例: 7時30分 / 21:00)"
    )


def _interval(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}分" if seconds % 60 == 0 else f"{seconds}秒"

ONE_TO_ONE_ONLY = (
    "ごめんなさい、うさちゃんは1対1のトークでだけお手伝いできます。"
    "友だち追加して、個別のトークで話しかけてくださいね。"
)

QUICK_TOOK = "飲んだ!"
QUICK_LATER = "あとで"
# Postback data of the ask buttons: "took:<round>" / "later:<round>", where <round> is the
# epoch second the round's first ask was due (every user asked at that moment shares it, so
# asks still go out as one multicast). Asks sent before rounds had ids carry the bare words.
POSTBACK_TOOK = "took"
POSTBACK_LATER = "later"
_ASK_BUTTON = re.compile(rf"({POSTBACK_TOOK}|{POSTBACK_LATER})(?::([0-9]{{1,12}}))?")


# The time picker (LINE's datetimepicker action in time mode) under the greeting and the help,
# and in the rich menu. Its postback carries the bot's own data and the time picked as
# params.time, "HH:mm".
PICK_TIME = "時間を選ぶ"            # its label under a message
PICK_TIME_MENU = "時間を追加"       # its label in the rich menu
POSTBACK_PICK_TIME = "pick-time"
_PICKED_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


@dataclass(frozen=True)
class TimePicker:
    """A quick-reply item that opens LINE's time picker (not a tuple, so that it is never
    equal to a (label, data) postback button)."""
    label: str = PICK_TIME
    data: str = POSTBACK_PICK_TIME


# The quick reply under the greeting, 時間を設定してください and the help.
UNDER_HELP = (TimePicker(),)


class Button(NamedTuple):
    """A tap on one of the bot's own buttons."""
    word: str                 # POSTBACK_TOOK, POSTBACK_LATER or POSTBACK_PICK_TIME
    round_at: Optional[int]   # None under an ask sent before rounds had ids, and for the picker


class Change(NamedTuple):
    """変える under a question about a time mentioned in passing: replace the schedule
    `schedule` (a fingerprint of it as it was asked about) with `times` on the days `days`."""
    schedule: str
    times: Tuple[Time, ...]
    days: Optional[DayWords]


@dataclass(frozen=True)
class Keep:
    """そのまま under that question."""


# Postback data of the question's buttons: "change:<schedule>:<HHMM>,<HHMM>...:<days>" with
# <days> "" (none said), "d" (every day), "e" (every other day) or "w<weekday bit mask>".
POSTBACK_KEEP = "keep"
_CHANGE = re.compile(r"change:([0-9a-f]{8}):((?:[0-9]{4},)*[0-9]{4}):(|d|e|w[0-9]{1,3})")


def change_buttons(schedule: str, times: Iterable[Time],
                   days: Optional[DayWords]) -> Tuple[Tuple[str, str], ...]:
    """(label, postback data) of 変える and そのまま; `schedule`: chat.parse-independent
    fingerprint of the schedule asked about (actors/requests.py)."""
    said = ",".join(f"{hour:02d}{minute:02d}" for hour, minute in times)
    return ((QUICK_CHANGE, f"change:{schedule}:{said}:{_days_data(days)}"),
            (QUICK_KEEP, POSTBACK_KEEP))


def _days_data(days: Optional[DayWords]) -> str:
    if days is None:
        return ""
    if days.every_other:
        return "e"
    return f"w{days.weekdays}" if days.weekdays else "d"


def _read_change(data: str) -> Optional[Change]:
    matched = _CHANGE.fullmatch(data)
    if matched is None:
        return None
    schedule, said, days = matched.groups()
    times = tuple((int(hhmm[:2]), int(hhmm[2:])) for hhmm in said.split(","))
    if any(hour > 23 or minute > 59 for hour, minute in times):
        return None
    words = {"": None, "d": DayWords(), "e": DayWords(every_other=True)}.get(days)
    if days.startswith("w"):
        if not 0 < int(days[1:]) < 128:
            return None
        words = DayWords(weekdays=int(days[1:]))
    return Change(schedule, times, words)


def ask_buttons(round_at: float) -> Tuple[Tuple[str, str], ...]:
    """(label, postback data) of the quick-reply buttons under an ask of that round."""
    return ((QUICK_TOOK, f"{POSTBACK_TOOK}:{int(round_at)}"),
            (QUICK_LATER, f"{POSTBACK_LATER}:{int(round_at)}"))


def read_postback(data: str) -> Union[Button, Change, Keep, None]:
    """The bot's own button that made this postback data; None for data the bot never makes
    (another tool's rich menu or picker on the same channel)."""
    if data == POSTBACK_KEEP:
        return Keep()
    if data == POSTBACK_PICK_TIME:
        return Button(POSTBACK_PICK_TIME, None)
    matched = _ASK_BUTTON.fullmatch(data)
    if matched is None:
        return _read_change(data)
    word, round_at = matched.groups()
    return Button(word, None if round_at is None else int(round_at))


def picked_time(params) -> Optional[Time]:
    """The time the picker's postback carries (params.time, "HH:mm"); None when it carries
    none that exists."""
    matched = _PICKED_TIME.fullmatch((params or {}).get("time") or "")
    return None if matched is None else (int(matched.group(1)), int(matched.group(2)))


# -- family watch (docs/design.md, Family watch) -------------------------------------------------
SOMEONE = "友だち"   # a name LINE could not tell us


def watch_code(code: str) -> str:
    return (f"見守りコード: {code}\n"
            "見守ってくれる人に、このボットを友だち追加して24時間以内にこの6桁を送ってもらって"
            "ください。コードは1回だけ使えます。")


def watching_started(owner: str) -> str:
    return f"{owner}さんの見守りを始めました。飲み忘れたときにお知らせします。"


def watched_by(watcher: str) -> str:
    return f"{watcher}さんが見守りを始めました。"


def already_watching(owner: str) -> str:
    return f"すでに{owner}さんを見守っています。"


CODE_NOT_FOUND = "そのコードは見つかりませんでした。"
OWN_CODE = "自分のコードは使えません。"
TRY_LATER = "しばらくしてからもう一度試してください。"
TOO_MANY_WATCHERS = "見守りは3人までです。"
WATCH_ENDED = "見守りを解除しました。"
NO_WATCH = "見守りは設定されていません。"


def missed_alert(owner: str, hour: int, minute: int, name: Optional[str] = None) -> str:
    return f"{owner}さんが{time_text(hour, minute)}の{name or '薬'}をまだ飲んでいないようです。"


def taken_alert(owner: str, hour: int, minute: int, name: Optional[str] = None) -> str:
    return f"{owner}さんが{time_text(hour, minute)}の{name or '薬'}を飲みました。"


def watch_over(name: str) -> str:
    return f"{name}さんの見守りが終わりました。"


# -- the user's own time zone (docs/design.md, The user's time zone) ----------------------------
def zone_set(zone: str) -> str:
    return f"タイムゾーンを{zone}にしました。時間はこの地域の時刻で聞きます。"


ZONE_UNKNOWN = ("タイムゾーンが分かりませんでした。"
                "位置情報を送るか、Asia/Tokyo のように送ってください。")
