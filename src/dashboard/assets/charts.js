// The usage page's chart: requests (bars' axis on the left) and spend (right) per day, drawn
// with the vendored uPlot from the JSON the page carries.
(function () {
  const el = document.getElementById("chart");
  const data = document.getElementById("series");
  if (!el || !data || !window.uPlot) return;
  const s = JSON.parse(data.textContent);
  if (!s.days.length) { el.textContent = "No requests in this range."; return; }
  const xs = s.days.map((d) => Date.parse(d + "T00:00:00Z") / 1000);
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue("--fg").trim() || "#000";
  const accent = css.getPropertyValue("--accent").trim() || "#06c";
  const axis = { stroke: fg, grid: { stroke: "rgba(128,128,128,.2)" } };
  const opts = {
    width: Math.max(280, el.clientWidth - 24), height: 240,
    series: [{}, { label: "Requests", stroke: accent, width: 2, scale: "n" },
             { label: "Spend (USD)", stroke: "#d4792c", width: 2, scale: "usd" }],
    scales: { x: { time: true }, n: { range: (u, min, max) => [0, Math.max(1, max)] },
              usd: { range: (u, min, max) => [0, max > 0 ? max : 0.01] } },
    axes: [axis, Object.assign({ scale: "n" }, axis),
           Object.assign({ scale: "usd", side: 1, size: 70, values: (u, vals) => vals.map((v) => "$" + v.toPrecision(2)) }, axis)],
  };
  const plot = new uPlot(opts, [xs, s.requests, s.cost], el);
  window.addEventListener("resize", () => plot.setSize({ width: Math.max(280, el.clientWidth - 24), height: 240 }));
})();
