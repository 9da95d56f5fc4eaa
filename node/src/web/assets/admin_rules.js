// ochat console, admin area: a channel's rules (ordered; the URL regex tried on a sample URL
// by the node as it is typed: match, no match, or why the regex is refused; countries,
// action, chatbot and its condition) and canned responses. Sections for admin.js's registry
// (see its header).
(function () {
  "use strict";
  var registry = (window.ochatAdmin = window.ochatAdmin || { sections: [] });
  var ACTIONS = [["show", "Show the button"], ["show_with_notification", "Show the button with its text"],
    ["auto_open", "Open the chat by itself"], ["hide", "Hide the button"]];
  var CONDITIONS = [["always", "Always"], ["only_if_no_operator", "Only when no operator is available"],
    ["only_if_operator", "Only when an operator is available"]];
  var lastChannel = null;

  function label(pairs, value) {
    var hit = pairs.filter(function (p) { return p[0] === value; })[0];
    return hit ? hit[1] : value;
  }

  function renderRules(box, ctx, arg) {
    var channelId = (arg && arg.channel) || arg || lastChannel;
    var ruleId = arg && arg.rule;
    box.appendChild(ctx.el("p", "admin-help", "On each page the widget takes the first rule that fits: " +
      "rules naming the visitor's country first, then the others, each in sequence order. With no " +
      "rule, the button shows."));
    var pick = ctx.el("div");
    box.appendChild(pick);
    var area = ctx.el("div");
    box.appendChild(area);
    ctx.api("/api/v1/livechat/channels").then(function (channels) {
      if (!channels.length) { pick.appendChild(ctx.el("p", "admin-help", "Create a channel first.")); return; }
      if (!channels.some(function (c) { return c.id === channelId; })) channelId = channels[0].id;
      lastChannel = channelId;
      var select = ctx.field(pick, "rules-channel", "Channel", { options: channels.map(function (c) { return [c.id, c.name]; }) });
      select.value = channelId;
      select.addEventListener("change", function () { ctx.open("rules", select.value); });
      return Promise.all([ctx.api("/api/v1/livechat/channels/" + channelId),
        ctx.api("/api/v1/livechat/chatbots").catch(function () { return []; })]).then(function (r) {
        draw(area, ctx, r[0], r[1], ruleId);
      });
    }).catch(function (e) { area.appendChild(ctx.el("p", "admin-message error", e.message)); });
  }

  function draw(area, ctx, channel, bots, ruleId) {
    var rules = channel.rules.slice().sort(function (a, b) { return a.sequence - b.sequence; });
    var botNames = {};
    bots.forEach(function (b) { botNames[b.id] = b.name; });
    var table = ctx.el("table", "admin-table");
    table.id = "rules-table";
    table.appendChild(ctx.el("caption", "", "Rules of \u201c" + channel.name + "\u201d, in order"));
    var head = ctx.el("tr");
    ["#", "Page URL regex", "Countries", "Action", "Chatbot", ""].forEach(function (t) {
      var th = ctx.el("th", "", t);
      th.scope = "col";
      head.appendChild(th);
    });
    table.appendChild(head);
    var message = ctx.el("p", "admin-message error");
    message.setAttribute("role", "alert");
    if (!rules.length) {
      var none = ctx.el("tr");
      var td0 = ctx.el("td", "admin-help", "No rule: the button shows on every page.");
      td0.colSpan = 6;
      none.appendChild(td0);
      table.appendChild(none);
    }
    rules.forEach(function (r, i) {
      var tr = ctx.el("tr");
      tr.setAttribute("data-rule", r.id);
      tr.appendChild(ctx.el("td", "", r.sequence));
      tr.appendChild(ctx.el("td", "mono", r.url_regex || "(every page)"));
      tr.appendChild(ctx.el("td", "", ctx.joined(r.countries) || "all"));
      tr.appendChild(ctx.el("td", "", label(ACTIONS, r.action) + (r.action === "auto_open" ? " after " + (r.auto_open_after_s || 0) + " s" : "")));
      tr.appendChild(ctx.el("td", "", r.chatbot_id ? (botNames[r.chatbot_id] || r.chatbot_id) + " \u2014 " + label(CONDITIONS, r.chatbot_condition) : ""));
      var td = ctx.el("td", "admin-row-actions");
      var put = function (rule, seq) {
        var body = Object.assign({}, rule, { sequence: seq });
        return ctx.api("/api/v1/livechat/channels/" + channel.id + "/rules/" + rule.id, "PUT", body);
      };
      // Moving swaps the sequences with the neighbour (equal ones are spread first).
      var move = function (j) {
        var other = rules[j];
        var a = r.sequence, b = other.sequence;
        if (a === b) { if (j < i) a = b + 1; else b = a + 1; }
        put(r, b).then(function () { return put(other, a); })
          .then(function () { ctx.open("rules", channel.id); }, function (e) { message.textContent = e.message; });
      };
      button(ctx, td, "Up", "Move rule " + (i + 1) + " up", i === 0, function () { move(i - 1); });
      button(ctx, td, "Down", "Move rule " + (i + 1) + " down", i === rules.length - 1, function () { move(i + 1); });
      button(ctx, td, "Edit", "Edit rule " + (i + 1), false, function () { ctx.open("rules", { channel: channel.id, rule: r.id }); });
      button(ctx, td, "Delete", "Delete rule " + (i + 1), false, function () {
        ctx.api("/api/v1/livechat/channels/" + channel.id + "/rules/" + r.id, "DELETE")
          .then(function () { ctx.open("rules", channel.id); }, function (e) { message.textContent = e.message; });
      });
      tr.appendChild(td);
      table.appendChild(tr);
    });
    area.appendChild(table);
    area.appendChild(message);
    var rule = rules.filter(function (r) { return r.id === ruleId; })[0];
    var next = rules.length ? rules[rules.length - 1].sequence + 10 : 10;
    editor(area, ctx, channel, bots, rule, next);
  }

  function button(ctx, parent, text, aria, disabled, onclick) {
    var b = ctx.el("button", "secondary small", text);
    b.type = "button";
    b.disabled = disabled;
    b.setAttribute("aria-label", aria);
    b.addEventListener("click", onclick);
    parent.appendChild(b);
  }

  function editor(area, ctx, channel, bots, rule, next) {
    area.appendChild(ctx.el("h4", "", rule ? "Edit the rule" : "New rule"));
    var g = function (id) { return document.getElementById(id); };
    var f = ctx.form(area, "rule-form", rule ? "Save the rule" : "Add the rule", function () {
      var body = {
        sequence: Number(g("rule-sequence").value || 0),
        url_regex: g("rule-regex").value,
        countries: ctx.list(g("rule-countries").value).map(function (c) { return c.toUpperCase(); }),
        action: g("rule-action").value,
        auto_open_after_s: g("rule-action").value === "auto_open" ? Number(g("rule-delay").value || 0) : null,
        chatbot_id: g("rule-chatbot").value || null,
        chatbot_condition: g("rule-condition").value,
      };
      var path = "/api/v1/livechat/channels/" + channel.id + "/rules";
      var call = rule ? ctx.api(path + "/" + rule.id, "PUT", body) : ctx.api(path, "POST", body);
      return call.then(function () { ctx.open("rules", channel.id); });
    });
    var b = f.body;
    ctx.field(b, "rule-sequence", "Sequence", { type: "number", required: true, value: rule ? rule.sequence : next,
      help: "Lower numbers are tried first." });
    ctx.field(b, "rule-regex", "Page URL regex", { value: rule ? rule.url_regex : "", placeholder: "/shop",
      help: "Searched anywhere in the page's address (Rust regex syntax); empty matches every page." });
    ctx.field(b, "rule-sample", "Try it on a page URL", { type: "url", placeholder: "https://www.example.com/shop/cart" });
    var verdict = ctx.el("p", "rule-verdict");
    verdict.id = "rule-verdict";
    verdict.setAttribute("role", "status");
    verdict.setAttribute("aria-live", "polite");
    b.appendChild(verdict);
    ctx.field(b, "rule-countries", "Countries", { value: rule ? ctx.joined(rule.countries) : "", placeholder: "BE, FR",
      help: "Two-letter codes separated by commas; empty: every country." });
    var action = ctx.field(b, "rule-action", "Action", { options: ACTIONS });
    action.value = rule ? rule.action : "show";
    var delay = ctx.field(b, "rule-delay", "Open after (seconds)", { type: "number", min: 0, max: 3600,
      value: rule && rule.auto_open_after_s !== null ? rule.auto_open_after_s : 5 });
    var showDelay = function () { delay.parentNode.hidden = action.value !== "auto_open"; };
    action.addEventListener("change", showDelay);
    showDelay();
    var bot = ctx.field(b, "rule-chatbot", "Chatbot", { options: [["", "(none: operators answer)"]].concat(
      bots.map(function (x) { return [x.id, x.name]; })) });
    bot.value = rule && rule.chatbot_id ? rule.chatbot_id : "";
    var cond = ctx.field(b, "rule-condition", "The chatbot answers", { options: CONDITIONS });
    cond.value = rule ? rule.chatbot_condition : "always";
    var showCond = function () { cond.parentNode.hidden = !bot.value; };
    bot.addEventListener("change", showCond);
    showCond();
    if (rule) {
      var cancel = ctx.el("button", "secondary", "New rule instead");
      cancel.type = "button";
      cancel.addEventListener("click", function () { ctx.open("rules", channel.id); });
      f.actions.appendChild(cancel);
    }

    // As the regex or the URL is typed, the node says whether the rule would apply (the
    // answer to the latest keystroke wins; older answers arriving late are dropped).
    var asked = 0;
    function test() {
      var url = g("rule-sample").value.trim();
      var regex = g("rule-regex").value;
      var mine = ++asked;
      verdict.className = "rule-verdict";
      if (!url) {
        verdict.textContent = "Type a page URL to see whether this rule applies to it.";
        return;
      }
      ctx.api("/api/v1/livechat/rules/test", "POST", { url_regex: regex, url: url }).then(function (a) {
        if (mine !== asked) return;
        verdict.className = "rule-verdict " + (a.matches ? "match" : "no-match");
        verdict.textContent = a.matches ? "\u2713 Matches: the rule applies to this page."
          : "\u2717 No match: the rule does not apply to this page.";
      }, function (e) {
        if (mine !== asked) return;
        verdict.className = "rule-verdict invalid";
        // A 400 about url_regex is the regex refused; anything else is the URL or the call.
        var aboutRegex = e.status === 400 && /url_regex/.test(e.message);
        verdict.textContent = (aboutRegex ? "Invalid regex: " : "Could not test the regex: ") + e.message;
      });
    }
    g("rule-regex").addEventListener("input", test);
    g("rule-sample").addEventListener("input", test);
    test();
  }

  function renderCanned(box, ctx) {
    box.appendChild(ctx.el("p", "admin-help", "Operators type :shortcut in a conversation to send the text. " +
      "Responses made here are shared with the groups you choose (operators also make their own)."));
    var table = ctx.el("table", "admin-table");
    table.id = "canned-table";
    table.appendChild(ctx.el("caption", "sr-only", "Canned responses"));
    var head = ctx.el("tr");
    ["Shortcut", "Text", "Shared with", "Made by", ""].forEach(function (t) {
      var th = ctx.el("th", "", t);
      th.scope = "col";
      head.appendChild(th);
    });
    table.appendChild(head);
    box.appendChild(table);
    var message = ctx.el("p", "admin-message error");
    message.setAttribute("role", "alert");
    box.appendChild(message);
    var form = ctx.el("div");
    box.appendChild(form);
    Promise.all([ctx.api("/api/v1/livechat/canned"), ctx.api("/api/v1/livechat/groups"), ctx.api("/api/v1/users")]).then(function (r) {
      var canned = r[0], groups = r[1], users = r[2];
      var gn = {}, un = {};
      groups.forEach(function (g) { gn[g.id] = g.name; });
      users.forEach(function (u) { un[u.id] = u.name; });
      if (!canned.length) {
        var none = ctx.el("tr");
        var td0 = ctx.el("td", "admin-help", "No canned response yet.");
        td0.colSpan = 5;
        none.appendChild(td0);
        table.appendChild(none);
      }
      canned.forEach(function (c) {
        var tr = ctx.el("tr");
        tr.setAttribute("data-canned", c.id);
        tr.appendChild(ctx.el("td", "mono", ":" + c.shortcut));
        tr.appendChild(ctx.el("td", "", c.substitution));
        tr.appendChild(ctx.el("td", "", c.groups.map(function (g) { return gn[g] || g; }).join(", ")));
        tr.appendChild(ctx.el("td", "", c.owner ? (un[c.owner] || c.owner) : "Administrator"));
        var td = ctx.el("td");
        button(ctx, td, "Delete", "Delete :" + c.shortcut, false, function () {
          ctx.api("/api/v1/livechat/canned/" + c.id, "DELETE").then(function () { ctx.open("canned"); },
            function (e) { message.textContent = e.message; });
        });
        tr.appendChild(td);
        table.appendChild(tr);
      });
      form.appendChild(ctx.el("h4", "", "New canned response"));
      var shared;
      var f = ctx.form(form, "canned-form", "Add the response", function () {
        return ctx.api("/api/v1/livechat/canned", "POST", {
          shortcut: document.getElementById("canned-shortcut").value.trim().replace(/^:+/, ""),
          substitution: document.getElementById("canned-text").value, groups: shared(),
        }).then(function () { ctx.open("canned"); });
      });
      ctx.field(f.body, "canned-shortcut", "Shortcut", { required: true, placeholder: "hello",
        help: "Letters, digits, - and _." });
      ctx.field(f.body, "canned-text", "Text", { required: true, rows: 3 });
      shared = ctx.checks(f.body, "canned-groups", "Share with the groups", groups.map(function (g) {
        return { value: g.id, label: g.name };
      }));
    }).catch(function (e) { message.textContent = e.message; });
  }

  registry.sections.push({ id: "rules", title: "Rules", order: 30, render: renderRules });
  registry.sections.push({ id: "canned", title: "Canned responses", order: 40, render: renderCanned });
})();
