// The console in a real browser: Debian's Chromium driven by playwright-core, against a
// running topupd (tests/integration/console_test.cpp starts it and checks the ledger).
// Exits 0 when every step did what a person would expect, else prints why and exits 1.
// Screenshots of each page go to ARTIFACTS.
//
// Environment: CONSOLE_URL, ARTIFACTS, TOPUP_KEY (a top-up waiting for two approvers),
// PASSWORD (every user's), CHROMIUM (the browser), IDLE_SECONDS (console.session_idle).
"use strict";
const { chromium } = require("playwright-core");
const path = require("path");

const base = process.env.CONSOLE_URL;
const artifacts = process.env.ARTIFACTS;
const key = process.env.TOPUP_KEY;
const password = process.env.PASSWORD;
const idleSeconds = Number(process.env.IDLE_SECONDS || "10");
const results = {};
const started = Date.now();

// Each step is said as it starts, so a run stopped from outside shows where it was.
function step(what) {
  console.error(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${what}`);
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function signIn(browser, user, secret = password) {
  const context = await browser.newContext();
  const page = await context.newPage();
  // A script that ran from anything the console shows would open a dialog.
  page.on("dialog", async (d) => {
    results.dialogs = (results.dialogs || 0) + 1;
    await d.dismiss();
  });
  await page.goto(base + "/login");
  await page.fill("input[name=user]", user);
  await page.fill("input[name=password]", secret);
  await Promise.all([page.waitForLoadState("load"), page.click("button[type=submit]")]);
  return { context, page };
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(artifacts, name + ".png"), fullPage: true });
}

// The CSRF token the page's forms carry (a viewer's pages have one in the sign-out form).
async function csrfOf(page) {
  return page.locator("input[name=csrf]").first().inputValue();
}

async function main() {
  step("chromium starts");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-dev-shm-usage"],
  });
  try {
    step("a viewer signs in and sits idle");
    // A session that will sit idle through everything below, then be sent to sign in again.
    const idle = await signIn(browser, "vera");
    const idleSince = Date.now();
    check(idle.page.url() === base + "/", "vera was not taken to the overview: " + idle.page.url());

    const loginPage = await (await browser.newContext()).newPage();
    await loginPage.goto(base + "/login");
    await shot(loginPage, "login");

    step("approver A: the overview");
    // Approver A: the overview lists the accounts and draws the chart.
    const ana = await signIn(browser, "ana");
    check(ana.page.url() === base + "/", "ana was not signed in: " + ana.page.url());
    await ana.page.waitForSelector("#chart canvas", { timeout: 15000 });
    await ana.page.waitForSelector("#chart[data-drawn=yes]", { timeout: 15000 });
    const table = await ana.page.locator("table#accounts").innerText();
    check(table.includes("payout"), "the overview does not list payout: " + table);
    check(table.includes("<script>alert(1)</script>"), "an account's name is not shown as text: " + table);
    await shot(ana.page, "overview");

    step("the journal, filtered and exported");
    // The journal: filtered, and exported.
    await ana.page.goto(base + "/top-ups?account=payout");
    check((await ana.page.locator("table#top-ups").innerText()).includes(key), "the journal does not show " + key);
    await shot(ana.page, "top-ups");
    const csv = await ana.context.request.get(base + "/top-ups.csv?account=payout");
    check(csv.status() === 200 && (await csv.text()).includes(key), "the CSV export lacks " + key);

    step("approver A approves");
    // Approver A approves: kept, still waiting for a second person.
    await ana.page.goto(base + "/approvals");
    await shot(ana.page, "approvals");
    const waiting = ana.page.locator("article.waiting", { hasText: key });
    check((await waiting.count()) === 1, "the approvals page does not show " + key);
    check((await waiting.locator(".approvals").innerText()).includes("0 of 2"), "it does not say two are needed");
    await Promise.all([ana.page.waitForLoadState("load"), waiting.locator("form.approve button").click()]);
    check((await ana.page.locator("#note").innerText()).includes("1 of 2"), "the first approval did not say 1 of 2");
    check((await ana.page.locator("#state").innerText()) === "awaiting_approval", "it did not keep waiting");
    // The same approver again counts once.
    await Promise.all([ana.page.waitForLoadState("load"), ana.page.locator("form.approve button").click()]);
    check((await ana.page.locator("#note").innerText()).includes("1 of 2"), "the same approver counted twice");
    await shot(ana.page, "top-up-waiting");

    step("a POST without the CSRF token");
    // A POST without the CSRF token changes nothing.
    const forged = await ana.context.request.post(base + "/approvals/" + key + "/approve", { form: { reason: "x" } });
    check(forged.status() === 403, "a POST without the CSRF token got " + forged.status());

    step("a viewer cannot approve");
    // A viewer sees no approve button, and a hand-made POST with her own token is refused.
    const vera = await signIn(browser, "vera");
    await vera.page.goto(base + "/top-ups/" + key);
    check((await vera.page.locator("form.approve").count()) === 0, "a viewer sees an approve button");
    await vera.page.goto(base + "/approvals");
    check((await vera.page.locator("form.approve").count()) === 0, "a viewer sees an approve button on approvals");
    const handMade = await vera.context.request.post(base + "/approvals/" + key + "/approve", {
      form: { csrf: await csrfOf(vera.page) },
    });
    check(handMade.status() === 403, "a viewer's hand-made approval got " + handMade.status());
    check((await vera.context.request.post(base + "/pause", { form: { csrf: await csrfOf(vera.page) } })).status() === 403,
      "a viewer could pause");

    step("approver B approves");
    // Approver B approves: released, and the money moves.
    const budi = await signIn(browser, "budi");
    await budi.page.goto(base + "/top-ups/" + key);
    await Promise.all([budi.page.waitForLoadState("load"), budi.page.locator("form.approve button").click()]);
    check((await budi.page.locator("#note").innerText()).includes("2 of 2"), "the second approval did not release it");
    let state = "";
    for (let i = 0; i < 60 && state !== "succeeded"; i++) {
      await budi.page.waitForTimeout(250);
      await budi.page.goto(base + "/top-ups/" + key);
      state = await budi.page.locator("#state").innerText();
    }
    check(state === "succeeded", "the approved top-up did not succeed: " + state);
    await shot(budi.page, "top-up-succeeded");

    step("alerts and audit");
    // Alerts: a reason with markup is text.
    await budi.page.goto(base + "/alerts");
    check((await budi.page.locator("table#silences").innerText()).includes("<script>alert(2)</script>"),
      "a silence's reason is not shown as text");
    await shot(budi.page, "alerts");
    await budi.page.goto(base + "/audit");
    const audit = await budi.page.locator("table#audit").innerText();
    check(audit.includes("console:ana") && audit.includes("console:budi"), "the audit page lacks the approvals");
    await shot(budi.page, "audit");

    step("an admin manages users");
    // An admin manages users; an approver may not.
    const ida = await signIn(browser, "ida");
    await ida.page.goto(base + "/users");
    await ida.page.fill("form.search input[name=name]", "tono");
    await ida.page.selectOption("form.search select[name=role]", "viewer");
    await ida.page.fill("form.search input[name=password]", "tono's long password");
    await Promise.all([ida.page.waitForLoadState("load"), ida.page.click("form.search button[type=submit]")]);
    check((await ida.page.locator("table#users").innerText()).includes("tono"), "the new user is not listed");
    const tonoRow = ida.page.locator("table#users tr", { hasText: "tono" });
    await tonoRow.locator("select[name=role]").selectOption("approver");
    await Promise.all([ida.page.waitForLoadState("load"), tonoRow.locator("text=Change role").click()]);
    check((await ida.page.locator(".note").innerText()).includes("tono is now approver"), "the role did not change");
    await shot(ida.page, "users");
    const tono = await signIn(browser, "tono", "tono's long password");
    check(tono.page.url() === base + "/", "the user made in the console cannot sign in");
    check((await tono.page.locator("#user").innerText()) === "tono", "tono is not shown as signed in");
    await Promise.all([ida.page.waitForLoadState("load"),
      ida.page.locator("table#users tr", { hasText: "tono" }).locator("text=Remove").click()]);
    await tono.page.goto(base + "/");
    check(tono.page.url().startsWith(base + "/login"), "a removed user's session lives on");
    // Signed in again: her first session may have sat idle past session_idle by now.
    const anaAgain = await signIn(browser, "ana");
    const notAdmin = await anaAgain.context.request.get(base + "/users", { maxRedirects: 0 });
    check(notAdmin.status() === 403, "an approver sees the users page: " + notAdmin.status());

    step("wrong passwords, then the lock");
    // Wrong passwords: the same answer every time, then a lock that even the right one meets.
    const answers = new Set();
    for (let i = 0; i < 6; i++) {
      const wrong = await signIn(browser, "adm", "not the password " + i);
      answers.add(await wrong.page.locator("#message").innerText());
      await wrong.context.close();
    }
    const locked = await signIn(browser, "adm");
    answers.add(await locked.page.locator("#message").innerText());
    check(answers.size === 1, "failed sign-ins were told apart: " + [...answers].join(" | "));
    check(locked.page.url().endsWith("/login"), "a locked user got in");
    const stranger = await signIn(browser, "nobody-by-this-name");
    check((await stranger.page.locator("#message").innerText()) === [...answers][0], "an unknown name was told apart");

    step("the idle session has ended");
    // The idle session has ended: back to the sign-in page.
    const waited = Date.now() - idleSince;
    if (waited < (idleSeconds + 1) * 1000) await idle.page.waitForTimeout((idleSeconds + 1) * 1000 - waited);
    await idle.page.goto(base + "/");
    check(idle.page.url() === base + "/login?expired=1", "an idle session was not sent to sign in: " + idle.page.url());
    check((await idle.page.locator("#message").innerText()).includes("session ended"), "no word of the ended session");
    check(!results.dialogs, "a script ran from the page's content");
    results.ok = true;
  } finally {
    await browser.close();
  }
}

main()
  .then(() => {
    console.log(JSON.stringify(results));
  })
  .catch((e) => {
    console.log(JSON.stringify(results));
    console.error("console check failed: " + e.message);
    process.exit(1);
  });
