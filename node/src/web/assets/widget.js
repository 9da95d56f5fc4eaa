// ochat website widget. Served as /livechat/loader/{channel}.js; a page embeds it with one
// <script> tag. It finds the node and the channel from its own src, asks the node which rule
// applies to the page (POST …/{channel}/check), and shows the button, the button with its
// notification, opens the chat after the rule's delay, or shows nothing. On the direct chat
// link page (data-mode="page") the chat fills the page.
//
// Everything people write is put in the page with textContent, never as HTML.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.fetch) return;
  var src = new URL(script.src, location.href);
  var found = src.pathname.match(/\/livechat\/loader\/([0-9a-fA-F-]{36})\.js$/);
  if (!found) return;
  var BASE = src.origin;
  var CHANNEL = found[1];
  var PAGE_MODE = script.getAttribute("data-mode") === "page";
  var KEY_VISITOR = "ochat.visitor";
  var KEY_SESSION = "ochat.session." + CHANNEL;
  var KEY_PAGES = "ochat.pages";
  var DAY_MS = 24 * 3600 * 1000;

  // ---- storage (a browser may refuse it: the widget then forgets between pages) ----
  function load(key) {
    try { return JSON.parse(window.localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function save(key, value) {
    try {
      if (value === null) window.localStorage.removeItem(key);
      else window.localStorage.setItem(key, JSON.stringify(value));
    } catch (e) { /* private mode */ }
  }
  function visitorId() {
    var id = load(KEY_VISITOR);
    if (typeof id !== "string" || !id) {
      id = window.crypto && crypto.randomUUID ? crypto.randomUUID()
        : String(Date.now()) + "-" + String(Math.random()).slice(2);
      save(KEY_VISITOR, id);
    }
    return id;
  }
  // The last 15 distinct pages (path and query) of the last day, oldest first.
  function rememberPage() {
    var now = Date.now();
    var here = location.pathname + location.search;
    var pages = (load(KEY_PAGES) || []).filter(function (p) {
      return p && p.url !== here && now - p.at < DAY_MS;
    });
    pages.push({ url: here, at: now });
    pages = pages.slice(-15);
    save(KEY_PAGES, pages);
    return pages;
  }

  // ---- lc-identity: the visitor the website knows, and pages of the last day ----
  // The website's backend signs its logged-in visitor (see docs/livechat-identity.md); the
  // page hands the claim over, either as window.ochatIdentity = {id, name, email, timestamp,
  // signature} set before this script, or as data-identity-id, -name, -email, -timestamp and
  // -signature attributes on the script tag. The node checks it when the chat starts; a
  // claim it cannot check is kept as unverified. Nothing of it is shown to the visitor.
  function identityClaim() {
    var given = window.ochatIdentity;
    if (!given || typeof given !== "object") {
      var id = script.getAttribute("data-identity-id");
      if (!id) return null;
      given = {
        id: id,
        name: script.getAttribute("data-identity-name"),
        email: script.getAttribute("data-identity-email"),
        timestamp: script.getAttribute("data-identity-timestamp"),
        signature: script.getAttribute("data-identity-signature"),
      };
    }
    if (given.id === undefined || given.id === null || given.id === "") return null;
    var claim = { id: String(given.id), name: String(given.name || ""), email: String(given.email || "") };
    var ts = Number(given.timestamp);
    if (given.timestamp !== undefined && given.timestamp !== null && isFinite(ts) && ts >= 0) claim.timestamp = Math.floor(ts);
    if (given.signature) claim.signature = String(given.signature);
    return claim;
  }
  function withIdentity(body) {
    var claim = identityClaim();
    if (claim) body.identity = claim;
    return body;
  }
  // The remembered pages of the last day (older ones expire here too, not only on the node).
  function freshPages() {
    var now = Date.now();
    return (load(KEY_PAGES) || []).filter(function (p) { return p && p.url && now - p.at < DAY_MS; });
  }
  // ---- end lc-identity ----

  // ---- API ----
  function api(path, options) {
    options = options || {};
    var headers = { "content-type": "application/json" };
    if (options.token) headers.authorization = "Bearer " + options.token;
    return fetch(BASE + path, {
      method: options.method || "GET",
      headers: headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    }).then(function (resp) {
      if (resp.status === 204) return null;
      return resp.json().catch(function () { return null; }).then(function (json) {
        if (!resp.ok) {
          var err = new Error((json && json.error && json.error.message) || ("HTTP " + resp.status));
          err.status = resp.status;
          err.code = json && json.error && json.error.code;
          throw err;
        }
        return json;
      });
    });
  }

  // ---- DOM helpers ----
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function initial(name) {
    return (String(name || "?").trim().charAt(0) || "?").toUpperCase();
  }

  var cfg = null;
  var chat = null; // {id, token, operator}
  var seen = {};
  var ws = null;
  var retries = 0;
  var closed = false;
  var starting = null;
  var typingSent = 0;
  var typingTimer = null;
  var theirTypingTimer = null;
  var ui = {};

  function build() {
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = BASE + "/web/widget.css";
    document.head.appendChild(link);

    var root = el("div", "ochat-root" + (PAGE_MODE ? " ochat-page" : ""));
    root.setAttribute("data-ochat", "root");
    if (cfg.language) root.setAttribute("lang", cfg.language);

    if (!PAGE_MODE) {
      ui.button = el("button", "ochat-button", cfg.button_text || t("button"));
      ui.button.type = "button";
      ui.button.setAttribute("data-ochat", "button");
      ui.button.setAttribute("aria-expanded", "false");
      ui.button.style.background = cfg.button_color;
      ui.button.addEventListener("click", function () { toggle(); });
      if (cfg.action === "show_with_notification") {
        ui.notice = el("div", "ochat-notice", cfg.button_text);
        ui.notice.setAttribute("data-ochat", "notification");
        ui.notice.setAttribute("role", "status");
        root.appendChild(ui.notice);
      }
      root.appendChild(ui.button);
    }

    var win = el("section", "ochat-window");
    win.setAttribute("data-ochat", "window");
    win.setAttribute("aria-label", t("window_label"));
    win.hidden = true;
    var header = el("header", "ochat-header");
    header.style.background = cfg.header_color;
    ui.avatar = el("span", "ochat-avatar", initial(cfg.channel_name));
    ui.avatar.setAttribute("aria-hidden", "true");
    var titles = el("div", "ochat-titles");
    ui.title = el("div", "ochat-title", cfg.channel_name);
    ui.title.setAttribute("data-ochat", "operator");
    ui.status = el("div", "ochat-status", "");
    ui.status.setAttribute("data-ochat", "status");
    ui.status.setAttribute("role", "status");
    titles.appendChild(ui.title);
    titles.appendChild(ui.status);
    ui.end = el("button", "ochat-end", t("end_chat"));
    ui.end.type = "button";
    ui.end.setAttribute("data-ochat", "end");
    ui.end.addEventListener("click", endChat);
    header.appendChild(ui.avatar);
    header.appendChild(titles);
    header.appendChild(ui.end);
    if (!PAGE_MODE) {
      var minimize = el("button", "ochat-min", "\u2013");
      minimize.type = "button";
      minimize.setAttribute("aria-label", t("minimise"));
      minimize.addEventListener("click", function () { toggle(false); });
      header.appendChild(minimize);
    }
    win.appendChild(header);

    ui.log = el("div", "ochat-log");
    ui.log.setAttribute("role", "log");
    ui.log.setAttribute("aria-live", "polite");
    ui.log.setAttribute("data-ochat", "messages");
    win.appendChild(ui.log);
    ui.typing = el("div", "ochat-typing", "");
    ui.typing.setAttribute("data-ochat", "typing");
    ui.typing.hidden = true;
    win.appendChild(ui.typing);

    ui.rating = el("div", "ochat-rating");
    ui.rating.setAttribute("data-ochat", "rating");
    ui.rating.hidden = true;
    win.appendChild(ui.rating);

    var form = el("form", "ochat-form");
    var label = el("label", "ochat-sr", t("input_label"));
    label.htmlFor = "ochat-input-" + CHANNEL;
    ui.input = el("textarea", "ochat-input");
    ui.input.id = "ochat-input-" + CHANNEL;
    ui.input.rows = 1;
    ui.input.placeholder = cfg.input_placeholder || t("placeholder");
    ui.input.setAttribute("data-ochat", "input");
    ui.send = el("button", "ochat-send", t("send"));
    ui.send.type = "submit";
    ui.send.style.background = cfg.button_color;
    ui.send.setAttribute("data-ochat", "send");
    form.appendChild(label);
    form.appendChild(ui.input);
    form.appendChild(ui.send);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = ui.input.value.trim();
      if (!text) return;
      ui.input.value = "";
      send(text, null);
    });
    ui.input.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey) {
        e.preventDefault();
        form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event("submit"));
      }
    });
    ui.input.addEventListener("input", typed);
    ui.form = form;
    filesSetup(form); // lc-files
    win.appendChild(form);
    root.appendChild(win);
    ui.window = win;
    ui.root = root;
    document.body.appendChild(root);
  }

  function toggle(open) {
    var show = open === undefined ? ui.window.hidden : open;
    ui.window.hidden = !show;
    if (ui.button) ui.button.setAttribute("aria-expanded", String(show));
    if (ui.notice) ui.notice.hidden = true;
    if (show && ui.offline) ui.offline.focus();
    else if (show) {
      startChat();
      ui.input.focus();
    }
    if (chat) {
      chat.open = show;
      save(KEY_SESSION, chat);
    }
  }

  function line(cls, author, text) {
    var row = el("div", "ochat-msg " + cls);
    if (author) row.appendChild(el("div", "ochat-author", author));
    row.appendChild(el("div", "ochat-text", text));
    ui.log.appendChild(row);
    ui.log.scrollTop = ui.log.scrollHeight;
    return row;
  }

  function welcome() {
    // A chatbot says its own welcome steps.
    if (cfg.chatbot_id) return;
    if (cfg.welcome_message && !ui.welcomed) {
      ui.welcomed = true;
      line("ochat-theirs ochat-welcome", chat && chat.operator ? chat.operator : cfg.channel_name,
        cfg.welcome_message).setAttribute("data-ochat", "welcome");
    }
  }

  function setOperator(name) {
    if (!name) return;
    ui.title.textContent = name;
    ui.avatar.textContent = initial(name);
    if (chat) {
      chat.operator = name;
      save(KEY_SESSION, chat);
    }
  }

  // A chatbot's avatar: only an image data URL or an http(s) address, set as a property.
  function setAvatar(url) {
    if (typeof url !== "string" || !/^(data:image\/|https?:\/\/)/i.test(url)) return;
    var img = document.createElement("img");
    img.alt = "";
    img.className = "ochat-avatar-img";
    img.src = url;
    ui.avatar.textContent = "";
    ui.avatar.appendChild(img);
  }

  // An operator took over: their initial replaces the chatbot's avatar.
  function operatorJoined(name) {
    if (chat) { chat.avatar = null; }
    setOperator(name);
    line("ochat-system", null, t("joined", name));
  }

  function render(m) {
    if (!m || seen[m.id] || m.only_for) return;
    seen[m.id] = true;
    var mine = m.author === "visitor";
    var cls = mine ? "ochat-mine" : (m.author === "system" ? "ochat-system" : "ochat-theirs");
    var row = line(cls, mine ? null : m.author_name, m.text);
    row.setAttribute("data-ochat", "message");
    row.setAttribute("data-author", m.author);
    if (m.author === "operator") setOperator(m.author_name);
    if (m.author !== "visitor") hideTheirTyping();
    if (m.file) fileLink(m, row); // lc-files
    if (m.answers && m.answers.length) {
      var group = el("div", "ochat-answers");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", t("answers_label"));
      m.answers.forEach(function (a) {
        var b = el("button", "ochat-answer", a.text);
        b.type = "button";
        b.setAttribute("data-ochat", "answer");
        b.style.borderColor = cfg.button_color;
        b.addEventListener("click", function () {
          Array.prototype.forEach.call(group.querySelectorAll("button"), function (x) { x.disabled = true; });
          b.classList.add("ochat-chosen");
          send(a.text, a.id);
        });
        group.appendChild(b);
      });
      row.appendChild(group);
    }
  }

  function startChat() {
    if (chat || closed || starting) return starting;
    welcome();
    starting = api("/api/v1/livechat/" + CHANNEL + "/sessions", {
      method: "POST",
      body: withIdentity({ page_url: location.href, visitor_id: visitorId() }),
    }).then(function (answer) {
      starting = null;
      if (!answer.available || !answer.token) {
        line("ochat-system", null, t("not_available"));
        return;
      }
      chat = { id: answer.session.id, token: answer.token, operator: answer.operator, open: true,
        avatar: answer.avatar || null };
      save(KEY_SESSION, chat);
      setOperator(answer.operator);
      setAvatar(chat.avatar);
      if (answer.queue) showQueue(answer.queue);
      freshPages().forEach(function (p) { reportPage(p.url, p.at); });
      connect();
    }).catch(function (e) {
      starting = null;
      line("ochat-system ochat-error", null, e.message);
    });
    return starting;
  }

  function reportPage(url, at) {
    if (!chat) return;
    var body = { url: url };
    if (typeof at === "number") body.at_ms = at;
    api("/api/v1/livechat/sessions/" + chat.id + "/pages", {
      method: "POST", token: chat.token, body: body,
    }).catch(function () { /* history is best effort */ });
  }

  // Everything stored that this window has not shown yet (first open and every reconnect).
  function catchUp() {
    if (!chat) return;
    var id = chat.id;
    api("/api/v1/livechat/sessions/" + id + "/messages", { token: chat.token }).then(function (list) {
      list.sort(function (a, b) { return a.seq - b.seq; }).forEach(render);
      return api("/api/v1/livechat/sessions/" + id, { token: chat.token });
    }).then(function (s) {
      if (s && s.status === "closed") onClosed();
    }).catch(function (e) {
      if (e.status === 401 || e.status === 404) forget();
    });
  }

  function connect() {
    if (!chat || closed) return;
    // The token travels in the subprotocol header, not in the URL (URLs end up in logs).
    var url = BASE.replace(/^http/, "ws") + "/api/v1/livechat/sessions/" + chat.id + "/events";
    var socket = new WebSocket(url, ["ochat", "ochat.token." + chat.token]);
    ws = socket;
    socket.onopen = function () {
      retries = 0;
      ui.status.textContent = "";
      ui.root.removeAttribute("data-offline");
      catchUp();
    };
    socket.onmessage = function (e) {
      var ev;
      try { ev = JSON.parse(e.data); } catch (x) { return; }
      if (ev.type === "message") render(ev.message);
      else if (ev.type === "typing") theirTyping(ev);
      else if (ev.type === "operator_joined" && ev.operator) operatorJoined(ev.operator.name);
      else if (ev.type === "closed") onClosed();
      else if (ev.type === "lagged") catchUp();
      else if (ev.type === "queue") showQueue(ev);
    };
    socket.onclose = function () {
      if (ws !== socket || closed) return;
      ws = null;
      ui.status.textContent = t("reconnecting");
      ui.root.setAttribute("data-offline", "true");
      var wait = Math.min(8000, 250 * Math.pow(2, retries));
      retries += 1;
      setTimeout(connect, wait);
    };
  }

  function send(text, answerId) {
    var go = function () {
      if (!chat) return;
      stopTyping();
      var body = { text: text };
      if (answerId) body.answer_id = answerId;
      api("/api/v1/livechat/sessions/" + chat.id + "/messages", {
        method: "POST", token: chat.token, body: body,
      }).then(render).catch(function (e) {
        line("ochat-system ochat-error", null, e.message);
      });
    };
    if (chat) go(); else {
      var p = startChat();
      if (p) p.then(go);
    }
  }

  function typed() {
    if (!chat || closed) return;
    var now = Date.now();
    if (now - typingSent > 3000) {
      typingSent = now;
      api("/api/v1/livechat/sessions/" + chat.id + "/typing", {
        method: "POST", token: chat.token, body: { typing: true },
      }).catch(function () {});
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 4000);
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (!typingSent || !chat) return;
    typingSent = 0;
    api("/api/v1/livechat/sessions/" + chat.id + "/typing", {
      method: "POST", token: chat.token, body: { typing: false },
    }).catch(function () {});
  }

  function theirTyping(ev) {
    clearTimeout(theirTypingTimer);
    if (!ev.typing) return hideTheirTyping();
    ui.typing.textContent = t("typing", ev.name);
    ui.typing.hidden = false;
    theirTypingTimer = setTimeout(hideTheirTyping, 8000);
  }
  function hideTheirTyping() {
    ui.typing.hidden = true;
    ui.typing.textContent = "";
  }

  function endChat() {
    if (!chat || closed) { toggle(false); return; }
    api("/api/v1/livechat/sessions/" + chat.id + "/close", { method: "POST", token: chat.token })
      .then(onClosed)
      .catch(function (e) { line("ochat-system ochat-error", null, e.message); });
  }

  function forget() {
    chat = null;
    save(KEY_SESSION, null);
  }

  function onClosed() {
    if (closed) return;
    closed = true;
    if (ws) { var s = ws; ws = null; s.close(); }
    hideTheirTyping();
    hideQueue();
    ui.status.textContent = t("ended");
    ui.input.disabled = true;
    ui.send.disabled = true;
    ui.end.hidden = true;
    var rated = chat;
    save(KEY_SESSION, null);
    showRating(rated);
  }

  function showRating(session) {
    var box = ui.rating;
    box.textContent = "";
    box.hidden = false;
    box.appendChild(el("p", "ochat-rating-q", t("rating_question")));
    var choices = el("div", "ochat-rating-choices");
    choices.setAttribute("role", "group");
    choices.setAttribute("aria-label", t("rating_label"));
    var picked = 0;
    [[5, "\uD83D\uDE0A", t("rating_happy")], [3, "\uD83D\uDE10", t("rating_okay")], [1, "\uD83D\uDE1E", t("rating_unhappy")]].forEach(function (r) {
      var b = el("button", "ochat-rate", r[1]);
      b.type = "button";
      b.setAttribute("aria-label", r[2]);
      b.setAttribute("aria-pressed", "false");
      b.setAttribute("data-ochat", "rate-" + r[0]);
      b.addEventListener("click", function () {
        picked = r[0];
        Array.prototype.forEach.call(choices.children, function (x) { x.setAttribute("aria-pressed", "false"); });
        b.setAttribute("aria-pressed", "true");
        submit.disabled = false;
      });
      choices.appendChild(b);
    });
    box.appendChild(choices);
    var label = el("label", "ochat-sr", t("comment_label"));
    var comment = el("textarea", "ochat-comment");
    comment.id = "ochat-comment-" + CHANNEL;
    label.htmlFor = comment.id;
    comment.placeholder = t("comment_placeholder");
    comment.setAttribute("data-ochat", "comment");
    var submit = el("button", "ochat-send", t("send_rating"));
    submit.type = "button";
    submit.disabled = true;
    submit.setAttribute("data-ochat", "send-rating");
    submit.style.background = cfg.button_color;
    submit.addEventListener("click", function () {
      if (!session || !picked) return;
      var body = { rating: picked };
      if (comment.value.trim()) body.comment = comment.value.trim();
      api("/api/v1/livechat/sessions/" + session.id + "/rating", {
        method: "POST", token: session.token, body: body,
      }).then(function () {
        box.textContent = "";
        box.appendChild(el("p", "ochat-thanks", t("rating_thanks"))).setAttribute("data-ochat", "thanks");
      }).catch(function (e) { line("ochat-system ochat-error", null, e.message); });
    });
    box.appendChild(label);
    box.appendChild(comment);
    box.appendChild(submit);
    transcriptOffer(session); // lc-files
  }

  // ---- queue (lc-queue): the visitor's place in line while every operator is busy ----
  // The node sends the place when the chat starts and as `queue` events on the session's
  // socket (on every change, and when the socket opens); "served" or "left" ends it.
  // The queue's texts are in the widget's table (livechat/widget_text_table.rs, keys
  // "queue_*"); t() fills in "{n}" and "{m}".
  var QUEUE_KEYS = {
    position: "queue_position",
    waitMinutes: "queue_wait_minutes",
    waitUnderMinute: "queue_wait_under_minute",
    waitUnknown: "queue_wait_unknown",
    keepPlace: "queue_keep_place",
  };
  function queueText(key, values) {
    return t(QUEUE_KEYS[key], values);
  }
  function queueBox() {
    if (!ui.queue) {
      ui.queue = el("div", "ochat-queue");
      ui.queue.setAttribute("data-ochat", "queue");
      ui.queue.setAttribute("role", "status");
      ui.queue.setAttribute("aria-live", "polite");
      ui.queuePlace = el("div", "ochat-queue-place");
      ui.queuePlace.setAttribute("data-ochat", "queue-position");
      ui.queueWait = el("div", "ochat-queue-wait");
      ui.queueWait.setAttribute("data-ochat", "queue-wait");
      ui.queue.appendChild(ui.queuePlace);
      ui.queue.appendChild(ui.queueWait);
      ui.queue.appendChild(el("div", "ochat-queue-note", queueText("keepPlace")));
      ui.window.insertBefore(ui.queue, ui.log);
    }
    return ui.queue;
  }
  function showQueue(place) {
    if (!ui.window) return;
    if (!place || place.status !== "waiting" || !place.position) { hideQueue(); return; }
    var box = queueBox();
    ui.queuePlace.textContent = queueText("position", { n: place.position });
    var s = place.estimated_wait_s;
    ui.queueWait.textContent = typeof s !== "number" ? queueText("waitUnknown")
      : s < 60 ? queueText("waitUnderMinute") : queueText("waitMinutes", { m: Math.ceil(s / 60) });
    box.hidden = false;
  }
  function hideQueue() {
    if (ui.queue) ui.queue.hidden = true;
  }

  // ---- texts in the visitor's language ----
  // The node sends every widget text already chosen for this browser's languages
  // (livechat/widget_text_table.rs holds the one table). t() fills in "{name}"-style parts
  // from the values given (a string alone stands for {name}).
  function t(key, values) {
    var text = cfg && cfg.texts && typeof cfg.texts[key] === "string" ? cfg.texts[key] : key;
    if (values === undefined) return text;
    if (typeof values !== "object") values = { name: values };
    return text.replace(/\{(\w+)\}/g, function (_, k) { return values[k] !== undefined ? String(values[k]) : ""; });
  }

  // The browser's languages, best first (at most 20, as the node accepts).
  function browserLanguages() {
    var list = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language];
    return Array.prototype.filter.call(list, function (l) {
      return typeof l === "string" && l && l.length <= 35;
    }).slice(0, 20);
  }

  // ---- offline form (outside business hours, or nobody can answer) ----
  // The chat window keeps its header; the conversation parts are hidden and a form for the
  // visitor's name, email and message takes their place. The node turns it into a ticket or
  // a lead; its checks (a real email, lengths) answer in a line under the form.
  function field(form, id, key, input) {
    var label = el("label", "ochat-offline-label", t(key));
    input.id = "ochat-" + id + "-" + CHANNEL;
    input.required = true;
    input.setAttribute("data-ochat", "offline-" + id);
    label.htmlFor = input.id;
    form.appendChild(label);
    form.appendChild(input);
    return input;
  }
  function buildOffline() {
    ui.log.hidden = true;
    ui.form.hidden = true;
    ui.end.hidden = true;
    ui.status.textContent = t("offline_title");
    if (ui.button) ui.button.textContent = t("offline_button");
    if (ui.notice) ui.notice.textContent = t("offline_button");
    ui.root.setAttribute("data-ochat-offline", cfg.offline.reason || "closed");
    var form = el("form", "ochat-offline");
    form.setAttribute("data-ochat", "offline-form");
    form.appendChild(el("p", "ochat-offline-intro", t("offline_intro")));
    var name = field(form, "name", "offline_name", el("input", "ochat-offline-input"));
    name.maxLength = 100;
    name.autocomplete = "name";
    var email = field(form, "email", "offline_email", el("input", "ochat-offline-input"));
    email.type = "email";
    email.maxLength = 254;
    email.autocomplete = "email";
    var message = field(form, "message", "offline_message", el("textarea", "ochat-offline-input"));
    message.rows = 5;
    message.maxLength = 4000;
    var error = el("p", "ochat-offline-error", "");
    error.setAttribute("role", "alert");
    error.setAttribute("data-ochat", "offline-error");
    error.hidden = true;
    form.appendChild(error);
    var submit = el("button", "ochat-send", t("offline_send"));
    submit.type = "submit";
    submit.style.background = cfg.button_color;
    submit.setAttribute("data-ochat", "offline-send");
    form.appendChild(submit);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      submit.disabled = true;
      error.hidden = true;
      api("/api/v1/livechat/" + CHANNEL + "/offline", {
        method: "POST",
        body: { name: name.value, email: email.value, message: message.value, page_url: location.href, visitor_id: visitorId() },
      }).then(function () {
        form.textContent = "";
        form.appendChild(el("p", "ochat-thanks", t("offline_thanks"))).setAttribute("data-ochat", "offline-thanks");
      }).catch(function (err) {
        submit.disabled = false;
        error.textContent = err.message;
        error.hidden = false;
      });
    });
    ui.window.insertBefore(form, ui.form);
    ui.offline = name;
  }

  // A chat this browser already has in this channel, if it is still open.
  function resume() {
    var saved = load(KEY_SESSION);
    if (!saved || !saved.id || !saved.token) return Promise.resolve(null);
    return api("/api/v1/livechat/sessions/" + saved.id, { token: saved.token }).then(function (s) {
      if (s.status !== "open") { save(KEY_SESSION, null); return null; }
      return saved;
    }).catch(function (e) {
      if (e.status === 401 || e.status === 403 || e.status === 404) save(KEY_SESSION, null);
      return null;
    });
  }

  function start() {
    rememberPage();
    Promise.all([
      api("/api/v1/livechat/" + CHANNEL + "/check", {
        method: "POST", body: { page_url: location.href, visitor_id: visitorId(), languages: browserLanguages() },
      }),
      resume(),
    ]).then(function (both) {
      cfg = both[0];
      var saved = both[1];
      // What the widget decided, for the page's own scripts (and tests).
      var offline = !saved && !!(cfg.offline && cfg.offline.form);
      var shown = cfg.available || !!saved || PAGE_MODE || offline;
      document.documentElement.setAttribute("data-ochat-widget", shown ? "shown" : "hidden");
      if (!shown) return;
      build();
      if (offline) {
        buildOffline();
        if (PAGE_MODE) ui.window.hidden = false;
        return;
      }
      if (saved) {
        chat = saved;
        setOperator(saved.operator);
        setAvatar(saved.avatar);
        welcome();
        reportPage(location.pathname + location.search);
        connect();
        if (saved.open || PAGE_MODE) toggle(true);
        return;
      }
      if (PAGE_MODE) {
        ui.window.hidden = false;
        if (cfg.available) startChat();
        else line("ochat-system", null, t("nobody_available"));
        return;
      }
      if (cfg.action === "auto_open") {
        setTimeout(function () { if (ui.window.hidden) toggle(true); }, (cfg.auto_open_after_s || 0) * 1000);
      }
    }).catch(function () { /* the node is unreachable: show nothing */ });
  }

  // ==== lc-files: files in the chat and the transcript by email ====
  // This section's texts are in the widget's table (livechat/widget_text_table.rs, keys
  // "files_*"); t() fills in "{name}", "{max}" and "{to}".
  var FILES_KEYS = {
    attach: "files_attach",
    sending: "files_sending",
    tooLarge: "files_too_large",
    notAllowed: "files_not_allowed",
    download: "files_download",
    emailAsk: "files_email_ask",
    emailLabel: "files_email_label",
    emailSend: "files_email_send",
    emailSent: "files_email_sent",
  };
  function ft(key, values) { return t(FILES_KEYS[key], values); }
  var features = null;
  function bytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1).replace(/\.0$/, "") + " MB";
    if (n >= 1024) return Math.round(n / 1024) + " KB";
    return n + " B";
  }
  // A paperclip drawn as SVG (emoji fonts are not everywhere).
  function clipIcon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "18");
    svg.setAttribute("height", "18");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("d", "M20 11.5l-7.8 7.8a5 5 0 0 1-7.1-7.1l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7l-8.5 8.5a1.7 1.7 0 0 1-2.4-2.4l7.8-7.8");
    path.setAttribute("fill", "none");
    path.setAttribute("stroke", "currentColor");
    path.setAttribute("stroke-width", "2");
    path.setAttribute("stroke-linecap", "round");
    path.setAttribute("stroke-linejoin", "round");
    svg.appendChild(path);
    return svg;
  }
  // What the channel offers (files, transcript by email); the attach button when files are on.
  function filesSetup(form) {
    api("/api/v1/livechat/" + CHANNEL + "/features").then(function (f) {
      features = f;
      if (!f || !f.files || !f.files.enabled) return;
      var picker = document.createElement("input");
      picker.type = "file";
      picker.hidden = true;
      picker.accept = f.files.allowed_types.join(",");
      picker.setAttribute("data-ochat", "file-input");
      var attach = el("button", "ochat-attach");
      attach.appendChild(clipIcon());
      attach.type = "button";
      attach.title = ft("attach");
      attach.setAttribute("aria-label", ft("attach"));
      attach.setAttribute("data-ochat", "attach");
      attach.addEventListener("click", function () { picker.click(); });
      picker.addEventListener("change", function () {
        var file = picker.files && picker.files[0];
        picker.value = "";
        if (file) sendFile(file);
      });
      form.insertBefore(attach, form.firstChild);
      form.appendChild(picker);
      ui.attach = attach;
    }).catch(function () { /* no files then */ });
  }
  function sendFile(file) {
    if (file.size > features.files.max_bytes) {
      line("ochat-system ochat-error", null, ft("tooLarge", { name: file.name, max: bytes(features.files.max_bytes) }));
      return;
    }
    var go = function () {
      if (!chat) return;
      var note = line("ochat-system", null, ft("sending", { name: file.name }));
      fetch(BASE + "/api/v1/livechat/sessions/" + chat.id + "/files?name=" + encodeURIComponent(file.name), {
        method: "POST",
        headers: { authorization: "Bearer " + chat.token, "content-type": file.type || "application/octet-stream" },
        body: file,
      }).then(function (resp) {
        return resp.json().catch(function () { return null; }).then(function (json) {
          if (note.parentNode) note.parentNode.removeChild(note);
          if (!resp.ok) {
            var msg = resp.status === 415 ? ft("notAllowed") : (json && json.error && json.error.message) || ("HTTP " + resp.status);
            throw new Error(msg);
          }
          render(json);
        });
      }).catch(function (e) { line("ochat-system ochat-error", null, e.message); });
    };
    if (chat) go(); else {
      var p = startChat();
      if (p) p.then(go);
    }
  }
  // A message's file: a link that downloads it with the session token (never shown inline).
  function fileLink(m, row) {
    var text = row.querySelector(".ochat-text");
    if (text) text.textContent = "";
    var a = el("a", "ochat-file", m.file.name + " (" + bytes(m.file.size) + ")");
    a.href = "#";
    a.title = ft("download");
    a.setAttribute("data-ochat", "file");
    a.addEventListener("click", function (e) {
      e.preventDefault();
      var session = chat || { id: m.session_id, token: null };
      fetch(BASE + "/api/v1/livechat/sessions/" + m.session_id + "/files/" + m.file.id, {
        headers: { authorization: "Bearer " + (session.token || "") },
      }).then(function (resp) {
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        return resp.blob();
      }).then(function (blob) {
        var url = URL.createObjectURL(blob);
        var save = document.createElement("a");
        save.href = url;
        save.download = m.file.name;
        document.body.appendChild(save);
        save.click();
        document.body.removeChild(save);
        setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
      }).catch(function (err) { line("ochat-system ochat-error", null, err.message); });
    });
    (text || row).appendChild(a);
  }
  // At the end: the visitor may ask for the transcript by email (when the node sends email).
  function transcriptOffer(session) {
    if (!session || !features || !features.transcript_email) return;
    var box = el("form", "ochat-email");
    box.setAttribute("data-ochat", "transcript-email");
    var label = el("label", "ochat-email-label", ft("emailAsk"));
    var input = el("input", "ochat-email-input");
    input.type = "email";
    input.id = "ochat-email-" + CHANNEL;
    input.placeholder = ft("emailLabel");
    input.setAttribute("aria-label", ft("emailLabel"));
    input.setAttribute("data-ochat", "email");
    label.htmlFor = input.id;
    var submit = el("button", "ochat-send", ft("emailSend"));
    submit.type = "submit";
    submit.style.background = cfg.button_color;
    submit.setAttribute("data-ochat", "send-email");
    box.appendChild(label);
    box.appendChild(input);
    box.appendChild(submit);
    box.addEventListener("submit", function (e) {
      e.preventDefault();
      var body = {};
      if (input.value.trim()) body.email = input.value.trim();
      api("/api/v1/livechat/sessions/" + session.id + "/transcript_email", {
        method: "POST", token: session.token, body: body,
      }).then(function (q) {
        box.textContent = "";
        box.appendChild(el("p", "ochat-thanks", ft("emailSent", { to: q.to }))).setAttribute("data-ochat", "email-sent");
      }).catch(function (err) { line("ochat-system ochat-error", null, err.message); });
    });
    // Beside the rating (which clears its own box once sent), not inside it.
    if (ui.email && ui.email.parentNode) ui.email.parentNode.removeChild(ui.email);
    ui.email = box;
    ui.rating.parentNode.insertBefore(box, ui.rating.nextSibling);
  }
  // ==== end of lc-files ====

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
