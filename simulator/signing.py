"""The X-Line-Signature that LINE puts on every webhook request."""

import base64
import hashlib
import hmac


def sign(channel_secret: str, body: bytes) -> str:
    """Base64 of HMAC-SHA256(channel secret, request body), as LINE computes it."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")
