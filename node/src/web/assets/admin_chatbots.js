// ochat console, administration: the Chatbots section (loaded after admin_bots.js, which
// places it in the console). An editor for a script's steps (text, question with answers and
// links, email, phone, forward to operator with expertise, free and multi-line input, create
// lead or ticket, each with its "Only If" answers), the checker's warnings on the steps they
// concern (POST /api/v1/livechat/chatbots/check as you edit, and the saved answer), and the
// Test button as a chat you type into (POST /api/v1/livechat/chatbots/{id}/test replays the
// visitor's inputs on the saved script; nothing is stored).
(function () {
  "use strict";
  var A = window.ochatAdminBots;
  if (!A) return;
  var el = A.util.el, field = A.util.field, button = A.util.button, api = A.util.api, $ = A.util.$;
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
    function loadList() {
      return api("/api/v1/livechat/chatbots").then(function (bots) {
        list.textContent = "";
        if (!bots.length) list.appendChild(el("li", { className: "ab-empty", text: "No chatbot yet" }));
        bots.forEach(function (b) {
          var label = b.name + (b.warnings.length ? " \u2014 " + b.warnings.length + " warning" + (b.warnings.length > 1 ? "s" : "") : "");
          list.appendChild(el("li", {}, [button(label, {
            className: "secondary", "data-chatbot": b.id,
            "aria-current": bot && bot.id === b.id ? "true" : null,
            on: { click: function () { if (mayLeave()) open(b); } },
          })]));
        });
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

    // Unsaved edits are not dropped without asking.
    function mayLeave() {
      return !dirty || !bot || window.confirm("Discard the unsaved changes to \u201c" + (bot.name || "the new chatbot") + "\u201d?");
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
      if (!mayLeave()) return;
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

  A.add({ id: "chatbots", title: "Chatbots", mount: mountChatbots });
})();
