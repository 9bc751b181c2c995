// Draws the overview charts from the JSON embedded in the page (no inline script: the CSP forbids it).
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("chart-data");
    if (!holder || typeof echarts === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    var palette = ["#0b4a8b", "#c0262d", "#2f7d5b", "#d08b1e", "#6b4fa0", "#3a8fb7", "#8c5a3c", "#7a8591", "#b6487e", "#4e6e1e"];

    var pref = document.getElementById("chart-prefecture");
    if (pref) {
      var chart = echarts.init(pref, null, { renderer: "canvas" });
      chart.setOption({
        color: palette,
        tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        legend: { top: 0, type: "scroll" },
        grid: { left: 8, right: 16, top: 36, bottom: 8, containLabel: true },
        xAxis: { type: "category", data: data.prefecture.labels, axisLabel: { rotate: 45, interval: 0, fontSize: 11, width: 140, overflow: "truncate" } },
        yAxis: { type: "value", minInterval: 1 },
        series: data.prefecture.series.map(function (s) {
          return { name: s.name, type: "bar", stack: "all", data: s.data, emphasis: { focus: "series" } };
        })
      });
      chart.on("click", function (p) {
        var link = data.prefecture.links[p.dataIndex];
        var type = data.prefecture.types[p.seriesIndex];
        if (link && type) { window.location.href = "/records/" + type + "?prefecture=" + encodeURIComponent(link); }
      });
      window.addEventListener("resize", function () { chart.resize(); });
    }

    var year = document.getElementById("chart-year");
    if (year) {
      var ychart = echarts.init(year, null, { renderer: "canvas" });
      ychart.setOption({
        color: palette,
        tooltip: { trigger: "axis" },
        legend: { top: 0, type: "scroll" },
        grid: { left: 48, right: 16, top: 36, bottom: 40 },
        xAxis: { type: "category", data: data.year.labels },
        yAxis: { type: "value", minInterval: 1 },
        series: data.year.series.map(function (s) {
          return { name: s.name, type: "bar", stack: "all", data: s.data };
        })
      });
      ychart.on("click", function (p) {
        var type = data.year.types[p.seriesIndex];
        if (type) { window.location.href = "/records/" + type + "?year=" + encodeURIComponent(data.year.labels[p.dataIndex]); }
      });
      window.addEventListener("resize", function () { ychart.resize(); });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
