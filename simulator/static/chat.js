// The chat page of the local LINE simulator. Plain JavaScript, no build step.
// Everything lives in the simulator process (GET /api/state); changes arrive as server-sent
// events (GET /api/events), so pushes appear without a reload and a reload loses nothing.
"use strict";

(function () {
  var BUNNY =
    '<svg viewBox="0 0 64 64" aria-hidden="true"><rect width="64" height="64" fill="#ffe3ec"/>' +
    '<ellipse cx="23" cy="20" rx="6.5" ry="15" fill="#fff" stroke="#e4c9d2"/>' +
    '<ellipse cx="41" cy="20" rx="6.5" ry="15" fill="#fff" stroke="#e4c9d2"/>' +
    '<ellipse cx="23" cy="21" rx="3" ry="10" fill="#ffb8ca"/>' +
    '<ellipse cx="41" cy="21" rx="3" ry="10" fill="#ffb8ca"/>' +
    '<ellipse cx="32" cy="42" rx="19" ry="16" fill="#fff" stroke="#e4c9d2"/>' +
    '<circle cx="25" cy="40" r="2.3" fill="#33261f"/><circle cx="39" cy="40" r="2.3" fill="#33261f"/>' +
    '<ellipse cx="32" cy="45" rx="2.4" ry="1.7" fill="#ff8fab"/>' +
    '<circle cx="20" cy="47" r="3.2" fill="#ffc9d6"/><circle cx="44" cy="47" r="3.2" fill="#ffc9d6"/></svg>';

  // What the sticker button can send (LINE ids); the page draws its own pictures.
  var STICKERS = [
    {packageId: "446", stickerId: "1988", caption: "OK!", color: "#06c755"},
    {packageId: "446", stickerId: "1989", caption: "ありがとう", color: "#ff7aa2"},
    {packageId: "446", stickerId: "1990", caption: "飲んだよ", color: "#4a90e2"},
    {packageId: "446", stickerId: "1991", caption: "おやすみ", color: "#8e6bd8"}
  ];
  var USER_COLORS = ["#5b8def", "#f2994a", "#9b51e0", "#27ae60", "#eb5757", "#2d9cdb"];

  var $ = function (id) { return document.getElementById(id); };
  var model = {bot: {}, users: [], byId: {}, current: null, unread: {}, seq: 0};
  var events = null;

  // -- talking to the simulator ---------------------------------------------------------
  function api(method, path, body) {
    var options = {method: method, headers: {}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
        return data;
      });
    });
  }

  function load() {
    return api("GET", "/api/state").then(function (state) {
      model.bot = state.bot || {};
      model.users = [];
      model.byId = {};
      state.users.forEach(addUserToModel);
      model.seq = state.seq;
      var saved = localStorage.getItem("usa-sim-current");
      model.current = model.byId[saved] ? saved : (model.users[0] ? model.users[0].id : null);
      renderInfo();
      renderAll();
      listen(state.seq);
      if (!model.users.length) return addUser();
    });
  }

  function listen(since) {
    if (events) events.close();
    events = new EventSource("/api/events?since=" + since);
    events.addEventListener("message", function (e) { onMessage(JSON.parse(e.data).message); });
    events.addEventListener("update", function (e) { onUpdate(JSON.parse(e.data).message); });
    events.addEventListener("user", function (e) { onUser(JSON.parse(e.data).user); });
    events.addEventListener("reset", function () { events.close(); load(); });
  }

  function addUser() {
    return api("POST", "/api/users", {}).then(function (user) {
      onUser(user);
      select(user.id);
    });
  }

  function send(body) {
    var user = currentUser();
    if (!user) return Promise.resolve();
    hide($("quick-replies"));
    return api("POST", "/api/users/" + user.id + "/messages", body).catch(showError);
  }

  function showError(error) {
    var list = $("messages");
    list.appendChild(noteElement("送れませんでした: " + error.message));
    scrollDown();
  }

  // -- events from the simulator ----------------------------------------------------------
  function addUserToModel(user) {
    var known = model.byId[user.id];
    if (known) {
      known.name = user.name;
      known.blocked = user.blocked;
      return known;
    }
    user.messages = user.messages || [];
    model.users.push(user);
    model.byId[user.id] = user;
    return user;
  }

  function onUser(summary) {
    addUserToModel(summary);
    renderUsers();
    if (summary.id === model.current) renderChatChrome();
  }

  function onMessage(message) {
    var user = model.byId[message.user];
    if (!user) return;
    if (user.messages.some(function (m) { return m.id === message.id; })) return;
    user.messages.push(message);
    if (message.user === model.current) {
      appendMessage(message, user.messages[user.messages.length - 2]);
      renderQuickReplies();
      scrollDown();
    } else if (message.from === "bot") {
      model.unread[message.user] = (model.unread[message.user] || 0) + 1;
    }
    renderUsers();
  }

  function onUpdate(message) {
    var user = model.byId[message.user];
    if (!user) return;
    for (var i = 0; i < user.messages.length; i++) {
      if (user.messages[i].id === message.id) user.messages[i] = message;
    }
    var element = document.querySelector('[data-message-id="' + message.id + '"] .meta');
    if (element) element.replaceWith(metaElement(message));
  }

  // -- rendering ----------------------------------------------------------------------------
  function currentUser() { return model.byId[model.current] || null; }

  function select(userId) {
    model.current = userId;
    model.unread[userId] = 0;
    localStorage.setItem("usa-sim-current", userId);
    renderAll();
  }

  function renderAll() {
    renderUsers();
    renderChatChrome();
    renderMessages();
  }

  function renderInfo() {
    var bot = model.bot;
    $("bot-name").textContent = bot.name || "ボット";
    var interval = bot.snoozeIntervalSeconds;
    var text = interval ? "再通知は " + formatInterval(interval) + "ごと(最大 " + bot.maxReasks + " 回)" : "";
    $("interval-note").textContent = text;
    $("settings-info").textContent = text + (bot.timezone ? " · " + bot.timezone : "");
    if (bot.debugUrl) {
      $("debug-link").href = bot.debugUrl;
      $("debug-link").hidden = false;
    }
    document.querySelector(".chat-head .avatar").innerHTML = BUNNY;
  }

  function renderUsers() {
    var list = $("users");
    list.textContent = "";
    model.users.forEach(function (user, index) {
      var item = document.createElement("li");
      item.dataset.userId = user.id;
      if (user.id === model.current) item.className = "current";
      var avatar = document.createElement("span");
      avatar.className = "user-avatar";
      avatar.style.background = USER_COLORS[index % USER_COLORS.length];
      avatar.textContent = (user.name || "?").slice(-1);
      var who = document.createElement("span");
      who.className = "who";
      var name = document.createElement("span");
      name.className = "name";
      name.textContent = user.name;
      var preview = document.createElement("span");
      preview.className = "preview";
      var last = user.messages[user.messages.length - 1];
      preview.textContent = user.blocked ? "ブロック中" : (last ? previewText(last) : "");
      if (user.blocked) preview.classList.add("blocked-tag");
      who.appendChild(name);
      who.appendChild(preview);
      item.appendChild(avatar);
      item.appendChild(who);
      if (model.unread[user.id]) {
        var badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = model.unread[user.id];
        item.appendChild(badge);
      }
      item.addEventListener("click", function () { select(user.id); });
      list.appendChild(item);
    });
  }

  function renderChatChrome() {
    var user = currentUser();
    $("chat-user").textContent = user ? user.name + " としてトーク中" : "";
    var blocked = !!(user && user.blocked);
    $("block").textContent = blocked ? "ブロック解除" : "ブロック";
    $("block").disabled = !user;
    $("composer").hidden = blocked || !user;
    $("blocked-bar").hidden = !blocked;
    if (blocked) { hide($("stickers")); }
    renderQuickReplies();
  }

  function renderMessages() {
    var list = $("messages");
    list.textContent = "";
    var user = currentUser();
    if (!user) {
      var empty = document.createElement("div");
      empty.className = "empty-chat";
      empty.textContent = "「＋ 友だち追加」でユーザーを作ってください";
      list.appendChild(empty);
      return;
    }
    var previous = null;
    user.messages.forEach(function (message) {
      appendMessage(message, previous);
      previous = message;
    });
    renderQuickReplies();
    scrollDown();
  }

  function appendMessage(message, previous) {
    var list = $("messages");
    if (!previous || dayKey(previous.at) !== dayKey(message.at)) {
      var day = document.createElement("div");
      day.className = "day";
      var label = document.createElement("span");
      label.textContent = formatDay(message.at);
      day.appendChild(label);
      list.appendChild(day);
    }
    if (message.from === "note") {
      list.appendChild(noteElement(message.text));
      return;
    }
    var row = document.createElement("div");
    row.className = "msg " + message.from;
    row.dataset.messageId = message.id;
    var body = document.createElement("div");
    body.className = "body";
    if (message.from === "bot") {
      var first = !previous || previous.from !== "bot" || message.at - previous.at > 60000;
      var avatar = document.createElement("span");
      avatar.className = "avatar" + (first ? "" : " spacer");
      if (first) avatar.innerHTML = BUNNY;
      row.appendChild(avatar);
      if (first) {
        var sender = document.createElement("span");
        sender.className = "sender";
        sender.textContent = model.bot.name || "ボット";
        body.appendChild(sender);
      }
    }
    var line = document.createElement("div");
    line.className = "line";
    if (message.type === "sticker") {
      var holder = document.createElement("span");
      holder.className = "sticker";
      holder.innerHTML = stickerSvg(findSticker(message.sticker));
      holder.setAttribute("aria-label", "スタンプ");
      line.appendChild(holder);
    } else {
      var bubble = document.createElement("div");
      bubble.className = "bubble";
      bubble.textContent = message.text;
      line.appendChild(bubble);
    }
    line.appendChild(metaElement(message));
    body.appendChild(line);
    row.appendChild(body);
    list.appendChild(row);
  }

  function metaElement(message) {
    var meta = document.createElement("span");
    meta.className = "meta";
    if (message.from === "user" && message.status === "read") {
      var read = document.createElement("span");
      read.className = "read";
      read.textContent = "既読";
      meta.appendChild(read);
    } else if (message.from === "user" && message.status === "failed") {
      var failed = document.createElement("span");
      failed.className = "failed";
      failed.textContent = "未送信";
      meta.appendChild(failed);
    }
    meta.appendChild(document.createTextNode(formatTime(message.at)));
    return meta;
  }

  function noteElement(text) {
    var note = document.createElement("div");
    note.className = "note";
    var span = document.createElement("span");
    span.textContent = text;
    note.appendChild(span);
    return note;
  }

  // LINE shows the quick-reply buttons of the last message until the user sends anything.
  function renderQuickReplies() {
    var bar = $("quick-replies");
    bar.textContent = "";
    var user = currentUser();
    var last = user && user.messages[user.messages.length - 1];
    var items = (last && last.from === "bot" && !user.blocked && last.quickReply) || [];
    items.forEach(function (item) {
      if (item.type !== "postback" && item.type !== "message") return;
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = item.label || item.displayText || item.text || item.data;
      button.addEventListener("click", function () {
        if (item.type === "postback") {
          send({type: "postback", data: item.data, displayText: item.displayText || null});
        } else {
          send({type: "text", text: item.text});
        }
      });
      bar.appendChild(button);
    });
    bar.hidden = !bar.children.length;
  }

  function renderStickerPalette() {
    var palette = $("stickers");
    palette.textContent = "";
    STICKERS.forEach(function (sticker) {
      var button = document.createElement("button");
      button.type = "button";
      button.title = sticker.caption;
      button.setAttribute("aria-label", "スタンプ " + sticker.caption);
      button.innerHTML = stickerSvg(sticker);
      button.addEventListener("click", function () {
        hide(palette);
        $("sticker-button").classList.remove("open");
        send({type: "sticker", packageId: sticker.packageId, stickerId: sticker.stickerId});
      });
      palette.appendChild(button);
    });
  }

  function findSticker(ids) {
    ids = ids || {};
    for (var i = 0; i < STICKERS.length; i++) {
      if (STICKERS[i].packageId === ids.packageId && STICKERS[i].stickerId === ids.stickerId) {
        return STICKERS[i];
      }
    }
    return {caption: "スタンプ", color: "#999"};
  }

  function stickerSvg(sticker) {
    var caption = String(sticker.caption).replace(/[<>&"]/g, "");
    return '<svg viewBox="0 0 120 120" aria-hidden="true">' +
      '<ellipse cx="44" cy="30" rx="10" ry="24" fill="#fff" stroke="#d8c3cb" stroke-width="2"/>' +
      '<ellipse cx="76" cy="30" rx="10" ry="24" fill="#fff" stroke="#d8c3cb" stroke-width="2"/>' +
      '<ellipse cx="44" cy="32" rx="4.5" ry="15" fill="#ffb8ca"/>' +
      '<ellipse cx="76" cy="32" rx="4.5" ry="15" fill="#ffb8ca"/>' +
      '<ellipse cx="60" cy="64" rx="30" ry="25" fill="#fff" stroke="#d8c3cb" stroke-width="2"/>' +
      '<path d="M46 61q4-5 8 0M66 61q4-5 8 0" stroke="#33261f" stroke-width="3" fill="none" stroke-linecap="round"/>' +
      '<ellipse cx="60" cy="68" rx="3.5" ry="2.5" fill="#ff8fab"/>' +
      '<circle cx="40" cy="70" r="5" fill="#ffc9d6"/><circle cx="80" cy="70" r="5" fill="#ffc9d6"/>' +
      '<rect x="12" y="92" width="96" height="24" rx="12" fill="' + sticker.color + '"/>' +
      '<text x="60" y="109" text-anchor="middle" font-size="14" font-weight="bold" fill="#fff">' +
      caption + "</text></svg>";
  }

  // -- time, in the bot's zone, on the simulator's clock ------------------------------------
  function zone() { return model.bot.timezone || undefined; }

  function parts(ms) {
    var out = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone(), year: "numeric", month: "numeric", day: "numeric",
      hour: "numeric", minute: "2-digit", weekday: "short", hourCycle: "h23"
    }).formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }

  function formatTime(ms) { var p = parts(ms); return Number(p.hour) + ":" + p.minute; }
  function dayKey(ms) { var p = parts(ms); return p.year + "-" + p.month + "-" + p.day; }

  function formatDay(ms) {
    var p = parts(ms);
    var weekdays = {Sun: "日", Mon: "月", Tue: "火", Wed: "水", Thu: "木", Fri: "金", Sat: "土"};
    return p.month + "/" + p.day + "(" + (weekdays[p.weekday] || p.weekday) + ")";
  }

  function formatInterval(seconds) {
    if (seconds % 60 === 0) return (seconds / 60) + "分";
    return seconds + "秒";
  }

  function previewText(message) {
    if (message.type === "sticker") return "スタンプを送信しました";
    return message.text;
  }

  // "Remind me in 1 minute": an ordinary chat text with the next minute on the simulator's
  // clock, in the bot's zone (e.g. 7時31分). The bot cannot tell it from typing it.
  function inAMinute() {
    return api("GET", "/api/clock").then(function (clock) {
      var p = parts(clock.now + 60000);
      return send({type: "text", text: Number(p.hour) + "時" + Number(p.minute) + "分"});
    });
  }

  // -- small helpers -------------------------------------------------------------------------
  function hide(element) { element.hidden = true; }
  function scrollDown() { var list = $("messages"); list.scrollTop = list.scrollHeight; }

  // -- wiring --------------------------------------------------------------------------------
  $("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("text");
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    send({type: "text", text: text});
    input.focus();
  });
  $("add-user").addEventListener("click", addUser);
  $("in-a-minute").addEventListener("click", inAMinute);
  $("block").addEventListener("click", function () {
    var user = currentUser();
    if (!user) return;
    api("POST", "/api/users/" + user.id + (user.blocked ? "/unblock" : "/block"), {})
      .then(onUser).catch(showError);
  });
  $("unblock").addEventListener("click", function () {
    var user = currentUser();
    if (user) api("POST", "/api/users/" + user.id + "/unblock", {}).then(onUser).catch(showError);
  });
  $("sticker-button").addEventListener("click", function () {
    var palette = $("stickers");
    palette.hidden = !palette.hidden;
    this.classList.toggle("open", !palette.hidden);
  });
  renderStickerPalette();
  load().catch(showError);
})();
