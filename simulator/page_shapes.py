"""What the chat page is given to draw: the platform's messages and rich menus, reduced to
the fields the page uses and checked on the way (the page trusts these shapes).

A bot bubble is ``{"type": "text" | "flex" | "other", "text": ..., ["flex": container]}``;
``text`` is what the user list and a failed drawing fall back to (a Flex message's altText).
"""

import json
import urllib.parse
import zlib
from typing import Optional

from simulator.platform import describe_message

MAX_FLEX_JSON_CHARS = 50_000   # LINE refuses a Flex carousel over 50 KB
MAX_RICH_MENU_AREAS = 20       # LINE's limit
MAX_CHAT_BAR_CHARS = 14        # LINE's limit
_ACTION_FIELDS = ("type", "label", "data", "text", "displayText", "mode", "initial", "min",
                  "max")
_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"))


def bot_bubble(message: dict) -> dict:
    """The kind and text of the bubble for one message the platform accepted; a Flex message
    also carries its container (a bubble or a carousel) as LINE received it."""
    text = str(describe_message(message))
    kind = message.get("type")
    if kind == "text":
        return {"type": "text", "text": text}
    contents = message.get("contents")
    if (kind == "flex" and isinstance(contents, dict)
            and contents.get("type") in ("bubble", "carousel")
            and len(json.dumps(contents, ensure_ascii=False)) <= MAX_FLEX_JSON_CHARS):
        return {"type": "flex", "text": text, "flex": contents}
    return {"type": "other", "text": text}


def action(raw) -> dict:
    """The string fields of a LINE action the page can act on."""
    raw = raw if isinstance(raw, dict) else {}
    return {key: raw[key] for key in _ACTION_FIELDS if isinstance(raw.get(key), str)}


def quick_reply(message: dict) -> list:
    return [action(item.get("action"))
            for item in (message.get("quickReply") or {}).get("items", ())
            if isinstance(item, dict)]


def image_type(image) -> Optional[str]:
    """The content type of a rich menu image (LINE takes PNG or JPEG), else None."""
    if not isinstance(image, (bytes, bytearray)):
        return None
    for magic, content_type in _IMAGE_TYPES:
        if image.startswith(magic):
            return content_type
    return None


def rich_menu(platform) -> Optional[dict]:
    """The platform's default rich menu as the page draws it, or None when there is none.

    ``{"id", "size": {"width", "height"}, "chatBarText", "selected", "image": URL or None,
    "areas": [{"bounds": {"x", "y", "width", "height"}, "action": {...}}]}``; the image URL
    changes with the image, so a browser never shows a stale one."""
    menu_id = platform.default_rich_menu_id
    entry = platform.rich_menus.get(menu_id) if isinstance(menu_id, str) else None
    menu = entry.get("menu") if isinstance(entry, dict) else None
    if not isinstance(menu, dict):
        return None
    size = _rectangle(menu.get("size"), ("width", "height"))
    if size is None or not (size["width"] > 0 and size["height"] > 0):
        return None
    areas = []
    for area in (menu.get("areas") if isinstance(menu.get("areas"), list) else ()):
        bounds = _rectangle(area.get("bounds") if isinstance(area, dict) else None,
                            ("x", "y", "width", "height"))
        if bounds is not None:
            areas.append({"bounds": bounds, "action": action(area.get("action"))})
    image = entry.get("image")
    image_url = None
    if image_type(image):
        image_url = (f"/api/rich-menus/{urllib.parse.quote(menu_id, safe='')}/image"
                     f"?v={zlib.crc32(image):08x}")
    chat_bar_text = menu.get("chatBarText")
    return {"id": menu_id, "size": size, "image": image_url,
            "chatBarText": (chat_bar_text if isinstance(chat_bar_text, str) and chat_bar_text
                            else "メニュー")[:MAX_CHAT_BAR_CHARS],
            "selected": menu.get("selected") is True, "areas": areas[:MAX_RICH_MENU_AREAS]}


def _rectangle(raw, keys) -> Optional[dict]:
    if not isinstance(raw, dict):
        return None
    values = {key: raw.get(key) for key in keys}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
               for v in values.values()):
        return None
    return values
