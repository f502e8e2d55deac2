/*
 * The combined checkout on the payer page (form[data-payer-checkout]).
 *
 * Each fieldset[data-method] is one payment method: ticking it shows its amount and details,
 * unticking disables them (so they are not posted, and the card tokeniser leaves them
 * alone). "Left to pay" follows every keystroke and the pay button is enabled only when the
 * ticked amounts add up exactly to what is due; a single ticked method with no amount pays
 * the whole share. "Use my balance" asks the page's balance endpoint what the payer holds
 * and fills in what it covers, up to what is left. The server checks all of it again: this
 * script only spares the payer a round trip.
 */
(function () {
  "use strict";

  function parseAmount(text, exponent) {
    var value = (text || "").trim();
    if (!value) return null;
    var pattern = new RegExp("^(\\d{1,12})(?:[.,](\\d{0," + exponent + "}))?$");
    var match = value.match(pattern);
    if (!match) return NaN;
    var fraction = (match[2] || "").padEnd(exponent, "0");
    return parseInt(match[1], 10) * Math.pow(10, exponent) + (fraction ? parseInt(fraction, 10) : 0);
  }

  function attach(form) {
    var currency = form.getAttribute("data-currency");
    var exponent = parseInt(form.getAttribute("data-exponent") || "2", 10);
    var language = form.getAttribute("data-language") || "en";
    var balanceUrl = form.getAttribute("data-balance-url");
    var fixedDue = form.getAttribute("data-due");
    var totalInput = form.querySelector("[data-total-amount]");
    var leftOutput = form.querySelector("[data-left-to-pay]");
    var legsError = form.querySelector("[data-legs-error]");
    var payButton = form.querySelector("[data-pay-button]");
    var fieldsets = Array.prototype.slice.call(form.querySelectorAll("fieldset[data-method]"));
    var money = new Intl.NumberFormat(language, { style: "currency", currency: currency });
    var decimal = new Intl.NumberFormat(language, {
      minimumFractionDigits: exponent,
      maximumFractionDigits: exponent,
      useGrouping: false,
    });
    var scale = Math.pow(10, exponent);

    function formatMoney(minor) {
      return money.format(minor / scale);
    }

    function due() {
      if (fixedDue) return parseInt(fixedDue, 10);
      var total = totalInput ? parseAmount(totalInput.value, exponent) : null;
      return total === null || isNaN(total) ? null : total;
    }

    function toggle(fieldset) {
      return fieldset.querySelector("[data-method-toggle]");
    }

    function amountInput(fieldset) {
      return fieldset.querySelector("[data-method-amount]");
    }

    function ticked() {
      return fieldsets.filter(function (fieldset) {
        return toggle(fieldset).checked;
      });
    }

    // What the ticked methods leave to pay, leaving out ``except`` (the one being filled).
    function state(except) {
      var chosen = ticked();
      var sum = 0;
      var valid = chosen.length > 0;
      var empty = 0;
      chosen.forEach(function (fieldset) {
        if (fieldset === except) return;
        var amount = parseAmount(amountInput(fieldset).value, exponent);
        if (amount === null) empty += 1;
        else if (isNaN(amount) || amount <= 0) valid = false;
        else sum += amount;
      });
      var owed = due();
      // One method and no amount: it pays the whole share, as a single payment always did.
      var whole = chosen.length === 1 && empty === 1 && !except;
      var left = owed === null ? null : whole ? 0 : owed - sum;
      if (empty > 0 && !whole) valid = false;
      return { left: left, valid: valid && left === 0, sum: sum };
    }

    function refresh() {
      var current = state(null);
      leftOutput.textContent = current.left === null ? "—" : formatMoney(current.left);
      payButton.disabled = !current.valid;
      if (current.valid && legsError) {
        legsError.textContent = "";
        legsError.classList.add("d-none");
      }
    }

    function setEnabled(fieldset, enabled) {
      var details = fieldset.querySelector("[data-method-details]");
      details.hidden = !enabled;
      var controls = details.querySelectorAll("input, button, select, textarea");
      for (var i = 0; i < controls.length; i++) controls[i].disabled = !enabled;
    }

    function showSourceError(fieldset, message) {
      var box = fieldset.querySelector("[data-source-error]");
      var source = fieldset.querySelector("[data-method-source]");
      if (box) box.textContent = message;
      if (source) {
        if (message) {
          source.setAttribute("aria-invalid", "true");
          source.classList.add("is-invalid");
        } else {
          source.removeAttribute("aria-invalid");
          source.classList.remove("is-invalid");
        }
      }
    }

    function useBalance(fieldset, button) {
      var output = fieldset.querySelector("[data-balance-output]");
      var source = fieldset.querySelector("[data-method-source]");
      var params = new URLSearchParams({ method: fieldset.getAttribute("data-method"), lang: language });
      if (source) params.set("source", source.value.replace(/\s+/g, ""));
      button.disabled = true;
      showSourceError(fieldset, "");
      output.textContent = "";
      fetch(balanceUrl + "?" + params.toString(), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          return response.json().then(function (body) {
            return { ok: response.ok, body: body };
          });
        })
        .then(function (result) {
          button.disabled = false;
          if (!result.ok) {
            var error = (result.body && result.body.error) || {};
            showSourceError(fieldset, error.message || form.getAttribute("data-msg-balance-failed"));
            if (source) source.focus();
            return;
          }
          var owed = due();
          var rest = owed === null ? result.body.usable : owed - state(fieldset).sum;
          var fill = Math.max(Math.min(result.body.usable, rest), 0);
          amountInput(fieldset).value = decimal.format(fill / scale);
          output.textContent = form
            .getAttribute("data-msg-balance")
            .replace("{amount}", formatMoney(result.body.available));
          refresh();
        })
        .catch(function () {
          button.disabled = false;
          showSourceError(fieldset, form.getAttribute("data-msg-balance-failed"));
        });
    }

    fieldsets.forEach(function (fieldset) {
      var box = toggle(fieldset);
      setEnabled(fieldset, box.checked);
      box.addEventListener("change", function () {
        setEnabled(fieldset, box.checked);
        var amount = amountInput(fieldset);
        // A method that pays the rest needs no sums from the payer; a balance method waits
        // for "Use my balance", which knows what it can cover.
        if (box.checked && !amount.value && !fieldset.hasAttribute("data-has-balance")) {
          var left = state(fieldset).left;
          if (left !== null && left > 0 && ticked().length > 1) {
            amount.value = decimal.format(left / scale);
          }
        }
        refresh();
      });
      var button = fieldset.querySelector("[data-use-balance]");
      if (button) {
        button.hidden = false;
        button.addEventListener("click", function () {
          useBalance(fieldset, button);
        });
      }
    });

    form.addEventListener("input", refresh);
    // Capture, so this runs before the card tokeniser's own submit listener.
    form.addEventListener(
      "submit",
      function (event) {
        var current = state(null);
        if (current.valid) return;
        event.preventDefault();
        event.stopImmediatePropagation();
        if (legsError) {
          var owed = due();
          legsError.textContent =
            ticked().length === 0
              ? form.getAttribute("data-msg-choose")
              : form.getAttribute("data-msg-sum").replace("{due}", owed === null ? "—" : formatMoney(owed));
          legsError.classList.remove("d-none");
        }
      },
      true
    );
    refresh();
  }

  function init() {
    var forms = document.querySelectorAll("form[data-payer-checkout]");
    for (var i = 0; i < forms.length; i++) attach(forms[i]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
