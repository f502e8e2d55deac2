/*
 * The dashboard's charts (templates/requests_app/dashboard.html), drawn with the vendored
 * Chart.js from the series the page carries in <script type="application/json"
 * id="dashboard-data">. Amounts come in minor units and are shown in the page's language;
 * every figure is also in the page's tables, so nothing is lost when scripts are off.
 */
(function () {
  "use strict";

  var dataNode = document.getElementById("dashboard-data");
  var labelsNode = document.getElementById("dashboard-labels");
  if (!dataNode || !labelsNode || typeof window.Chart === "undefined") return;
  var data = JSON.parse(dataNode.textContent);
  var text = labelsNode.dataset;
  var scale = Math.pow(10, data.exponent);
  var money = new Intl.NumberFormat(text.language, { style: "currency", currency: data.currency });
  var reduceMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var BLUE = "#0d6efd";
  var GREEN = "#198754";
  var GREY = "#adb5bd";

  function major(minor) {
    return minor / scale;
  }

  function moneyTooltip(context) {
    var value = context.parsed && typeof context.parsed === "object"
      ? (context.chart.options.indexAxis === "y" ? context.parsed.x : context.parsed.y)
      : context.parsed;
    return (context.dataset.label ? context.dataset.label + ": " : "") + money.format(value);
  }

  var common = {
    responsive: true,
    maintainAspectRatio: false,
    animation: reduceMotion ? false : { duration: 300 },
    locale: text.language,
  };

  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (!canvas) return;
    var chart = new window.Chart(canvas, config);
    canvas.dataset.drawn = "true";
    return chart;
  }

  draw("chart-over-time", {
    type: "bar",
    data: {
      labels: data.days,
      datasets: [
        { label: text.requested, data: data.requested.map(major), backgroundColor: BLUE },
        { label: text.collected, data: data.collected.map(major), backgroundColor: GREEN },
      ],
    },
    options: Object.assign({}, common, {
      plugins: { tooltip: { callbacks: { label: moneyTooltip } } },
      scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } } },
    }),
  });

  draw("chart-methods", {
    type: "bar",
    data: {
      labels: data.methods,
      datasets: [{ label: text.collected, data: data.method_amounts.map(major), backgroundColor: GREEN }],
    },
    options: Object.assign({}, common, {
      indexAxis: "y",
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: moneyTooltip } } },
      scales: { x: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } } },
    }),
  });

  draw("chart-conversion", {
    type: "doughnut",
    data: {
      labels: [text.paid, text.unpaid],
      datasets: [{ data: [data.paid, data.unpaid], backgroundColor: [GREEN, GREY] }],
    },
    options: common,
  });
})();
