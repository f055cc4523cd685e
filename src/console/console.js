// topupd's console: draws the balance chart of the overview with uPlot. Everything
// else works without this script; it only reads JSON from the console and draws.
"use strict";
(function () {
  const box = document.getElementById("chart");
  if (!box || typeof uPlot === "undefined") return;
  const account = box.dataset.account;
  const range = box.dataset.range;
  fetch("/history.json?account=" + encodeURIComponent(account) + "&range=" + encodeURIComponent(range), {
    credentials: "same-origin",
  })
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error("HTTP " + r.status))))
    .then(draw)
    .catch((e) => {
      box.textContent = "The chart could not be loaded: " + e.message;
    });

  function draw(data) {
    const scale = Math.pow(10, data.exponent);
    // The range's ends too, so that a threshold is drawn across the whole chart.
    const times = new Set([data.from, data.to]);
    data.points.forEach((p) => times.add(p[0]));
    data.top_ups.forEach((t) => times.add(t.t));
    const xs = Array.from(times).sort((a, b) => a - b);
    const balanceAt = new Map(data.points.map((p) => [p[0], p[1] / scale]));
    const balance = xs.map((x) => (balanceAt.has(x) ? balanceAt.get(x) : null));
    // A top-up's marker sits on the last balance seen before it (the first one seen, when
    // it came before any).
    let last = null;
    const before = xs.map((x, i) => {
      if (balance[i] !== null) last = balance[i];
      return last;
    });
    const first = balance.find((b) => b !== null);
    for (let i = 0; i < before.length && before[i] === null; i++) before[i] = first === undefined ? null : first;
    const series = [
      {},
      {
        label: "balance " + data.currency,
        stroke: "#0b5cad",
        width: 2,
        spanGaps: true,
        points: { show: data.points.length < 200, size: 4 },
      },
    ];
    const columns = [xs, balance];
    data.thresholds.forEach((t) => {
      series.push({ label: t.rule, stroke: "#b54708", dash: [6, 4], width: 1 });
      columns.push(xs.map(() => t.minor / scale));
    });
    const marks = { planned: "#b54708", succeeded: "#067647", failed: "#b42318" };
    Object.keys(marks).forEach((state) => {
      const at = new Set(
        data.top_ups
          .filter((t) => (state === "planned" ? !["succeeded", "failed"].includes(t.state) : t.state === state))
          .map((t) => t.t),
      );
      series.push({
        label: "top-up " + state,
        stroke: marks[state],
        fill: marks[state],
        paths: () => null,
        points: { show: true, size: 9, stroke: marks[state], fill: marks[state] },
      });
      columns.push(xs.map((x, i) => (at.has(x) ? before[i] : null)));
    });
    box.textContent = "";
    if (data.points.length === 0 && data.top_ups.length === 0) {
      box.textContent = "No balance recorded in this range yet.";
      return;
    }
    const width = Math.max(320, box.clientWidth || 800);
    const options = {
      width: width,
      height: 280,
      series: series,
      scales: { x: { time: true, range: [data.from, data.to] } },
      axes: [{}, { size: 90 }],
    };
    new uPlot(options, columns, box);
    box.dataset.drawn = "yes";
  }
})();
