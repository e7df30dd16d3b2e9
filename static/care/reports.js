// Draws each report as a chart from its JSON table; the CSV link carries the same query.
(function () {
  "use strict";
  const query = location.search.replace(/^\?/, "");
  const palette = ["#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2", "#db2777"];
  document.querySelectorAll("figure.chart").forEach((figure) => {
    const name = figure.dataset.report;
    const csv = figure.querySelector("a.csv");
    if (query) csv.href += "?" + query;
    fetch("/care/reports/" + name + ".json" + (query ? "?" + query : ""), { credentials: "same-origin" })
      .then((r) => r.json())
      .then((data) => {
        if (!data.rows || !data.rows.length) {
          figure.querySelector(".empty").hidden = false;
          figure.querySelector("canvas").hidden = true;
          return;
        }
        const labels = data.rows.map((r) => r[0]);
        const datasets = data.columns.slice(1).map((label, i) => ({
          label: label,
          data: data.rows.map((r) => r[i + 1]),
          backgroundColor: palette[i % palette.length],
          borderColor: palette[i % palette.length],
        }));
        const line = name === "contacts_per_channel" || name === "contacts_per_queue";
        new Chart(figure.querySelector("canvas"), {
          type: line ? "line" : "bar",
          data: { labels: labels, datasets: datasets },
          options: { responsive: true, maintainAspectRatio: false, animation: false },
        });
        figure.dataset.loaded = "1";
      });
  });
})();
