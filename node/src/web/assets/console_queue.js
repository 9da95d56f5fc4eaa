// ochat console: the visitors waiting in line (lc-queue). When every operator of a channel is
// busy, new visitors wait; this lists them in the sidebar under "Waiting in line", longest
// waiting first per channel, with how long they have waited, the estimated wait and whether
// their page is still open, and lets an operator take one by hand ("Take": joins the
// conversation). It reads each channel's line at login (GET /api/v1/livechat/channels/{id}/queue)
// and then follows the `queue` events console.js passes on as "ochat:livechat" DOM events.
// Everything visitors send is shown with textContent.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var token = null;
  var me = null;
  var lines = {}; // channel id -> the channel's line (QueueView)
  var names = {}; // channel id -> name

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined && text !== null) n.textContent = String(text);
    return n;
  }
  function api(path, method) { return window.ochatApi(token, path, method); }

  function minutes(s) {
    if (typeof s !== "number") return "unknown";
    if (s < 60) return "under a minute";
    return Math.ceil(s / 60) + " min";
  }

  function load() {
    api("/api/v1/livechat/channels").then(function (list) {
      list.filter(function (c) { return c.joined || !me; }).forEach(function (c) {
        names[c.id] = c.name;
        api("/api/v1/livechat/channels/" + c.id + "/queue").then(function (q) {
          lines[c.id] = q;
          draw();
        }).catch(function () { /* not an operator of it: nothing to show */ });
      });
    }).catch(function () { /* the console shows its own errors */ });
    draw();
  }

  function take(id, button) {
    button.disabled = true;
    api("/api/v1/livechat/sessions/" + id + "/join", "POST").catch(function (e) {
      button.disabled = false;
      button.title = e.message;
    });
  }

  function draw() {
    var ul = $("queue");
    var head = $("h-queue");
    if (!ul || !head) return;
    ul.textContent = "";
    var total = 0;
    Object.keys(lines).forEach(function (cid) {
      (lines[cid].waiting || []).forEach(function (w) {
        total += 1;
        var li = el("li", "queued");
        li.setAttribute("data-session", w.session_id);
        var text = el("div", "queued-text");
        text.appendChild(el("span", "label", "#" + w.position + " " + (names[cid] || "") +
          " \u2014 visitor" + (w.country ? " (" + w.country + ")" : "")));
        text.appendChild(el("span", "queued-sub", "waiting " + minutes(w.waited_s) +
          " \u00b7 estimated " + minutes(w.estimated_wait_s) +
          (w.written ? " \u00b7 wrote" : "") + (w.connected ? "" : " \u00b7 page closed")));
        li.appendChild(text);
        if (me) {
          var b = el("button", "join", "Take");
          b.type = "button";
          b.setAttribute("aria-label", "Take visitor number " + w.position);
          b.addEventListener("click", function () { take(w.session_id, b); });
          li.appendChild(b);
        }
        ul.appendChild(li);
      });
    });
    if (!total) ul.appendChild(el("li", "empty", "Nobody is waiting"));
    head.textContent = "Waiting in line (" + total + ")";
    head.hidden = false;
    ul.hidden = false;
  }

  document.addEventListener("ochat:console", function (e) {
    token = e.detail.token;
    me = e.detail.me;
    load();
  });
  document.addEventListener("ochat:livechat", function (e) {
    var ev = e.detail;
    if (ev && ev.type === "queue" && ev.queue && ev.channel_id) {
      lines[ev.channel_id] = ev.queue;
      draw();
    }
  });
})();
