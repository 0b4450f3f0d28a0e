"""The bot's rich menu under the chat: 時間を追加 opens LINE's time picker (the bot's own, as
under the greeting); 設定教えて, 記録, 見守り and 使い方 send that word.

    python -m outbox.richmenu        (make richmenu)

installs it as the channel's default menu through the Messaging API, with
CHANNEL_ACCESS_TOKEN (or CHANNEL_TOKEN) and LINE_API_BASE_URL from the environment, and the
committed picture `outbox/richmenu.png` (redrawn by `make richmenu-image`). Running it again
is safe: LINE cannot change a menu, so the menu's name carries a digest of its definition and
picture. If the default menu already has that name it is reused; otherwise a new one is
created, given its picture and made the default, and only then are the bot's older menus
deleted, so users never see the chat without a menu. Menus with other names are left alone.
"""
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

from linebot.v3.messaging import (
    ApiClient, ApiException, Configuration, DatetimePickerAction, MessageAction, MessagingApi,
    MessagingApiBlob, RichMenuArea, RichMenuBounds, RichMenuRequest, RichMenuSize,
)
from urllib3.exceptions import HTTPError

from chat import parse, texts

WIDTH, HEIGHT = 2500, 1686             # LINE's large size
# Rows of areas, top to bottom; each area but the picker's sends the first word the chat
# knows for its command.
ROWS = ((texts.PICK_TIME_MENU, parse.SHOW_WORDS[0], parse.RECORD_WORDS[0]),
        (parse.WATCH_WORD, parse.HELP_WORDS[0]))
LABELS = tuple(label for row in ROWS for label in row)
CHAT_BAR_TEXT = "メニュー"
NAME_PREFIX = "usa-reminder "          # + digest; the bot's menus are those with this prefix
IMAGE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "richmenu.png")
DEFAULT_API_HOST = "api.line.me"
DATA_API_HOST = "api-data.line.me"     # where LINE takes rich menu pictures


@dataclass(frozen=True)
class Installed:
    rich_menu_id: str
    outcome: str            # "created", "replaced" (older ones deleted) or "reused"
    deleted: tuple = ()     # ids of the bot's older menus that were deleted

    def describe(self) -> str:
        if self.outcome == "reused":
            text = f"rich menu {self.rich_menu_id} reused: it is already the default"
        else:
            text = f"rich menu {self.rich_menu_id} {self.outcome} and set as the default"
        if self.deleted:
            text += f"; deleted the older {', '.join(self.deleted)}"
        return text


def cells() -> list:
    """(label, x, y, width, height) of each area, row by row, left to right: equal rows, and
    equal cells within a row, with no gap and no overlap."""
    found = []
    for row_index, row in enumerate(ROWS):
        top, bottom = HEIGHT * row_index // len(ROWS), HEIGHT * (row_index + 1) // len(ROWS)
        for index, label in enumerate(row):
            left, right = WIDTH * index // len(row), WIDTH * (index + 1) // len(row)
            found.append((label, left, top, right - left, bottom - top))
    return found


def areas() -> list:
    return [RichMenuArea(bounds=RichMenuBounds(x=x, y=y, width=width, height=height),
                         action=_action(label))
            for label, x, y, width, height in cells()]


def _action(label: str):
    if label == texts.PICK_TIME_MENU:
        return DatetimePickerAction(label=label, data=texts.POSTBACK_PICK_TIME, mode="time")
    return MessageAction(label=label, text=label)


def menu_name(image: bytes) -> str:
    """The name that identifies this exact menu: prefix + digest of definition and picture."""
    definition = _request("").to_dict()
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True).encode() + image)
    return NAME_PREFIX + digest.hexdigest()[:16]


def _request(name: str) -> RichMenuRequest:
    return RichMenuRequest(size=RichMenuSize(width=WIDTH, height=HEIGHT), selected=True,
                           name=name, chatBarText=CHAT_BAR_TEXT, areas=areas())


def data_api_base_url(base_url: str) -> str:
    """LINE takes pictures on api-data.line.me; any other base (a stand-in) serves both."""
    parts = urlsplit(base_url)
    if parts.hostname != DEFAULT_API_HOST:
        return base_url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(DEFAULT_API_HOST,
                                                                  DATA_API_HOST)))


def install(base_url: str, access_token: str, *, image: Optional[bytes] = None,
            timeout: float = 10.0) -> Installed:
    """Make the bot's menu, with `image` (PNG; default: the committed picture), the
    channel's default (see the module's doc). Raises the SDK's ApiException, or urllib3's
    errors, when LINE refuses or cannot be reached."""
    if image is None:
        with open(IMAGE_PATH, "rb") as source:
            image = source.read()
    with (ApiClient(Configuration(host=base_url, access_token=access_token)) as client,
          ApiClient(Configuration(host=data_api_base_url(base_url),
                                  access_token=access_token)) as data_client):
        api, blob = MessagingApi(client), MessagingApiBlob(data_client)
        name = menu_name(image)
        ours = [menu for menu in api.get_rich_menu_list(_request_timeout=timeout).richmenus
                if menu.name.startswith(NAME_PREFIX)]
        default_id = _default_id(api, timeout)
        if any(menu.rich_menu_id == default_id and menu.name == name for menu in ours):
            deleted = _delete(api, [m.rich_menu_id for m in ours if m.rich_menu_id != default_id],
                              timeout)
            return Installed(default_id, "reused", deleted)
        new_id = api.create_rich_menu(_request(name), _request_timeout=timeout).rich_menu_id
        try:
            blob.set_rich_menu_image(new_id, image, _headers={"Content-Type": "image/png"},
                                     _request_timeout=timeout)
            api.set_default_rich_menu(new_id, _request_timeout=timeout)
        except BaseException:
            try:
                api.delete_rich_menu(new_id, _request_timeout=timeout)  # leave no half-made menu
            except Exception:
                pass  # the error that stopped the install is the one to report
            raise
        deleted = _delete(api, [menu.rich_menu_id for menu in ours], timeout)
        return Installed(new_id, "replaced" if deleted else "created", deleted)


def _default_id(api: MessagingApi, timeout: float) -> Optional[str]:
    try:
        return api.get_default_rich_menu_id(_request_timeout=timeout).rich_menu_id
    except ApiException as exc:
        if exc.status == 404:  # no default menu
            return None
        raise


def _delete(api: MessagingApi, rich_menu_ids, timeout: float) -> tuple:
    """Delete what can be deleted (a menu already gone is fine); the ids deleted."""
    deleted = []
    for rich_menu_id in rich_menu_ids:
        try:
            api.delete_rich_menu(rich_menu_id, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status != 404:
                raise
            continue
        deleted.append(rich_menu_id)
    return tuple(deleted)


def main(environ=os.environ) -> int:
    token = environ.get("CHANNEL_ACCESS_TOKEN") or environ.get("CHANNEL_TOKEN")
    if not token:
        sys.stderr.write("set CHANNEL_ACCESS_TOKEN (the channel access token) first\n")
        return 2
    base_url = environ.get("LINE_API_BASE_URL") or f"https://{DEFAULT_API_HOST}"
    try:
        installed = install(base_url, token)
    except ApiException as exc:
        sys.stderr.write(f"LINE refused: status {exc.status}: {exc.body}\n")
        return 1
    except (HTTPError, OSError) as exc:
        sys.stderr.write(f"could not reach LINE at {base_url}: {type(exc).__name__}\n")
        return 1
    print(installed.describe())
    return 0


if __name__ == "__main__":
    sys.exit(main())
