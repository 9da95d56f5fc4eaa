// ochat operator console: live chat conversations and O'Chat channels in one sidebar,
// connection requests (admin token), live chat channels to join or leave.
// The token is kept in sessionStorage["ochat.token"]. Everything people write is shown with
// textContent, never as HTML.
(function () {
  "use strict";
  // Whether every deferred script of the page has run (DOMContentLoaded fires after them).
  var scriptsLoaded = false;
  document.addEventListener("DOMContentLoaded", function () { scriptsLoaded = true; });
  var KEY = "ochat.token";
  var $ = function (id) { return document.getElementById(id); };
  var token = null;
  var me = null; // the operator's user record, null for the admin
  var view = null; // {kind: "session"|"channel"|"request", id}
  var sessions = {}; // id -> {view, unread, fresh}
  var channels = {}; // id -> channel view (with unread)
  var requests = {}; // id -> connection view
  var shown = {}; // message ids shown in the open conversation
  var states = {}; // message id -> latest delivery state seen on the events socket
  var sockets = [];
  var stopped = false;
  var typingSent = 0;
  var typingTimer = null;
  var theirTyping = null;
  var suggestions = [];
  var selected = -1;
  var COMMANDS = [
    ["/help", "lists the commands"], ["/history", "the visitor's last pages"],
    ["/lead", "creates a lead with the transcript"], ["/ticket", "creates a ticket"],
    ["/search_tickets", "finds tickets by words or #number"], ["/leave", "leave the conversation"],
  ];

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  // lc-identity (presence): true while the console catches up by itself after a reconnect.
  var background = false;
  function api(path, method, body) {
    return window.ochatApi(token, path, method, body, background);
  }

  function showError(e) { $("error").textContent = e ? (e.message || String(e)) : ""; }

  // ---- login ----
  function loginWith(t) {
    token = t;
    return api("/api/v1/users/me").then(function (user) { me = user; }, function (e) {
      if (e.status === 404) { me = null; return api("/api/v1/instance"); }
      throw e;
    }).then(function () {
      sessionStorage.setItem(KEY, token);
      boot();
    }).catch(function (e) {
      token = null;
      sessionStorage.removeItem(KEY);
      $("login-error").textContent = e.status === 401 ? "That token is not valid." : e.message;
    });
  }

  $("login-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("login-error").textContent = "";
    fetch("/api/v1/login", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ login: $("login-name").value, password: $("login-password").value }),
    }).then(function (r) { return r.json().then(function (j) { return [r, j]; }); }).then(function (rj) {
      if (!rj[0].ok) throw new Error((rj[1].error && rj[1].error.message) || "Login failed");
      loginWith(rj[1].token);
    }).catch(function (err) { $("login-error").textContent = err.message; });
  });
  $("token-form").addEventListener("submit", function (e) {
    e.preventDefault();
    $("login-error").textContent = "";
    loginWith($("admin-token").value.trim());
  });
  $("logout").addEventListener("click", function () {
    var done = function () { sessionStorage.removeItem(KEY); location.reload(); };
    (me ? api("/api/v1/logout", "POST") : Promise.resolve()).then(done, done);
  });

  function boot() {
    $("login").hidden = true;
    $("app").hidden = false;
    $("logout").hidden = false;
    $("who").textContent = me ? (me.chat_name || me.name) : "Administrator";
    $("profile-open").hidden = !me;
    $("h-requests").hidden = !!me;
    $("requests").hidden = !!me;
    refresh();
    if (me) {
      showPresence("online");
      listen("/api/v1/livechat/operator/events", onLiveChatEvent);
    }
    listen("/api/v1/events", onNodeEvent);
    if (!me) showRestored();
    // The admin area (admin.js), the queue and the alerts start from here; "leave" clears the
    // console's own view. A quick login (a reload with the token kept) can finish before the
    // later deferred scripts have run and listened (the document is already "interactive"
    // then): the event waits for DOMContentLoaded, which comes after all of them.
    var ready = function () {
      document.dispatchEvent(new CustomEvent("ochat:console", { detail: { token: token, me: me,
        leave: function () { view = null; clearViews(); showError(null); } } }));
    };
    if (scriptsLoaded) ready();
    else document.addEventListener("DOMContentLoaded", ready);
  }

  // A node brought back from a backup says so: what it received after the backup was taken
  // is not here (partners keep their copies).
  function showRestored() {
    api("/api/v1/instance").then(function (i) {
      var r = i && i.restored_from;
      if (!r) return;
      $("restored").textContent = "This node was restored from a backup taken " +
        new Date(r.backup_created_ms).toLocaleString() + ". Messages it received after that " +
        "are not here; its channels agreed fresh keys with their partners before sending again.";
      $("restored").hidden = false;
    }).catch(function () { /* the console shows its own errors */ });
  }

  function refresh() {
    api("/api/v1/livechat/sessions?status=open").then(function (list) {
      list.forEach(function (s) {
        if (!sessions[s.id]) sessions[s.id] = { view: s, unread: 0, fresh: false };
        else sessions[s.id].view = s;
      });
      drawSessions();
    }).catch(showError);
    api("/api/v1/channels").then(function (list) {
      channels = {};
      list.forEach(function (c) { channels[c.id] = c; });
      drawChannels();
    }).catch(showError);
    if (!me) {
      api("/api/v1/connections?direction=incoming&status=Pending").then(function (list) {
        requests = {};
        list.forEach(function (c) { requests[c.id] = c; });
        drawRequests();
      }).catch(showError);
    }
    api("/api/v1/livechat/channels").then(drawLiveChatChannels).catch(showError);
  }

  // A WebSocket that comes back after a drop, catching up with a refresh.
  function listen(path, handler) {
    var retries = 0;
    var open = function () {
      if (stopped) return;
      // The token travels in the subprotocol header, not in the URL (URLs end up in logs).
      // A reconnect (after a drop or a node restart) says so: it is not the operator acting.
      var protocols = ["ochat", "ochat.token." + token];
      if (retries > 0) protocols.push("ochat.resume");
      var ws = new WebSocket(location.origin.replace(/^http/, "ws") + path, protocols);
      sockets.push(ws);
      ws.onopen = function () {
        if (retries > 0) {
          background = true;
          try { refresh(); if (view) openView(view.kind, view.id, true); } finally { background = false; }
        }
        retries = 0;
      };
      ws.onmessage = function (e) {
        try { handler(JSON.parse(e.data)); } catch (x) { /* ignore a bad frame */ }
      };
      ws.onclose = function (e) {
        // 1008: the token was revoked or expired; sign in again.
        if (e.code === 1008) { stopped = true; sessionStorage.removeItem(KEY); location.reload(); return; }
        retries += 1;
        setTimeout(open, Math.min(8000, 250 * Math.pow(2, retries)));
      };
    };
    open();
  }

  // ---- sidebar ----
  function item(list, label, opts) {
    var li = el("li", opts.fresh ? "new" : "");
    var b = el("button", "item");
    b.type = "button";
    b.appendChild(el("span", "label", label));
    if (opts.count) {
      var c = el("span", "count", opts.count);
      c.setAttribute("aria-label", opts.count + " unread");
      b.appendChild(c);
    }
    if (opts.current) b.setAttribute("aria-current", "true");
    b.setAttribute("data-id", opts.id);
    b.addEventListener("click", opts.onclick);
    li.appendChild(b);
    list.appendChild(li);
    return li;
  }
  function empty(list, text) { var li = el("li", "empty", text); list.appendChild(li); }

  function sessionLabel(s) {
    var when = new Date(s.created_at_ms).toLocaleTimeString();
    return visitorLabel(s) + " " + (s.country ? "(" + s.country + ") " : "") + "\u2014 " + when;
  }

  // ---- lc-identity: who the website says the visitor is ----
  // A verified identity (the website signed it) shows its name in the sidebar and a
  // "Verified" badge with name and email in the conversation; a claim nobody vouched for is
  // shown as "unverified", never as the person. The visitor's earlier conversations come from
  // …/visitor_history, which never mixes the two.
  function visitorLabel(s) {
    var i = s && s.identity;
    return i && i.verified && i.name ? i.name + " \u2713" : "Visitor";
  }
  function showIdentity(id, s) {
    var box = $("conv-identity");
    box.textContent = "";
    box.hidden = true;
    var i = s && s.identity;
    if (i) {
      box.hidden = false;
      var badge = el("span", "identity-badge " + (i.verified ? "verified" : "unverified"),
        i.verified ? "\u2713 Verified" : "Unverified");
      badge.setAttribute("data-identity", i.verified ? "verified" : "unverified");
      if (!i.verified && i.problem) badge.title = "Not verified: " + i.problem.replace(/_/g, " ");
      box.appendChild(badge);
      var who = [i.name, i.email].filter(function (x) { return x; }).join(" \u00b7 ") || i.external_id;
      var name = el("span", "identity-name", who);
      name.setAttribute("data-identity-name", "");
      box.appendChild(name);
      if (!i.verified) box.appendChild(el("span", "identity-note", "(claimed, not proven by the website)"));
    }
    api("/api/v1/livechat/sessions/" + id + "/visitor_history").then(function (list) {
      if (!view || view.id !== id || !list || !list.length) return;
      box.hidden = false;
      var past = el("span", "identity-history", "Earlier conversations: ");
      past.setAttribute("data-visitor-history", String(list.length));
      list.slice(0, 5).forEach(function (p, n) {
        var b = el("button", "link", new Date(p.created_at_ms).toLocaleDateString());
        b.type = "button";
        b.addEventListener("click", function () { openView("session", p.id); });
        if (n) past.appendChild(document.createTextNode(", "));
        past.appendChild(b);
      });
      box.appendChild(past);
    }).catch(function () { /* the history is a help, not a must */ });
  }
  // ---- end lc-identity ----

  function drawSessions() {
    var list = $("sessions");
    list.textContent = "";
    var ids = Object.keys(sessions).filter(function (id) { return sessions[id].view.status === "open"; });
    ids.sort(function (a, b) { return sessions[b].view.created_at_ms - sessions[a].view.created_at_ms; });
    if (!ids.length) empty(list, "No open conversation");
    ids.forEach(function (id) {
      var s = sessions[id];
      item(list, sessionLabel(s.view), {
        id: id, fresh: s.fresh, count: s.unread,
        current: view && view.kind === "session" && view.id === id,
        onclick: function () { openView("session", id); },
      });
    });
  }

  function drawChannels() {
    var list = $("channels");
    list.textContent = "";
    var ids = Object.keys(channels);
    if (!ids.length) empty(list, "No channel yet");
    ids.forEach(function (id) {
      var c = channels[id];
      item(list, c.name, {
        id: id, fresh: c.unread > 0, count: c.unread,
        current: view && view.kind === "channel" && view.id === id,
        onclick: function () { openView("channel", id); },
      });
    });
  }

  function drawRequests() {
    var list = $("requests");
    list.textContent = "";
    var ids = Object.keys(requests);
    if (!ids.length) empty(list, "No pending request");
    ids.forEach(function (id) {
      var r = requests[id];
      // Bold ("new") until the administrator opens it.
      item(list, r.remote_name || r.remote_uuid, {
        id: id, fresh: !!r.new,
        current: view && view.kind === "request" && view.id === id,
        onclick: function () { openView("request", id); },
      });
    });
  }

  function drawLiveChatChannels(list) {
    var ul = $("lc-channels");
    ul.textContent = "";
    if (!list.length) empty(ul, "No live chat channel");
    list.forEach(function (c) {
      var li = el("li", "");
      li.setAttribute("data-channel", c.id);
      li.appendChild(el("span", "item", c.name + (c.joined ? " (joined)" : "")));
      li.firstChild.style.padding = "6px 16px";
      li.firstChild.style.flex = "1";
      // Satisfaction: the share of happy ratings over the last 14 days.
      if (c.satisfaction !== null && c.satisfaction !== undefined) {
        var sat = el("span", "satisfaction", c.satisfaction + "% happy");
        sat.title = "Satisfaction: happy ratings over the last 14 days";
        li.appendChild(sat);
      }
      // Only channels the admin listed you in (or open to self-join) offer "Join".
      if (me && (c.joined || c.can_join)) {
        var b = el("button", "join secondary", c.joined ? "Leave" : "Join");
        b.type = "button";
        b.setAttribute("aria-label", (c.joined ? "Leave " : "Join ") + c.name);
        b.addEventListener("click", function () {
          api("/api/v1/livechat/channels/" + c.id + (c.joined ? "/leave" : "/join"), "POST")
            .then(function () { return api("/api/v1/livechat/channels"); })
            .then(drawLiveChatChannels).catch(showError);
        });
        li.appendChild(b);
      }
      ul.appendChild(li);
    });
  }

  // ---- presence: the operator's input and focus are reported; 30 minutes without any
  // makes them away (the node says so on the events socket) until they act again ----
  var presence = "online";
  var reported = 0;
  function showPresence(status) {
    presence = status;
    var p = $("presence");
    p.hidden = false;
    p.textContent = status === "away" ? "Away" : "Available";
    p.className = "presence " + (status === "away" ? "away" : "online");
  }
  function active() {
    if (!me || !token) return;
    var now = Date.now();
    // At most one report a minute while available; at once when away.
    if (presence !== "away" && now - reported < 60000) return;
    reported = now;
    api("/api/v1/livechat/operator/activity", "POST").then(function (p) {
      if (p && p.status) showPresence(p.status);
    }).catch(function () {});
  }
  ["keydown", "pointerdown", "focus", "wheel"].forEach(function (name) {
    window.addEventListener(name, active, true);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") active();
  });

  // ---- events ----
  function onLiveChatEvent(ev) {
    // The console's other scripts (the queue, the alerts) hear every live chat event too.
    document.dispatchEvent(new CustomEvent("ochat:livechat", { detail: ev }));
    if (ev.type === "presence") {
      showPresence(ev.status);
    } else if (ev.type === "new_session" && ev.session) {
      var open = view && view.kind === "session" && view.id === ev.session.id;
      sessions[ev.session.id] = { view: ev.session, unread: 0, fresh: !open };
      if (open) openView("session", ev.session.id, true); else drawSessions();
    } else if (ev.type === "message" && ev.message) {
      var here = view && view.kind === "session" && view.id === ev.session_id;
      if (here) { renderLiveChat(ev.message); if (ev.message.author === "visitor") hideTyping(); }
      else if (sessions[ev.session_id] && !ev.message.only_for) {
        sessions[ev.session_id].unread += 1;
        drawSessions();
      }
    } else if (ev.type === "typing") {
      if (view && view.kind === "session" && view.id === ev.session_id) showTyping(ev);
    } else if (ev.type === "closed") {
      if (sessions[ev.session_id]) sessions[ev.session_id].view.status = "closed";
      if (view && view.kind === "session" && view.id === ev.session_id) {
        $("conv-sub").textContent = "This conversation is closed.";
        setComposer(false);
      }
      drawSessions();
    }
  }

  function onNodeEvent(ev) {
    if (ev.type === "message" && ev.message) {
      var m = ev.message;
      var here = view && view.kind === "channel" && view.id === m.channel_id;
      if (ev.event === "new") {
        if (here) {
          renderChannelMessage(m);
          if (m.direction === "in") api("/api/v1/channels/" + m.channel_id + "/read", "POST", {}).catch(function () {});
        } else if (channels[m.channel_id] && m.direction === "in") {
          channels[m.channel_id].unread += 1;
          drawChannels();
        }
      } else {
        // A state change may arrive before the send's own answer: remember it.
        states[m.id] = m.state;
        var badge = here && document.querySelector('[data-message="' + m.id + '"] .state');
        if (badge) badge.textContent = m.state;
      }
    } else if (ev.type === "connection" && ev.connection) {
      var c = ev.connection;
      if (!me && c.direction === "incoming") {
        if (c.status === "Pending") requests[c.id] = c; else delete requests[c.id];
        drawRequests();
      }
      if (ev.event === "accepted") refresh();
    }
  }

  // ---- conversation views ----
  function clearViews() {
    $("placeholder").hidden = true;
    $("conversation").hidden = true;
    $("request").hidden = true;
    $("profile").hidden = true;
    $("admin").hidden = true;
    $("conv-log").textContent = "";
    $("conv-typing").textContent = "";
    $("conv-identity").hidden = true;
    hideSuggestions();
    shown = {};
    filesHide(); // lc-files
  }

  function setComposer(on) {
    $("composer-input").disabled = !on;
    $("composer-send").disabled = !on;
  }

  function openView(kind, id, again) {
    if (!again) showError(null);
    view = { kind: kind, id: id };
    clearViews();
    if (kind === "session") openSession(id);
    else if (kind === "channel") openChannel(id);
    else openRequest(id);
    drawSessions();
    drawChannels();
    if (!me) drawRequests();
  }

  function openSession(id) {
    var s = sessions[id];
    if (s) { s.unread = 0; s.fresh = false; }
    $("conversation").hidden = false;
    $("conv-close").hidden = false;
    $("conv-title").textContent = s ? sessionLabel(s.view) : "Conversation";
    $("conv-sub").textContent = s ? s.view.page_url : "";
    showIdentity(id, s && s.view);
    var open = !s || s.view.status === "open";
    var inIt = !!me && !!s && s.view.operators.indexOf(me.id) >= 0;
    // A conversation of your channel that someone else (or the chatbot) leads: join it first.
    $("conv-join").hidden = !(me && s && open && !inIt);
    $("conv-close").hidden = !(open && (inIt || !me));
    setComposer(!!me && open && (inIt || !s));
    filesForSession(id, s, !!me && open && inIt); // lc-files
    api("/api/v1/livechat/sessions/" + id + "/messages").then(function (list) {
      if (!view || view.id !== id) return;
      list.forEach(renderLiveChat);
    }).catch(showError);
  }

  function renderLiveChat(m) {
    if (shown[m.id]) return;
    shown[m.id] = true;
    var mine = m.author === "operator" && me && m.author_id === me.id;
    var cls = "msg" + (mine ? " mine" : "") + (m.author === "system" ? " system" : "") + (m.only_for ? " private" : "");
    var row = el("div", cls);
    row.setAttribute("data-message", m.id);
    row.setAttribute("data-author", m.author);
    row.appendChild(el("div", "author", m.only_for ? "Only you see this" : m.author_name));
    row.appendChild(el("div", "text", m.text));
    if (m.file) fileLink(m, row); // lc-files
    if (m.answers && m.answers.length) {
      row.appendChild(el("div", "author", "Answers: " + m.answers.map(function (a) { return a.text; }).join(" \u00b7 ")));
    }
    $("conv-log").appendChild(row);
    $("conv-log").scrollTop = $("conv-log").scrollHeight;
  }

  function openChannel(id) {
    var c = channels[id];
    $("conversation").hidden = false;
    $("conv-close").hidden = true;
    $("conv-join").hidden = true;
    $("conv-title").textContent = c ? c.name : "Channel";
    $("conv-sub").textContent = c ? "O'Chat channel with " + c.remote_uuid : "";
    setComposer(true);
    api("/api/v1/channels/" + id + "/messages?limit=100").then(function (page) {
      if (!view || view.id !== id) return;
      page.messages.slice().reverse().forEach(renderChannelMessage);
      return api("/api/v1/channels/" + id + "/read", "POST", {});
    }).then(function () {
      if (channels[id]) { channels[id].unread = 0; drawChannels(); }
    }).catch(showError);
  }

  function renderChannelMessage(m) {
    if (shown[m.id]) {
      var badge = document.querySelector('[data-message="' + m.id + '"] .state');
      if (badge) badge.textContent = states[m.id] || m.state;
      return;
    }
    shown[m.id] = true;
    var out = m.direction === "out";
    var row = el("div", "msg" + (out ? " mine" : ""));
    row.setAttribute("data-message", m.id);
    row.appendChild(el("div", "author", m.author));
    row.appendChild(el("div", "text", m.text || (m.attachment ? "\uD83D\uDCCE " + m.attachment.name : "")));
    if (out) {
      var st = el("span", "state", states[m.id] || m.state);
      st.setAttribute("data-state", "");
      row.appendChild(st);
    }
    $("conv-log").appendChild(row);
    $("conv-log").scrollTop = $("conv-log").scrollHeight;
  }

  function openRequest(id) {
    var r = requests[id];
    $("request").hidden = false;
    $("req-result").textContent = "";
    $("req-name").textContent = r ? (r.remote_name || "(unknown instance)") : "";
    $("req-uuid").textContent = r ? r.remote_uuid : "";
    $("req-message").textContent = r ? (r.message || "") : "";
    $("req-status").textContent = r ? r.status : "";
    $("req-contact").value = r && r.remote_name ? r.remote_name : "";
    if (r && r.new) {
      api("/api/v1/connections/" + id + "/seen", "POST").then(function (c) {
        if (requests[id]) { requests[id] = c; drawRequests(); }
      }).catch(showError);
    }
  }

  function requestAction(action, body) {
    if (!view || view.kind !== "request") return;
    var id = view.id;
    api("/api/v1/connections/" + id + "/" + action, "POST", body).then(function (c) {
      delete requests[id];
      drawRequests();
      $("req-status").textContent = c.status;
      var reused = action === "accept" && c.channel_id && channels[c.channel_id];
      $("req-result").textContent = action !== "accept" ? "Rejected."
        : reused ? "Accepted: the earlier channel with them is back, with its history."
        : "Accepted: a channel was created.";
      refresh();
    }).catch(function (e) { $("req-result").textContent = e.message; });
  }
  $("accept-form").addEventListener("submit", function (e) {
    e.preventDefault();
    requestAction("accept", { contact: $("req-contact").value.trim() });
  });
  $("reject-form").addEventListener("submit", function (e) {
    e.preventDefault();
    requestAction("reject", { reason: $("req-reason").value.trim() });
  });

  // ---- the operator's profile: languages among those enabled on the node ----
  $("profile-open").addEventListener("click", function () {
    view = null;
    clearViews();
    $("profile").hidden = false;
    $("profile-result").textContent = "";
    api("/api/v1/livechat/languages").then(function (answer) {
      var select = $("profile-language");
      select.textContent = "";
      var none = el("option", "", "(none)");
      none.value = "";
      select.appendChild(none);
      var box = $("profile-chat-languages");
      Array.prototype.slice.call(box.querySelectorAll("label")).forEach(function (n) { n.remove(); });
      answer.languages.forEach(function (l) {
        var o = el("option", "", l.name + " (" + l.code + ")");
        o.value = l.code;
        select.appendChild(o);
        var label = el("label", "check");
        var cb = el("input");
        cb.type = "checkbox";
        cb.value = l.code;
        cb.checked = me.chat_languages.some(function (c) { return c.split(/[-_]/)[0].toLowerCase() === l.code; });
        label.appendChild(cb);
        label.appendChild(document.createTextNode(" " + l.name));
        box.appendChild(label);
      });
      select.value = me.language ? me.language.split(/[-_]/)[0].toLowerCase() : "";
    }).catch(showError);
  });
  $("profile-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var body = { chat_languages: Array.prototype.slice.call(
      $("profile-chat-languages").querySelectorAll("input:checked")).map(function (c) { return c.value; }) };
    if ($("profile-language").value) body.language = $("profile-language").value;
    api("/api/v1/users/" + me.id, "PATCH", body).then(function (user) {
      me = user;
      $("profile-result").textContent = "Saved.";
    }).catch(function (err) { $("profile-result").textContent = err.message; });
  });

  $("conv-join").addEventListener("click", function () {
    if (!view || view.kind !== "session") return;
    var id = view.id;
    api("/api/v1/livechat/sessions/" + id + "/join", "POST").then(function (s) {
      sessions[id] = sessions[id] || { unread: 0, fresh: false };
      sessions[id].view = s;
      if (view && view.id === id) openView("session", id, true);
    }).catch(showError);
  });

  $("conv-close").addEventListener("click", function () {
    if (!view || view.kind !== "session") return;
    api("/api/v1/livechat/sessions/" + view.id + "/close", "POST").catch(showError);
  });

  // ---- composer: send, typing, :shortcut and / completion ----
  function send(text) {
    if (!view) return;
    stopTyping();
    var path = view.kind === "session" ? "/api/v1/livechat/sessions/" + view.id + "/messages"
      : "/api/v1/channels/" + view.id + "/messages";
    var kind = view.kind;
    api(path, "POST", { text: text }).then(function (m) {
      if (!view || view.kind !== kind) return;
      if (kind === "session") renderLiveChat(m); else renderChannelMessage(m);
    }).catch(showError);
  }

  $("composer").addEventListener("submit", function (e) {
    e.preventDefault();
    var input = $("composer-input");
    var text = input.value.trim();
    if (!text) return;
    input.value = "";
    hideSuggestions();
    send(text);
  });

  var input = $("composer-input");
  input.addEventListener("keydown", function (e) {
    if (!$("suggestions").hidden && suggestions.length) {
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        selected = (selected + (e.key === "ArrowDown" ? 1 : suggestions.length - 1)) % suggestions.length;
        drawSuggestions();
        return;
      }
      if ((e.key === "Enter" || e.key === "Tab") && selected >= 0) {
        e.preventDefault();
        pick(selected);
        return;
      }
      if (e.key === "Escape") { hideSuggestions(); return; }
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      $("composer").requestSubmit();
    }
  });
  input.addEventListener("input", function () {
    suggest();
    typed();
  });

  // The word being typed, when it is a :shortcut or a /command.
  function currentWord() {
    var before = input.value.slice(0, input.selectionStart);
    var m = before.match(/(^|\s)(::?[\w-]*)$/);
    if (m) return { kind: "canned", word: m[2], start: before.length - m[2].length };
    var c = input.value.match(/^\/[\w]*$/);
    if (c) return { kind: "command", word: c[0], start: 0 };
    return null;
  }

  function suggest() {
    var w = currentWord();
    if (!w || !view || view.kind !== "session") { hideSuggestions(); return; }
    if (w.kind === "command") {
      show(COMMANDS.filter(function (c) { return c[0].indexOf(w.word) === 0; }).map(function (c) {
        return { key: c[0], text: c[1], insert: c[0] + " " };
      }), w);
      return;
    }
    if (w.word === ":") { hideSuggestions(); return; }
    api("/api/v1/livechat/canned/matches?q=" + encodeURIComponent(w.word)).then(function (list) {
      var now = currentWord();
      if (!now || now.word !== w.word) return;
      show(list.map(function (c) {
        return { key: "::" + c.shortcut, text: c.substitution, insert: c.substitution };
      }), w);
    }).catch(function () { hideSuggestions(); });
  }

  function show(list, word) {
    suggestions = list;
    suggestions.word = word;
    selected = list.length ? 0 : -1;
    drawSuggestions();
  }

  function drawSuggestions() {
    var ul = $("suggestions");
    ul.textContent = "";
    if (!suggestions.length) { ul.hidden = true; input.removeAttribute("aria-activedescendant"); return; }
    suggestions.forEach(function (s, i) {
      var li = el("li", "");
      li.id = "suggestion-" + i;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(i === selected));
      li.appendChild(el("span", "key", s.key));
      li.appendChild(el("span", "", s.text));
      li.addEventListener("mousedown", function (e) { e.preventDefault(); pick(i); });
      ul.appendChild(li);
    });
    ul.hidden = false;
    if (selected >= 0) input.setAttribute("aria-activedescendant", "suggestion-" + selected);
  }

  function hideSuggestions() {
    suggestions = [];
    selected = -1;
    $("suggestions").hidden = true;
    $("suggestions").textContent = "";
    input.removeAttribute("aria-activedescendant");
  }

  function pick(i) {
    var s = suggestions[i];
    var w = suggestions.word;
    if (!s || !w) return;
    var end = w.start + w.word.length;
    input.value = input.value.slice(0, w.start) + s.insert + input.value.slice(end);
    var at = w.start + s.insert.length;
    input.setSelectionRange(at, at);
    hideSuggestions();
    input.focus();
  }

  function typed() {
    if (!view || view.kind !== "session" || !me) return;
    var now = Date.now();
    if (now - typingSent > 3000) {
      typingSent = now;
      api("/api/v1/livechat/sessions/" + view.id + "/typing", "POST", { typing: true }).catch(function () {});
    }
    clearTimeout(typingTimer);
    typingTimer = setTimeout(stopTyping, 4000);
  }

  function stopTyping() {
    clearTimeout(typingTimer);
    if (!typingSent || !view || view.kind !== "session") return;
    typingSent = 0;
    api("/api/v1/livechat/sessions/" + view.id + "/typing", "POST", { typing: false }).catch(function () {});
  }

  function showTyping(ev) {
    clearTimeout(theirTyping);
    if (!ev.typing) { hideTyping(); return; }
    $("conv-typing").textContent = ev.name + " is typing\u2026";
    theirTyping = setTimeout(hideTyping, 8000);
  }
  function hideTyping() { $("conv-typing").textContent = ""; }

  // ==== lc-files: files in live chat conversations ====
  // A file message shows as a download link (fetched with the token, saved by the browser,
  // never shown inline); the attach button sends a file when the channel takes files.
  var FILES_TEXTS = { attach: "Attach a file", download: "Download", sending: "Sending {name}\u2026" };
  var attach = null;
  function fileSize(n) {
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
  function fileLink(m, row) {
    var a = el("a", "file-link", m.file.name + " (" + fileSize(m.file.size) + ")");
    a.href = "#";
    a.title = FILES_TEXTS.download + " " + m.file.mime;
    a.setAttribute("data-file", m.file.id);
    a.addEventListener("click", function (e) {
      e.preventDefault();
      fetch("/api/v1/livechat/sessions/" + m.session_id + "/files/" + m.file.id, {
        headers: { authorization: "Bearer " + token },
      }).then(function (resp) {
        if (!resp.ok) throw new Error("The file could not be downloaded (HTTP " + resp.status + ").");
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
      }).catch(showError);
    });
    var text = row.querySelector(".text");
    if (text) { text.textContent = ""; text.appendChild(a); } else row.appendChild(a);
  }
  function filesHide() { if (attach) attach.button.hidden = true; }
  function filesForSession(id, s, mayWrite) {
    if (!attach) {
      var button = el("button", "attach");
      button.appendChild(clipIcon());
      button.type = "button";
      button.id = "composer-attach";
      button.title = FILES_TEXTS.attach;
      button.setAttribute("aria-label", FILES_TEXTS.attach);
      button.hidden = true;
      var picker = document.createElement("input");
      picker.type = "file";
      picker.hidden = true;
      picker.id = "composer-file";
      button.addEventListener("click", function () { picker.click(); });
      picker.addEventListener("change", function () {
        var file = picker.files && picker.files[0];
        picker.value = "";
        if (file && view && view.kind === "session") sendFile(view.id, file);
      });
      var row = document.querySelector("#composer .composer-row");
      row.insertBefore(button, row.firstChild);
      row.appendChild(picker);
      attach = { button: button, picker: picker };
    }
    attach.button.hidden = true;
    if (!mayWrite || !s) return;
    fetch("/api/v1/livechat/" + s.view.channel_id + "/features").then(function (r) { return r.json(); }).then(function (f) {
      if (!view || view.id !== id || !f || !f.files || !f.files.enabled) return;
      attach.picker.accept = f.files.allowed_types.join(",");
      attach.button.hidden = false;
    }).catch(function () {});
  }
  function sendFile(id, file) {
    showError(null);
    $("conv-typing").textContent = FILES_TEXTS.sending.replace("{name}", file.name);
    fetch("/api/v1/livechat/sessions/" + id + "/files?name=" + encodeURIComponent(file.name), {
      method: "POST",
      headers: { authorization: "Bearer " + token, "content-type": file.type || "application/octet-stream" },
      body: file,
    }).then(function (resp) {
      return resp.json().catch(function () { return null; }).then(function (json) {
        $("conv-typing").textContent = "";
        if (!resp.ok) throw new Error((json && json.error && json.error.message) || ("HTTP " + resp.status));
        if (view && view.id === id) renderLiveChat(json);
      });
    }).catch(showError);
  }
  // ==== end of lc-files ====

  window.addEventListener("beforeunload", function () { stopped = true; });

  var saved = sessionStorage.getItem(KEY);
  if (saved) loginWith(saved);
})();
