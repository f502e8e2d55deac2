// "New request": add participant rows without a round trip and split the total equally.
// The form works without this file: "Add a participant" then posts the form and the page
// comes back with one more row, and "Split the total equally" is the checkbox above.
(function () {
  "use strict";
  var form = document.getElementById("request-form");
  if (!form) return;
  var rows = form.querySelector("[data-participant-rows]");
  var template = form.querySelector("template[data-participant-template]");
  var total = form.querySelector("[name=participants-TOTAL_FORMS]");
  var addButton = form.querySelector("[data-add-participant]");
  var splitButton = form.querySelector("[data-split-equally]");
  var sumOut = form.querySelector("[data-shares-sum]");
  var totalField = form.querySelector("[name=total_amount]");
  var exponent = parseInt(splitButton.getAttribute("data-currency-exponent"), 10) || 0;

  function liveRows() {
    return Array.prototype.filter.call(rows.querySelectorAll("[data-participant-row]"), function (row) {
      var removed = row.querySelector("input[name$='-DELETE']");
      return !(removed && removed.checked);
    });
  }

  function toMinor(text) {
    var match = /^\s*([0-9]{1,13})(?:[.,]([0-9]*))?\s*$/.exec(text || "");
    if (!match) return null;
    var fraction = (match[2] || "").slice(0, exponent);
    while (fraction.length < exponent) fraction += "0";
    return parseInt(match[1], 10) * Math.pow(10, exponent) + (fraction ? parseInt(fraction, 10) : 0);
  }

  function toMajor(minor) {
    if (!exponent) return String(minor);
    var text = String(minor);
    while (text.length <= exponent) text = "0" + text;
    return text.slice(0, -exponent) + "." + text.slice(-exponent);
  }

  function showSum() {
    var sum = 0;
    var complete = true;
    liveRows().forEach(function (row) {
      var value = toMinor(row.querySelector("input[name$='-amount']").value);
      if (value === null) complete = false; else sum += value;
    });
    var wanted = toMinor(totalField.value);
    sumOut.textContent = complete && wanted !== null
      ? form.getAttribute("data-sum-label").replace("%(sum)s", toMajor(sum)).replace("%(total)s", toMajor(wanted))
      : "";
  }

  addButton.type = "button";
  addButton.addEventListener("click", function () {
    var index = parseInt(total.value, 10) || 0;
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    rows.insertAdjacentHTML("beforeend", html);
    total.value = String(index + 1);
    var added = rows.lastElementChild.querySelector("input[name$='-name']");
    if (added) added.focus();
  });

  splitButton.hidden = false;
  splitButton.addEventListener("click", function () {
    var wanted = toMinor(totalField.value);
    var live = liveRows();
    if (wanted === null || !live.length) {
      totalField.focus();
      return;
    }
    var base = Math.floor(wanted / live.length);
    var remainder = wanted - base * live.length;
    // The remainder goes one unit each to the first rows, as the server splits.
    live.forEach(function (row, position) {
      row.querySelector("input[name$='-amount']").value = toMajor(base + (position < remainder ? 1 : 0));
    });
    showSum();
  });

  form.addEventListener("input", showSum);
  form.addEventListener("change", function (event) {
    if (event.target.name && /-DELETE$/.test(event.target.name)) {
      event.target.closest("[data-participant-row]").classList.toggle("opacity-50", event.target.checked);
      showSum();
    }
  });
})();
