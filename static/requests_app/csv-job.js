// Progress of a CSV import or export: polls the job's JSON status and updates the bar; the
// page reloads once the job has finished, to show its errors, its button or its link.
// Without JavaScript the page's meta refresh does the same, less smoothly.
(function () {
  "use strict";
  var card = document.querySelector("[data-status-url]");
  if (!card) { return; }
  var meta = document.querySelector('meta[http-equiv="refresh"]');
  if (meta) { meta.parentNode.removeChild(meta); }
  var bar = card.querySelector("[data-job-progress]");
  var label = card.querySelector("[data-job-status]");
  function poll() {
    fetch(card.getAttribute("data-status-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (job) {
        bar.setAttribute("aria-valuenow", String(job.percent));
        bar.firstElementChild.style.width = job.percent + "%";
        bar.firstElementChild.textContent = job.percent + " %";
        label.textContent = job.status_label;
        if (job.finished) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 5000); });
  }
  window.setTimeout(poll, 500);
})();
