// ochat console, admin area: operators (create, profile, reset password, revoke tokens) and
// groups (who shares canned responses). Sections for admin.js's registry (see its header).
(function () {
  "use strict";
  var registry = (window.ochatAdmin = window.ochatAdmin || { sections: [] });

  function unique(values) {
    return values.filter(function (v, i) { return v && values.indexOf(v) === i; });
  }

  function languages(ctx) {
    return ctx.api("/api/v1/livechat/languages").then(function (a) { return a.languages; });
  }

  // The profile fields shared by "create" and "edit"; answers a function building the body.
  function profileFields(ctx, body, langs, user) {
    user = user || {};
    var p = "op-";
    ctx.field(body, p + "name", "Full name", { required: true, value: user.name });
    ctx.field(body, p + "login", "Login", { required: !user.id, value: user.login, autocomplete: "off" });
    if (!user.id) {
      ctx.field(body, p + "password", "Password", { type: "password", required: true, autocomplete: "new-password" });
    }
    ctx.field(body, p + "chat-name", "Name shown to visitors", { value: user.chat_name,
      help: "The full name when empty." });
    var options = [["", "(none)"]].concat(langs.map(function (l) { return [l.code, l.name + " (" + l.code + ")"]; }));
    var main = ctx.field(body, p + "language", "Main language", { options: options });
    main.value = user.language ? user.language.split(/[-_]/)[0].toLowerCase() : "";
    var spoken = (user.chat_languages || []).map(function (c) { return c.split(/[-_]/)[0].toLowerCase(); });
    var chat = ctx.checks(body, p + "chat-languages", "Live chat languages", langs.map(function (l) {
      return { value: l.code, label: l.name, checked: spoken.indexOf(l.code) >= 0 };
    }));
    ctx.field(body, p + "expertise", "Expertise", { value: ctx.joined(user.expertise),
      help: "Tags separated by commas, e.g. sales, billing. Visitors asking for them go to this operator first." });
    ctx.field(body, p + "country", "Country", { value: user.country, placeholder: "BE",
      help: "Two-letter ISO code." });
    // Only the admin token makes or unmakes administrators (the node refuses anyone else).
    var admin = ctx.me ? null : ctx.field(body, p + "administrator", "Live chat administrator", {
      type: "checkbox", value: user.administrator,
      help: "Manages operators, channels, rules, chatbots, canned responses and reports with their own login." });
    return function () {
      var $ = function (id) { return document.getElementById(p + id); };
      var b = {
        name: $("name").value.trim(),
        chat_name: $("chat-name").value.trim() || undefined,
        chat_languages: chat(),
        expertise: ctx.list($("expertise").value),
      };
      if ($("login").value.trim()) b.login = $("login").value.trim();
      if (!user.id) b.password = $("password").value;
      if ($("language").value) b.language = $("language").value;
      if ($("country").value.trim()) b.country = $("country").value.trim().toUpperCase();
      if (admin) b.administrator = admin.checked;
      return b;
    };
  }

  // What the last deletion removed, shown once above the list it returns to.
  var deletedNotice = null;

  function renderOperators(box, ctx, userId) {
    if (deletedNotice) {
      var notice = ctx.el("p", "admin-message ok", deletedNotice);
      notice.id = "operators-notice";
      notice.setAttribute("role", "status");
      box.appendChild(notice);
      deletedNotice = null;
    }
    var table = ctx.el("table", "admin-table");
    table.id = "operators-table";
    table.appendChild(ctx.el("caption", "sr-only", "Operators"));
    var head = ctx.el("tr");
    ["Name", "Login", "Shown as", "Languages", "Expertise", "Country", ""].forEach(function (t) {
      var th = ctx.el("th", "", t);
      th.scope = "col";
      head.appendChild(th);
    });
    table.appendChild(head);
    box.appendChild(table);
    var editor = ctx.el("div", "admin-editor");
    box.appendChild(editor);
    Promise.all([ctx.api("/api/v1/users"), languages(ctx)]).then(function (r) {
      var users = r[0], langs = r[1];
      if (!users.length) {
        var tr = ctx.el("tr");
        var td = ctx.el("td", "admin-help", "No operator yet: create the first one below.");
        td.colSpan = 7;
        tr.appendChild(td);
        table.appendChild(tr);
      }
      users.forEach(function (u) {
        var tr = ctx.el("tr");
        tr.setAttribute("data-user", u.id);
        [u.name, u.login || "", u.chat_name || "", unique([u.language].concat(u.chat_languages)).join(", "),
          ctx.joined(u.expertise), u.country || ""].forEach(function (t) { tr.appendChild(ctx.el("td", "", t)); });
        var td = ctx.el("td");
        var b = ctx.el("button", "secondary", "Edit");
        b.type = "button";
        b.setAttribute("aria-label", "Edit " + u.name);
        b.addEventListener("click", function () { ctx.open("operators", u.id); });
        td.appendChild(b);
        tr.appendChild(td);
        table.appendChild(tr);
      });
      var user = users.filter(function (u) { return u.id === userId; })[0];
      if (user) edit(editor, ctx, user, langs); else create(editor, ctx, langs);
    }).catch(function (e) { box.appendChild(ctx.el("p", "admin-message error", e.message)); });
  }

  function create(editor, ctx, langs) {
    editor.appendChild(ctx.el("h4", "", "New operator"));
    var build;
    var f = ctx.form(editor, "op-create", "Create the operator", function () {
      return ctx.api("/api/v1/users", "POST", build()).then(function (u) { ctx.open("operators", u.id); });
    });
    build = profileFields(ctx, f.body, langs);
  }

  function edit(editor, ctx, user, langs) {
    editor.appendChild(ctx.el("h4", "", "Edit " + user.name));
    var build;
    var f = ctx.form(editor, "op-edit", "Save the profile", function () {
      return ctx.api("/api/v1/users/" + user.id, "PATCH", build()).then(function (u) {
        ctx.open("operators", u.id);
      });
    });
    build = profileFields(ctx, f.body, langs, user);

    editor.appendChild(ctx.el("h4", "", "Password and sessions"));
    var pw = ctx.form(editor, "op-password", "Set the new password", function () {
      var input = document.getElementById("op-new-password");
      return ctx.api("/api/v1/users/" + user.id, "PATCH", { password: input.value }).then(function () {
        input.value = "";
        pw.say("Password changed; " + user.name + " was logged out everywhere.");
      });
    });
    ctx.field(pw.body, "op-new-password", "New password", { type: "password", required: true,
      autocomplete: "new-password", help: "Changing it logs the operator out of every browser." });
    var rv = ctx.form(editor, "op-revoke", "Log " + user.name + " out everywhere", function () {
      return ctx.api("/api/v1/users/" + user.id + "/revoke_tokens", "POST").then(function (a) {
        rv.say(a.revoked + (a.revoked === 1 ? " token" : " tokens") + " revoked.");
      });
    });
    deleteForm(editor, ctx, user);
    var back = ctx.el("button", "secondary", "New operator");
    back.type = "button";
    back.addEventListener("click", function () { ctx.open("operators"); });
    editor.appendChild(back);
  }

  // Deleting an operator, confirmed by typing their login (or name): DELETE /api/v1/users/{id}.
  function deleteForm(editor, ctx, user) {
    var word = user.login || user.name;
    editor.appendChild(ctx.el("h4", "", "Delete " + user.name));
    var del = ctx.form(editor, "op-delete", "Delete " + user.name, function () {
      var typed = document.getElementById("op-delete-confirm").value.trim();
      if (typed !== word) {
        return Promise.reject(new Error("Type \u201c" + word + "\u201d to confirm the deletion."));
      }
      return ctx.api("/api/v1/users/" + user.id, "DELETE").then(function (d) {
        var left = d.sessions ? "; left " + d.sessions + (d.sessions === 1 ? " conversation" : " conversations") : "";
        deletedNotice = "Deleted " + user.name + ": " + d.tokens + (d.tokens === 1 ? " token" : " tokens") +
          " revoked, removed from " + d.channels + (d.channels === 1 ? " channel" : " channels") +
          " and " + d.groups + (d.groups === 1 ? " group" : " groups") + left + ".";
        ctx.open("operators");
      });
    });
    ctx.field(del.body, "op-delete-confirm", "Type \u201c" + word + "\u201d to confirm", { required: true,
      autocomplete: "off",
      help: "Logs them out, leaves their open conversations as with /leave, and removes them from " +
        "channels, groups and O'Chat connections; their own canned responses go, shared ones stay. " +
        "Past conversations and reports keep their name." });
  }

  function renderGroups(box, ctx, groupId) {
    box.appendChild(ctx.el("p", "admin-help", "Groups share canned responses: a response shared with a group " +
      "can be used by all its members."));
    var ul = ctx.el("ul", "admin-list");
    ul.id = "groups-list";
    box.appendChild(ul);
    var editor = ctx.el("div", "admin-editor");
    box.appendChild(editor);
    Promise.all([ctx.api("/api/v1/livechat/groups"), ctx.api("/api/v1/users")]).then(function (r) {
      var groups = r[0], users = r[1];
      var names = {};
      users.forEach(function (u) { names[u.id] = u.name; });
      if (!groups.length) ul.appendChild(ctx.el("li", "admin-help", "No group yet."));
      groups.forEach(function (g) {
        var li = ctx.el("li");
        var b = ctx.el("button", "link", g.name);
        b.type = "button";
        b.addEventListener("click", function () { ctx.open("groups", g.id); });
        li.appendChild(b);
        li.appendChild(ctx.el("span", "admin-help", " " + (g.members.map(function (m) { return names[m] || m; }).join(", ") || "no member")));
        ul.appendChild(li);
      });
      var group = groups.filter(function (g) { return g.id === groupId; })[0];
      editor.appendChild(ctx.el("h4", "", group ? "Edit " + group.name : "New group"));
      var members;
      var f = ctx.form(editor, "group-form", group ? "Save the group" : "Create the group", function () {
        var body = { name: document.getElementById("group-name").value.trim(), members: members() };
        var call = group ? ctx.api("/api/v1/livechat/groups/" + group.id, "PUT", body)
          : ctx.api("/api/v1/livechat/groups", "POST", body);
        return call.then(function (g) { ctx.open("groups", g.id); });
      });
      ctx.field(f.body, "group-name", "Group name", { required: true, value: group && group.name });
      members = ctx.checks(f.body, "group-members", "Members", users.map(function (u) {
        return { value: u.id, label: u.name, checked: !!group && group.members.indexOf(u.id) >= 0 };
      }));
      if (group) {
        var b = ctx.el("button", "secondary", "New group");
        b.type = "button";
        b.addEventListener("click", function () { ctx.open("groups"); });
        editor.appendChild(b);
      }
    }).catch(function (e) { box.appendChild(ctx.el("p", "admin-message error", e.message)); });
  }

  registry.sections.push({ id: "operators", title: "Operators", order: 10, render: renderOperators });
  registry.sections.push({ id: "groups", title: "Groups", order: 50, render: renderGroups });
})();
