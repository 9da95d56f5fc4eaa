// ochat console, administration: the frame of the Chatbots and Federation sections (issue 31,
// item 1): shared helpers, the section list, and their place in the console. The sections
// themselves are admin_chatbots.js and admin_federation.js, loaded after this file.
//
// Self-contained: it needs only the console's login (the token in sessionStorage["ochat.token"])
// and two elements of console.html:
//   <ul id="admin-bots-nav" hidden>   the sidebar entries, one button per section (filled here)
//   <section id="admin-bots" hidden>  where the open section is drawn
// The nav appears once #app is shown and the token may list users (GET /api/v1/users), i.e. for
// the admin token and administrators. Opening a section hides the console's own views; opening
// one of those hides this one.
//
// The hook for another admin area: window.ochatAdminBots.sections is the list of
//   {id: "chatbots"|"federation", title, mount(container)}
// where mount(container) draws the section into an empty element and returns an object with an
// optional unmount(). If window.ochatAdmin.register(section) exists when these files run, each
// section is handed to it as it is added and the nav above is not drawn.
//
// Everything people write is shown with textContent, never as HTML; no inline script or style
// (the console's CSP).
(function () {
  "use strict";
  var KEY = "ochat.token";
  var $ = function (id) { return document.getElementById(id); };

  // ---- small DOM and API helpers ----
  function el(tag, props, children) {
    var n = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      var v = props[k];
      if (v === undefined || v === null || v === false) return;
      if (k === "text") n.textContent = String(v);
      else if (k === "className") n.className = v;
      else if (k === "on") {
        Object.keys(v).forEach(function (ev) { n.addEventListener(ev, v[ev]); });
        // A field emptied by a script or a test driver may only say "change".
        if (v.input && !v.change) n.addEventListener("change", v.input);
      }
      else if (k === "value" || k === "checked" || k === "disabled" || k === "type" || k === "hidden") n[k] = v;
      else n.setAttribute(k, v === true ? "" : String(v));
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      n.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return n;
  }
  function field(id, label, input) {
    input.id = id;
    return el("div", { className: "ab-field" }, [el("label", { "for": id, text: label }), input]);
  }
  function button(text, props) {
    var p = props || {};
    p.type = p.type || "button";
    p.text = text;
    return el("button", p);
  }

  function api(path, method, body) {
    return window.ochatApi(sessionStorage.getItem(KEY), path, method, body);
  }

  var sections = [];
  var external = window.ochatAdmin && typeof window.ochatAdmin.register === "function";
  window.ochatAdminBots = {
    sections: sections,
    // Called by each section's file.
    add: function (section) {
      sections.push(section);
      if (external) window.ochatAdmin.register(section);
    },
    util: { el: el, field: field, button: button, api: api, $: $,
      token: function () { return sessionStorage.getItem(KEY); } },
  };
  if (external) return;

  var nav = $("admin-bots-nav");
  var panel = $("admin-bots");
  if (!nav || !panel) return;
  var CONSOLE_VIEWS = ["placeholder", "conversation", "request", "profile"];
  var mounted = null;

  function openSection(s) {
    if (mounted && mounted.unmount) mounted.unmount();
    CONSOLE_VIEWS.forEach(function (id) { if ($(id)) $(id).hidden = true; });
    panel.textContent = "";
    panel.setAttribute("data-section", s.id);
    var h = el("h2", { id: "ab-title", tabindex: "-1", text: s.title });
    panel.setAttribute("aria-labelledby", "ab-title");
    var body = el("div", { className: "ab-body" });
    panel.appendChild(h);
    panel.appendChild(body);
    panel.hidden = false;
    mounted = s.mount(body) || null;
    Array.prototype.forEach.call(nav.querySelectorAll("button"), function (b) {
      if (b.getAttribute("data-section") === s.id) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
    });
    h.focus();
  }

  function closeSection() {
    if (panel.hidden) return;
    if (mounted && mounted.unmount) mounted.unmount();
    mounted = null;
    panel.hidden = true;
    panel.textContent = "";
    Array.prototype.forEach.call(nav.querySelectorAll("button"), function (b) { b.removeAttribute("aria-current"); });
  }

  // One of the console's own views shown: this panel makes way.
  var watch = new MutationObserver(function () {
    if (CONSOLE_VIEWS.some(function (id) { return $(id) && !$(id).hidden; })) closeSection();
  });
  CONSOLE_VIEWS.forEach(function (id) { if ($(id)) watch.observe($(id), { attributes: true, attributeFilter: ["hidden"] }); });

  // The nav, once logged in with a token that may administer (it may list users).
  function offer() {
    if (!sessionStorage.getItem(KEY) || !nav.hidden) return;
    api("/api/v1/users").then(function () {
      nav.textContent = "";
      nav.appendChild(el("li", { className: "ab-nav-title" }, [el("h2", { id: "h-admin-bots", text: "Administration" })]));
      sections.forEach(function (s) {
        nav.appendChild(el("li", {}, [button(s.title, { className: "item", "data-section": s.id,
          on: { click: function () { openSection(s); } } })]));
      });
      nav.hidden = false;
    }, function () { /* not an administrator: no admin sections */ });
  }
  var app = $("app");
  if (app) {
    new MutationObserver(function () { if (!app.hidden) offer(); }).observe(app, { attributes: true, attributeFilter: ["hidden"] });
    if (!app.hidden) offer();
  }
  window.ochatAdminBots.open = function (id) {
    var s = sections.filter(function (x) { return x.id === id; })[0];
    if (s) openSection(s);
  };
})();
