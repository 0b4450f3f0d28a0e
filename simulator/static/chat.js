// The chat page of the local LINE simulator. Plain JavaScript, no build step.
// Everything lives in the simulator process (GET /api/state); changes arrive as server-sent
// events (GET /api/events), so pushes appear without a reload and a reload loses nothing.
// Flex Messages are drawn by flex.js (LineFlex); the bot's default rich menu sits under the chat.
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
  // What the location button can send: a few places in different time zones.
  var PLACES = [
    {name: "東京", title: "東京駅", address: "東京都千代田区丸の内1丁目",
     latitude: 35.681236, longitude: 139.767125},
    {name: "ロンドン", title: "Trafalgar Square", address: "Trafalgar Sq, London WC2N 5DN, UK",
     latitude: 51.508039, longitude: -0.128069},
    {name: "ニューヨーク", title: "Times Square", address: "Manhattan, NY 10036, USA",
     latitude: 40.758, longitude: -73.985535},
    {name: "シドニー", title: "Sydney Opera House",
     address: "Bennelong Point, Sydney NSW 2000, Australia",
     latitude: -33.856784, longitude: 151.215297},
    {name: "ホノルル", title: "Waikiki Beach", address: "Honolulu, HI 96815, USA",
     latitude: 21.276, longitude: -157.827}
  ];
  var PIN =
    '<svg viewBox="0 0 24 32" aria-hidden="true">' +
    '<path d="M12 31S1.5 18.6 1.5 11.5a10.5 10.5 0 0 1 21 0C22.5 18.6 12 31 12 31z" ' +
    'fill="#f0483e" stroke="#b8322b"/><circle cx="12" cy="11.5" r="4" fill="#fff"/></svg>';
  var USER_COLORS = ["#5b8def", "#f2994a", "#9b51e0", "#27ae60", "#eb5757", "#2d9cdb"];

  var $ = function (id) { return document.getElementById(id); };
  var model = {bot: {}, users: [], byId: {}, current: null, unread: {}, seq: 0,
               richMenu: null, richMenuOpen: false};
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
      setRichMenu(state.richMenu || null);
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
    events.addEventListener("richmenu", function (e) { setRichMenu(JSON.parse(e.data).richMenu); });
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

  // A message or postback action (a quick-reply button, a Flex button, a rich menu area) does
  // what LINE does: a message action sends its text, a postback shows its displayText, a
  // datetimepicker opens a picker.
  function act(action) {
    if (action.type === "postback" && action.data) {
      return send({type: "postback", data: action.data, displayText: action.displayText || null});
    }
    if (action.type === "message" && action.text) return send({type: "text", text: action.text});
    if (action.type === "datetimepicker" && action.data && action.mode === "time") {
      openTimePicker(action);
    }
    return Promise.resolve();
  }

  // LINE's time picker: a dialog that starts at the action's initial time (else now, in the
  // bot's zone); OK sends the postback with params.time, "HH:mm", and shows nothing in the chat.
  var pickerAction = null;

  function openTimePicker(action) {
    closePalettes();
    pickerAction = action;
    var input = $("time-picker-input");
    var now = parts(Date.now());
    input.min = action.min || "";
    input.max = action.max || "";
    input.value = action.initial || (("0" + now.hour).slice(-2) + ":" + now.minute);
    $("time-picker-label").textContent = action.label || "時刻を選ぶ";
    $("time-picker").hidden = false;
    input.focus();
  }

  function closeTimePicker() {
    pickerAction = null;
    hide($("time-picker"));
  }

  function pickTime() {
    var action = pickerAction, time = $("time-picker-input").value;
    if (!action || !/^\d\d:\d\d$/.test(time)) return;
    closeTimePicker();
    send({type: "postback", data: action.data, params: {time: time}});
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
    closeTimePicker();
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
    if (blocked) { closePalettes(); }
    renderQuickReplies();
    renderRichMenu();
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
    var flex = message.type === "flex" ? LineFlex.render(message.flex, act) : null;
    if (message.type === "sticker") {
      var holder = document.createElement("span");
      holder.className = "sticker";
      holder.innerHTML = stickerSvg(findSticker(message.sticker));
      holder.setAttribute("aria-label", "スタンプ");
      line.appendChild(holder);
    } else if (flex) {
      row.classList.add("flex");
      line.appendChild(flex);
    } else if (message.type === "location" && message.location) {
      line.appendChild(locationCard(message.location));
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

  // LINE's location message: a map with a pin over the place's name and address.
  function locationCard(location) {
    var card = document.createElement("div");
    card.className = "location-card";
    var map = document.createElement("div");
    map.className = "map";
    map.innerHTML = PIN;
    var place = document.createElement("div");
    place.className = "place";
    var title = document.createElement("strong");
    title.textContent = location.title;
    var address = document.createElement("span");
    address.textContent = location.address;
    place.appendChild(title);
    place.appendChild(address);
    card.appendChild(map);
    card.appendChild(place);
    return card;
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
      if (item.type !== "postback" && item.type !== "message" && item.type !== "datetimepicker") {
        return;
      }
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = item.label || item.displayText || item.text || item.data;
      if (item.type === "datetimepicker") button.className = "picker";
      button.addEventListener("click", function () { act(item); });
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
        closePalettes();
        send({type: "sticker", packageId: sticker.packageId, stickerId: sticker.stickerId});
      });
      palette.appendChild(button);
    });
  }

  function renderPlacePalette() {
    var palette = $("places");
    palette.textContent = "";
    PLACES.forEach(function (place) {
      var button = document.createElement("button");
      button.type = "button";
      button.title = place.title + " — " + place.address;
      button.setAttribute("aria-label", "位置情報 " + place.name);
      var pin = document.createElement("span");
      pin.className = "pin";
      pin.innerHTML = PIN;
      var name = document.createElement("span");
      name.textContent = place.name;
      button.appendChild(pin);
      button.appendChild(name);
      button.addEventListener("click", function () {
        closePalettes();
        send({type: "location", title: place.title, address: place.address,
              latitude: place.latitude, longitude: place.longitude});
      });
      palette.appendChild(button);
    });
  }

  // The sticker and location palettes open one at a time, above the composer.
  function togglePalette(paletteId, buttonId) {
    var open = $(paletteId).hidden;
    closePalettes();
    $(paletteId).hidden = !open;
    $(buttonId).classList.toggle("open", open);
  }

  function closePalettes() {
    closeTimePicker();
    hide($("stickers"));
    hide($("places"));
    $("sticker-button").classList.remove("open");
    $("location-button").classList.remove("open");
  }

  // -- the rich menu: the bot's default menu under the chat, as LINE shows it -----------------
  function setRichMenu(menu) {
    var before = model.richMenu;
    if (JSON.stringify(before) === JSON.stringify(menu)) return;
    if (!menu || !before || before.id !== menu.id) model.richMenuOpen = !!(menu && menu.selected);
    model.richMenu = menu;
    renderRichMenu();
  }

  function renderRichMenu() {
    var menu = model.richMenu;
    var user = currentUser();
    var holder = $("rich-menu");
    holder.hidden = !menu || !user || user.blocked;
    if (holder.hidden) return;
    $("rich-menu-label").textContent = menu.chatBarText;
    $("rich-menu-bar").setAttribute("aria-expanded", String(model.richMenuOpen));
    holder.classList.toggle("open", model.richMenuOpen);
    var panel = $("rich-menu-panel");
    panel.hidden = !model.richMenuOpen;
    if (panel.dataset.drawn === JSON.stringify(menu)) return;
    panel.dataset.drawn = JSON.stringify(menu);
    panel.textContent = "";
    var width = menu.size.width, height = menu.size.height;
    panel.style.aspectRatio = width + " / " + height;
    panel.style.maxWidth = "calc(32vh * " + (width / height) + ")";
    panel.classList.toggle("no-image", !menu.image);
    if (menu.image) {
      var picture = document.createElement("img");
      picture.src = menu.image;
      picture.alt = "";
      panel.appendChild(picture);
    }
    menu.areas.forEach(function (area) {
      var b = area.bounds;
      var button = document.createElement("button");
      button.type = "button";
      button.className = "rich-menu-area";
      button.style.left = (100 * b.x / width) + "%";
      button.style.top = (100 * b.y / height) + "%";
      button.style.width = (100 * b.width / width) + "%";
      button.style.height = (100 * b.height / height) + "%";
      var label = area.action.label || area.action.text || area.action.displayText || "";
      button.setAttribute("aria-label", label);
      button.title = label;
      if (!menu.image) button.textContent = label;
      button.addEventListener("click", function () { act(area.action); });
      panel.appendChild(button);
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
    if (message.type === "location") return "位置情報を送信しました";
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
  $("time-picker").addEventListener("submit", function (e) {
    e.preventDefault();
    pickTime();
  });
  $("time-picker-cancel").addEventListener("click", closeTimePicker);
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
    togglePalette("stickers", "sticker-button");
  });
  $("location-button").addEventListener("click", function () {
    togglePalette("places", "location-button");
  });
  $("rich-menu-bar").addEventListener("click", function () {
    model.richMenuOpen = !model.richMenuOpen;
    renderRichMenu();
  });
  renderStickerPalette();
  renderPlacePalette();
  load().catch(showError);
})();
