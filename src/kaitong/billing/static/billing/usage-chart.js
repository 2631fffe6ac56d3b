/* The billing center's 30-day chart: each workspace's daily total as a stacked bar; the last bar is
   today's estimate (lighter, and said so in its tooltip). The data and every word come from the page's
   <script type="application/json" id="usage-chart-data"> (Django's json_script): no inline script, no
   text of our own here. Money is written as on the page: ¥, two decimals, "," between thousands. */
(function () {
  "use strict";

  var PALETTE = ["#2f61cc", "#1b9e4b", "#d97706", "#8b5cf6", "#0891b2", "#db2777", "#65a30d", "#64748b"];
  var DIGITS = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  var WHOLE = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

  function money(value) {
    return (value < 0 ? "-¥" : "¥") + DIGITS.format(Math.abs(value));
  }

  // Axis ticks are round numbers: ¥20, ¥40 (the exact amounts are in the tooltips and the tables).
  function tick(value) {
    return (value < 0 ? "-¥" : "¥") + WHOLE.format(Math.abs(value));
  }

  function withAlpha(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + (n >> 16) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }

  function draw() {
    var source = document.getElementById("usage-chart-data");
    var canvas = document.getElementById("usage-chart");
    if (!source || !canvas || !window.Chart) {
      return;
    }
    var data = JSON.parse(source.textContent);
    var last = data.days.length - 1;
    var estimatedAt = data.days.indexOf(data.estimated);
    var datasets = data.series.map(function (series, n) {
      var color = PALETTE[n % PALETTE.length];
      return {
        label: series.name,
        data: series.totals.map(function (total) { return total === null ? null : Number(total); }),
        backgroundColor: series.totals.map(function (_, day) {
          return day === estimatedAt ? withAlpha(color, 0.35) : color;
        }),
        borderColor: color,
        borderWidth: series.totals.map(function (_, day) { return day === estimatedAt ? 1 : 0; }),
        borderDash: [4, 2],
        stack: "day",
        maxBarThickness: 28
      };
    });
    // The page's own font, so that Chinese labels match the text around the chart.
    window.Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.color =
      window.getComputedStyle(document.documentElement).getPropertyValue("--muted").trim() || "#646a73";
    var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    var chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: reduced ? false : { duration: 300 },
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: true, grid: { display: false }, ticks: { autoSkip: true, maxRotation: 0 } },
          y: {
            stacked: true,
            beginAtZero: true,
            title: { display: true, text: data.text.axis },
            ticks: { callback: function (value) { return tick(value); } }
          }
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              title: function (items) {
                var day = items.length ? items[0].dataIndex : -1;
                var title = day >= 0 ? data.days[day] : "";
                return day === estimatedAt ? title + " · " + data.text.estimated : title;
              },
              label: function (item) {
                if (item.raw === null) {
                  return item.dataset.label + data.text.colon + data.text.not_closed;
                }
                return item.dataset.label + data.text.colon + money(item.parsed.y);
              },
              footer: function (items) {
                if (!items.length) {
                  return "";
                }
                var sum = items.reduce(function (acc, item) { return acc + (item.parsed.y || 0); }, 0);
                return data.text.total + data.text.colon + money(sum);
              }
            }
          }
        }
      }
    });
    canvas.setAttribute("data-rendered", String(chart.data.datasets.length));
    canvas.setAttribute("data-last-day", data.days[last]);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
