"""The rich menu: its committed picture, its installer (`python -m outbox.richmenu`) through
the real SDK against the stand-in, and the stand-in's rich menu API."""
import io
import json
import os
import shutil
import subprocess

import pytest
import urllib3
from linebot.v3.messaging import ApiException, RichMenuRequest
from PIL import Image

from outbox import richmenu
from outbox.richmenu import HEIGHT, IMAGE_PATH, LABELS, WIDTH, data_api_base_url, install
from simulator.line_api import RICH_MENU_PATH
from simulator.local import LocalLine
from tests.conftest import SECRET, TOKEN

LINE_IMAGE_LIMIT = 1024 * 1024


def committed_image() -> bytes:
    with open(IMAGE_PATH, "rb") as source:
        return source.read()


def png(width=WIDTH, height=HEIGHT, color="white", kind="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, kind)
    return out.getvalue()


def created(platform, path=RICH_MENU_PATH):
    return [r for r in platform.requests if r.path == path and r.status == 200]


# -- the picture -------------------------------------------------------------------------------

def test_the_committed_picture_is_a_png_line_accepts():
    data = committed_image()
    assert len(data) < LINE_IMAGE_LIMIT
    with Image.open(io.BytesIO(data)) as image:
        assert (image.format, image.size) == ("PNG", (WIDTH, HEIGHT))


def _japanese_font_or_skip():
    if shutil.which("fc-list") and subprocess.run(["fc-list", ":lang=ja"], capture_output=True,
                                                  text=True).stdout.strip():
        return
    if os.environ.get("CI"):
        pytest.fail("CI must redraw the rich menu: .ci/run installs fonts-ipafont-gothic")
    pytest.skip("no Japanese font (apt-get install fonts-ipafont-gothic)")


def test_the_committed_picture_is_what_make_richmenu_image_draws(tmp_path):
    _japanese_font_or_skip()
    from outbox import richmenu_image
    drawn = tmp_path / "richmenu.png"
    assert richmenu_image.main([str(drawn)]) == 0
    with Image.open(drawn) as new, Image.open(IMAGE_PATH) as old:
        assert new.convert("RGB").tobytes() == old.convert("RGB").tobytes(), (
            "outbox/richmenu.png is out of date: run make richmenu-image")


# -- installing it -------------------------------------------------------------------------------

def test_install_creates_the_menu_uploads_its_picture_and_makes_it_the_default(platform):
    installed = install(platform.base_url, TOKEN)
    assert installed.outcome == "created" and installed.deleted == ()
    assert platform.default_rich_menu_id == installed.rich_menu_id
    [(menu_id, entry)] = platform.rich_menus.items()
    assert menu_id == installed.rich_menu_id and entry["image"] == committed_image()
    menu = entry["menu"]
    assert menu["size"] == {"width": 2500, "height": 1686} and menu["selected"] is True
    assert RichMenuRequest.from_dict(menu).to_dict() == menu  # what the SDK's model takes
    assert LABELS == ("時間を追加", "設定教えて", "記録", "見守り", "使い方")
    actions = [area["action"] for area in menu["areas"]]
    assert actions == [
        # The same picker as the one under the greeting and the help, labelled for the menu.
        {"type": "datetimepicker", "label": "時間を追加", "data": "pick-time", "mode": "time"},
        *({"type": "message", "label": label, "text": label} for label in LABELS[1:])]
    # Two rows, three areas over two, side by side, no gap, no overlap.
    assert [tuple(area["bounds"].values()) for area in menu["areas"]] == [
        (0, 0, 833, 843), (833, 0, 833, 843), (1666, 0, 834, 843),
        (0, 843, 1250, 843), (1250, 843, 1250, 843)]
    assert sum(b["width"] * b["height"] for b in (a["bounds"] for a in menu["areas"])) == (
        WIDTH * HEIGHT)


def test_installing_again_reuses_the_menu(platform):
    first = install(platform.base_url, TOKEN)
    again = install(platform.base_url, TOKEN)
    assert (again.outcome, again.rich_menu_id) == ("reused", first.rich_menu_id)
    assert list(platform.rich_menus) == [first.rich_menu_id]
    assert len(created(platform)) == 1
    assert "reused" in again.describe()


def test_a_new_picture_replaces_the_menu_and_leaves_other_menus_alone(platform):
    first = install(platform.base_url, TOKEN)
    foreign = post_menu(platform, menu_json(name="campaign"))[1]["richMenuId"]
    second = install(platform.base_url, TOKEN, image=png(color="pink"))
    assert second.outcome == "replaced" and second.deleted == (first.rich_menu_id,)
    assert platform.default_rich_menu_id == second.rich_menu_id
    assert set(platform.rich_menus) == {second.rich_menu_id, foreign}


def test_a_half_made_menu_from_an_interrupted_install_is_cleaned_up(platform):
    name = richmenu.menu_name(committed_image())
    leftover = post_menu(platform, menu_json(name=name))[1]["richMenuId"]  # never got a picture
    installed = install(platform.base_url, TOKEN)
    assert installed.outcome == "replaced" and installed.deleted == (leftover,)
    assert list(platform.rich_menus) == [installed.rich_menu_id]


def test_a_refused_picture_leaves_no_menu_behind_and_the_default_as_it_was(platform):
    before = install(platform.base_url, TOKEN)
    with pytest.raises(ApiException) as raised:
        install(platform.base_url, TOKEN, image=png(800, 250))  # not the menu's size
    assert raised.value.status == 400
    assert list(platform.rich_menus) == [before.rich_menu_id]
    assert platform.default_rich_menu_id == before.rich_menu_id


def test_make_richmenu_says_what_it_did(platform, capsys):
    environ = {"CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_BASE_URL": platform.base_url}
    assert richmenu.main(environ) == 0
    assert richmenu.main(environ) == 0
    menu_id = platform.default_rich_menu_id
    assert capsys.readouterr().out.splitlines() == [
        f"rich menu {menu_id} created and set as the default",
        f"rich menu {menu_id} reused: it is already the default"]
    assert richmenu.main({"LINE_API_BASE_URL": platform.base_url}) == 2
    assert richmenu.main({"CHANNEL_TOKEN": "wrong", "LINE_API_BASE_URL": platform.base_url}) == 1
    assert "status 401" in capsys.readouterr().err


def test_pictures_go_to_lines_data_host_and_a_stand_in_serves_both():
    assert data_api_base_url("https://api.line.me") == "https://api-data.line.me"
    assert data_api_base_url("http://127.0.0.1:8081") == "http://127.0.0.1:8081"


def test_simulator_mode_shows_the_rich_menu_from_the_start(tmp_path):
    line = LocalLine(SECRET, TOKEN, history_path=str(tmp_path / "chats.json")).start()
    try:
        platform = line.platform
        entry = platform.rich_menus[platform.default_rich_menu_id]
        assert entry["image"] == committed_image()
        assert [area["action"]["label"] for area in entry["menu"]["areas"]] == list(LABELS)
        assert entry["menu"]["areas"][0]["action"]["type"] == "datetimepicker"
    finally:
        line.stop()


# -- the stand-in's rich menu API ----------------------------------------------------------------

def menu_json(**overrides):
    menu = {"size": {"width": WIDTH, "height": HEIGHT}, "selected": False, "name": "menu",
            "chatBarText": "メニュー",
            "areas": [{"bounds": {"x": 0, "y": 0, "width": 100, "height": 100},
                       "action": {"type": "message", "label": "記録", "text": "記録"}}]}
    menu.update(overrides)
    return menu


def call(platform, method, path, body=None, content_type="application/json", token=TOKEN):
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(connect=2, read=5))
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": content_type}
    response = pool.request(method, platform.base_url + path, body=body, headers=headers)
    pool.clear()
    return response.status, (json.loads(response.data) if response.data else None)


def post_menu(platform, menu):
    return call(platform, "POST", RICH_MENU_PATH, menu)


@pytest.mark.parametrize("change, prop", [
    ({"size": {"width": 700, "height": 250}}, "size.width"),        # too narrow
    ({"size": {"width": 2500, "height": 2000}}, "size"),           # taller than 1 : 1.45
    ({"size": {"width": 2500, "height": 200}}, "size.height"),
    ({"chatBarText": "メニューをひらいてください。。。"}, "chatBarText"),  # over 14 characters
    ({"areas": []}, "areas"),
    ({"areas": menu_json()["areas"] * 21}, "areas"),
    ({"areas": [{"bounds": {"x": 2000, "y": 0, "width": 600, "height": 843},
                 "action": {"type": "message", "text": "記録"}}]}, "areas[0].bounds"),
    ({"areas": [{"bounds": {"x": 0, "y": 0, "width": 100, "height": 100},
                 "action": {"type": "message", "text": ""}}]}, "areas[0].action.text"),
    ({"areas": [{"bounds": {"x": 0, "y": 0, "width": 100, "height": 100},
                 "action": {"type": "teleport"}}]}, "areas[0].action"),
])
def test_a_menu_line_would_refuse_is_400_with_the_property(platform, change, prop):
    status, body = post_menu(platform, menu_json(**change))
    assert status == 400
    assert body["message"] == "The request body has 1 error(s)"
    assert [detail["property"] for detail in body["details"]] == [prop]
    assert platform.rich_menus == {}


def test_a_valid_menu_is_listed_fetched_and_deleted(platform):
    status, answer = post_menu(platform, menu_json())
    assert status == 200 and answer["richMenuId"].startswith("richmenu-")
    menu_id = answer["richMenuId"]
    assert call(platform, "GET", f"{RICH_MENU_PATH}/list") == (
        200, {"richmenus": [{"richMenuId": menu_id, **menu_json()}]})
    assert call(platform, "GET", f"{RICH_MENU_PATH}/{menu_id}")[1]["name"] == "menu"
    assert call(platform, "DELETE", f"{RICH_MENU_PATH}/{menu_id}") == (200, {})
    assert call(platform, "DELETE", f"{RICH_MENU_PATH}/{menu_id}")[0] == 404
    assert call(platform, "GET", f"{RICH_MENU_PATH}/{menu_id}")[0] == 404


def test_pictures_are_checked_like_line_checks_them(platform):
    menu_id = post_menu(platform, menu_json())[1]["richMenuId"]
    content = f"{RICH_MENU_PATH}/{menu_id}/content"
    default = f"/v2/bot/user/all/richmenu/{menu_id}"
    assert call(platform, "POST", default)[1] == {
        "message": "must upload richmenu image before applying it to user"}
    assert call(platform, "POST", content, png(), "text/plain")[0] == 415
    assert call(platform, "POST", content, png(1250, 843), "image/png")[0] == 400
    assert call(platform, "POST", content, b"x" * (LINE_IMAGE_LIMIT + 1), "image/png")[0] == 413
    assert call(platform, "POST", content, png(kind="JPEG"), "image/jpeg") == (200, {})
    assert call(platform, "POST", content, png(), "image/png")[1] == {
        "message": "An image has already been uploaded to the richmenu"}
    assert call(platform, "GET", "/v2/bot/user/all/richmenu")[0] == 404
    assert call(platform, "POST", default) == (200, {})
    assert call(platform, "GET", "/v2/bot/user/all/richmenu") == (200, {"richMenuId": menu_id})
    call(platform, "DELETE", f"{RICH_MENU_PATH}/{menu_id}")
    assert platform.default_rich_menu_id is None  # deleting the default menu unsets it


def test_rich_menu_calls_need_the_channel_token(platform):
    assert post_menu(platform, menu_json())[0] == 200
    assert call(platform, "POST", RICH_MENU_PATH, menu_json(), token="wrong")[0] == 401
    assert len(platform.rich_menus) == 1
