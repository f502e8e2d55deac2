// Scenario builder: add, remove and reorder step rows without a round trip, offer only the
// templates of the row's channel, show the chosen template's sample, and refresh the
// timeline preview (htmx posts the form to the preview endpoint on "refresh").
// The page works without this file: every button is a submit the server answers.
(function () {
  "use strict";
  var form = document.getElementById("scenario-builder");
  if (!form) return;
  var rows = form.querySelector("[data-step-rows]");
  var template = form.querySelector("template[data-step-template]");
  var total = form.querySelector("[name=steps-TOTAL_FORMS]");
  var initial = form.querySelector("[name=steps-INITIAL_FORMS]");
  var status = form.querySelector("[data-row-status]");
  var samples = document.getElementById("template-samples");
  var maxSteps = parseInt(form.getAttribute("data-max-steps"), 10) || 20;
  var ROW_NAME = /steps-(\d+|__prefix__)-/g;

  function allRows() {
    return Array.prototype.slice.call(rows.querySelectorAll("[data-step-row]"));
  }

  function say(text) {
    status.textContent = "";
    window.setTimeout(function () { status.textContent = text; }, 50);
  }

  function refresh() {
    form.dispatchEvent(new Event("refresh"));
  }

  // Names, ids and labels follow the row's place, as the server numbers them.
  function renumber() {
    var list = allRows();
    list.forEach(function (row, index) {
      row.id = "step-" + index;
      row.querySelectorAll("*").forEach(function (element) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) element.setAttribute(attribute, value.replace(ROW_NAME, "steps-" + index + "-"));
        });
        var action = element.getAttribute("data-row-action");
        if (action) element.value = action + "-" + index;
      });
      row.querySelectorAll("[data-step-number]").forEach(function (number) {
        number.textContent = String(index + 1);
      });
      row.querySelector("[data-row-action=up]").disabled = index === 0;
      row.querySelector("[data-row-action=down]").disabled = index === list.length - 1;
    });
    total.value = String(list.length);
    // Rows are replaced whole on save: none is an "initial" form to keep.
    if (initial) initial.value = "0";
    form.querySelector("[data-row-action=add]").disabled = list.length >= maxSteps;
  }

  function showTargets(row) {
    var channel = row.querySelector("select[name$='-channel']").value;
    row.querySelectorAll("[data-target-of]").forEach(function (block) {
      var wanted = block.getAttribute("data-target-of") === "webhook" ? channel === "webhook" : channel !== "webhook";
      block.hidden = !wanted;
    });
    var select = row.querySelector("[data-template-select]");
    Array.prototype.forEach.call(select.querySelectorAll("option[data-channel]"), function (option) {
      var other = option.getAttribute("data-channel") !== channel;
      option.hidden = other;
      option.disabled = other;
    });
    Array.prototype.forEach.call(select.querySelectorAll("optgroup"), function (group) {
      group.hidden = !group.querySelector("option:not([disabled])");
    });
    if (select.selectedOptions.length && select.selectedOptions[0].disabled) select.value = "";
  }

  function showSample(row) {
    var select = row.querySelector("[data-template-select]");
    var box = row.querySelector("[data-template-preview]");
    var sample = select.value && samples.querySelector("[data-sample-of='" + CSS.escape(select.value) + "']");
    if (sample) {
      box.innerHTML = sample.innerHTML;
    } else if (!select.value) {
      box.textContent = box.getAttribute("data-default-text") || box.textContent;
    }
  }

  function prepare(row) {
    var box = row.querySelector("[data-template-preview]");
    var select = row.querySelector("[data-template-select]");
    if (!select.value && !box.hasAttribute("data-default-text")) {
      box.setAttribute("data-default-text", box.textContent.trim());
    }
    showTargets(row);
  }

  function act(button) {
    var action = button.getAttribute("data-row-action");
    var row = button.closest("[data-step-row]");
    if (action === "add") {
      if (allRows().length >= maxSteps) return;
      rows.insertAdjacentHTML("beforeend", template.innerHTML);
      var added = rows.lastElementChild;
      renumber();
      prepare(added);
      added.querySelector("select").focus();
      say(form.getAttribute("data-added-label"));
    } else if (action === "remove") {
      var next = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      renumber();
      (next ? next.querySelector("select") : form.querySelector("[data-row-action=add]")).focus();
      say(form.getAttribute("data-removed-label"));
    } else if (action === "up" && row.previousElementSibling) {
      rows.insertBefore(row, row.previousElementSibling);
      renumber();
      moved(row, button);
    } else if (action === "down" && row.nextElementSibling) {
      rows.insertBefore(row.nextElementSibling, row);
      renumber();
      moved(row, button);
    }
    refresh();
  }

  function moved(row, button) {
    var place = allRows().indexOf(row) + 1;
    (button.disabled ? row.querySelector("[data-row-action]:not([disabled])") : button).focus();
    say(form.getAttribute("data-moved-label").replace("{position}", String(place)));
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !form.contains(button)) return;
    if (button.hasAttribute("data-row-action")) {
      event.preventDefault();
      act(button);
    } else if (button.hasAttribute("data-preview-button") && window.htmx) {
      event.preventDefault();
      refresh();
    }
  });

  form.addEventListener("change", function (event) {
    var row = event.target.closest("[data-step-row]");
    if (!row) return;
    if (/-channel$/.test(event.target.name)) {
      showTargets(row);
      showSample(row);
    } else if (event.target.hasAttribute("data-template-select")) {
      showSample(row);
    }
  });

  // The error summary takes the focus, and each of its links the field it names.
  var summary = document.getElementById("error-summary");
  if (summary) {
    summary.focus();
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var target = link && document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      target.scrollIntoView({ block: "center" });
      target.focus();
    });
  }

  allRows().forEach(prepare);
})();
