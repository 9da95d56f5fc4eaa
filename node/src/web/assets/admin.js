// ochat console, the admin area: the frame (a nav of sections and the place they draw in),
// the helpers every section uses, and the first-run path (no operator yet: create the first
// operator and channel, then show the snippet). The sections themselves are in
// admin_people.js (operators, groups), admin_channels.js (channels), admin_rules.js (rules,
// canned responses); admin_bots.js adds chatbots and federation the same way.
//
// THE HOOK (for every admin_*.js file):
//
//   (window.ochatAdmin = window.ochatAdmin || { sections: [] }).sections.push({
//     id: "chatbots",            // unique; the section's box is <div id="admin-chatbots">
//     title: "Chatbots",         // the nav entry and the section's <h3>
//     order: 35,                 // place in the nav (operators 10, channels 20, rules 30,
//                                //   canned 40, groups 50; chatbots 35, federation 60)
//     render: function (box, ctx, arg) { ... }  // draws into box (emptied before each call)
//   });
//
// Push at load time, before or after admin.js: the sections are read when the area opens.
// Or, from a file loaded after admin.js, window.ochatAdmin.register(section), which also takes
// the mount form {id, title, mount(container) -> {unmount()}?} (admin_bots.js's): mount draws
// into the empty box, unmount runs when another section opens or the area closes.
// A section may also have leave(): called when it stops being shown.
// ctx (the same object for every section, also window.ochatAdmin.ctx once logged in):
//   ctx.api(path, method, body) -> Promise of the JSON answer (null for 204); rejects with an
//       Error whose message is the API's error message (and .status, .code)
//   ctx.el(tag, className, text)      an element; text is set with textContent (never HTML)
//   ctx.field(parent, id, label, opts) a labelled <input> (opts.type, value, required,
//       placeholder, help, min, max, rows → <textarea>, options [[value, label]] → <select>,
//       autocomplete); answers the control
//   ctx.checks(parent, id, legend, items [{value, label, checked}]) a fieldset of
//       checkboxes; answers a function giving the checked values
//   ctx.form(parent, id, submitLabel, onSubmit) a <form> with a submit button and, after it,
//       a message line (role=alert for errors, status for successes); onSubmit(form) returns
//       a Promise; answers {form, body, say(text), fail(error)}. A rejection is shown as the
//       API's message next to the form
//   ctx.list(values) comma- or space-separated text → array; ctx.joined(array) → "a, b"
//   ctx.open(id, arg) opens a section (with an argument its render receives)
//   ctx.me (null for the admin token), ctx.token
// Everything people typed is shown with textContent; the page's CSP allows no inline script
// or style attribute in markup (setting element.style from script is allowed).
(function () {
  "use strict";
  var registry = (window.ochatAdmin = window.ochatAdmin || { sections: [] });
  var $ = function (id) { return document.getElementById(id); };
  var ctx = null;
  var current = null;

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function makeApi(token) {
    return function (path, method, body) { return window.ochatApi(token, path, method, body); };
  }

  function field(parent, id, label, opts) {
    opts = opts || {};
    var wrap = el("div", "admin-field" + (opts.type === "checkbox" ? " check" : ""));
    var control;
    if (opts.options) {
      control = el("select");
      opts.options.forEach(function (o) {
        var option = el("option", "", o[1]);
        option.value = o[0];
        control.appendChild(option);
      });
    } else if (opts.rows) {
      control = el("textarea");
      control.rows = opts.rows;
    } else {
      control = el("input");
      control.type = opts.type || "text";
    }
    control.id = id;
    if (opts.type === "checkbox") control.checked = !!opts.value;
    else if (opts.value !== undefined && opts.value !== null) control.value = String(opts.value);
    if (opts.required) control.required = true;
    if (opts.placeholder) control.placeholder = opts.placeholder;
    if (opts.min !== undefined) control.min = String(opts.min);
    if (opts.max !== undefined) control.max = String(opts.max);
    if (opts.autocomplete) control.setAttribute("autocomplete", opts.autocomplete);
    var l = el("label", "", label);
    l.htmlFor = id;
    if (opts.type === "checkbox") { wrap.appendChild(control); wrap.appendChild(l); }
    else { wrap.appendChild(l); wrap.appendChild(control); }
    if (opts.help) {
      var help = el("p", "admin-help", opts.help);
      help.id = id + "-help";
      control.setAttribute("aria-describedby", help.id);
      wrap.appendChild(help);
    }
    parent.appendChild(wrap);
    return control;
  }

  function checks(parent, id, legend, items) {
    var set = el("fieldset", "admin-checks");
    set.id = id;
    set.appendChild(el("legend", "", legend));
    if (!items.length) set.appendChild(el("p", "admin-help", "None yet."));
    items.forEach(function (item, i) {
      var l = el("label", "check");
      var cb = el("input");
      cb.type = "checkbox";
      cb.id = id + "-" + i;
      cb.value = item.value;
      cb.checked = !!item.checked;
      l.htmlFor = cb.id;
      l.appendChild(cb);
      l.appendChild(document.createTextNode(" " + item.label));
      set.appendChild(l);
    });
    parent.appendChild(set);
    return function () {
      return Array.prototype.slice.call(set.querySelectorAll("input:checked")).map(function (c) { return c.value; });
    };
  }

  function form(parent, id, submitLabel, onSubmit) {
    var f = el("form", "admin-form");
    f.id = id;
    f.noValidate = false;
    var body = el("div", "admin-form-body");
    f.appendChild(body);
    var actions = el("div", "admin-actions");
    var submit = el("button", "", submitLabel);
    submit.type = "submit";
    submit.id = id + "-submit";
    actions.appendChild(submit);
    f.appendChild(actions);
    var message = el("p", "admin-message");
    message.id = id + "-message";
    f.appendChild(message);
    var handle = {
      form: f, body: body, actions: actions,
      say: function (text) {
        message.setAttribute("role", "status");
        message.className = "admin-message ok";
        message.textContent = text;
      },
      fail: function (e) {
        message.setAttribute("role", "alert");
        message.className = "admin-message error";
        message.textContent = e ? (e.message || String(e)) : "";
      },
    };
    // An error stays until the form is changed: then it may no longer hold.
    f.addEventListener("input", function () {
      if (message.className.indexOf("error") >= 0) message.textContent = "";
    });
    f.addEventListener("submit", function (e) {
      e.preventDefault();
      message.textContent = "";
      submit.disabled = true;
      Promise.resolve().then(function () { return onSubmit(f); }).then(function () {
        submit.disabled = false;
      }, function (err) {
        submit.disabled = false;
        handle.fail(err);
      });
    });
    parent.appendChild(f);
    return handle;
  }

  function list(text) {
    return String(text || "").split(/[\s,]+/).map(function (s) { return s.trim(); }).filter(Boolean);
  }
  function joined(values) { return (values || []).join(", "); }

  // Takes a section in either form (see the header).
  var ORDERS = { chatbots: 35, federation: 60 };
  registry.register = function (s) {
    if (typeof s.render === "function") { registry.sections.push(s); return; }
    var mounted = null;
    registry.sections.push({
      id: s.id, title: s.title, order: s.order || ORDERS[s.id] || 90,
      render: function (box) { mounted = s.mount(box) || null; },
      leave: function () { if (mounted && mounted.unmount) mounted.unmount(); mounted = null; },
    });
  };

  // The section shown stops being shown (another one opens, or the area is hidden).
  function leaveCurrent() {
    var s = current && sections().filter(function (x) { return x.id === current; })[0];
    if (s && s.leave) { try { s.leave(); } catch (e) { /* it is going anyway */ } }
  }

  // ---- the frame ----
  function sections() {
    return registry.sections.slice().sort(function (a, b) { return (a.order || 99) - (b.order || 99); });
  }

  function drawFrame() {
    var area = $("admin");
    area.textContent = "";
    var title = el("h2", "", "Administration");
    title.id = "admin-title";
    area.appendChild(title);
    var nav = el("nav", "admin-nav");
    nav.setAttribute("aria-label", "Administration sections");
    var ul = el("ul");
    sections().forEach(function (s) {
      var li = el("li");
      var b = el("button", "secondary", s.title);
      b.type = "button";
      b.id = "admin-tab-" + s.id;
      b.setAttribute("data-section", s.id);
      b.addEventListener("click", function () { open(s.id); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    nav.appendChild(ul);
    area.appendChild(nav);
    var body = el("div", "admin-body");
    body.id = "admin-body";
    area.appendChild(body);
  }

  function show() {
    if (ctx.leaveConsole) ctx.leaveConsole();
    $("admin").hidden = false;
  }

  function open(id, arg) {
    var s = sections().filter(function (x) { return x.id === id; })[0];
    if (!s) return;
    show();
    if (!$("admin-body")) drawFrame();
    var body = $("admin-body");
    // A keyboard user whose control went away with the redraw lands on the section's title.
    var hadFocus = body.contains(document.activeElement);
    leaveCurrent();
    current = id;
    sections().forEach(function (x) {
      var b = $("admin-tab-" + x.id);
      if (b) {
        if (x.id === id) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current");
      }
    });
    body.textContent = "";
    var box = el("section", "admin-section");
    box.id = "admin-" + s.id;
    var h = el("h3", "", s.title);
    h.id = "admin-" + s.id + "-title";
    h.tabIndex = -1;
    box.setAttribute("aria-labelledby", h.id);
    box.appendChild(h);
    body.appendChild(box);
    try { s.render(box, ctx, arg); } catch (e) { box.appendChild(el("p", "admin-message error", e.message)); }
    if (hadFocus || arg === undefined) h.focus();
  }

  // ---- the first run: no operator yet ----
  function firstRun() {
    show();
    var area = $("admin");
    area.textContent = "";
    var box = el("section", "admin-section first-run");
    box.id = "first-run";
    var h = el("h2", "", "Welcome! Let's put a live chat on your website");
    h.id = "first-run-title";
    box.setAttribute("aria-labelledby", h.id);
    box.appendChild(h);
    box.appendChild(el("p", "", "This node has no operator yet. Create the first one (the person who " +
      "answers visitors) and the first channel (the chat button of one website). You can change " +
      "everything later in Administration."));
    var made = { user: null, channel: null };
    var f = form(box, "first-run-form", "Create the operator and the channel", function () {
      var step = made.user ? Promise.resolve(made.user) : ctx.api("/api/v1/users", "POST", {
        name: $("fr-name").value.trim(), login: $("fr-login").value.trim(),
        password: $("fr-password").value, chat_name: $("fr-chat-name").value.trim() || undefined,
      });
      return step.then(function (user) {
        made.user = user;
        var channel = made.channel ? Promise.resolve(made.channel) : ctx.api("/api/v1/livechat/channels", "POST", {
          name: $("fr-channel").value.trim(), operators: [user.id],
          button_text: $("fr-button-text").value.trim() || undefined,
          welcome_message: $("fr-welcome").value.trim() || undefined,
        });
        return channel;
      }).then(function (channel) {
        made.channel = channel;
        return ctx.api("/api/v1/livechat/channels/" + channel.id + "/widget");
      }).then(function (w) { done(box, f, made, w); });
    });
    // A node used only for federation: the admin may put this off (it comes back next time).
    var later = el("button", "secondary", "Not now");
    later.type = "button";
    later.id = "first-run-later";
    later.addEventListener("click", function () {
      $("admin").hidden = true;
      $("placeholder").hidden = false;
    });
    f.actions.appendChild(later);
    var who = el("fieldset", "admin-group");
    who.appendChild(el("legend", "", "The first operator"));
    field(who, "fr-name", "Full name", { required: true, autocomplete: "off" });
    field(who, "fr-login", "Login", { required: true, autocomplete: "off" });
    field(who, "fr-password", "Password", { type: "password", required: true, autocomplete: "new-password",
      help: "They log into this console with the login and password." });
    field(who, "fr-chat-name", "Name shown to visitors", { help: "Optional; the full name when empty." });
    f.body.appendChild(who);
    var where = el("fieldset", "admin-group");
    where.appendChild(el("legend", "", "The first channel"));
    field(where, "fr-channel", "Channel name", { required: true, value: "Website" });
    field(where, "fr-button-text", "Button text", { value: "Have a question? Chat with us." });
    field(where, "fr-welcome", "Welcome message", { value: "Welcome! How can we help?" });
    f.body.appendChild(where);
    area.appendChild(box);
    $("fr-name").focus();
  }

  function done(box, f, made, w) {
    f.form.hidden = true;
    var out = el("div", "first-run-done");
    out.id = "first-run-done";
    out.setAttribute("role", "status");
    out.appendChild(el("h3", "", "Done: " + made.user.name + " answers the \u201c" + made.channel.name + "\u201d channel"));
    out.appendChild(el("p", "", "1. Paste this snippet into your website's pages, before </body>:"));
    copyable(out, "first-run-snippet", "Widget snippet", w.snippet, true);
    out.appendChild(el("p", "", "Or share the direct chat link, a page that is only the chat:"));
    copyable(out, "first-run-link", "Direct chat link", w.link, false);
    out.appendChild(el("p", "", "2. The button shows while an operator is available: log in as \u201c" +
      (made.user.login || made.user.name) + "\u201d in another browser window (or after logging out " +
      "here) to receive visitors."));
    out.appendChild(el("p", "", "3. Open a page with the snippet, click the button, write: the " +
      "conversation appears in the operator's console."));
    var more = el("button", "", "Go to the administration");
    more.type = "button";
    more.id = "first-run-admin";
    more.addEventListener("click", function () { drawFrame(); open("channels", made.channel.id); });
    out.appendChild(more);
    box.appendChild(out);
    out.tabIndex = -1;
    out.focus();
  }

  // A read-only text with a Copy button (shared with the channels section).
  function copyable(parent, id, label, value, multiline) {
    var wrap = el("div", "admin-copy");
    var control = field(wrap, id, label, multiline ? { rows: 2, value: value } : { value: value });
    control.readOnly = true;
    control.addEventListener("focus", function () { control.select(); });
    var b = el("button", "secondary", "Copy");
    b.type = "button";
    b.id = id + "-copy";
    b.setAttribute("aria-label", "Copy the " + label.toLowerCase());
    var said = el("span", "admin-copied");
    said.setAttribute("role", "status");
    b.addEventListener("click", function () {
      var ok = function () { said.textContent = "Copied."; };
      var manual = function () { control.focus(); control.select(); said.textContent = "Selected: press Ctrl+C."; };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(value).then(ok, manual);
      else manual();
    });
    wrap.appendChild(b);
    wrap.appendChild(said);
    parent.appendChild(wrap);
    return control;
  }

  // console.js announces the login with the token and the user (null for the admin token).
  document.addEventListener("ochat:console", function (e) {
    var d = e.detail || {};
    var isAdmin = !d.me || d.me.administrator === true;
    if (!isAdmin) return;
    ctx = {
      api: makeApi(d.token), el: el, field: field, checks: checks, form: form, list: list,
      joined: joined, copyable: copyable, open: open, me: d.me || null, token: d.token,
      leaveConsole: d.leave,
    };
    registry.ctx = ctx;
    // The console hides the area when it shows one of its own views: the section leaves.
    new MutationObserver(function () { if ($("admin").hidden) leaveCurrent(); })
      .observe($("admin"), { attributes: true, attributeFilter: ["hidden"] });
    var b = $("admin-open");
    b.hidden = false;
    b.addEventListener("click", function () {
      drawFrame();
      open(current || (sections()[0] && sections()[0].id));
    });
    // The first run: the admin token on a node without any operator.
    if (!d.me) {
      ctx.api("/api/v1/users").then(function (users) {
        // Not over a section someone already opened.
        if (!users.length && !current) firstRun();
      }).catch(function () { /* the console shows its own errors */ });
    }
  });
})();
