// Draws the indicator charts from the JSON embedded in the page (no inline script: the CSP forbids it).
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("indicator-chart-data");
    if (!holder || typeof echarts === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    data.indicators.forEach(function (ind) {
      var el = document.getElementById("series-" + ind.id);
      if (el) {
        var c = echarts.init(el, null, { renderer: "canvas" });
        c.setOption({
          color: ["#0b4a8b", "#c0262d"],
          tooltip: { trigger: "axis" },
          legend: { top: 0 },
          grid: { left: 56, right: 16, top: 32, bottom: 28 },
          xAxis: { type: "category", data: ind.years },
          yAxis: { type: "value", name: ind.unit },
          series: [
            { name: ind.labels.value, type: "line", data: ind.values, connectNulls: false, symbolSize: 7 },
            { name: ind.labels.planned, type: "line", data: ind.planned, lineStyle: { type: "dashed" }, symbol: "none" }
          ]
        });
        window.addEventListener("resize", function () { c.resize(); });
      }
      var rk = document.getElementById("ranking-" + ind.id);
      if (rk && ind.ranking.length) {
        var rows = ind.ranking.slice().reverse();
        var r = echarts.init(rk, null, { renderer: "canvas" });
        r.setOption({
          color: ["#2f7d5b"],
          tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
          grid: { left: 130, right: 24, top: 8, bottom: 24 },
          xAxis: { type: "value" },
          yAxis: { type: "category", data: rows.map(function (x) { return x.name; }), axisLabel: { fontSize: 11 } },
          series: [{ type: "bar", data: rows.map(function (x) { return x.value; }) }]
        });
        r.on("click", function (p) {
          var row = rows[p.dataIndex];
          if (row) { window.location.href = "/indicators/" + ind.id + "/records?year=" + data.year + "&prefecture=" + encodeURIComponent(row.code); }
        });
        window.addEventListener("resize", function () { r.resize(); });
      }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
