"""Every text the bot sends. The exact strings are a contract (DESIGN.md §1)."""


def time_set(hour: int, minute: int) -> str:
    return f"{hour:d}時{minute:d}分ですね。わかりました。"


def current_setting(hour: int, minute: int) -> str:
    return f"{hour:d}時{minute:d}分に設定されています"


def ask(attempt: int) -> str:
    """The push for `attempt`: 0 is the first ask, k >= 1 the k-th re-ask."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    return "飲んだ" + "?" * (attempt + 1)


TIME_SET_FROM_TOMORROW = "今日はもう聞いたので、明日から聞きますね。"
BAD_TIME = "時間がおかしいよ。0時0分から23時59分の間で教えてね。"
NOT_SET = "設定されてないですよ"
DELETED = "設定を削除しました。 ばいばい"
WELL_DONE = "よくできました"
LATER = "わかりました。また後で聞きますね。"
PLEASE_SET_TIME = "時間を設定してください"

HELP = (
    "使い方\n"
    "・時間を送ると、毎日その時間に「飲んだ?」と聞きます(例: 7時30分 / 21:00)\n"
    "・「設定教えて」で今の設定を確認\n"
    "・「ばいばい」で設定を削除"
)

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
POSTBACK_TOOK = "took"
POSTBACK_LATER = "later"
