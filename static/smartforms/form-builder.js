// Smart-form builder: add, remove and reorder field rows in the browser, show each row's
// options for its type, and refresh the live preview as the operator types.
// The page works without this file: "Add a field", "Move up/down", "Remove" + "Preview"
// post the form and the server draws it again.
(function () {
  "use strict";
  var form = document.querySelector("[data-form-builder]");
  if (!form) return;
  var rows = form.querySelector("[data-builder-rows]");
  var template = form.querySelector("template[data-builder-template]");
  var total = form.querySelector("[data-builder-total]");
  var pane = document.getElementById("builder-preview");
  var previewUrl = form.getAttribute("data-preview-url");
  var fieldLabel = form.getAttribute("data-field-label"); // "Field {n}", translated

  function liveRows() {
    return Array.prototype.filter.call(rows.querySelectorAll("[data-builder-row]"), function (row) {
      return !row.hidden;
    });
  }

  function renumber() {
    var live = liveRows();
    live.forEach(function (row, index) {
      var label = fieldLabel.replace("{n}", String(index + 1));
      row.querySelector("[data-builder-position]").value = index;
      row.querySelector("[data-builder-title]").textContent = label;
      row.querySelector("[data-builder-legend]").textContent = label;
      row.querySelector("[data-builder-move=up]").disabled = index === 0;
      row.querySelector("[data-builder-move=down]").disabled = index === live.length - 1;
    });
  }

  function showOptions(row) {
    var type = row.querySelector("[data-builder-type]").value;
    row.querySelectorAll("[data-builder-options]").forEach(function (group) {
      group.hidden = group.getAttribute("data-types").split(" ").indexOf(type) === -1;
    });
  }

  function wire(row) {
    var box = row.querySelector("[data-builder-remove-box]");
    var remove = row.querySelector("[data-builder-remove]");
    box.hidden = true;
    remove.hidden = false;
    remove.addEventListener("click", function () {
      box.querySelector("input").checked = true;
      row.hidden = true;
      renumber();
      refresh();
      form.querySelector("[data-builder-add]").focus();
    });
    row.querySelectorAll("[data-builder-move]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        var live = liveRows();
        var index = live.indexOf(row);
        if (button.getAttribute("data-builder-move") === "up" && index > 0) {
          rows.insertBefore(row, live[index - 1]);
        } else if (button.getAttribute("data-builder-move") === "down" && index < live.length - 1) {
          rows.insertBefore(live[index + 1], row);
        }
        renumber();
        button.disabled ? row.querySelector("[data-builder-type]").focus() : button.focus();
        refresh();
      });
    });
    row.querySelector("[data-builder-type]").addEventListener("change", function () {
      showOptions(row);
    });
    showOptions(row);
  }

  var timer = null;
  var inFlight = null;
  function refresh() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(function () {
      if (inFlight) inFlight.abort();
      inFlight = new AbortController();
      fetch(previewUrl, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        signal: inFlight.signal,
      })
        .then(function (response) {
          return response.ok ? response.text() : null;
        })
        .then(function (html) {
          if (html !== null) pane.innerHTML = html;
        })
        .catch(function () {
          /* a newer refresh replaced this one, or the network is down: keep the last view */
        });
    }, 350);
  }

  form.querySelector("[data-builder-add]").addEventListener("click", function (event) {
    event.preventDefault();
    var index = parseInt(total.value, 10) || 0;
    var holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__prefix__/g, String(index));
    var row = holder.querySelector("[data-builder-row]");
    rows.appendChild(row);
    total.value = index + 1;
    wire(row);
    renumber();
    row.querySelector("[data-builder-type]").focus();
  });

  form.querySelector("[data-builder-preview-button]").addEventListener("click", function (event) {
    event.preventDefault();
    refresh();
  });

  // A message from the last save stays until its input is edited: then it is stale.
  function clearError(event) {
    var input = event.target;
    if (!input.classList || !input.classList.contains("is-invalid")) return;
    input.classList.remove("is-invalid");
    input.removeAttribute("aria-invalid");
    var message = document.getElementById(input.id + "-error");
    if (message) message.remove();
    var described = (input.getAttribute("aria-describedby") || "")
      .split(" ")
      .filter(function (id) {
        return id && id !== input.id + "-error";
      });
    if (described.length) input.setAttribute("aria-describedby", described.join(" "));
    else input.removeAttribute("aria-describedby");
  }

  form.addEventListener("input", function (event) {
    clearError(event);
    refresh();
  });
  form.addEventListener("change", refresh);
  rows.querySelectorAll("[data-builder-row]").forEach(wire);
  renumber();
})();
