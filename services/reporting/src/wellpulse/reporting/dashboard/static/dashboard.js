// Draws each chart from the option its page carries as JSON (<script type="application/json">):
// the page holds the figures, this file only hands them to Apache ECharts (vendored, served by
// reporting). The data tables beside the charts say everything without it.
(function () {
  "use strict";
  if (typeof window.echarts === "undefined") {
    return;
  }
  var charts = [];
  document.querySelectorAll(".chart[data-option]").forEach(function (element) {
    var source = document.getElementById(element.getAttribute("data-option"));
    if (!source) {
      return;
    }
    element.hidden = false;
    var chart = window.echarts.init(element, null, { renderer: "svg" });
    chart.setOption(JSON.parse(source.textContent));
    charts.push(chart);
  });
  if (charts.length && typeof ResizeObserver !== "undefined") {
    var observer = new ResizeObserver(function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
    charts.forEach(function (chart) { observer.observe(chart.getDom()); });
  }
})();
