"""Every text the bot sends. The exact strings are a contract (DESIGN.md §1, §7)."""
import re
from dataclasses import dataclass
from typing import Iterable, NamedTuple, Optional, Tuple

from domain.rounds import Time


def time_text(hour: int, minute: int) -> str:
    """7時5分: plain integers."""
    return f"{hour:d}時{minute:d}分"


def times_text(times: Iterable[Time]) -> str:
    """Ascending, joined with と: 8時0分と20時0分."""
    return "と".join(time_text(hour, minute) for hour, minute in sorted(times))


def times_set(times: Iterable[Time]) -> str:
    return f"{times_text(times)}ですね。わかりました。"


def times_added(added: Iterable[Time], now: Iterable[Time]) -> str:
    return f"{times_text(added)}を追加しました。いまの設定: {times_text(now)}"


def times_removed(removed: Iterable[Time], now: Iterable[Time]) -> str:
    now = list(now)
    if not now:
        return f"{times_text(removed)}を削除しました。設定がなくなりました"
    return f"{times_text(removed)}を削除しました。いまの設定: {times_text(now)}"


def times_not_set(times: Iterable[Time]) -> str:
    return f"{times_text(times)}は設定されてないですよ"


def current_setting(times: Iterable[Time], zone: Optional[str] = None,
                    watchers: Iterable[str] = ()) -> str:
    """The schedule; the zone when it is not the bot's, and who watches, each on a line."""
    lines = [f"{times_text(times)}に設定されています"]
    if zone:
        lines.append(f"タイムゾーン: {zone}")
    watchers = list(watchers)
    if watchers:
        lines.append("見守り: " + "、".join(f"{name}さん" for name in watchers))
    return "\n".join(lines)


def ask(attempt: int) -> str:
    """The push for `attempt`: 0 is the first ask, k >= 1 the k-th re-ask."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    return "飲んだ" + "?" * (attempt + 1)


TIME_SET_FROM_TOMORROW = "今日はもう聞いたので、明日から聞きますね。"
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
    "・「20時も」で時間を追加、「20時を削除」でその時間だけ削除(5つまで)\n"
    "・「設定教えて」で今の設定を確認\n"
    "・「記録」で直近4週間の記録\n"
    "・「ばいばい」で設定を削除"
)


def history_summary(taken_days: int, late_days: int, missed_days: int) -> str:
    """The record's altText (and what a client without Flex shows)."""
    return f"記録(直近28日): ○{taken_days}日 △{late_days}日 ×{missed_days}日"


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


def ask_buttons(round_at: float) -> Tuple[Tuple[str, str], ...]:
    """(label, postback data) of the quick-reply buttons under an ask of that round."""
    return ((QUICK_TOOK, f"{POSTBACK_TOOK}:{int(round_at)}"),
            (QUICK_LATER, f"{POSTBACK_LATER}:{int(round_at)}"))


def read_postback(data: str) -> Optional[Button]:
    """The bot's own button that made this postback data; None for data the bot never makes
    (another tool's rich menu or picker on the same channel)."""
    if data == POSTBACK_PICK_TIME:
        return Button(POSTBACK_PICK_TIME, None)
    matched = _ASK_BUTTON.fullmatch(data)
    if matched is None:
        return None
    word, round_at = matched.groups()
    return Button(word, None if round_at is None else int(round_at))


def picked_time(params) -> Optional[Time]:
    """The time the picker's postback carries (params.time, "HH:mm"); None when it carries
    none that exists."""
    matched = _PICKED_TIME.fullmatch((params or {}).get("time") or "")
    return None if matched is None else (int(matched.group(1)), int(matched.group(2)))


# -- family watch (DESIGN.md §7.3) ----------------------------------------------------------------
SOMEONE = "友だち"   # a name LINE could not tell us


def watch_code(code: str) -> str:
    return (f"見守りコード: {code}\n"
            "見守ってくれる人に、このボットを友だち追加して24時間以内にこの6桁を送ってもらって"
            "ください。コードは1回だけ使えます。")


def watching_started(owner: str) -> str:
    return f"{owner}さんの見守りを始めました。飲み忘れたときにお知らせします。"


def watched_by(watcher: str) -> str:
    return f"{watcher}さんが見守りを始めました。"


CODE_NOT_FOUND = "そのコードは見つかりませんでした。"
OWN_CODE = "自分のコードは使えません。"
TRY_LATER = "しばらくしてからもう一度試してください。"
TOO_MANY_WATCHERS = "見守りは3人までです。"
WATCH_ENDED = "見守りを解除しました。"
NO_WATCH = "見守りは設定されていません。"


def missed_alert(owner: str, hour: int, minute: int) -> str:
    return f"{owner}さんが{time_text(hour, minute)}の薬をまだ飲んでいないようです。"


def taken_alert(owner: str, hour: int, minute: int) -> str:
    return f"{owner}さんが{time_text(hour, minute)}の薬を飲みました。"


def watch_over(name: str) -> str:
    return f"{name}さんの見守りが終わりました。"


# -- the user's own time zone (DESIGN.md §7.4) ------------------------------------------------
def zone_set(zone: str) -> str:
    return f"タイムゾーンを{zone}にしました。時間はこの地域の時刻で聞きます。"


ZONE_UNKNOWN = ("タイムゾーンが分かりませんでした。"
                "位置情報を送るか、Asia/Tokyo のように送ってください。")
