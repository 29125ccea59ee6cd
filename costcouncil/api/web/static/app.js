// Draw every chart of the page from its JSON (served with the page; no other requests).
document.querySelectorAll("[data-chart]").forEach(function (div) {
  var source = document.getElementById(div.dataset.chart);
  if (!source || !window.Plotly) { return; }
  var figure = JSON.parse(source.textContent);
  window.Plotly.newPlot(div, figure.data, figure.layout, {
    displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"]
  });
});
