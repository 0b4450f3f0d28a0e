"""The answer to 記録: one Flex message, the last four weeks of the history as a calendar;
for someone who watches others, a carousel of their own calendar and each watched person's.

Plain JSON as LINE defines it (tests/test_history.py holds it to line-bot-sdk's Flex models).
One bubble per calendar: a header, a row of weekdays, 4 rows of 7 days ending today, the
counts. About 11.5 KB of JSON, well inside LINE's 30 KB per bubble; a carousel takes at most
12 bubbles and 50 KB, so 4 calendars: more go on in further carousels of the same reply."""
import json
from typing import List, Optional, Sequence, Tuple

from domain.history import Calendar, DayCell, Mark
from chat.texts import DAY_CHARACTERS, history_summary, history_title

GREEN = "#06C755"
GREY = "#999999"
SATURDAY, SUNDAY = 5, 6

# mark -> (symbol, its colour, the cell's background or None)
_LOOK = {
    Mark.TAKEN: ("○", GREEN, "#E8F8EE"),
    Mark.LATE: ("△", "#D97706", "#FFF4D6"),
    Mark.MISSED: ("×", "#DC2626", "#FDE8E8"),
    Mark.IN_PROGRESS: ("…", GREY, None),
    Mark.BLANK: ("·", "#CCCCCC", None),
}
LEGEND = "○ 全部飲めた  △ 遅れて飲んだ  × 飲み忘れ  … きょう飲み途中"

# LINE's limits: bubbles in a carousel, bytes of a carousel's JSON, messages in a reply.
CAROUSEL_BUBBLES = 12
CAROUSEL_BYTES = 50_000
REPLY_MESSAGES = 5


def history_message(calendar: Calendar) -> dict:
    """The user's own calendar, one bubble."""
    return _flex(_summary(calendar), history_bubble(calendar))


def watcher_history_messages(own: Optional[Calendar],
                             watched: Sequence[Tuple[str, Calendar]]) -> List[dict]:
    """A carousel: the user's own calendar (None: left out), then each watched person's
    (display name, calendar), in that order. Its altText has one line per bubble. Bubbles
    that would take the carousel past LINE's limits start another carousel."""
    bubbles = [] if own is None else [(_summary(own), history_bubble(own))]
    bubbles += [(_summary(calendar, name), history_bubble(calendar, name))
                for name, calendar in watched]
    carousels, lines, contents = [], [], []
    for line, bubble in bubbles:
        if contents and (len(contents) == CAROUSEL_BUBBLES
                         or _size(_carousel(contents + [bubble])) > CAROUSEL_BYTES):
            carousels.append(_flex("\n".join(lines), _carousel(contents)))
            lines, contents = [], []
        lines.append(line)
        contents.append(bubble)
    carousels.append(_flex("\n".join(lines), _carousel(contents)))
    return carousels[:REPLY_MESSAGES]


def history_bubble(calendar: Calendar, name: Optional[str] = None) -> dict:
    """One calendar: the user's own, or (`name`) that of a person they watch."""
    first, last = calendar.days[0].day, calendar.days[-1].day
    weeks = [calendar.days[i:i + 7] for i in range(0, len(calendar.days), 7)]
    return {
        "type": "bubble",
        "size": "mega",
        "header": _box("vertical", [
            _text(history_title(name), size="lg", weight="bold", color="#FFFFFF"),
            _text(f"{first.month}/{first.day}〜{last.month}/{last.day} (直近28日)",
                  size="xs", color="#FFFFFFCC"),
        ], backgroundColor=GREEN, paddingAll="12px"),
        "body": _box("vertical", [
            _box("horizontal", [_weekday(cell) for cell in weeks[0]], spacing="xs"),
            *[_box("horizontal", [_day(cell) for cell in week], spacing="xs")
              for week in weeks],
            {"type": "separator", "margin": "md"},
            _box("horizontal", [
                _text(f"○ {calendar.taken}日", size="sm", color=GREEN, align="center",
                      flex=1),
                _text(f"△ {calendar.late}日", size="sm", color=_LOOK[Mark.LATE][1],
                      align="center", flex=1),
                _text(f"× {calendar.missed}日", size="sm", color=_LOOK[Mark.MISSED][1],
                      align="center", flex=1),
            ], margin="md"),
            _text(LEGEND, size="xxs", color=GREY, wrap=True, margin="sm"),
        ], spacing="xs", paddingAll="12px"),
    }


def _summary(calendar: Calendar, name: Optional[str] = None) -> str:
    return history_summary(calendar.taken, calendar.late, calendar.missed, name)


def _flex(alt_text: str, contents: dict) -> dict:
    return {"type": "flex", "altText": alt_text, "contents": contents}


def _carousel(bubbles: list) -> dict:
    return {"type": "carousel", "contents": bubbles}


def _size(contents: dict) -> int:
    """Bytes of the JSON as the outbox sends it (ASCII, default separators: the longest)."""
    return len(json.dumps(contents))


def _weekday(cell: DayCell) -> dict:
    weekday = cell.day.weekday()
    color = {SATURDAY: "#3B82F6", SUNDAY: "#EF4444"}.get(weekday, GREY)
    return _text(DAY_CHARACTERS[weekday], size="xxs", align="center", color=color, flex=1)


def _day(cell: DayCell) -> dict:
    symbol, color, background = _LOOK[cell.mark]
    style = {"flex": 1, "cornerRadius": "6px", "paddingAll": "2px"}
    if background:
        style["backgroundColor"] = background
    if cell.today:
        style.update(borderWidth="2px", borderColor=GREEN)
    date_style = {"color": "#111111", "weight": "bold"} if cell.today else {"color": GREY}
    return _box("vertical", [
        _text(str(cell.day.day), size="xxs", align="center", **date_style),
        _text(symbol, size="md", align="center", color=color, weight="bold"),
    ], **style)


def _box(layout: str, contents: list, **style) -> dict:
    return {"type": "box", "layout": layout, "contents": contents, **style}


def _text(text: str, **style) -> dict:
    return {"type": "text", "text": text, **style}
