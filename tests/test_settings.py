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


@pytest.mark.parametrize("name, value", [
    ("PORT", "eighty"), ("MAX_REASKS", "-1"), ("MISSED_ASK_GRACE_SECONDS", "nan"),
    ("SNOOZE_INTERVAL_SECONDS", "inf"),
    # 0 would re-ask without a pause, poll Redis without one, or never send at all.
    ("SNOOZE_INTERVAL_SECONDS", "0"), ("SCHEDULER_POLL_SECONDS", "0"),
    ("PUSH_RATE_PER_SECOND", "0"), ("PUSH_CONCURRENCY", "0"), ("DUE_LEASE_SECONDS", "0.0"),
    ("LINE_TIMEOUT_SECONDS", "0"), ("PUSH_LEASE_SECONDS", "0")])
def test_a_bad_number_stops_the_start_with_its_name(name, value):
    with pytest.raises(SystemExit, match=name):
        from_environment({name: value})


def test_zero_is_taken_where_it_means_something():
    settings = from_environment({"MAX_REASKS": "0", "MISSED_ASK_GRACE_SECONDS": "0"})
    assert (settings.max_reasks, settings.missed_ask_grace_seconds) == (0, 0)


def test_log_level_defaults_to_info_and_takes_any_case():
    assert from_environment({}).log_level == "INFO"
    assert from_environment({"LOG_LEVEL": "warning"}).log_level == "WARNING"


@pytest.mark.parametrize("url", ["http://user:hunter2@example.com/",
                                 "redis://:hunter2@localhost:notaport/0",
                                 "redis://:hunter2@localhost:99999/0", "localhost:6379"])
def test_a_bad_redis_url_stops_the_start_without_showing_the_url(url, capsys):
    with pytest.raises(SystemExit, match="REDIS_URL is not a Redis URL") as refused:
        from_environment({"REDIS_URL": url})
    assert refused.value.code == 2
    assert "hunter2" not in capsys.readouterr().err


def test_redis_urls_that_heroku_and_docker_use_are_taken():
    for url in ("rediss://:p@ec2-1-2-3-4.compute-1.amazonaws.com:12345", "redis://redis:6379/1",
                "unix:///var/run/redis.sock"):
        assert from_environment({"REDIS_URL": url}).redis_url == url


def test_on_heroku_redis_url_is_required_else_users_vanish_at_each_restart():
    with pytest.raises(SystemExit, match="heroku addons:create heroku-redis"):
        from_environment({"DYNO": "web.1", "CHANNEL_SECRET": "s", "CHANNEL_ACCESS_TOKEN": "t"})


@pytest.mark.parametrize("env, missing", [({"CHANNEL_SECRET": "s"}, "CHANNEL_ACCESS_TOKEN"),
                                          ({"CHANNEL_TOKEN": "t"}, "CHANNEL_SECRET")])
def test_one_credential_alone_is_refused_with_the_missing_name(env, missing):
    with pytest.raises(SystemExit, match=f"{missing} is not"):
        from_environment(env)


def test_redis_cluster_is_off_unless_set_and_needs_a_url():
    assert from_environment({}).redis_cluster is False
    on = from_environment({"REDIS_URL": "redis://10.0.0.1:7000", "REDIS_CLUSTER": "1"})
    assert on.redis_cluster is True and on.redis_url == "redis://10.0.0.1:7000"
    with pytest.raises(SystemExit, match="REDIS_CLUSTER is set but REDIS_URL is not"):
        from_environment({"REDIS_CLUSTER": "1"})
    with pytest.raises(SystemExit, match="REDIS_CLUSTER must be 1 or 0"):
        from_environment({"REDIS_URL": "redis://10.0.0.1:7000", "REDIS_CLUSTER": "cluster"})
