"""GET /debug: what the actors are doing, as an HTML page that refreshes itself.

`render(snapshot)` takes `ActorSystem.snapshot()` with the web edge's additions (users'
display names, the month's message quota: the same data as /debug/actors) and returns the
whole page. The page re-fetches its own URL every few seconds and swaps in the new
snapshot; without JavaScript it falls back to a meta refresh.
"""
import time
from datetime import datetime, timezone
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

REFRESH_SECONDS = 2

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Hiragino Sans","IPAPGothic",sans-serif;margin:0;
  background:#f4f6f8;color:#1e2a33}
header{background:#06c755;color:#fff;padding:12px 20px}
header h1{font-size:18px;margin:0}header p{margin:2px 0 0;opacity:.9;font-size:12px}
main{padding:16px 20px}
.cards{display:flex;gap:10px;flex-wrap:wrap;margin-bottom:16px}
.card{background:#fff;border-radius:8px;padding:8px 14px;box-shadow:0 1px 2px #0002;min-width:110px}
.card b{display:block;font-size:20px}.card span{font-size:12px;color:#5b6b77}
.card.bad{background:#ffe9e9;color:#a40000}.card.warn{background:#fff4d6;color:#8a5a00}
h2{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px #0002;border-radius:8px;
  overflow:hidden;min-width:60%}
th,td{padding:6px 10px;text-align:left;border-bottom:1px solid #e6eaee;white-space:nowrap}
th{background:#eef2f5;font-size:12px;color:#41515d}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;background:#e6eaee}
.asking,.exhausted{background:#fff2c2}.taken{background:#d9f7e4}.late{background:#ffefd6}
.missed{background:#ffe0e0}.time{white-space:nowrap;margin:1px 0}
.awake{background:#d6ecff}.rel{color:#5b6b77;font-size:12px}
.empty{color:#5b6b77;padding:8px 0}
"""

_SCRIPT = """
(function () {
  var every = %d * 1000;
  function refresh() {
    fetch(location.href, {cache: "no-store", credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("snapshot");
        if (next) document.getElementById("snapshot").replaceWith(next);
        document.getElementById("status").textContent = "";
      })
      .catch(function (e) {
        document.getElementById("status").textContent = "(refresh failed: " + e.message + ")";
      })
      .finally(function () { setTimeout(refresh, every); });
  }
  setTimeout(refresh, every);
})();
""" % REFRESH_SECONDS


def render(snapshot: dict, *, now: float = None, zone: str = "UTC") -> str:
    """The page; `now` is the bot's clock, `zone` the zone "now" is shown in."""
    now = time.time() if now is None else now
    users = snapshot.get("users", [])
    due = snapshot.get("due", {})
    outbox = snapshot.get("outbox", {})
    return f"""<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<noscript><meta http-equiv="refresh" content="{REFRESH_SECONDS * 3}"></noscript>
<title>usa-reminder · actors</title><style>{_STYLE}</style></head>
<body><header><h1>usa-reminder · actors</h1>
<p>refreshes every {REFRESH_SECONDS} s <span id="status"></span></p></header>
<main id="snapshot">
<div class="cards">
{_card(due.get("count", 0), "users with a due time (Redis)")}
{_card(snapshot.get("awake_count", 0), "awake (greenlet)")}
{_card(outbox.get("in_flight", 0), "requests in flight")}
{_card(outbox.get("asks_waiting", 0), "asks waiting for a batch")}
{_card(outbox.get("replies_owed", 0), "replies owed to webhooks")}
{_card("yes" if outbox.get("quota_exhausted") else "no", "quota exhausted",
       style="bad" if outbox.get("quota_exhausted") else "")}
{_quota_card(snapshot.get("quota"))}
{_card(snapshot.get("watch_alerts_this_month", 0), "watch alerts sent this month")}
{_card(_clock(now, zone), f"snapshot ({zone})")}
</div>
<h2>User actors</h2>
{_users_table(users, now, zone)}
<h2>Next due times (the due index)</h2>
{_due_table(due.get("next", []), users, now, zone)}
</main>
<script>{_SCRIPT}</script>
</body></html>
"""


def _card(value, label, style=""):
    return (f'<div class="card{" " + style if style else ""}"><b>{escape(str(value))}</b>'
            f'<span>{escape(label)}</span></div>')


def _quota_card(quota):
    """Messages used this month out of LINE's limit; a warning from 80 %, bad when used up."""
    label = "messages used / limit this month"
    if not quota:
        return _card("…", label + " (asking LINE)")
    if quota.get("limit") is None:
        return _card(f"{quota['used']} / no limit", label)
    share = quota.get("share") or 0.0
    style = "bad" if share >= 1 else "warn" if quota.get("warning") else ""
    return _card(f"{quota['used']} / {quota['limit']}", f"{label} ({share:.0%})", style=style)


def _users_table(users, now, zone):
    if not users:
        return '<p class="empty">No users yet: say a time to the bot.</p>'
    rows = []
    for user in users:
        tz = user.get("tz") or zone
        awake = user.get("awake")
        rows.append(
            "<tr>"
            f"<td>{_user(user.get('user'), user.get('name'))}<br>"
            f"<span class=\"rel\">{escape(tz)}</span></td>"
            f"<td>{_times(user.get('times') or [], tz, now)}</td>"
            f"<td>{_moment(user.get('next_due'), tz, now)}</td>"
            f"<td class=num>{int(user.get('pushes_this_month') or 0)}</td>"
            f"<td class=num>{int(user.get('watchers') or 0)}</td>"
            f'<td><span class="pill{" awake" if awake else ""}">'
            f"{'awake' if awake else 'hibernating'}</span></td>"
            f"<td class=num>{int(user.get('mailbox') or 0)}</td>"
            "</tr>")
    return ("<table><thead><tr><th>user (zone)</th><th>each time: its round (day), asks, "
            "re-asks sent, next due, answered</th><th>next due (local)</th>"
            "<th>pushes this month</th><th>watchers</th><th>actor</th>"
            "<th>mailbox</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _times(times, tz, now):
    if not times:
        return "—"
    lines = []
    for entry in times:
        state = entry.get("round") or "no round yet"
        day = f' <span class="rel">{escape(entry["day"])}</span>' if entry.get("day") else ""
        answered = (f" · answered {_moment(entry['answered_at'], tz, now)}"
                    if entry.get("answered_at") else "")
        lines.append(
            f'<div class="time"><b>{escape(entry.get("time") or "?")}</b> '
            f'<span class="pill {escape(entry.get("round") or "")}">{escape(state)}</span>'
            f"{day} · asks {int(entry.get('asks') or 0)}"
            f" · re-asks sent {int(entry.get('reasks_sent') or 0)}"
            f" · next {_moment(entry.get('next_due'), tz, now)}{answered}</div>")
    return "".join(lines)


def _due_table(entries, users, now, zone):
    """Due times in each user's zone where the snapshot lists the user, else the bot's."""
    if not entries:
        return '<p class="empty">Nothing queued.</p>'
    zones = {user.get("user"): user.get("tz") or zone for user in users}
    names = {user.get("user"): user.get("name") for user in users}
    rows = "".join(
        f"<tr><td>{_moment(entry.get('due'), zones.get(entry.get('user'), zone), now)}</td>"
        f"<td>{_user(entry.get('user'), names.get(entry.get('user')))}</td></tr>"
        for entry in entries)
    return ("<table><thead><tr><th>due (local)</th><th>user</th></tr></thead><tbody>"
            + rows + "</tbody></table>")


def _user(user_id, name=None):
    """`name (U1234ab…)`, or the short id alone while the name is not known."""
    user_id = user_id or "?"
    short = f'<code title="{escape(user_id)}">{escape(user_id[:7])}…</code>'
    return f"{escape(name)} ({short})" if name else short


def _zone(name):
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.utc


def _clock(epoch, tz):
    return datetime.fromtimestamp(epoch, _zone(tz)).strftime("%H:%M:%S")


def _moment(epoch, tz, now):
    if epoch is None:
        return "—"
    local = datetime.fromtimestamp(epoch, _zone(tz))
    return (f"{escape(local.strftime('%m/%d %H:%M:%S'))} "
            f'<span class="rel">{escape(_relative(epoch - now))}</span>')


def _relative(seconds):
    ahead = seconds >= 0
    seconds = abs(int(round(seconds)))
    if seconds < 60:
        text = f"{seconds} s"
    elif seconds < 3600:
        text = f"{seconds // 60} min {seconds % 60} s"
    elif seconds < 86400:
        text = f"{seconds // 3600} h {seconds % 3600 // 60} min"
    else:
        text = f"{seconds // 86400} d {seconds % 86400 // 3600} h"
    return f"in {text}" if ahead else f"{text} ago"
