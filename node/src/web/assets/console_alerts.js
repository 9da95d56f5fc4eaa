// ochat console alerts (lc-queue): an operator never misses a visitor. While the console's tab
// is hidden, a new conversation or a new visitor message
//  - counts in the tab title, "(3) ochat console" (reset when the operator comes back to the
//    tab: the sidebar's badges keep the per-conversation counts);
//  - shows a desktop notification (the browser's Notification API; permission is asked only
//    when the operator clicks "Enable notifications", never on page load);
//  - plays a short beep (WebAudio, no sound file; browsers allow sound only after a click in
//    the page, so the first click anywhere unlocks it).
// "Mute alerts" silences the notifications and the sound (the title still counts); the choice
// is kept in localStorage["ochat.console.muted"]. Events arrive from console.js as
// "ochat:livechat" DOM events.
(function () {
  "use strict";
  var KEY_MUTED = "ochat.console.muted";
  var BASE_TITLE = document.title;
  var unread = 0;
  var counted = {}; // session id -> its new conversation was announced (no double count)
  var fresh = {}; // session id -> announced while hidden; its first message adds no count
  var audio = null;
  var ui = {};

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }

  function muted() {
    try { return window.localStorage.getItem(KEY_MUTED) === "1"; } catch (e) { return false; }
  }
  function setMuted(on) {
    try {
      if (on) window.localStorage.setItem(KEY_MUTED, "1");
      else window.localStorage.removeItem(KEY_MUTED);
    } catch (e) { /* private mode: muted for this page only */ ui.mutedHere = on; }
    draw();
  }
  function isMuted() { return ui.mutedHere === undefined ? muted() : ui.mutedHere; }
  function hidden() { return document.hidden === true || document.visibilityState === "hidden"; }
  function permission() { return window.Notification ? window.Notification.permission : "unsupported"; }

  function showTitle() {
    document.title = unread > 0 ? "(" + unread + ") " + BASE_TITLE : BASE_TITLE;
  }

  function build() {
    if (ui.box) return;
    var top = document.querySelector("header.top");
    if (!top) return;
    ui.box = el("span", "alerts");
    ui.enable = el("button", "secondary", "Enable notifications");
    ui.enable.type = "button";
    ui.enable.id = "alerts-enable";
    ui.enable.addEventListener("click", enable);
    ui.state = el("span", "alerts-state", "");
    ui.state.id = "alerts-state";
    ui.mute = el("button", "secondary", "");
    ui.mute.type = "button";
    ui.mute.id = "alerts-mute";
    ui.mute.addEventListener("click", function () { setMuted(!isMuted()); });
    ui.box.appendChild(ui.enable);
    ui.box.appendChild(ui.state);
    ui.box.appendChild(ui.mute);
    top.insertBefore(ui.box, document.getElementById("logout"));
    draw();
  }

  function draw() {
    if (!ui.box) return;
    var p = permission();
    ui.enable.hidden = p !== "default";
    ui.state.textContent = p === "denied" ? "Notifications are blocked in this browser"
      : p === "unsupported" ? "No desktop notifications in this browser" : "";
    ui.mute.textContent = isMuted() ? "Unmute alerts" : "Mute alerts";
    ui.mute.setAttribute("aria-pressed", String(isMuted()));
  }

  // The operator asked for notifications: the browser asks them now (a user gesture).
  function enable() {
    unlockSound();
    var N = window.Notification;
    if (!N || N.permission !== "default") { draw(); return; }
    try {
      var asked = N.requestPermission(function () { draw(); });
      if (asked && typeof asked.then === "function") asked.then(draw, draw);
    } catch (e) { draw(); }
  }

  function unlockSound() {
    try {
      if (!audio) {
        var Ctx = window.AudioContext || window.webkitAudioContext;
        if (Ctx) audio = new Ctx();
      }
      if (audio && audio.state === "suspended" && audio.resume) audio.resume();
    } catch (e) { audio = null; }
  }

  // A short two-tone beep.
  function beep() {
    if (!audio) return;
    try {
      var t = audio.currentTime || 0;
      [[880, 0], [660, 0.16]].forEach(function (tone) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        osc.type = "sine";
        osc.frequency.value = tone[0];
        gain.gain.setValueAtTime(0.0001, t + tone[1]);
        gain.gain.exponentialRampToValueAtTime(0.2, t + tone[1] + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + tone[1] + 0.14);
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(t + tone[1]);
        osc.stop(t + tone[1] + 0.15);
      });
    } catch (e) { /* no sound */ }
  }

  function notify(title, body, tag, quiet) {
    var N = window.Notification;
    if (!N || N.permission !== "granted") return;
    try {
      var n = new N(title, { body: body, tag: tag, silent: !!quiet });
      n.onclick = function () { window.focus(); if (n.close) n.close(); };
    } catch (e) { /* some browsers allow notifications only from a service worker */ }
  }

  // Something new while the tab is hidden: count it, and unless muted ring and notify.
  function alertOf(title, body, tag, count) {
    if (!hidden()) return;
    if (count) { unread += 1; showTitle(); }
    if (isMuted()) return;
    if (count) beep();
    notify(title, body, tag, !count);
  }

  function onEvent(ev) {
    if (!ev) return;
    if (ev.type === "new_session" && ev.session) {
      var id = ev.session.id;
      if (counted[id]) return;
      counted[id] = true;
      if (!hidden()) return;
      fresh[id] = true;
      alertOf("New conversation", "A visitor on " + (ev.session.page_url || "your site") +
        " is waiting for you", "ochat-" + id, true);
    } else if (ev.type === "message" && ev.message && ev.message.author === "visitor" &&
      !ev.message.only_for) {
      var first = fresh[ev.session_id];
      delete fresh[ev.session_id];
      // The first message of a conversation just announced replaces its notification
      // without counting twice.
      if (first && hidden()) {
        if (!isMuted()) notify("New conversation", ev.message.text, "ochat-" + ev.session_id, true);
        return;
      }
      alertOf("Visitor: new message", ev.message.text, "ochat-" + ev.session_id, true);
    }
  }

  document.addEventListener("visibilitychange", function () {
    if (hidden()) return;
    unread = 0;
    fresh = {};
    showTitle();
  });
  document.addEventListener("click", unlockSound, { capture: true });
  document.addEventListener("ochat:console", build);
  document.addEventListener("ochat:livechat", function (e) { onEvent(e.detail); });
})();
