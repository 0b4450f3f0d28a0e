"""The files Heroku reads: app.json (the "Deploy to Heroku" button and `heroku` app setups),
Procfile and .python-version. app.json is checked against a JSON Schema written from Heroku's
documented app.json keys, then for what this bot needs from it."""
import json
import os

import jsonschema
import pytest

from settings import from_environment

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_TEXT = {"type": "string"}
_URL = {"type": "string", "format": "uri", "pattern": "^https?://"}
_VARIABLE_NAME = {"pattern": "^[A-Z][A-Z0-9_]*$"}
_ENV = {
    "type": "object",
    "propertyNames": _VARIABLE_NAME,
    "additionalProperties": {"oneOf": [
        _TEXT,                                      # shorthand for {"value": ...}
        {"type": "object", "additionalProperties": False, "properties": {
            "description": _TEXT,
            "value": _TEXT,                         # always a string, numbers too
            "required": {"type": "boolean"},        # true unless said otherwise
            "generator": {"enum": ["secret"]},
        }},
    ]},
}
_SCRIPTS = {"type": "object", "additionalProperties": _TEXT,
            "propertyNames": {"enum": ["postdeploy", "pr-predestroy", "test-setup", "test"]}}
_FORMATION = {
    "type": "object",
    "propertyNames": {"pattern": "^[a-zA-Z0-9_-]+$"},
    "additionalProperties": {"type": "object", "additionalProperties": False,
                             "required": ["quantity"], "properties": {
        "quantity": {"type": "integer", "minimum": 0},
        "size": {"enum": ["eco", "basic", "standard-1x", "standard-2x", "performance-m",
                          "performance-l", "private-s", "private-m", "private-l", "shield-s",
                          "shield-m", "shield-l"]},
    }},
}
_ADDONS = {"type": "array", "items": {"oneOf": [
    _TEXT,                                          # "heroku-redis:mini"
    {"type": "object", "additionalProperties": False, "required": ["plan"], "properties": {
        "plan": {"type": "string", "pattern": "^[a-z0-9-]+(:[a-z0-9-]+)?$"},
        "as": _VARIABLE_NAME,
        "options": {"type": "object"},
    }},
]}}
_BUILDPACKS = {"type": "array", "items": {"type": "object", "additionalProperties": False,
                                          "required": ["url"], "properties": {"url": _TEXT}}}
APP_JSON_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 3, "maxLength": 30},
        "description": {"type": "string", "maxLength": 140},
        "keywords": {"type": "array", "items": _TEXT},
        "website": _URL,
        "repository": _URL,
        "logo": _URL,
        "success_url": {"type": "string", "pattern": "^(/|https?://)"},
        "scripts": _SCRIPTS,
        "env": _ENV,
        "formation": _FORMATION,
        "image": _TEXT,
        "addons": _ADDONS,
        "buildpacks": _BUILDPACKS,
        # Per-environment overrides (test, review) of the same keys.
        "environments": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False, "properties": {
                "scripts": _SCRIPTS, "env": _ENV, "formation": _FORMATION, "addons": _ADDONS,
                "buildpacks": _BUILDPACKS}}},
        "stack": {"type": "string", "pattern": "^(heroku-[0-9]+|container)$"},
    },
}
VALIDATOR = jsonschema.Draft202012Validator(APP_JSON_SCHEMA,
                                            format_checker=jsonschema.FormatChecker())


def read(name):
    with open(os.path.join(ROOT, name), encoding="utf-8") as file:
        return file.read()


@pytest.fixture(scope="module")
def app_json():
    return json.loads(read("app.json"))


def test_app_json_follows_herokus_schema(app_json):
    jsonschema.Draft202012Validator.check_schema(APP_JSON_SCHEMA)
    assert [error.message for error in VALIDATOR.iter_errors(app_json)] == []


@pytest.mark.parametrize("mistake", [
    {"formation": {"web": {"quantity": 1, "size": "huge"}}},
    {"formation": {"web": {"size": "basic"}}},
    {"env": {"MAX_REASKS": {"value": 10}}},
    {"env": {"lower_case": "x"}},
    {"addons": [{"as": "REDIS"}]},
    {"buildpacks": ["heroku/python"]},
    {"keyword": ["typo"]},
])
def test_the_schema_rejects_what_heroku_would(app_json, mistake):
    assert list(VALIDATOR.iter_errors({**app_json, **mistake}))


def test_app_json_asks_for_both_line_secrets_and_brings_redis(app_json):
    env = app_json["env"]
    for name in ("CHANNEL_SECRET", "CHANNEL_ACCESS_TOKEN"):
        assert env[name]["required"] is True and "value" not in env[name]  # asked, never shipped
    assert [addon["plan"].split(":")[0] for addon in app_json["addons"]] == ["heroku-redis"]
    # One process holds every user's timers: one web dyno that never sleeps (eco dynos do).
    assert app_json["formation"] == {"web": {"quantity": 1, "size": "basic"}}
    assert app_json["buildpacks"] == [{"url": "heroku/python"}]


def test_every_variable_in_app_json_is_one_the_bot_reads(app_json):
    defaults = {name: spec["value"] for name, spec in app_json["env"].items() if "value" in spec}
    settings = from_environment({**defaults, "CHANNEL_SECRET": "s", "CHANNEL_ACCESS_TOKEN": "t",
                                 "REDIS_URL": "rediss://:p@redis.example:6380", "DYNO": "web.1"})
    read_back = {"CHANNEL_SECRET": settings.channel_secret,
                 "CHANNEL_ACCESS_TOKEN": settings.channel_access_token,
                 "BOT_TIMEZONE": settings.timezone, "LOG_LEVEL": settings.log_level}
    assert set(app_json["env"]) == set(read_back)
    assert {name: read_back[name] for name in defaults} == defaults


def test_heroku_runs_python_web_py_on_the_pinned_python():
    assert read("Procfile").splitlines() == ["web: gunicorn -c gunicorn.conf.py"]
    assert read(".python-version").strip() == "3.11"
