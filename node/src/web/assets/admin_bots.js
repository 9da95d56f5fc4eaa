// ochat console, administration: the Chatbots and Federation sections (issue 31, item 1).
//
// Self-contained: it needs only the console's login (the token in sessionStorage["ochat.token"])
// and two elements of console.html:
//   <ul id="admin-bots-nav" hidden>   the sidebar entries, one button per section (filled here)
//   <section id="admin-bots" hidden>  where the open section is drawn
// The nav appears once #app is shown and the token may list users (GET /api/v1/users), i.e. for
// the admin token and administrators. Opening a section hides the console's own views; opening
// one of those hides this one.
//
// The hook for another admin area: window.ochatAdminBots.sections is a list of
//   {id: "chatbots"|"federation", title, mount(container)}
// where mount(container) draws the section into an empty element and returns an object with an
// optional unmount(). If window.ochatAdmin.register(section) exists when this file runs, the
// sections are handed to it and the nav above is not drawn.
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
    var headers = { authorization: "Bearer " + sessionStorage.getItem(KEY) };
    if (body !== undefined) headers["content-type"] = "application/json";
    return fetch(path, {
      method: method || "GET", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (resp) {
      if (resp.status === 204) return null;
      return resp.json().catch(function () { return null; }).then(function (json) {
        if (!resp.ok) {
          var e = new Error((json && json.error && json.error.message) || ("HTTP " + resp.status));
          e.status = resp.status;
          throw e;
        }
        return json;
      });
    });
  }

  // ======================= Chatbots =======================
  var STEP_TYPES = [
    ["text", "Text"], ["question", "Question with answers"], ["email", "Email"], ["phone", "Phone"],
    ["forward_to_operator", "Forward to operator"], ["free_input", "Free input"],
    ["free_input_multiline", "Multi-line input"], ["create_lead", "Create lead"],
    ["create_ticket", "Create ticket"],
  ];
  var OPTIONAL_MESSAGE = { forward_to_operator: true, create_lead: true, create_ticket: true };
  var WARNING_NAMES = {
    dead_end: "Dead end", forward_without_fallback: "No fallback", unreachable: "Never runs",
    only_if_later: "Only If points forward", truncated: "Not fully checked",
  };
  var ENDINGS = {
    finished: "The script ended: its last step ran.",
    dead_end: "Dead end: the visitor's answer had no step to follow.",
    link: "The visitor followed an answer's link: the script ended.",
    forwarded: "An operator took over: the chatbot left.",
  };
  function typeName(t) {
    for (var i = 0; i < STEP_TYPES.length; i++) if (STEP_TYPES[i][0] === t) return STEP_TYPES[i][1];
    return t;
  }

  function mountChatbots(root) {
    var bot = null; // {id|null, name, operator_name, avatar, steps}
    var warnings = [];
    var dirty = false;
    var checkTimer = null;
    var checkSeq = 0;
    var testInputs = null; // the test chat's inputs while it is open
    var checking = false; // the steps changed shape and the checker has not answered yet

    var list = el("ul", { id: "ab-bot-list", className: "ab-list", "aria-label": "Chatbots" });
    var form = el("form", { id: "ab-bot-form", className: "ab-card", hidden: true, "aria-labelledby": "ab-bot-title", novalidate: true });
    var testPane = el("section", { id: "ab-test", className: "ab-card ab-test", hidden: true, "aria-labelledby": "ab-test-title" });
    root.appendChild(el("div", { className: "ab-columns" }, [
      el("div", { className: "ab-editor" }, [
        el("div", { className: "ab-row" }, [list, button("New chatbot", { id: "ab-bot-new", className: "secondary", on: { click: newBot } })]),
        el("p", { id: "ab-bots-error", className: "error", role: "alert" }),
        form,
      ]),
      testPane,
    ]));

    // ---- the list ----
    function loadList(select) {
      return api("/api/v1/livechat/chatbots").then(function (bots) {
        list.textContent = "";
        if (!bots.length) list.appendChild(el("li", { className: "ab-empty", text: "No chatbot yet" }));
        bots.forEach(function (b) {
          var label = b.name + (b.warnings.length ? " \u2014 " + b.warnings.length + " warning" + (b.warnings.length > 1 ? "s" : "") : "");
          list.appendChild(el("li", {}, [button(label, {
            className: "secondary", "data-chatbot": b.id,
            "aria-current": bot && bot.id === b.id ? "true" : null,
            on: { click: function () { open(b); } },
          })]));
        });
        if (select) {
          var found = bots.filter(function (b) { return b.id === select; })[0];
          if (found) open(found);
        }
      }).catch(function (e) { $("ab-bots-error").textContent = e.message; });
    }

    function plain(view) {
      return {
        id: view.id || null, name: view.name, operator_name: view.operator_name || "",
        avatar: view.avatar || null,
        steps: view.steps.map(function (s) {
          return {
            type: s.type, message: s.message || "",
            answers: (s.answers || []).map(function (a) { return { id: a.id, text: a.text, link: a.link || "" }; }),
            only_if: (s.only_if || []).slice(), expertise: (s.expertise || []).slice(),
          };
        }),
      };
    }

    function open(view) {
      bot = plain(view);
      warnings = view.warnings || [];
      checking = !view.id;
      dirty = false;
      closeTest();
      drawForm();
      $("ab-bot-name").focus();
      Array.prototype.forEach.call(list.querySelectorAll("button"), function (b) {
        if (b.getAttribute("data-chatbot") === bot.id) b.setAttribute("aria-current", "true");
        else b.removeAttribute("aria-current");
      });
    }

    function newBot() {
      open({ id: null, name: "", operator_name: "", steps: [
        { type: "text", message: "Hello! I am the website's assistant." },
      ], warnings: [] });
      changed();
      $("ab-bot-result").textContent = "A new chatbot: Save to create it.";
    }

    // What the API takes: empty links dropped, expertise split.
    function payload() {
      return {
        name: bot.name, operator_name: bot.operator_name || null, avatar: bot.avatar || null,
        steps: bot.steps.map(function (s) {
          var out = { type: s.type, message: s.message, only_if: s.only_if };
          if (s.type === "question") {
            out.answers = s.answers.map(function (a) {
              var x = { id: a.id, text: a.text };
              if (a.link.trim()) x.link = a.link.trim();
              return x;
            });
          }
          if (s.type === "forward_to_operator") out.expertise = s.expertise;
          return out;
        }),
      };
    }

    // ---- the form ----
    function drawForm(focusSel) {
      form.hidden = false;
      form.textContent = "";
      var name = el("input", { value: bot.name, required: true, autocomplete: "off",
        on: { input: function () { bot.name = this.value; changed(); } } });
      var opName = el("input", { value: bot.operator_name, autocomplete: "off", placeholder: "the chatbot's name",
        on: { input: function () { bot.operator_name = this.value; changed(); } } });
      var steps = el("ol", { id: "ab-steps", className: "ab-steps" });
      bot.steps.forEach(function (s, i) { steps.appendChild(drawStep(s, i)); });
      var addType = el("select", {}, STEP_TYPES.map(function (t) { return el("option", { value: t[0], text: t[1] }); }));
      form.appendChild(el("h3", { id: "ab-bot-title", tabindex: "-1", text: bot.id ? "Chatbot \u201c" + bot.name + "\u201d" : "New chatbot" }));
      form.appendChild(el("div", { className: "ab-row" }, [
        field("ab-bot-name", "Name", name), field("ab-bot-operator", "Name visitors see", opName),
      ]));
      form.appendChild(drawAvatar());
      form.appendChild(el("div", { id: "ab-bot-summary", className: "ab-summary", role: "status" }));
      form.appendChild(steps);
      form.appendChild(el("div", { className: "ab-row ab-add" }, [
        field("ab-add-type", "New step", addType),
        button("Add step", { id: "ab-add-step", className: "secondary", on: { click: function () { addStep(addType.value); } } }),
      ]));
      form.appendChild(el("div", { className: "ab-row ab-actions" }, [
        button("Save", { id: "ab-bot-save", type: "submit" }),
        button("Test", { id: "ab-bot-test", className: "secondary", on: { click: startTest } }),
        bot.id ? button("Delete chatbot", { id: "ab-bot-delete", className: "secondary danger", on: { click: removeBot } }) : null,
      ]));
      form.appendChild(el("p", { id: "ab-bot-error", className: "error", role: "alert" }));
      form.appendChild(el("p", { id: "ab-bot-result", className: "ab-result", role: "status" }));
      showWarnings();
      if (focusSel) { var f = form.querySelector(focusSel); if (f) f.focus(); }
    }

    // The picture visitors see beside the bot's messages: an image file (kept as a data: URL,
    // 256 KiB at most, as the node allows) or an http(s) address typed in.
    var AVATAR_MAX = 256 * 1024;
    function drawAvatar() {
      var preview = el("img", { id: "ab-avatar-preview", className: "ab-avatar", alt: "", hidden: !bot.avatar });
      if (bot.avatar) preview.src = bot.avatar;
      var note = el("p", { id: "ab-avatar-error", className: "error", role: "alert" });
      var file = el("input", { type: "file", accept: "image/*", on: { change: function () {
        var f = this.files && this.files[0];
        note.textContent = "";
        if (!f) return;
        var reader = new FileReader();
        reader.onload = function () {
          if (String(reader.result).length > AVATAR_MAX) {
            note.textContent = "That image is too large: at most 256 KiB once encoded.";
            return;
          }
          bot.avatar = String(reader.result);
          preview.src = bot.avatar;
          preview.hidden = false;
          remove.hidden = false;
          changed();
        };
        reader.readAsDataURL(f);
      } } });
      var remove = button("Remove avatar", { id: "ab-avatar-remove", className: "secondary ab-small", hidden: !bot.avatar,
        on: { click: function () {
          bot.avatar = null;
          preview.hidden = true;
          remove.hidden = true;
          file.value = "";
          changed();
        } } });
      return el("div", { className: "ab-row ab-avatar-row" }, [
        preview, field("ab-avatar-file", "Avatar (an image file)", file), remove, note,
      ]);
    }

    function stepId(i, part) { return "ab-step-" + (i + 1) + (part ? "-" + part : ""); }

    function drawStep(s, i) {
      var n = i + 1;
      var li = el("li", { className: "ab-step", "data-step": n, "aria-labelledby": stepId(i, "title") });
      var type = el("select", { id: stepId(i, "type"), on: { change: function () { setType(i, this.value); } } },
        STEP_TYPES.map(function (t) { return el("option", { value: t[0], text: t[1], selected: t[0] === s.type }); }));
      type.value = s.type;
      li.appendChild(el("div", { className: "ab-step-head" }, [
        el("h4", { id: stepId(i, "title"), text: "Step " + n }),
        el("label", { "for": stepId(i, "type"), className: "ab-inline", text: "Type" }), type,
        el("span", { className: "ab-spacer" }),
        button("\u2191", { className: "secondary ab-icon", "aria-label": "Move step " + n + " up", disabled: i === 0, "data-move": "up",
          on: { click: function () { move(i, -1); } } }),
        button("\u2193", { className: "secondary ab-icon", "aria-label": "Move step " + n + " down", disabled: i === bot.steps.length - 1, "data-move": "down",
          on: { click: function () { move(i, 1); } } }),
        button("Remove", { className: "secondary ab-remove", "aria-label": "Remove step " + n, disabled: bot.steps.length === 1,
          on: { click: function () { removeStep(i); } } }),
      ]));
      var message = el(s.type === "free_input_multiline" || s.type === "question" || s.type === "text" ? "textarea" : "input", {
        value: s.message, rows: 2, "aria-describedby": stepId(i, "warnings"),
        on: { input: function () { s.message = this.value; changed(); } },
      });
      if (message.tagName === "TEXTAREA") message.value = s.message;
      li.appendChild(field(stepId(i, "message"), OPTIONAL_MESSAGE[s.type] ? "Message (optional)" : "Message", message));
      if (s.type === "question") li.appendChild(drawAnswers(s, i));
      if (s.type === "forward_to_operator") {
        li.appendChild(field(stepId(i, "expertise"), "Expertise wanted (comma-separated)", el("input", {
          value: s.expertise.join(", "),
          on: { input: function () {
            s.expertise = this.value.split(",").map(function (x) { return x.trim(); }).filter(Boolean);
            changed();
          } },
        })));
      }
      var onlyIf = drawOnlyIf(s, i);
      if (onlyIf) li.appendChild(onlyIf);
      li.appendChild(el("ul", { id: stepId(i, "warnings"), className: "ab-warnings", "aria-label": "Warnings of step " + n }));
      return li;
    }

    function drawAnswers(s, i) {
      var n = i + 1;
      var box = el("fieldset", { className: "ab-answers" }, [el("legend", { text: "Answers" })]);
      s.answers.forEach(function (a, k) {
        var row = el("div", { className: "ab-answer", "data-answer": a.id });
        row.appendChild(el("input", { value: a.text, "aria-label": "Answer " + (k + 1) + " of step " + n, placeholder: "What the visitor clicks",
          on: { input: function () { a.text = this.value; changed(); } } }));
        row.appendChild(el("input", { value: a.link, "aria-label": "Link of answer " + (k + 1) + " of step " + n + " (optional)",
          placeholder: "Link (optional): https://\u2026", className: "ab-link",
          on: { input: function () { a.link = this.value; changed(); } } }));
        row.appendChild(el("code", { className: "ab-id", title: "answer id, for Only If", text: a.id }));
        row.appendChild(button("Remove", { className: "secondary ab-remove", "aria-label": "Remove answer " + (k + 1) + " of step " + n,
          disabled: s.answers.length === 1, on: { click: function () {
            forget([a.id]);
            s.answers.splice(k, 1);
            structural(stepSel(i, ".ab-add-answer"));
          } } }));
        box.appendChild(row);
      });
      box.appendChild(button("Add answer", { className: "secondary ab-add-answer", "aria-label": "Add an answer to step " + n,
        on: { click: function () {
          s.answers.push({ id: freshAnswerId(n), text: "", link: "" });
          structural(stepSel(i, ".ab-answer:last-of-type input"));
        } } }));
      return box;
    }

    // "Only If": the answers of the questions before the step (and any named already).
    function drawOnlyIf(s, i) {
      var groups = [];
      bot.steps.forEach(function (q, j) {
        if (q.type !== "question") return;
        var named = q.answers.filter(function (a) { return s.only_if.indexOf(a.id) >= 0; });
        if (j < i || named.length) groups.push([q, j]);
      });
      if (!groups.length) return null;
      var box = el("fieldset", { className: "ab-onlyif" }, [el("legend", { text: "Only if the visitor answered (any answer of each question)" })]);
      groups.forEach(function (g) {
        var q = g[0];
        var row = el("div", { className: "ab-onlyif-q" }, [el("span", { className: "ab-q", text: "Step " + (g[1] + 1) + " \u201c" + q.message + "\u201d:" })]);
        q.answers.forEach(function (a) {
          var cb = el("input", { type: "checkbox", value: a.id, checked: s.only_if.indexOf(a.id) >= 0,
            "aria-label": "Step " + (i + 1) + " only if step " + (g[1] + 1) + " was answered " + (a.text || a.id),
            on: { change: function () {
              if (this.checked) { if (s.only_if.indexOf(a.id) < 0) s.only_if.push(a.id); }
              else s.only_if = s.only_if.filter(function (x) { return x !== a.id; });
              changed();
            } } });
          row.appendChild(el("label", { className: "ab-check" }, [cb, " " + (a.text || a.id)]));
        });
        box.appendChild(row);
      });
      return box;
    }

    function stepSel(i, sel) { return '.ab-step[data-step="' + (i + 1) + '"] ' + sel; }

    function freshAnswerId(n) {
      var used = {};
      bot.steps.forEach(function (s) { s.answers.forEach(function (a) { used[a.id] = true; }); });
      var k = 1;
      while (used[n + "." + k]) k += 1;
      return n + "." + k;
    }

    // Answer ids that disappear are taken out of every Only If (the API refuses unknown ones).
    function forget(ids) {
      bot.steps.forEach(function (s) {
        s.only_if = s.only_if.filter(function (x) { return ids.indexOf(x) < 0; });
      });
    }

    function setType(i, type) {
      var s = bot.steps[i];
      if (s.type === "question" && type !== "question") {
        forget(s.answers.map(function (a) { return a.id; }));
        s.answers = [];
      }
      if (type === "question" && !s.answers.length) s.answers = [{ id: freshAnswerId(i + 1), text: "", link: "" }];
      if (type !== "forward_to_operator") s.expertise = [];
      s.type = type;
      structural("#" + stepId(i, "type"));
    }

    function addStep(type) {
      var s = { type: type, message: "", answers: [], only_if: [], expertise: [] };
      bot.steps.push(s);
      if (type === "question") s.answers = [{ id: freshAnswerId(bot.steps.length), text: "", link: "" }];
      structural("#" + stepId(bot.steps.length - 1, "message"));
    }

    function move(i, by) {
      var j = i + by;
      var s = bot.steps.splice(i, 1)[0];
      bot.steps.splice(j, 0, s);
      var focus = stepSel(j, '[data-move="' + (by < 0 ? "up" : "down") + '"]');
      structural(focus);
      var b = form.querySelector(focus);
      if (b && b.disabled) { var t = form.querySelector("#" + stepId(j, "type")); if (t) t.focus(); }
    }

    function removeStep(i) {
      forget(bot.steps[i].answers.map(function (a) { return a.id; }));
      bot.steps.splice(i, 1);
      structural("#" + stepId(Math.min(i, bot.steps.length - 1), "type"));
    }

    function structural(focusSel) {
      warnings = [];
      checking = true;
      drawForm(focusSel);
      changed();
    }

    // ---- the checker, as you type ----
    function changed() {
      dirty = true;
      $("ab-bot-result").textContent = "";
      clearTimeout(checkTimer);
      checkTimer = setTimeout(check, 300);
    }

    function check() {
      var seq = ++checkSeq;
      api("/api/v1/livechat/chatbots/check", "POST", payload()).then(function (view) {
        if (seq !== checkSeq || !bot) return;
        warnings = view.warnings;
        checking = false;
        showWarnings();
      }, function (e) {
        if (seq !== checkSeq || !bot) return;
        warnings = [];
        checking = false;
        showWarnings(e.message);
      });
    }

    // Each warning on the step it concerns; the count (or what keeps the script from being
    // valid) at the top.
    function showWarnings(invalid) {
      Array.prototype.forEach.call(form.querySelectorAll(".ab-step"), function (li) {
        li.classList.remove("has-warnings", "has-error");
        li.querySelector(".ab-warnings").textContent = "";
      });
      var summary = $("ab-bot-summary");
      summary.textContent = "";
      summary.className = "ab-summary";
      var general = [];
      warnings.forEach(function (w) {
        var li = form.querySelector('.ab-step[data-step="' + w.step + '"]');
        if (!li) { general.push(w); return; }
        li.classList.add("has-warnings");
        li.querySelector(".ab-warnings").appendChild(el("li", { "data-kind": w.kind }, [
          el("strong", { text: (WARNING_NAMES[w.kind] || w.kind) + ": " }), w.message,
        ]));
      });
      if (invalid) {
        summary.classList.add("invalid");
        summary.textContent = "Cannot be saved yet: " + invalid;
        var m = /step (\d+)/.exec(invalid);
        var li = m && form.querySelector('.ab-step[data-step="' + m[1] + '"]');
        if (li) {
          li.classList.add("has-error");
          li.querySelector(".ab-warnings").appendChild(el("li", { "data-kind": "invalid", text: invalid }));
        }
        return;
      }
      if (checking) {
        summary.textContent = "Checking\u2026";
      } else if (!warnings.length) {
        summary.classList.add("ok");
        summary.textContent = "No warnings: every path the visitor can take ends well.";
      } else {
        summary.classList.add("warn");
        summary.textContent = warnings.length + " warning" + (warnings.length > 1 ? "s" : "") + ", shown on the steps they concern.";
        general.forEach(function (w) { summary.appendChild(el("span", { className: "ab-general", text: " " + w.message })); });
      }
    }

    // ---- save, delete ----
    function save() {
      $("ab-bot-error").textContent = "";
      clearTimeout(checkTimer);
      checkSeq += 1;
      var creating = !bot.id;
      return api(creating ? "/api/v1/livechat/chatbots" : "/api/v1/livechat/chatbots/" + bot.id,
        creating ? "POST" : "PUT", payload()).then(function (view) {
        bot = plain(view);
        warnings = view.warnings;
        checking = false;
        dirty = false;
        drawForm();
        $("ab-bot-result").textContent = creating ? "Created." : "Saved.";
        loadList();
        return view;
      }, function (e) {
        $("ab-bot-error").textContent = e.message;
        throw e;
      });
    }
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      save().then(function () { if (testInputs) runTest(); }, function () {});
    });

    function removeBot() {
      if (!bot.id || !window.confirm("Delete the chatbot \u201c" + bot.name + "\u201d?")) return;
      api("/api/v1/livechat/chatbots/" + bot.id, "DELETE").then(function () {
        bot = null;
        form.hidden = true;
        closeTest();
        loadList();
      }, function (e) { $("ab-bot-error").textContent = e.message; });
    }

    // ---- Test: a chat with the saved script (unsaved changes are saved first) ----
    testPane.appendChild(el("div", { className: "ab-row" }, [
      el("h3", { id: "ab-test-title", tabindex: "-1", text: "Test the chatbot" }),
      button("Start again", { id: "ab-test-restart", className: "secondary ab-small", on: { click: function () { testInputs = []; runTest(); testInput.focus(); } } }),
      button("Close", { id: "ab-test-close", className: "secondary ab-small", on: { click: closeTest } }),
    ]));
    testPane.appendChild(el("p", { className: "ab-sub", text: "A chat with the saved script. Nothing is stored: no conversation, lead or ticket." }));
    var operatorBox = el("input", { type: "checkbox", id: "ab-test-operator", on: { change: function () { runTest(); } } });
    testPane.appendChild(el("label", { className: "ab-check", "for": "ab-test-operator" }, [operatorBox, " An operator is available (forward steps hand over)"]));
    testPane.appendChild(el("div", { id: "ab-test-log", className: "ab-test-log", role: "log", "aria-live": "polite", "aria-label": "Test conversation" }));
    testPane.appendChild(el("div", { id: "ab-test-answers", className: "ab-test-answers", role: "group", "aria-label": "Answers" }));
    var testInput = el("input", { id: "ab-test-input", autocomplete: "off", placeholder: "Type as a visitor would" });
    var testForm = el("form", { id: "ab-test-form", className: "ab-row" }, [
      el("label", { "for": "ab-test-input", className: "ab-visually-hidden", text: "Your message" }), testInput,
      button("Send", { id: "ab-test-send", type: "submit" }),
    ]);
    testPane.appendChild(testForm);
    testPane.appendChild(el("p", { id: "ab-test-status", className: "ab-sub", role: "status" }));
    testPane.appendChild(el("p", { id: "ab-test-error", className: "error", role: "alert" }));
    testForm.addEventListener("submit", function (e) {
      e.preventDefault();
      var text = testInput.value.trim();
      if (!text || !testInputs) return;
      testInput.value = "";
      say(text);
    });

    function say(text) {
      testInputs.push(text);
      runTest();
    }

    function startTest() {
      var ready = dirty || !bot.id ? save() : Promise.resolve();
      ready.then(function () {
        testInputs = [];
        testPane.hidden = false;
        root.classList.add("ab-testing");
        runTest();
        testInput.focus();
      }, function () {});
    }

    function closeTest() {
      testInputs = null;
      testPane.hidden = true;
      root.classList.remove("ab-testing");
    }

    function runTest() {
      if (!testInputs || !bot || !bot.id) return;
      var inputs = testInputs.slice();
      $("ab-test-error").textContent = "";
      api("/api/v1/livechat/chatbots/" + bot.id + "/test", "POST",
        { inputs: inputs, operator_available: operatorBox.checked }).then(function (r) {
        if (testInputs === null || testInputs.length !== inputs.length) return;
        drawTest(r);
      }, function (e) { $("ab-test-error").textContent = e.message; });
    }

    function drawTest(r) {
      var log = $("ab-test-log");
      log.textContent = "";
      r.transcript.forEach(function (line) {
        var row = el("div", { className: "msg " + line.author + (line.author === "visitor" ? " mine" : ""), "data-author": line.author }, [
          el("div", { className: "author", text: line.author === "bot" ? (bot.operator_name || bot.name) : line.author === "visitor" ? "You" : "" }),
          el("div", { className: "text", text: line.text }),
        ]);
        log.appendChild(row);
      });
      r.records.forEach(function (rec) {
        log.appendChild(el("div", { className: "msg system", "data-author": "record",
          text: "Would create a " + rec.kind + ": \u201c" + rec.title + "\u201d" + (rec.email ? ", " + rec.email : "") + (rec.phone ? ", " + rec.phone : "") }));
      });
      log.scrollTop = log.scrollHeight;
      var answers = $("ab-test-answers");
      answers.textContent = "";
      var last = r.transcript.length ? r.transcript[r.transcript.length - 1] : null;
      if (r.waiting_for === "question" && last && last.answers) {
        last.answers.forEach(function (a) {
          answers.appendChild(button(a.text, { className: "secondary", on: { click: function () { say(a.text); } } }));
        });
      }
      var status = $("ab-test-status");
      status.setAttribute("data-ended", r.ended || "");
      status.textContent = r.ended ? ENDINGS[r.ended] || ("Ended: " + r.ended)
        : r.waiting_for ? "Waiting for the visitor: " + typeName(r.waiting_for).toLowerCase() + "."
        : "";
    }

    loadList();
    return { unmount: function () { clearTimeout(checkTimer); } };
  }

  // ======================= Federation =======================
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
        ["ochat", "ochat.token." + sessionStorage.getItem(KEY)]);
      socket.onmessage = function (e) {
        try { if (JSON.parse(e.data).type === "connection") load(); } catch (x) { /* a bad frame */ }
      };
      socket.onclose = function (e) { if (!stopped && e.code !== 1008) setTimeout(listen, 2000); };
    }
    load();
    listen();
    return { unmount: function () { stopped = true; if (socket) socket.close(); } };
  }

  // ======================= the hook into the console =======================
  var sections = [
    { id: "chatbots", title: "Chatbots", mount: mountChatbots },
    { id: "federation", title: "Federation", mount: mountFederation },
  ];
  window.ochatAdminBots = { sections: sections };
  if (window.ochatAdmin && typeof window.ochatAdmin.register === "function") {
    sections.forEach(function (s) { window.ochatAdmin.register(s); });
    return;
  }

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
