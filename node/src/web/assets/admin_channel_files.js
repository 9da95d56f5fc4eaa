// ochat console, admin area: the part of a channel's page for files in conversations (the
// per-channel switch, the size limit and the allowed types). admin_channels.js calls every
// function in window.ochatAdmin.channelParts with (parent, ctx, channel) under its own form;
// this file adds one. The node checks the limit and the types (it names the ones it knows)
// and its message is shown next to the form.
(function () {
  "use strict";
  var registry = (window.ochatAdmin = window.ochatAdmin || { sections: [] });
  registry.channelParts = registry.channelParts || [];
  var MIB = 1048576;

  function files(parent, ctx, channel) {
    parent.appendChild(ctx.el("h4", "", "Files in conversations")).id = "ch-files-title";
    var path = "/api/v1/livechat/channels/" + channel.id + "/files";
    var f = ctx.form(parent, "ch-files", "Save the file settings", function () {
      var mib = Number(document.getElementById("ch-files-max").value);
      if (!(mib > 0)) return Promise.reject(new Error("The size limit is a number of MiB above 0."));
      return ctx.api(path, "PUT", {
        enabled: document.getElementById("ch-files-on").checked,
        max_bytes: Math.round(mib * MIB),
        allowed_types: document.getElementById("ch-files-types").value.split(/[\s,]+/)
          .filter(function (t) { return t; }),
      }).then(function (s) {
        draw(s);
        f.say(s.enabled ? "Saved. Visitors and operators may send files up to " + s.max_bytes / MIB +
          " MiB of these types: " + s.allowed_types.join(", ") + "." : "Saved. Files are off in this channel.");
      });
    });
    var b = f.body;
    ctx.field(b, "ch-files-on", "Visitors and operators may send files", { type: "checkbox", value: false });
    ctx.field(b, "ch-files-max", "Largest file (MiB)", { value: "10",
      help: "At most 100 MiB; the node refuses a larger upload while it arrives." });
    ctx.field(b, "ch-files-types", "Allowed types, one a line", { rows: 4, value: "",
      help: "MIME types or extensions, e.g. image/png, .pdf, text/plain. The node checks each file's content against its type; HTML and SVG are never accepted." });
    function draw(s) {
      document.getElementById("ch-files-on").checked = !!s.enabled;
      document.getElementById("ch-files-max").value = String(s.max_bytes / MIB);
      document.getElementById("ch-files-types").value = (s.allowed_types || []).join("\n");
    }
    ctx.api(path).then(draw).catch(function (e) { f.fail(e); });
  }

  registry.channelParts.push(files);
})();
