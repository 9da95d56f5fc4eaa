// ochat console, admin area: each live chat channel's visitor identity secret — the key the
// website's server signs its logged-in visitors with, so operators see them as verified (see
// docs/livechat-identity.md). Make it, show it again, rotate it (the old one stops verifying
// at once) or remove it. Only the admin (token or administrator) reaches this section; the
// secret is shown only on request. A section for admin.js's registry (see its header).
(function () {
  "use strict";
  var registry = (window.ochatAdmin = window.ochatAdmin || { sections: [] });

  function render(box, ctx) {
    box.appendChild(ctx.el("p", "admin-help",
      "Your website's server signs the logged-in visitor (id, name, email) with the channel's " +
      "secret; the chat then shows them to operators as verified. Keep the secret on the server: " +
      "never put it in a page."));
    var ul = ctx.el("ul", "admin-list");
    ul.id = "identity-list";
    box.appendChild(ul);
    ctx.api("/api/v1/livechat/channels").then(function (channels) {
      if (!channels.length) ul.appendChild(ctx.el("li", "admin-help", "No channel yet."));
      channels.forEach(function (c, n) { row(ul, ctx, c, n); });
    }).catch(function (e) { box.appendChild(ctx.el("p", "admin-message error", e.message)); });
  }

  function row(ul, ctx, channel, n) {
    var li = ctx.el("li", "identity-row");
    li.setAttribute("data-channel", channel.id);
    li.appendChild(ctx.el("strong", "", channel.name));
    var state = ctx.el("span", "admin-help", "");
    li.appendChild(state);
    var actions = ctx.el("div", "admin-actions");
    li.appendChild(actions);
    var out = ctx.el("div");
    li.appendChild(out);
    var message = ctx.el("p", "admin-message");
    li.appendChild(message);
    ul.appendChild(li);
    var path = "/api/v1/livechat/channels/" + channel.id + "/identity_secret";
    var has = false;

    function button(id, text, cls, onclick) {
      var b = ctx.el("button", cls, text);
      b.type = "button";
      b.id = id + "-" + n;
      b.setAttribute("aria-label", text + " of " + channel.name);
      b.addEventListener("click", onclick);
      actions.appendChild(b);
      return b;
    }
    function fail(e) { message.className = "admin-message error"; message.setAttribute("role", "alert"); message.textContent = e.message; }
    function say(text) { message.className = "admin-message ok"; message.setAttribute("role", "status"); message.textContent = text; }
    function showSecret(s) {
      out.textContent = "";
      ctx.copyable(out, "identity-secret-" + n, "Identity secret of " + channel.name, s.secret, false);
    }
    function draw() {
      state.textContent = has ? " \u2014 identities are verified" : " \u2014 no secret: identities are not verified";
      show.hidden = !has;
      remove.hidden = !has;
      make.textContent = has ? "Rotate the secret" : "Make a secret";
      make.setAttribute("aria-label", make.textContent + " of " + channel.name);
    }

    var show = button("identity-show", "Show the secret", "secondary", function () {
      ctx.api(path).then(showSecret, fail);
    });
    var make = button("identity-make", "Make a secret", "", function () {
      if (has && make.getAttribute("data-confirm") !== "1") {
        make.setAttribute("data-confirm", "1");
        make.textContent = "Signatures made with the old secret stop verifying. Click again";
        return;
      }
      make.removeAttribute("data-confirm");
      ctx.api(path, "POST").then(function (s) {
        has = true;
        draw();
        showSecret(s);
        say("New secret made. Put it on your website's server; the old one no longer verifies.");
      }, fail);
    });
    var remove = button("identity-remove", "Remove the secret", "danger", function () {
      if (remove.getAttribute("data-confirm") !== "1") {
        remove.setAttribute("data-confirm", "1");
        remove.textContent = "Visitors will no longer be verified. Click again";
        return;
      }
      remove.removeAttribute("data-confirm");
      remove.textContent = "Remove the secret";
      ctx.api(path, "DELETE").then(function () {
        has = false;
        out.textContent = "";
        draw();
        say("Removed: visitors are no longer verified in this channel.");
      }, fail);
    });
    draw();
    ctx.api(path).then(function () { has = true; draw(); }, function (e) {
      if (e.status !== 404) fail(e);
    });
  }

  registry.sections.push({ id: "identity", title: "Identity", order: 25, render: render });
})();
