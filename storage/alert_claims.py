"""Leases on telling a watcher an alert (keys.alert_claim): one process at a time tells one
watcher one alert (scripts/claim_alert.lua); the push's retry key, derived from the same
three names, makes a second telling one LINE answers 409."""
from storage import lua
from storage.outage import outage_aware
from storage.processes import _ms


class AlertClaims:
    def __init__(self, client, pipeliner, outage, token: str, layout):
        self.outage = outage
        self.token = token
        self.keys = layout
        self._pipeliner = pipeliner
        self._claim_alert = lua.register(client, "claim_alert.lua")

    @outage_aware
    def claim(self, user_id: str, alert_id: str, watcher: str, lease_seconds: float) -> float:
        """0.0 when this process may tell `watcher` the alert now, else the seconds another
        process still holds it."""
        key = self.keys.alert_claim(user_id, alert_id, watcher)
        held = self._pipeliner.call(lambda pipe: self._claim_alert(
            keys=[key], args=[self.token, _ms(lease_seconds)], client=pipe), key)
        return held / 1000.0
