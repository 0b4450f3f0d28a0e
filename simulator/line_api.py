"""What the LINE Messaging API answers, spelled once for both stand-ins: the simulator's
(`simulator.platform`) and the benchmark's (`bench.standin`). Constants only, so that the
benchmark's stand-in can import it before its monkey patching without pulling in ssl."""
PUSH_PATH = "/v2/bot/message/push"
MULTICAST_PATH = "/v2/bot/message/multicast"
MULTICAST_MAX = 500
REPLY_PATH = "/v2/bot/message/reply"
LOADING_PATH = "/v2/bot/chat/loading/start"

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

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
