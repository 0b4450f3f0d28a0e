"""Users of the Go bot keep their reminder when the bot is replaced."""
import json
from datetime import datetime
from zoneinfo import ZoneInfo

from storage import go_import, keys

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()


def test_both_go_formats_are_imported_once_without_touching_the_old_keys(store, redis_client):
    redis_client.set("user_Uplain", "7:30")
    redis_client.set("user_Ujson", json.dumps({"id": "Ujson", "hour": 21, "minute": 5,
                                               "notifies": 3}))
    redis_client.set("user_Ubroken", "not a time")
    redis_client.set("user_Ulate", "25:00")
    redis_client.set("version", "2")

    assert go_import.import_go_users(store.redis, now=NOW) == 2

    plain, json_user = store.users.load("Uplain"), store.users.load("Ujson")
    assert plain.times == ((7, 30),)
    assert json_user.times == ((21, 5),)
    assert plain.due == datetime(2026, 11, 27, 7, 30, tzinfo=ZoneInfo("Asia/Tokyo")).timestamp()
    assert store.users.load("Ubroken") is None and store.users.load("Ulate") is None
    assert redis_client.get("user_Uplain") == b"7:30"  # the Go bot's data is left as it was
    assert redis_client.get("version") == b"2"


def test_the_import_never_overwrites_and_never_runs_twice(store, redis_client):
    redis_client.set("user_Ukept", "7:30")
    redis_client.set(keys.ONE_REDIS.user("Ukept"), json.dumps({"h": 9, "m": 0, "due": NOW + 60, "v": 3}))
    assert go_import.import_go_users(store.redis, now=NOW) == 0
    assert store.users.load("Ukept").times == ((9, 0),)

    # A user who deletes their setting here is not brought back by the next start.
    redis_client.set("user_Ugone", "8:00")
    store.users.delete("Ukept")
    assert go_import.import_go_users(store.redis, now=NOW) == 0
    assert store.users.load("Ukept") is None and store.users.load("Ugone") is None
