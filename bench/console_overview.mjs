// Measures the console's overview in Chromium (see bench/console_overview): weight of
// every answer the page needed, time to the load event and to the chart drawn; and, for
// reference, the same HTML rendered from a file. Prints JSON.
import { chromium } from "playwright-core";
import { writeFileSync } from "node:fs";

const base = process.env.CONSOLE_URL;
const rounds = Number(process.env.ROUNDS || "5");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const kib = (n) => (n / 1024).toFixed(1);

// Chromium here now and then refuses a tab ("Failed to open a new tab") and opens the
// next one asked for: up to five tries, half a second apart.
async function newPage(owner) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await owner.newPage();
    } catch (e) {
      if (attempt >= 5 || !String(e.message).includes("Failed to open a new tab")) throw e;
      console.error(`chromium refused a tab (try ${attempt}); trying again`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const loads = [], charts = [], weights = [], references = [];
let parts = {};
async function measure() {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const login = await newPage(context);
  await login.goto(base + "/login");
  await login.fill("input[name=user]", process.env.USER_NAME);
  await login.fill("input[name=password]", process.env.PASSWORD);
  await Promise.all([login.waitForLoadState("load"), login.click("button[type=submit]")]);
  if (!login.url().endsWith("/")) throw new Error("not signed in: " + login.url());
  await login.close();

  for (let i = 0; i < rounds; i++) {
    const page = await newPage(context);
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    let bytes = 0;
    const sizes = {};
    page.on("response", async (r) => {
      try {
        const body = await r.body();
        bytes += body.length;
        const name = new URL(r.url()).pathname;
        sizes[name] = body.length;
      } catch {}
    });
    await page.goto(base + "/", { waitUntil: "load" });
    const load = await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd);
    await page.waitForSelector("#chart[data-drawn=yes]", { timeout: 30000 });
    const drawn = await page.evaluate(() => performance.now());
    await page.waitForTimeout(200);
    loads.push(load);
    charts.push(drawn);
    weights.push(bytes);
    parts = sizes;
    if (i === 0) writeFileSync(process.env.SAVED_HTML, await page.content());
    await page.close();
  }

  for (let i = 0; i < rounds; i++) {
    const page = await newPage(browser);
    await page.goto("file://" + process.env.SAVED_HTML, { waitUntil: "load" });
    references.push(await page.evaluate(() => performance.getEntriesByType("navigation")[0].loadEventEnd));
    await page.close();
  }
}

try {
  await measure();
} finally {
  // Also after a failure: an open browser would keep node from exiting.
  await browser.close();
}

console.log(
  JSON.stringify({
    rounds,
    weight_kb: kib(median(weights)),
    html_kb: kib(parts["/"] || 0),
    uplot_kb: kib(parts["/assets/uPlot.iife.min.js"] || 0),
    json_kb: kib(parts["/history.json"] || 0),
    load_ms: median(loads).toFixed(0),
    chart_ms: median(charts).toFixed(0),
    reference_ms: median(references).toFixed(0),
    load_runs: loads.map((x) => x.toFixed(0)).join(" "),
    chart_runs: charts.map((x) => x.toFixed(0)).join(" "),
  }),
);
