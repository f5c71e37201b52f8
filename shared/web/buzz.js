// The page's bad-buzz chart: the share of negative predictions per 15 minutes over the last
// 6 hours, from GET /api/buzz (this server's local store of prediction events, no text).
// Plain SVG built with DOM calls: no library, no inline script (the page's CSP is 'self' only).
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const HOURS = 6;
  const BIN_MS = 15 * 60 * 1000;
  const WIDTH = 480;
  const HEIGHT = 120;
  const REFRESH_MS = 30000;

  function node(name, attributes, text) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function percent(share) {
    return `${Math.round(share * 100)}%`;
  }

  function describe(bin) {
    const start = new Date(bin.start);
    const time = start.toISOString().slice(11, 16);
    const flag = bin.is_buzz ? " — bad buzz" : "";
    return `${time} UTC: ${bin.negatives}/${bin.predictions} negative (${percent(bin.share)})${flag}`;
  }

  function draw(chart, bins, now) {
    const svg = node("svg", {
      viewBox: `0 0 ${WIDTH} ${HEIGHT}`, width: "100%", height: HEIGHT, class: "buzz-svg",
    });
    const origin = now - HOURS * 3600 * 1000;
    const slots = (HOURS * 3600 * 1000) / BIN_MS;
    const barWidth = WIDTH / slots;
    svg.appendChild(node("line", { x1: 0, y1: HEIGHT - 0.5, x2: WIDTH, y2: HEIGHT - 0.5, class: "buzz-axis" }));
    svg.appendChild(node("line", { x1: 0, y1: HEIGHT / 2, x2: WIDTH, y2: HEIGHT / 2, class: "buzz-grid" }));
    for (const bin of bins) {
      const x = ((Date.parse(bin.start) - origin) / BIN_MS) * barWidth;
      if (x + barWidth <= 0 || x >= WIDTH) continue;
      const height = Math.max(1, bin.share * (HEIGHT - 2));
      const bar = node("rect", {
        x: x + 1, y: HEIGHT - 1 - height, width: Math.max(1, barWidth - 2), height,
        class: bin.is_buzz ? "buzz-bar buzz-flagged" : "buzz-bar",
      });
      bar.appendChild(node("title", {}, describe(bin)));
      svg.appendChild(bar);
    }
    chart.replaceChildren(svg);
  }

  function summary(data) {
    if (!data.recording) return "This server keeps no prediction events (see the Azure workbook).";
    if (data.bins.length === 0) return "No prediction in the last 6 hours yet.";
    const total = data.bins.reduce((sum, bin) => sum + bin.predictions, 0);
    const negatives = data.bins.reduce((sum, bin) => sum + bin.negatives, 0);
    const flagged = data.bins.filter((bin) => bin.is_buzz).length;
    const alert = data.alert ? " Bad buzz now: the last 15 minutes are well above usual." : "";
    return `${negatives} of ${total} predictions negative (${percent(negatives / total)}); ` +
      `${flagged} bin(s) flagged.${alert}`;
  }

  async function load() {
    const chart = document.getElementById("buzz-chart");
    const note = document.getElementById("buzz-note");
    if (!chart || !note) return;
    try {
      const response = await fetch(`/api/buzz?hours=${HOURS}`, { headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      draw(chart, data.bins, Date.now());
      note.textContent = summary(data);
      chart.dataset.bins = String(data.bins.length);
    } catch (error) {
      note.textContent = "The chart could not be loaded.";
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    load();
    setInterval(load, REFRESH_MS);
    // Redraw after each answer app.js shows (it rewrites #result), whatever it took to come.
    const result = document.getElementById("result");
    let pending = null;
    if (result) {
      new MutationObserver(() => {
        clearTimeout(pending);
        pending = setTimeout(load, 200);
      }).observe(result, { attributes: true, childList: true, subtree: true, characterData: true });
    }
  });
})();
