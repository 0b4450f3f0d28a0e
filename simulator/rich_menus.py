"""What LINE checks in a rich menu and in its image, for the stand-in (simulator.platform).

LINE's documented limits: a menu is 800-2500 px wide, at least 250 px high and at least 1.45
times as wide as high; it has 1-20 tappable areas, each inside the menu, a name of at most
300 characters and a chat bar text of at most 14. Its image is a PNG or JPEG of the menu's
size, at most 1 MB, uploaded once (an image cannot be replaced: make a new menu instead).
"""
import struct
from typing import Optional

MAX_RICH_MENUS = 1000
MAX_IMAGE_BYTES = 1024 * 1024
IMAGE_TYPES = ("image/png", "image/jpeg")
MENU_FIELDS = ("size", "selected", "name", "chatBarText", "areas")
ACTION_TYPES = {"postback", "message", "uri", "datetimepicker", "richmenuswitch", "camera",
                "cameraRoll", "location", "clipboard"}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_JPEG_FRAMES = set(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # SOFn markers carry the size


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def menu_problems(menu) -> list:
    """LINE's 400 "details" for a rich menu object: [{"message", "property"}]; [] if valid."""
    if not isinstance(menu, dict):
        return [{"message": "must be a JSON object", "property": ""}]
    problems = []

    def problem(prop, message):
        problems.append({"message": message, "property": prop})

    size = menu.get("size")
    width = height = None
    if not isinstance(size, dict) or not (_is_int(size.get("width"))
                                          and _is_int(size.get("height"))):
        problem("size", "must be specified")
    else:
        width, height = size["width"], size["height"]
        if not 800 <= width <= 2500:
            problem("size.width", "must be between 800 and 2500")
        if height < 250:
            problem("size.height", "must be at least 250")
        elif width / height < 1.45:
            problem("size", "width / height must be at least 1.45")
    if not isinstance(menu.get("selected"), bool):
        problem("selected", "must be specified")
    for field, longest in (("name", 300), ("chatBarText", 14)):
        value = menu.get(field)
        if not isinstance(value, str) or not 1 <= len(value) <= longest:
            problem(field, f"must be 1 to {longest} characters")
    areas = menu.get("areas")
    if not isinstance(areas, list) or not 1 <= len(areas) <= 20:
        problem("areas", "must have 1 to 20 areas")
    else:
        for index, area in enumerate(areas):
            for prop, message in _area_problems(area, width, height):
                problem(f"areas[{index}].{prop}", message)
    return problems


def _area_problems(area, menu_width, menu_height):
    area = area if isinstance(area, dict) else {}
    bounds = area.get("bounds")
    keys = ("x", "y", "width", "height")
    if not isinstance(bounds, dict) or not all(_is_int(bounds.get(k)) for k in keys):
        yield "bounds", "must be specified"
    else:
        x, y, width, height = (bounds[k] for k in keys)
        if min(x, y) < 0 or min(width, height) <= 0:
            yield "bounds", "must have a position >= 0 and a positive size"
        elif menu_width is not None and (x + width > menu_width or y + height > menu_height):
            yield "bounds", "must be within the rich menu"
    action = area.get("action")
    if not isinstance(action, dict) or action.get("type") not in ACTION_TYPES:
        yield "action", "must be a supported action"
        return
    label = action.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 20):
        yield "action.label", "must be at most 20 characters"
    if action["type"] == "message":
        text = action.get("text")
        if not isinstance(text, str) or not 1 <= len(text) <= 300:
            yield "action.text", "must be 1 to 300 characters"


def image_problem(menu: dict, content_type: str, data: bytes) -> Optional[tuple]:
    """(status, message) when LINE would refuse this image for this menu, else None."""
    if content_type not in IMAGE_TYPES:
        return 415, "Unsupported media type"
    if len(data) > MAX_IMAGE_BYTES:
        return 413, "The image is larger than 1 MB"
    size = image_size(data)
    if size is None:
        return 400, "The image is not a PNG or JPEG image"
    wanted = (menu["size"]["width"], menu["size"]["height"])
    if size != wanted:
        return 400, (f"The image is {size[0]}x{size[1]} px; the rich menu is "
                     f"{wanted[0]}x{wanted[1]} px")
    return None


def image_size(data: bytes) -> Optional[tuple]:
    """(width, height) of a PNG or JPEG from its header, None for anything else."""
    if data[:8] == _PNG_SIGNATURE and data[12:16] == b"IHDR" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data[:2] != b"\xff\xd8":
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:                       # fill byte before a marker
            at += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            at += 2
            continue
        if marker in _JPEG_FRAMES and at + 9 <= len(data):
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return width, height
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
    return None
