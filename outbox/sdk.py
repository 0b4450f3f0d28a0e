"""The line-bot-sdk's MessagingApi, for what it is good at: the account's side of the API
(display names, the message quota) and checking message objects (Flex) against its models.

Importing `linebot.v3.messaging` takes ~1 s and ~45 MB (pydantic, 244 models of the SDK's
two halves, aiohttp and requests), and pushes and replies no longer need it (outbox/http.py),
so it is imported on first use: a start-up and a day of asks and replies never load it."""
from typing import Optional


def api_exception() -> type:
    """The SDK's ApiException (raised for LINE's non-2xx answers)."""
    from linebot.v3.messaging import ApiException
    return ApiException


def checked_message(message: dict) -> dict:
    """A LINE message object as the SDK's models read and write it; ValueError (pydantic's
    ValidationError) with the SDK's reason when LINE would refuse it."""
    from linebot.v3.messaging import Message
    return Message.from_dict(message).to_dict()


class LazyMessagingApi:
    """Stands in for `MessagingApi(ApiClient(...))` and builds it on the first call."""

    def __init__(self, base_url: str, access_token: str, *, pool_size: int):
        self._base_url = base_url
        self._access_token = access_token
        self._pool_size = pool_size
        self._api: Optional[object] = None

    def __getattr__(self, name):
        # Only reached for names not set in __init__: the MessagingApi's methods.
        if name.startswith("_"):
            raise AttributeError(name)
        if self._api is None:
            from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

            configuration = Configuration(host=self._base_url, access_token=self._access_token)
            configuration.connection_pool_maxsize = self._pool_size
            configuration.retries = False  # callers decide about retries
            self._api = MessagingApi(ApiClient(configuration))
        return getattr(self._api, name)
