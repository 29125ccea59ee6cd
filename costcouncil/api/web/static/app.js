// The explorer's "Add filter": the chosen dimension becomes the parameter's name
// (a tag is written key=value and becomes tag.key=value).
document.querySelectorAll("form[data-add-filter]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    var key = form.querySelector("[data-filter-key]").value;
    var input = form.querySelector("[data-filter-value]");
    var value = input.value.trim();
    if (key === "tag.") {
      var at = value.indexOf("=");
      if (at < 1) {
        event.preventDefault();
        input.setCustomValidity("Write a tag filter as key=value, e.g. env=prod");
        input.reportValidity();
        input.addEventListener("input", function () { input.setCustomValidity(""); }, { once: true });
        return;
      }
      key = "tag." + value.slice(0, at);
      value = value.slice(at + 1);
    }
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = key;
    field.value = value;
    form.appendChild(field);
  });
});

// Draw every chart of the page from its JSON (served with the page; no other requests).
document.querySelectorAll("[data-chart]").forEach(function (div) {
  var source = document.getElementById(div.dataset.chart);
  if (!source || !window.Plotly) { return; }
  try {
    var figure = JSON.parse(source.textContent);
    window.Plotly.newPlot(div, figure.data, figure.layout, {
      displaylogo: false, responsive: true, modeBarButtonsToRemove: ["lasso2d", "select2d"]
    });
  } catch (e) {
    div.textContent = "This chart could not be drawn.";
  }
});
