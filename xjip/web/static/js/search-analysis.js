// Charts of a result-set analysis from the JSON in the page (the CSP forbids inline scripts).
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("analysis-data");
    if (!holder || typeof echarts === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    var years = document.getElementById("chart-years");
    if (years) {
      var all = {};
      data.filings.forEach(function (b) { all[b.value] = true; });
      data.grants.forEach(function (b) { all[b.value] = true; });
      var labels = Object.keys(all).sort();
      function series(list) { var m = {}; list.forEach(function (b) { m[b.value] = b.count; }); return labels.map(function (y) { return m[y] || 0; }); }
      var c = echarts.init(years, null, { renderer: "canvas" });
      c.setOption({ tooltip: { trigger: "axis" }, legend: { top: 0 }, grid: { left: 48, right: 16, top: 36, bottom: 40 },
        xAxis: { type: "category", data: labels }, yAxis: { type: "value", minInterval: 1 },
        series: [{ name: years.dataset.filings, type: "bar", data: series(data.filings) },
                 { name: years.dataset.grants, type: "line", data: series(data.grants) }] });
    }
    var ipc = document.getElementById("chart-ipc");
    if (ipc) {
      var c2 = echarts.init(ipc, null, { renderer: "canvas" });
      c2.setOption({ tooltip: { trigger: "item" }, series: [{ type: "pie", radius: ["30%", "70%"],
        data: data.ipc_sub.slice(0, 12).map(function (b) { return { name: b.value + " " + (b.label || "").slice(0, 12), value: b.count }; }) }] });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
