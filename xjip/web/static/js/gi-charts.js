// GI library charts from the JSON embedded in the page (no inline script: the CSP forbids it).
(function () {
  "use strict";
  function draw() {
    var holder = document.getElementById("gi-chart-data");
    if (!holder || typeof echarts === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    var palette = ["#0b4a8b", "#c0262d", "#2f7d5b", "#d08b1e", "#6b4fa0", "#3a8fb7", "#8c5a3c", "#7a8591", "#b6487e", "#4e6e1e"];
    var pref = document.getElementById("gi-chart-prefecture");
    if (pref) {
      var chart = echarts.init(pref, null, { renderer: "canvas" });
      chart.setOption({
        color: palette, tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
        grid: { left: 40, right: 16, top: 16, bottom: 90 },
        xAxis: { type: "category", data: data.prefecture.labels, axisLabel: { rotate: 45, interval: 0, fontSize: 11 } },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: data.prefecture.data }]
      });
      chart.on("click", function (p) {
        var code = data.prefecture.codes[p.dataIndex];
        if (code) { window.location.href = "/gi?tier=prefecture&code=" + encodeURIComponent(code); }
      });
      window.addEventListener("resize", function () { chart.resize(); });
    }
    var cat = document.getElementById("gi-chart-category");
    if (cat) {
      var pie = echarts.init(cat, null, { renderer: "canvas" });
      pie.setOption({ color: palette, tooltip: { trigger: "item" },
        series: [{ type: "pie", radius: ["35%", "70%"], data: data.category, label: { fontSize: 11 } }] });
      window.addEventListener("resize", function () { pie.resize(); });
    }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
})();
