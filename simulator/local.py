"""LINE on this machine: the platform stand-in and the chat page on one local port.

Simulator mode (``python web.py`` without LINE credentials) starts one of these in the bot's
process; the bot reaches it only over HTTP, as it would reach LINE. On start it installs the
bot's rich menu on the stand-in, as `make richmenu` does on LINE, so the chat page shows it.
"""

import logging
import time
from typing import Optional

from gevent import monkey

from outbox import richmenu
from simulator.chat import ChatHub, create_app
from simulator.platform import LinePlatform

log = logging.getLogger(__name__)


class LocalLine:
    """``LinePlatform`` + ``ChatHub``; the chat page is at ``chat_url``."""

    def __init__(self, channel_secret: str, channel_token: str, *, info: Optional[dict] = None,
                 history_path: Optional[str] = None, clock=time.time):
        self.platform = LinePlatform(channel_secret, channel_token)
        self.hub = ChatHub(self.platform, info=info, history_path=history_path, clock=clock)
        self.platform.mount(create_app(self.hub))

    def start(self, port: int = 0) -> "LocalLine":
        """Serve on 127.0.0.1:port, or on a free port when that one is taken (or 0)."""
        try:
            self.platform.start("127.0.0.1", port)
        except OSError as exc:
            if not port:
                raise
            log.info("port %d is taken (%s); the simulator takes a free one", port, exc)
            self.platform.start("127.0.0.1", 0)
        self._install_rich_menu()
        return self

    def _install_rich_menu(self) -> None:
        # The installer talks HTTP to this very process: that needs cooperative sockets.
        if not monkey.is_module_patched("socket"):
            log.info("sockets not patched by gevent: the simulator has no rich menu")
            return
        try:
            installed = richmenu.install(self.base_url, self.platform.channel_token, timeout=5)
        except Exception as exc:  # the chat works without a menu
            log.warning("the simulator's rich menu was not installed: %s", type(exc).__name__)
            return
        log.info("simulator: %s", installed.describe())

    @property
    def base_url(self) -> str:
        """The bot's LINE_API_BASE_URL."""
        return self.platform.base_url

    @property
    def chat_url(self) -> str:
        return self.platform.base_url + "/"

    def connect_bot(self, callback_url: str, debug_url: Optional[str] = None) -> None:
        """Send webhooks to ``callback_url``; the page links to ``debug_url``."""
        self.platform.webhook_url = callback_url
        if debug_url:
            self.hub.info["debugUrl"] = debug_url

    def stop(self) -> None:
        self.hub.close()
        self.platform.stop()
