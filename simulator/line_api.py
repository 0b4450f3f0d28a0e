"""What the LINE platform says, spelled once for both stand-ins and the benchmark's driver:
its API paths and answers, and its webhook event ids. Nothing here imports more than the
standard library, so benchmark processes can import it before their monkey patching."""
import os
import time

PUSH_PATH = "/v2/bot/message/push"
MULTICAST_PATH = "/v2/bot/message/multicast"
MULTICAST_MAX = 500
REPLY_PATH = "/v2/bot/message/reply"
LOADING_PATH = "/v2/bot/chat/loading/start"
PROFILE_PATH = "/v2/bot/profile/"                      # + user id
QUOTA_PATH = "/v2/bot/message/quota"
QUOTA_CONSUMPTION_PATH = "/v2/bot/message/quota/consumption"
RICH_MENU_PATH = "/v2/bot/richmenu"                    # POST: create; /{id}: GET, DELETE
RICH_MENU_LIST_PATH = "/v2/bot/richmenu/list"
DEFAULT_RICH_MENU_PATH = "/v2/bot/user/all/richmenu"   # GET, DELETE; POST /{id}: set

AUTH_FAILED = ("Authentication failed. Confirm that the access token in the authorization "
               "header is valid.")
RETRY_KEY_INVALID = "The value for the 'X-Line-Retry-Key' header is invalid"
RETRY_KEY_ACCEPTED = "The retry key is already accepted"
RATE_LIMITED = "Too Many Requests"
MONTHLY_LIMIT = "You have reached your monthly limit."
# What LINE documents for a push it could not deliver (e.g. an unknown user id); the stand-ins
# use it for users who blocked the bot, since LINE documents no specific answer for them.
FAILED_TO_SEND = "Failed to send messages"
INVALID_REPLY_TOKEN = "Invalid reply token"
NOT_FOUND = "Not found"

_CROCKFORD_BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


def new_webhook_event_id() -> str:
    """A ULID-shaped id: 26 Crockford base32 characters, 48-bit ms time + 80 random bits."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD_BASE32[value & 31])
        value >>= 5
    return "".join(reversed(chars))
