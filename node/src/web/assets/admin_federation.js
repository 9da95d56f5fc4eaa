// ochat console, administration: the Federation section (loaded after admin_bots.js, which
// places it in the console). This instance (UUID to copy, name, addresses, auto-accept), a
// request form (send, or save as a draft), every connection with the actions its state allows
// (send, sync status, cancel, accept with a contact, reject with a reason, retry, edit UUID,
// delete) and, once accepted, the members of its channel (add, remove). Redrawn when the node's
// events socket says a connection changed.
(function () {
  "use strict";
  var A = window.ochatAdminBots;
  if (!A) return;
  var el = A.util.el, field = A.util.field, button = A.util.button, api = A.util.api, $ = A.util.$;
  // Which actions each state allows (docs/federation.md, "The handshake's actions"); the node
  // refuses the others with 409 anyway.
  function actionsFor(c) {
    var out = c.direction === "outgoing", st = c.status;
    var a = [];
    if (out && st === "Draft") a.push("send", "edit");
    if (st !== "Draft") a.push("sync");
    if (out && st === "Pending") a.push("cancel");
    if (!out && st === "Pending") a.push("accept", "reject");
    if (st === "Not Found") a.push("retry", "edit");
    if (st !== "Pending") a.push("delete");
    return a;
  }

  function mountFederation(root) {
    var users = [];
    var socket = null;
    var stopped = false;
    var instance = el("dl", { id: "ab-instance", className: "ab-dl" });
    var conns = el("ul", { id: "ab-connections", className: "ab-conns", "aria-label": "Connections" });
    var uuid = el("input", { required: true, autocomplete: "off", placeholder: "the other instance's UUID" });
    var contact = el("input", { autocomplete: "off", placeholder: "your name for them" });
    var message = el("textarea", { rows: 2, placeholder: "Hello from \u2026" });
    var newForm = el("form", { id: "ab-conn-new", className: "ab-card", "aria-labelledby": "ab-conn-new-title" }, [
      el("h3", { id: "ab-conn-new-title", text: "Request a connection" }),
      el("div", { className: "ab-row" }, [field("ab-conn-uuid", "Instance UUID", uuid), field("ab-conn-contact", "Contact", contact)]),
      field("ab-conn-message", "Message", message),
      el("div", { className: "ab-row ab-actions" }, [
        button("Send request", { id: "ab-conn-send", type: "submit" }),
        button("Save as draft", { id: "ab-conn-draft", className: "secondary", on: { click: function () { create(false); } } }),
      ]),
      el("p", { id: "ab-conn-new-error", className: "error", role: "alert" }),
    ]);
    newForm.addEventListener("submit", function (e) { e.preventDefault(); create(true); });
    root.appendChild(el("div", { className: "ab-fed-top" }, [
      el("section", { className: "ab-card", "aria-labelledby": "ab-inst-title" }, [
        el("h3", { id: "ab-inst-title", text: "This instance" }), instance,
        el("p", { className: "ab-sub", text: "Give the Instance UUID to the organisations that want to connect to you." }),
        el("p", { id: "ab-inst-error", className: "error", role: "alert" }),
      ]),
      newForm,
    ]));
    root.appendChild(el("section", { className: "ab-card", "aria-labelledby": "ab-conns-title" }, [
      el("div", { className: "ab-row" }, [
        el("h3", { id: "ab-conns-title", text: "Connections" }),
        button("Refresh", { id: "ab-conns-refresh", className: "secondary", on: { click: load } }),
      ]),
      conns,
      el("p", { id: "ab-conns-error", className: "error", role: "alert" }),
    ]));

    api("/api/v1/instance").then(function (me) {
      instance.textContent = "";
      var copy = button("Copy", { className: "secondary ab-small", "aria-label": "Copy the Instance UUID",
        on: { click: function () {
          var done = function () { copy.textContent = "Copied"; };
          if (navigator.clipboard) navigator.clipboard.writeText(me.uuid).then(done, function () {});
        } } });
      var rows = [
        ["Instance UUID", [el("code", { id: "ab-inst-uuid", text: me.uuid }), " ", copy]],
        ["Name", [el("span", { id: "ab-inst-name", text: me.name })]],
        ["Peer id", [el("code", { text: me.peer_id })]],
        ["Addresses", [el("span", { text: (me.addresses || []).join("\n") || "none yet" })]],
        ["Auto-accept", [el("span", { text: Array.isArray(me.auto_accept) ? me.auto_accept.join(", ") : me.auto_accept })]],
      ];
      rows.forEach(function (r) { instance.appendChild(el("dt", { text: r[0] })); instance.appendChild(el("dd", {}, r[1])); });
    }, function (e) { $("ab-inst-error").textContent = e.message; });

    function create(send) {
      $("ab-conn-new-error").textContent = "";
      var body = { remote_uuid: uuid.value.trim(), send: send };
      if (contact.value.trim()) body.contact = contact.value.trim();
      if (message.value.trim()) body.message = message.value.trim();
      api("/api/v1/connections", "POST", body).then(function (c) {
        uuid.value = ""; contact.value = ""; message.value = "";
        load().then(function () { var h = conns.querySelector('[data-connection="' + c.id + '"] h4'); if (h) h.focus(); });
      }, function (e) { $("ab-conn-new-error").textContent = e.message; });
    }

    function load() {
      return Promise.all([
        api("/api/v1/connections"),
        api("/api/v1/users").catch(function () { return []; }),
      ]).then(function (r) {
        users = r[1];
        draw(r[0]);
      }, function (e) { $("ab-conns-error").textContent = e.message; });
    }

    function userName(id) {
      var u = users.filter(function (x) { return x.id === id; })[0];
      return u ? (u.chat_name || u.name) + (u.login ? " (" + u.login + ")" : "") : id;
    }

    var drawn = null;
    function draw(list) {
      // Only when something changed; then keep what is being typed and the focus.
      var now = JSON.stringify([list, users]);
      if (now === drawn) return;
      drawn = now;
      var active = document.activeElement && conns.contains(document.activeElement) ? document.activeElement.id : null;
      var typed = {};
      Array.prototype.forEach.call(conns.querySelectorAll("input[id]"), function (i) { typed[i.id] = i.value; });
      conns.textContent = "";
      list.sort(function (a, b) { return b.updated_at_ms - a.updated_at_ms; });
      if (!list.length) conns.appendChild(el("li", { className: "ab-empty", text: "No connection yet" }));
      list.forEach(function (c) { conns.appendChild(card(c)); });
      Object.keys(typed).forEach(function (id) { var i = $(id); if (i && typed[id]) i.value = typed[id]; });
      if (active && $(active)) $(active).focus();
    }

    function card(c) {
      var base = "ab-c-" + c.id;
      var title = c.contact || c.remote_name || c.remote_uuid;
      var li = el("li", { className: "ab-conn" + (c.new ? " new" : ""), "data-connection": c.id, "data-status": c.status, "aria-labelledby": base + "-title" });
      li.appendChild(el("div", { className: "ab-row" }, [
        el("h4", { id: base + "-title", tabindex: "-1", text: title }),
        el("span", { className: "ab-status", "data-status": c.status, text: c.status }),
        el("span", { className: "ab-sub", text: c.direction === "incoming" ? "incoming request" : "outgoing request" }),
      ]));
      var facts = [["Instance UUID", c.remote_uuid], ["Their name", c.remote_name], ["Message", c.message],
        ["Reason", c.reject_reason],
        ["Delivery", c.delivered ? "delivered" : c.delivery_error ? "not delivered: " + c.delivery_error : c.status === "Draft" ? null : "waiting for the peer"],
        ["Keys", c.status === "Accepted" ? c.keys : null]];
      var dl = el("dl", { className: "ab-dl" });
      facts.forEach(function (f) {
        if (!f[1]) return;
        dl.appendChild(el("dt", { text: f[0] }));
        dl.appendChild(el("dd", { className: "ab-" + f[0].toLowerCase().replace(/ /g, "-"), text: f[1] }));
      });
      li.appendChild(dl);
      var err = el("p", { id: base + "-error", className: "error", role: "alert" });
      var act = function (action, body, method) {
        err.textContent = "";
        return api("/api/v1/connections/" + c.id + (action === "delete" ? "" : "/" + action), method || "POST", body)
          .then(load, function (e) { err.textContent = e.message; });
      };
      var actions = actionsFor(c);
      var simple = el("div", { className: "ab-row ab-actions" });
      [["send", "Send request"], ["sync", "Sync status"], ["cancel", "Cancel request"], ["retry", "Retry request"]].forEach(function (a) {
        if (actions.indexOf(a[0]) < 0) return;
        simple.appendChild(button(a[1], { className: "secondary", "data-action": a[0], "aria-label": a[1] + " (" + title + ")", on: { click: function () { act(a[0]); } } }));
      });
      if (actions.indexOf("delete") >= 0) {
        simple.appendChild(button("Delete", { className: "secondary danger", "data-action": "delete", "aria-label": "Delete the connection with " + title,
          on: { click: function () {
            if (window.confirm("Delete the connection with " + title + "?")) act("delete", undefined, "DELETE");
          } } }));
      }
      if (simple.childNodes.length) li.appendChild(simple);
      if (actions.indexOf("accept") >= 0) {
        li.appendChild(inlineForm(base + "-contact", "Contact", c.remote_name || "", "Accept", "accept", function (v) { return act("accept", { contact: v }); }));
        li.appendChild(inlineForm(base + "-reason", "Reason", "", "Reject", "reject", function (v) { return act("reject", { reason: v }); }));
      }
      if (actions.indexOf("edit") >= 0) {
        li.appendChild(inlineForm(base + "-uuid", "Correct the Instance UUID", c.remote_uuid, "Save UUID", "edit", function (v) { return act("edit", { remote_uuid: v }); }));
      }
      if (c.status === "Accepted") li.appendChild(members(c, base, title, err));
      li.appendChild(err);
      return li;
    }

    function inlineForm(id, label, value, submit, action, run) {
      var input = el("input", { id: id, value: value, required: true, autocomplete: "off" });
      var f = el("form", { className: "ab-row ab-inline-form", "data-form": action }, [
        el("div", { className: "ab-field" }, [el("label", { "for": id, text: label }), input]),
        button(submit, { type: "submit", "data-action": action, className: action === "reject" ? "secondary danger" : null }),
      ]);
      f.addEventListener("submit", function (e) { e.preventDefault(); run(input.value.trim()); });
      return f;
    }

    function members(c, base, title, err) {
      var box = el("fieldset", { className: "ab-members" }, [el("legend", { text: "Members (who reads and writes in this channel)" })]);
      var ul = el("ul", { className: "ab-member-list", "aria-label": "Members of " + title });
      if (!c.members.length) ul.appendChild(el("li", { className: "ab-empty", text: "No member yet: nobody reads or writes here." }));
      c.members.forEach(function (m) {
        ul.appendChild(el("li", { "data-member": m }, [
          el("span", { text: userName(m) }),
          button("Remove", { className: "secondary ab-small", "aria-label": "Remove " + userName(m) + " from " + title,
            on: { click: function () {
              err.textContent = "";
              api("/api/v1/connections/" + c.id + "/members/" + m, "DELETE").then(load, function (e) { err.textContent = e.message; });
            } } }),
        ]));
      });
      box.appendChild(ul);
      var others = users.filter(function (u) { return c.members.indexOf(u.id) < 0; });
      if (others.length) {
        var pick = el("select", { id: base + "-add" }, others.map(function (u) { return el("option", { value: u.id, text: userName(u.id) }); }));
        var f = el("form", { className: "ab-row ab-inline-form", "data-form": "member" }, [
          el("div", { className: "ab-field" }, [el("label", { "for": base + "-add", text: "Add a member" }), pick]),
          button("Add member", { type: "submit", "data-action": "add-member" }),
        ]);
        f.addEventListener("submit", function (e) {
          e.preventDefault();
          err.textContent = "";
          api("/api/v1/connections/" + c.id + "/members/" + pick.value, "PUT").then(load, function (x) { err.textContent = x.message; });
        });
        box.appendChild(f);
      } else if (!users.length) {
        box.appendChild(el("p", { className: "ab-sub", text: "Create an operator first: members are the node's users." }));
      }
      return box;
    }

    // Live: the node's events socket says when a connection changes.
    function listen() {
      if (stopped) return;
      socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/api/v1/events",
        ["ochat", "ochat.token." + A.util.token()]);
      socket.onmessage = function (e) {
        try { if (JSON.parse(e.data).type === "connection") load(); } catch (x) { /* a bad frame */ }
      };
      socket.onclose = function (e) { if (!stopped && e.code !== 1008) setTimeout(listen, 2000); };
    }
    load();
    listen();
    return { unmount: function () { stopped = true; if (socket) socket.close(); } };
  }

  A.add({ id: "federation", title: "Federation", mount: mountFederation });
})();
