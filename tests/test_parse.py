import dataclasses

import pytest
from hypothesis import given, strategies as st

from chat.parse import (
    BadTime,
    HelpQuery,
    Later,
    Naming,
    Other,
    HistoryQuery,
    Removal,
    SettingQuery,
    Times,
    Took,
    WatchCode,
    WatchEnd,
    WatchRequest,
    ZoneChange,
    parse,
)
from domain.days import DayWords, weekday_mask


def one(hour, minute):
    return Times(((hour, minute),))


def times_said(intent):
    """The intent, leaving aside whether the times came with other words (test_passing)."""
    return dataclasses.replace(intent, in_passing=False) if isinstance(intent, Times) else intent


@pytest.mark.parametrize(
    "text, hour, minute",
    [
        ("7時30分", 7, 30),
        ("7時", 7, 0),
        ("7時半", 7, 30),
        ("7時5分", 7, 5),
        ("07時05分", 7, 5),
        ("7時30", 7, 30),  # 分 left off
        ("0時0分", 0, 0),
        ("23時59分", 23, 59),
        ("21:00", 21, 0),
        ("7:05", 7, 5),
        ("10:5", 10, 5),
        ("0:00", 0, 0),
        ("21：00", 21, 0),
        ("７時３０分", 7, 30),
        ("２１：００", 21, 0),
        ("明日から7時半にお願い", 7, 30),
        ("毎朝 8時15分 に聞いて!", 8, 15),
        ("じゃあ21:30で", 21, 30),
        ("3時間後じゃなくて9時にして", 9, 0),  # 3時間 is a duration
        ("2024/5/1 7:30", 7, 30),
        ("午前7時", 7, 0),
        ("午前0時", 0, 0),
        ("午前12時", 0, 0),
        ("午前12時半", 0, 30),
        ("午後0時", 12, 0),
        ("午後12時", 12, 0),
        ("午後1時", 13, 0),
        ("午後11時59分", 23, 59),
        ("午後９時１５分", 21, 15),
        ("午後7時半", 19, 30),
        ("午後 9時", 21, 0),
        ("午後9:15", 21, 15),
        ("午前１１：０５", 11, 5),
        ("  7時  ", 7, 0),
    ],
)
def test_time(text, hour, minute):
    assert times_said(parse(text)) == one(hour, minute)


TEN_K = "あ" * 5000 + "💊" * 5000


@pytest.mark.parametrize(
    "text, intent",
    [
        # impossible times
        ("25時", BadTime),
        ("24時", BadTime),
        ("7時60分", BadTime),
        ("24:00", BadTime),
        ("7:60", BadTime),
        ("7:123", BadTime),
        ("100時", BadTime),
        ("午後13時", BadTime),
        ("午前13時", BadTime),
        ("99999999999999999999時", BadTime),
        ("7時" + "9" * 5000 + "分", BadTime),
        ("25時じゃなくて7時", BadTime),  # the first time decides
        # not time-shaped
        ("123", Other),
        ("10分後", Other),
        ("30分", Other),
        ("3時間後", Other),
        ("24時間", Other),
        ("7:", Other),
        (":30", Other),
        # show
        ("設定教えて", SettingQuery),
        ("今の設定教えてください", SettingQuery),
        ("設定おしえて", SettingQuery),
        ("7時の設定教えて", SettingQuery),
        # delete: whole words only
        ("ばいばい", Removal),
        ("バイバイ", Removal),
        ("ﾊﾞｲﾊﾞｲ", Removal),
        ("削除", Removal),
        ("解除", Removal),
        ("解除！", Removal),
        ("設定を削除して", Removal),
        ("設定削除", Removal),
        ("設定解除して", Removal),
        ("掃除した", Other),
        ("除", Other),
        ("除外", Other),
        ("削除済み", Other),
        ("未解除", Other),
        ("削", Other),
        # later
        ("あとで", Later),
        ("後で飲む", Later),
        ("まだ", Later),
        ("まだ飲んでない", Later),
        ("飲んでないよ", Later),
        # an answer, even when it names a time: it must not reschedule
        ("飲んだ", Took),
        ("飲みました!", Took),
        ("8時に飲んだよ", Took),
        ("のんだ", Took),
        # everything else
        ("", Other),
        ("   ", Other),
        ("こんにちは", Other),
        ("💊🐰", Other),
        ("\x00\x07\x1b[31m", Other),
        ("\u200b\ufeff", Other),
        (TEN_K, Other),
        ("1" * 10_000, Other),
    ],
)
def test_intent(text, intent):
    assert parse(text) == intent()


@pytest.mark.parametrize("text, intent", [
    # several times at once, ascending whatever the order said (docs/design.md,
    # Several times a day)
    ("8時と20時", Times(((8, 0), (20, 0)))),
    ("朝8時、夜9時", Times(((8, 0), (21, 0)))),
    ("8:00 20:00", Times(((8, 0), (20, 0)))),
    ("晩7時半と朝7時", Times(((19, 30), (7, 0)))),
    ("夜12時", one(0, 0)),
    ("夜21時", one(21, 0)),
    ("朝12時", one(0, 0)),
    ("7時と8時", Times(((7, 0), (8, 0)))),
    ("8時と25時", BadTime()),
    ("朝13時", BadTime()),
    # adding
    ("20時も", Times(((20, 0),), add=True)),
    ("8時と20時も", Times(((8, 0), (20, 0)), add=True)),
    ("追加 13時", Times(((13, 0),), add=True)),
    ("13時半を追加して", Times(((13, 30),), add=True)),
    ("今日もよろしく 7時", one(7, 0)),              # も not right after a time
    # removing some, or all
    ("20時を削除", Removal(((20, 0),))),
    ("解除 8時", Removal(((8, 0),))),
    ("7時の設定を削除", Removal(((7, 0),))),
    ("8時と20時を削除", Removal(((8, 0), (20, 0)))),
    ("25時を削除", BadTime()),
    ("削除", Removal()),
    # other commands are never answers
    ("記録", HistoryQuery()),
    ("きろく見せて", HistoryQuery()),
    ("使い方", HelpQuery()),
    ("ヘルプ", HelpQuery()),
    # family watch: 見守り解除 is not 解除 (delete every time)
    ("見守り", WatchRequest()),
    ("見守りをお願い", WatchRequest()),
    ("見守り解除", WatchEnd()),
    ("123456", WatchCode("123456")),
    ("12 34 56", WatchCode("123456")),
    ("１２３４５６", WatchCode("123456")),
    ("1234567", Other()),
    ("12345", Other()),
    ("コード123456", Other()),
    # the time zone
    ("タイムゾーン Europe/London", ZoneChange("Europe/London")),
    ("タイムゾーン: america/new_york", ZoneChange("America/New_York")),
    ("タイムゾーンをUTCにして", ZoneChange("UTC")),
    ("タイムゾーン Mars/Olympus", ZoneChange(None)),
    ("タイムゾーン", ZoneChange(None)),
])
def test_several_times_and_commands(text, intent):
    assert times_said(parse(text)) == intent


@pytest.mark.parametrize("text, intent", [
    # days before the times
    ("月水金 8時", Times(((8, 0),), days=DayWords(weekday_mask([0, 2, 4])))),
    ("毎週月曜 8時も", Times(((8, 0),), add=True, days=DayWords(weekday_mask([0])))),
    ("月曜と木曜の8時", Times(((8, 0),), days=DayWords(weekday_mask([0, 3])))),
    ("月曜日 8時", Times(((8, 0),), days=DayWords(weekday_mask([0])))),
    ("土・日曜日 9時", Times(((9, 0),), days=DayWords(weekday_mask([5, 6])))),
    ("水曜日、金曜日 8時と20時", Times(((8, 0), (20, 0)),
                                    days=DayWords(weekday_mask([2, 4])))),
    ("1日おき 21時", Times(((21, 0),), days=DayWords(every_other=True))),
    ("隔日 21時", Times(((21, 0),), days=DayWords(every_other=True))),
    ("毎日 8時", Times(((8, 0),), days=DayWords())),
    ("追加 月水金 8時", Times(((8, 0),), add=True, days=DayWords(weekday_mask([0, 2, 4])))),
    # a day in another word is no day word: 明日 is not Sunday
    ("明日8時", Times(((8, 0),), in_passing=True)),
    # naming a time's medicine: a command, never a schedule
    ("8時の薬は血圧の薬", Naming((8, 0), "血圧の薬")),
    ("20時半の薬は 胃薬 ", Naming((20, 30), "胃薬")),
    ("8時の薬は名前なし", Naming((8, 0), None)),
    ("25時の薬は胃薬", BadTime()),
    ("8時の薬は", Times(((8, 0),), in_passing=True)),   # no name: not naming
    # a time in passing, or a message that is only a schedule
    ("明日は10時に病院です", Times(((10, 0),), in_passing=True)),
    ("10時から会議", Times(((10, 0),), in_passing=True)),
    ("8時と20時にお願い", Times(((8, 0), (20, 0)))),
    ("毎朝8時、毎晩9時です。", Times(((8, 0), (21, 0)))),
    ("8時にして", one(8, 0)),
    ("8時に変更", one(8, 0)),
    ("午後3時で", one(15, 0)),
    # two times without a separator are two times
    ("8時20時", Times(((8, 0), (20, 0)))),
    ("8時20分", one(8, 20)),
])
def test_days_names_and_times_in_passing(text, intent):
    assert parse(text) == intent


@pytest.mark.parametrize(
    "text",
    [
        "1" * 10_000,
        "9" * 9_999 + "時",
        "午後" * 5_000,
        "午後" + " " * 9_998,
        " " * 10_000 + "x",
        "1時間" * 3_333,
        "7:" * 5_000,
        "掃除" * 5_000,
        "削" * 10_000,
        "あ" * 10_000,
    ],
)
def test_long_adversarial_input_gets_an_ordinary_answer(text):
    # The time regex is linear (no nested quantifiers); a backtracking bug would hang here.
    assert type(parse(text)) in (Times, BadTime, Other, Later, Removal)


def test_intents_are_frozen_values():
    assert one(7, 30) == one(7, 30)
    assert hash(Later()) == hash(Later())
    with pytest.raises(AttributeError):
        one(7, 30).times = ()  # type: ignore[misc]
    with pytest.raises(ValueError):
        one(24, 0)
    with pytest.raises(ValueError):
        Times(())


# --- property: every way to write a valid time parses back to it -------------------------

FULL_WIDTH = str.maketrans("0123456789:", "０１２３４５６７８９：")


def spellings(h: int, m: int) -> list[str]:
    forms = [f"{h}時{m}分", f"{h:02d}時{m:02d}分", f"{h}時{m}", f"{h}:{m:02d}", f"{h}：{m:02d}", f"{h}:{m}"]
    if m == 0:
        forms.append(f"{h}時")
    if m == 30:
        forms.append(f"{h}時半")
    for ampm, h12 in [("午前", h)] if h < 12 else [("午後", h - 12)]:
        forms += [f"{ampm}{h12}時{m}分", f"{ampm}{h12}:{m:02d}"]
    if h == 0:
        forms.append(f"午前12時{m}分")
    if h == 12:
        forms.append(f"午後12時{m}分")
    return forms + [form.translate(FULL_WIDTH) for form in forms]


# Surrounding text without digits, time words (時 分 半 午前 午後 朝 夜 間 :) or
# higher-priority words: no kanji at all, no ば/バ so ばいばい cannot appear by chance, no の
# so のんだ (an answer) cannot either, no き/つ/ヘ/ゾ (きろく, つかいかた, ヘルプ, タイムゾーン), no
# も (which after a time means "add it").
FILLER = st.text(
    alphabet=st.sampled_from(
        [chr(c) for c in range(ord("ぁ"), ord("ゖ") + 1) if chr(c) not in "ばのきつも"]
        + [chr(c) for c in range(ord("ァ"), ord("ヺ") + 1) if chr(c) not in "バヘゾ"]
        + list("abcXYZ 、。!?ー〜💊🐰\n")
    ),
    max_size=20,
)


@given(
    h=st.integers(0, 23),
    m=st.integers(0, 59),
    data=st.data(),
    before=FILLER,
    after=FILLER,
)
def test_every_spelling_of_a_valid_time_parses_back(h, m, data, before, after):
    spelling = data.draw(st.sampled_from(spellings(h, m)))
    assert times_said(parse(before + spelling + after)) == one(h, m)


@given(st.text(max_size=200))
def test_parse_never_raises(text):
    assert type(parse(text)) in (Times, Removal, Naming, BadTime, SettingQuery, HistoryQuery,
                                  HelpQuery, WatchRequest, WatchEnd, WatchCode, ZoneChange, Took,
                                  Later, Other)
