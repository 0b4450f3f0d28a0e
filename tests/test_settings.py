import pytest

from settings import SIMULATOR_SNOOZE_INTERVAL_SECONDS, from_environment


def test_defaults_follow_the_design():
    settings = from_environment({"CHANNEL_SECRET": "s", "CHANNEL_TOKEN": "t"})
    assert settings.channel_access_token == "t"            # the Go bot's variable name
    assert (settings.port, settings.host, settings.timezone) == (8080, "0.0.0.0", "Asia/Tokyo")
    assert (settings.snooze_interval_seconds, settings.max_reasks) == (600, 10)
    assert settings.missed_ask_grace_seconds == 1800
    assert settings.redis_url is None and settings.debug_token is None
    assert settings.line_api_base_url == "https://api.line.me"


def test_the_simulator_asks_again_sooner_unless_told_otherwise():
    assert from_environment({}).snooze_interval_seconds == SIMULATOR_SNOOZE_INTERVAL_SECONDS
    assert from_environment({"SNOOZE_INTERVAL_SECONDS": "600"}).snooze_interval_seconds == 600


@pytest.mark.parametrize("name, value", [("PORT", "eighty"), ("MAX_REASKS", "-1")])
def test_a_bad_number_stops_the_start_with_its_name(name, value):
    with pytest.raises(SystemExit, match=name):
        from_environment({name: value})
