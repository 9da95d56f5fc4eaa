// ochat console, admin area: live chat channels — texts, colours, operators, session cap,
// the widget snippet and direct link to copy, and a live preview of the button and window
// drawn from the form as it is typed. A section for admin.js's registry (see its header).
(function () {
  "use strict";
  var registry = (window.ochatAdmin = window.ochatAdmin || { sections: [] });

  function render(box, ctx, channelId) {
    var ul = ctx.el("ul", "admin-list");
    ul.id = "channels-list";
    box.appendChild(ul);
    var created = ctx.form(box, "ch-create", "Create the channel", function () {
      return ctx.api("/api/v1/livechat/channels", "POST", {
        name: document.getElementById("ch-new-name").value.trim(),
      }).then(function (c) { ctx.open("channels", c.id); });
    });
    created.form.classList.add("inline");
    ctx.field(created.body, "ch-new-name", "New channel's name", { required: true });
    var editor = ctx.el("div", "admin-editor");
    box.appendChild(editor);
    ctx.api("/api/v1/livechat/channels").then(function (channels) {
      if (!channels.length) ul.appendChild(ctx.el("li", "admin-help", "No channel yet."));
      channels.forEach(function (c) {
        var li = ctx.el("li");
        var b = ctx.el("button", "link", c.name);
        b.type = "button";
        if (c.id === channelId) b.setAttribute("aria-current", "true");
        b.addEventListener("click", function () { ctx.open("channels", c.id); });
        li.appendChild(b);
        li.appendChild(ctx.el("span", "admin-help", " " + c.operators + (c.operators === 1 ? " operator" : " operators")));
        ul.appendChild(li);
      });
      var id = channelId || (channels.length === 1 ? channels[0].id : null);
      if (id) return Promise.all([ctx.api("/api/v1/livechat/channels/" + id), ctx.api("/api/v1/users")])
        .then(function (r) { edit(editor, ctx, r[0], r[1]); });
    }).catch(function (e) { editor.appendChild(ctx.el("p", "admin-message error", e.message)); });
  }

  function edit(editor, ctx, channel, users) {
    editor.appendChild(ctx.el("h4", "", "Channel \u201c" + channel.name + "\u201d"));
    var cols = ctx.el("div", "admin-columns");
    editor.appendChild(cols);
    var left = ctx.el("div");
    var right = ctx.el("div", "admin-side");
    cols.appendChild(left);
    cols.appendChild(right);
    var operators;
    var f = ctx.form(left, "ch-edit", "Save the channel", function () {
      var v = function (id) { return document.getElementById(id).value; };
      var cap = v("ch-cap").trim();
      return ctx.api("/api/v1/livechat/channels/" + channel.id, "PATCH", {
        name: v("ch-name").trim(), button_text: v("ch-button-text"), welcome_message: v("ch-welcome"),
        input_placeholder: v("ch-placeholder"), button_color: v("ch-button-color").trim(),
        header_color: v("ch-header-color").trim(), operators: operators(),
        max_sessions_per_operator: cap === "" ? 0 : Number(cap),
        published: document.getElementById("ch-published").checked,
        self_join: document.getElementById("ch-self-join").checked,
        queue_limit: v("ch-queue").trim() === "" ? 0 : Number(v("ch-queue")),
      }).then(function () { f.say("Saved. The widget uses the new settings on the next page a visitor opens."); });
    });
    var b = f.body;
    ctx.field(b, "ch-name", "Channel name", { required: true, value: channel.name });
    ctx.field(b, "ch-button-text", "Button text", { value: channel.button_text,
      help: "Shown on the button when the rule says \u201cshow with notification\u201d, and as its label." });
    ctx.field(b, "ch-welcome", "Welcome message", { value: channel.welcome_message, rows: 2 });
    ctx.field(b, "ch-placeholder", "Input placeholder", { value: channel.input_placeholder });
    colour(ctx, b, "ch-button-color", "Button colour", channel.button_color);
    colour(ctx, b, "ch-header-color", "Header colour", channel.header_color);
    operators = ctx.checks(b, "ch-operators", "Operators", users.map(function (u) {
      return { value: u.id, label: u.name, checked: channel.operators.indexOf(u.id) >= 0 };
    }));
    ctx.field(b, "ch-cap", "Ongoing sessions per operator at most", { type: "number", min: 0, max: 1000,
      value: channel.max_sessions_per_operator || "", help: "Empty or 0: no cap." });
    ctx.field(b, "ch-queue", "Visitors who may wait in line when everyone is busy", { type: "number", min: 0,
      max: 1000, value: channel.queue_limit, help: "0: no queue (visitors hear that nobody is free)." });
    ctx.field(b, "ch-self-join", "Any operator may join by themselves", { type: "checkbox", value: channel.self_join });
    ctx.field(b, "ch-published", "Publish the ratings on the public page", { type: "checkbox", value: channel.published });

    // Parts other files add (admin_channel_offline.js: business hours, offline mode, languages).
    (registry.channelParts || []).forEach(function (part) { part(left, ctx, channel); });

    var rules = ctx.el("button", "secondary", "Rules of this channel (" + channel.rules.length + ")");
    rules.type = "button";
    rules.id = "ch-rules";
    rules.addEventListener("click", function () { ctx.open("rules", channel.id); });
    left.appendChild(rules);
    var del = ctx.el("button", "danger", "Delete the channel");
    del.type = "button";
    del.id = "ch-delete";
    var delMessage = ctx.el("p", "admin-message error");
    delMessage.setAttribute("role", "alert");
    del.addEventListener("click", function () {
      if (del.getAttribute("data-confirm") !== "1") {
        del.setAttribute("data-confirm", "1");
        del.textContent = "Really delete \u201c" + channel.name + "\u201d? Click again";
        return;
      }
      ctx.api("/api/v1/livechat/channels/" + channel.id, "DELETE").then(function () { ctx.open("channels"); },
        function (e) { delMessage.textContent = e.message; });
    });
    left.appendChild(del);
    left.appendChild(delMessage);

    preview(ctx, right);
    right.appendChild(ctx.el("h4", "", "Put it on your website"));
    var embed = ctx.el("div");
    embed.id = "ch-embed";
    right.appendChild(embed);
    ctx.api("/api/v1/livechat/channels/" + channel.id + "/widget").then(function (w) {
      embed.appendChild(ctx.el("p", "admin-help", "Paste the snippet into every page, before </body>:"));
      ctx.copyable(embed, "ch-snippet", "Widget snippet", w.snippet, true);
      ctx.copyable(embed, "ch-link", "Direct chat link", w.link, false);
      var a = ctx.el("a", "", "Open the direct chat page");
      a.href = w.link;
      a.target = "_blank";
      a.rel = "noopener";
      embed.appendChild(a);
    }).catch(function (e) { embed.appendChild(ctx.el("p", "admin-message error", e.message)); });
  }

  // A colour as text (any CSS colour) with a picker beside it, kept in step.
  function colour(ctx, parent, id, label, value) {
    var text = ctx.field(parent, id, label, { value: value, help: "A CSS colour, e.g. #875A7B." });
    var pick = ctx.el("input");
    pick.type = "color";
    pick.id = id + "-pick";
    pick.setAttribute("aria-label", label + " (picker)");
    var hex = /^#[0-9a-f]{6}$/i;
    if (hex.test(value)) pick.value = value.toLowerCase();
    pick.addEventListener("input", function () {
      text.value = pick.value;
      text.dispatchEvent(new Event("input", { bubbles: true }));
    });
    text.addEventListener("input", function () { if (hex.test(text.value.trim())) pick.value = text.value.trim().toLowerCase(); });
    text.parentNode.insertBefore(pick, text.nextSibling);
    text.parentNode.classList.add("colour");
  }

  // The button and the chat window as the widget will draw them, redrawn on every keystroke.
  function preview(ctx, parent) {
    parent.appendChild(ctx.el("h4", "", "Preview"));
    var p = ctx.el("div", "ch-preview");
    p.id = "ch-preview";
    p.setAttribute("aria-label", "Preview of the chat button and window");
    p.setAttribute("role", "img");
    var win = ctx.el("div", "pv-window");
    var head = ctx.el("div", "pv-head");
    var title = ctx.el("span", "pv-title");
    head.appendChild(title);
    win.appendChild(head);
    var welcome = ctx.el("div", "pv-welcome");
    win.appendChild(welcome);
    var input = ctx.el("div", "pv-input");
    win.appendChild(input);
    var button = ctx.el("div", "pv-button");
    button.id = "ch-preview-button";
    p.appendChild(win);
    p.appendChild(button);
    parent.appendChild(p);
    var v = function (id) { var n = document.getElementById(id); return n ? n.value : ""; };
    function draw() {
      title.textContent = v("ch-name");
      welcome.textContent = v("ch-welcome");
      input.textContent = v("ch-placeholder") || "Type a message\u2026";
      button.textContent = v("ch-button-text") || "Chat";
      // Set from script through the CSSOM (the CSP allows it; a style attribute in markup it would not).
      button.style.backgroundColor = "";
      button.style.backgroundColor = v("ch-button-color").trim();
      head.style.backgroundColor = "";
      head.style.backgroundColor = v("ch-header-color").trim();
    }
    document.getElementById("ch-edit").addEventListener("input", draw);
    draw();
  }

  registry.sections.push({ id: "channels", title: "Channels", order: 20, render: render });
})();
