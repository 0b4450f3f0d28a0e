"""Every text the bot sends. The exact strings are a contract (DESIGN.md §1, §7)."""
import re
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
                    watchers: Iterable[str] = (), watching: Iterable[str] = ()) -> str:
    """The schedule (or that there is none); then, each on a line, the zone when it is not
    the bot's, who watches the user, and whom the user watches."""
    times = list(times)
    lines = [f"{times_text(times)}に設定されています" if times else NOT_SET]
    if zone:
        lines.append(f"タイムゾーン: {zone}")
    for heading, names in (("見守り", list(watchers)), ("見守っている人", list(watching))):
        if names:
            lines.append(f"{heading}: " + "、".join(f"{name}さん" for name in names))
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


class Button(NamedTuple):
    """A tap on one of the bot's own buttons."""
    word: str                 # POSTBACK_TOOK or POSTBACK_LATER
    round_at: Optional[int]   # None under an ask sent before rounds had ids


def ask_buttons(round_at: float) -> Tuple[Tuple[str, str], ...]:
    """(label, postback data) of the quick-reply buttons under an ask of that round."""
    return ((QUICK_TOOK, f"{POSTBACK_TOOK}:{int(round_at)}"),
            (QUICK_LATER, f"{POSTBACK_LATER}:{int(round_at)}"))


def read_postback(data: str) -> Optional[Button]:
    """The bot's own button that made this postback data; None for data the bot never makes
    (another tool's rich menu or picker on the same channel)."""
    matched = _ASK_BUTTON.fullmatch(data)
    if matched is None:
        return None
    word, round_at = matched.groups()
    return Button(word, None if round_at is None else int(round_at))


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


def already_watching(owner: str) -> str:
    return f"すでに{owner}さんを見守っています。"


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
