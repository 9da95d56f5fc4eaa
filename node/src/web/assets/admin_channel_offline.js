// ochat console, admin area: the parts of a channel's page for its business hours, what the
// widget does while offline, and the widget's texts per language. admin_channels.js calls
// every function in window.ochatAdmin.channelParts with (parent, ctx, channel) under its own
// form; this file adds one. The node checks everything (zone, slots, dates, keys, codes) and
// its message is shown next to the form.
(function () {
  "use strict";
  var registry = (window.ochatAdmin = window.ochatAdmin || { sections: [] });
  registry.channelParts = registry.channelParts || [];

  var lines = function (text) {
    return text.split("\n").map(function (l) { return l.trim(); }).filter(function (l) { return l; });
  };

  function hours(parent, ctx, channel) {
    parent.appendChild(ctx.el("h4", "", "Business hours and offline")).id = "ch-hours-title";
    var h = channel.hours;
    var o = channel.offline || {};
    var zone = "UTC";
    try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC"; } catch (e) { /* old browser */ }
    var f = ctx.form(parent, "ch-hours", "Save the hours", function () {
      var v = function (id) { return document.getElementById(id).value; };
      var on = document.getElementById("ch-hours-on").checked;
      return ctx.api("/api/v1/livechat/channels/" + channel.id, "PATCH", {
        hours: on ? { time_zone: v("ch-hours-zone").trim(), weekly: lines(v("ch-hours-slots")),
          holidays: lines(v("ch-hours-holidays")) } : null,
        offline: { mode: v("ch-offline-mode"), record: v("ch-offline-record"),
          when_no_operator: document.getElementById("ch-offline-nobody").checked },
      }).then(function (c) {
        channel.hours = c.hours;
        f.say(c.hours ? "Saved. Open: " + c.hours.weekly.join(", ") + " (" + c.hours.time_zone + ")."
          : "Saved. The channel is always open.");
      });
    });
    var b = f.body;
    ctx.field(b, "ch-hours-on", "Keep business hours (the chat is offline outside them)", { type: "checkbox", value: !!h });
    ctx.field(b, "ch-hours-zone", "Time zone", { value: h ? h.time_zone : zone,
      help: "An IANA name, e.g. Europe/Paris; summer time follows the zone's rules." });
    ctx.field(b, "ch-hours-slots", "Opening hours, one slot a line", { rows: 3,
      value: h ? h.weekly.join("\n") : "mon-fri 09:00-17:00",
      help: "Days mon tue wed thu fri sat sun, a range or one day, then HH:MM-HH:MM, e.g. \u201csat 10:00-12:00\u201d." });
    ctx.field(b, "ch-hours-holidays", "Holidays, one date a line", { rows: 2,
      value: h ? h.holidays.join("\n") : "", placeholder: "2026-12-25", help: "YYYY-MM-DD, closed all day in the channel's time zone." });
    var mode = ctx.field(b, "ch-offline-mode", "While offline, the widget", { options: [
      ["hide", "shows nothing"], ["form", "offers a form to leave a message"]] });
    mode.value = o.mode || "hide";
    var record = ctx.field(b, "ch-offline-record", "A message left offline becomes", { options: [
      ["ticket", "a ticket"], ["lead", "a lead"]] });
    record.value = o.record || "ticket";
    ctx.field(b, "ch-offline-nobody", "Also offline while no operator (nor chatbot) can answer",
      { type: "checkbox", value: !!o.when_no_operator });
  }

  function texts(parent, ctx, channel) {
    parent.appendChild(ctx.el("h4", "", "Widget languages"));
    var own = JSON.parse(JSON.stringify(channel.texts || {}));
    var table = null;
    var shown = null;
    var f = ctx.form(parent, "ch-texts", "Save the texts", function () {
      keep();
      var v = document.getElementById("ch-texts-default").value.trim();
      return ctx.api("/api/v1/livechat/channels/" + channel.id, "PATCH", {
        default_language: v || "en", texts: own,
      }).then(function (c) {
        own = JSON.parse(JSON.stringify(c.texts || {}));
        f.say("Saved. Visitors get the texts of their browser's language, else the default language's.");
      });
    });
    var b = f.body;
    ctx.field(b, "ch-texts-default", "Default language", { value: channel.default_language || "en",
      help: "For visitors whose language has no texts (a code such as en, fr, de, es, pt-br)." });
    var lang = ctx.field(b, "ch-texts-lang", "Language to edit", { value: "fr",
      help: "Built in: en, fr, de, es. Another code adds a language; empty fields keep the built-in text." });
    var rows = ctx.el("div", "ch-texts-rows");
    rows.id = "ch-texts-rows";
    b.appendChild(rows);
    // The fields of the language shown now go back into `own` before another is drawn or saved.
    function keep() {
      if (!shown) return;
      var mine = {};
      Array.prototype.forEach.call(rows.querySelectorAll("[data-key]"), function (input) {
        if (input.value.trim()) mine[input.getAttribute("data-key")] = input.value;
      });
      if (Object.keys(mine).length) own[shown] = mine; else delete own[shown];
    }
    function draw() {
      keep();
      rows.textContent = "";
      shown = lang.value.trim().toLowerCase();
      if (!table || shown.length < 2) { shown = null; return; }
      table.texts.forEach(function (t) {
        var builtIn = t.built_in[shown] || t.built_in.en;
        var input = ctx.field(rows, "ch-text-" + t.key, t.key, {
          value: (own[shown] || {})[t.key] || "", placeholder: builtIn });
        input.setAttribute("data-key", t.key);
      });
    }
    lang.addEventListener("input", draw);
    ctx.api("/api/v1/livechat/widget-texts").then(function (t) { table = t; draw(); })
      .catch(function (e) { f.fail(e); });
  }

  registry.channelParts.push(hours, texts);
})();
