/*
 * Sandbox card tokenisation for payer forms, in the manner of a PSP's hosted-fields script.
 *
 * On a <form data-sandbox-tokenize>, finds the inputs labelled "Card number", "Expiry date"
 * and "CVC", and on submit posts them as JSON to the sandbox acquirer (data-token-url,
 * default /sandbox/tokens). The returned token goes into the hidden input
 * [data-sandbox-token] (created as name="card_token" if missing) and the form is submitted
 * with the token only: the card inputs carry no name attribute, so the browser never posts
 * them, and any name found on them is removed before it could be.
 */
(function () {
  "use strict";

  var LABELS = { number: "Card number", expiry: "Expiry date", cvc: "CVC" };
  var FIELD_TO_INPUT = { number: "number", exp_month: "expiry", exp_year: "expiry", cvc: "cvc" };

  function normalise(text) {
    return (text || "").replace(/\s+/g, " ").trim().toLowerCase();
  }

  function inputLabelled(form, text) {
    var wanted = normalise(text);
    var labels = form.querySelectorAll("label");
    for (var i = 0; i < labels.length; i++) {
      if (normalise(labels[i].textContent) !== wanted) continue;
      if (labels[i].control) return labels[i].control;
      var forId = labels[i].getAttribute("for");
      if (forId && document.getElementById(forId)) return document.getElementById(forId);
      var inner = labels[i].querySelector("input");
      if (inner) return inner;
    }
    var inputs = form.querySelectorAll("input[aria-label]");
    for (var j = 0; j < inputs.length; j++) {
      if (normalise(inputs[j].getAttribute("aria-label")) === wanted) return inputs[j];
    }
    return null;
  }

  // Translated pages mark their inputs with data-card-field; the English labels are the
  // fallback for forms written by hand.
  function cardInput(form, field) {
    return form.querySelector('[data-card-field="' + field + '"]') || inputLabelled(form, LABELS[field]);
  }

  function parseExpiry(value) {
    // Accepts "MM/YY", "MM / YY", "MM/YYYY" and "MMYY".
    var match = (value || "").replace(/\s+/g, "").match(/^(\d{1,2})\/?(\d{2}|\d{4})$/);
    if (!match) return null;
    var year = parseInt(match[2], 10);
    return { month: parseInt(match[1], 10), year: year < 100 ? 2000 + year : year };
  }

  function tokenInput(form) {
    var input = form.querySelector("[data-sandbox-token]");
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = form.getAttribute("data-token-field") || "card_token";
      input.setAttribute("data-sandbox-token", "");
      form.appendChild(input);
    }
    return input;
  }

  function showError(form, inputs, message, field) {
    var box = form.querySelector("[data-sandbox-error]");
    if (box) box.textContent = message;
    Object.keys(inputs).forEach(function (key) {
      inputs[key].removeAttribute("aria-invalid");
      inputs[key].classList.remove("is-invalid");
    });
    var culprit = inputs[FIELD_TO_INPUT[field]];
    if (culprit) {
      culprit.setAttribute("aria-invalid", "true");
      culprit.classList.add("is-invalid");
      culprit.focus();
    }
    if (!box) window.alert(message);
  }

  function setBusy(form, busy) {
    var buttons = form.querySelectorAll("button[type=submit], input[type=submit], button:not([type])");
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
  }

  function attach(form) {
    var inputs = {
      number: cardInput(form, "number"),
      expiry: cardInput(form, "expiry"),
      cvc: cardInput(form, "cvc"),
    };
    if (!inputs.number || !inputs.expiry || !inputs.cvc) return;
    Object.keys(inputs).forEach(function (key) {
      // A named card input would be posted to our server: never let that happen.
      inputs[key].removeAttribute("name");
    });
    var url = form.getAttribute("data-token-url") || "/sandbox/tokens";
    var inFlight = false;

    form.addEventListener("submit", function (event) {
      // A combined checkout disables the card fields when the payer does not pay by card:
      // the form then goes as it is, with no token.
      if (inputs.number.matches(":disabled")) return;
      event.preventDefault();
      if (inFlight) return;
      var expiry = parseExpiry(inputs.expiry.value);
      if (!expiry) {
        showError(form, inputs, "Enter the expiry date as MM/YY.", "exp_month");
        return;
      }
      var payload = {
        number: inputs.number.value.replace(/[\s-]/g, ""),
        exp_month: expiry.month,
        exp_year: expiry.year,
        cvc: inputs.cvc.value.trim(),
      };
      inFlight = true;
      setBusy(form, true);
      fetch(url, {
        method: "POST",
        credentials: "omit",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(payload),
      })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (result) {
          if (!result.ok || !result.body.token) {
            var error = (result.body && result.body.error) || {};
            throw { message: error.message || "The card could not be checked.", field: error.field };
          }
          tokenInput(form).value = result.body.token;
          // Clear the card inputs so nothing of the number lingers in the page.
          inputs.number.value = "";
          inputs.cvc.value = "";
          // The prototype's submit skips this listener and any control named "submit".
          HTMLFormElement.prototype.submit.call(form);
        })
        .catch(function (error) {
          inFlight = false;
          setBusy(form, false);
          // A thrown Error is a network or parsing failure: its text is not for payers.
          var fromServer = error && !(error instanceof Error) && error.message;
          var message = fromServer ? error.message : "The card could not be checked; try again.";
          showError(form, inputs, message, fromServer ? error.field : null);
        });
    });
  }

  function init() {
    var forms = document.querySelectorAll("form[data-sandbox-tokenize]");
    for (var i = 0; i < forms.length; i++) attach(forms[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
