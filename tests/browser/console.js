// The web console in a real browser (Debian chromium, playwright-core):
// log in with a token, watch an incident appear live from a syslog
// message (det_signal turns "SIGNAL ..." messages into signals), open it,
// see its evidence, acknowledge with a reason, see the audit entry; a rule
// incident shows its trace rows, window math and sequence timeline; a
// viewer gets no action buttons; the events page finds the message and
// charts it (out_history). Prints TAP; screenshots go to ARTIFACTS.
// Waits use selectors, not waitForFunction: the console's CSP forbids the
// eval that polling functions need (and the test checks the CSP holds).
// Environment: URL, SYSLOG_PORT, OP_TOKEN, VIEWER_TOKEN, ARTIFACTS, SEED (a
// command writing a rule incident with a full explanation).
"use strict";
const { chromium } = require("playwright-core");
const { execSync } = require("child_process");
const net = require("net");

function syslog(msg) {
  return new Promise((res, rej) => {
    const c = net.connect(Number(process.env.SYSLOG_PORT), "127.0.0.1", () => {
      c.end("<38>1 " + new Date().toISOString() + " web1 sshd 4242 - - " + msg + "\n", res);
    });
    c.on("error", rej);
  });
}

const U = process.env.URL, ART = process.env.ARTIFACTS;
let n = 0, failed = 0;
const ok = (cond, what) => {
  n++;
  if (!cond) failed++;
  console.log((cond ? "ok " : "not ok ") + n + " - " + what);
};
async function step(what, fn) {
  try { ok(await fn() !== false, what); } catch (e) {
    ok(false, what);
    console.log("# " + String(e.message).split("\n").join("\n# "));
  }
}

(async () => {
  console.log("1..13");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const csp = [];
  page.on("console", (m) => { if (m.type() === "error") csp.push(m.text()); });
  page.setDefaultTimeout(8000);
  try {
    await step("the login form is shown without a token", async () => {
      await page.goto(U + "/");
      await page.waitForSelector("#login-form", { state: "visible" });
    });
    await step("a wrong token is refused with a message", async () => {
      await page.fill("#token", "snt_wrong");
      await page.click("#login-btn");
      await page.waitForSelector("#login-err:has-text('token')");
      csp.length = 0; /* the refused token's 401 was expected */
    });
    await step("logging in with an operator token shows who and the list", async () => {
      await page.fill("#token", process.env.OP_TOKEN);
      await page.click("#login-btn");
      await page.waitForSelector("#who:text-is('olga (operator)')");
      await page.waitForSelector("#list-view", { state: "visible" });
      await page.waitForSelector("#conn:text-is('live')");
      await page.screenshot({ path: ART + "/1-list-empty.png" });
    });
    await step("an incident appears live from a syslog message, without a reload", async () => {
      await page.evaluate(() => { window.__noReload = 1; });
      await syslog("SIGNAL ssh-brute-force mallory high firing Failed password for root from 203.0.113.7");
      await page.waitForSelector("#incidents tbody tr:has-text('Test rule ssh-brute-force')");
      await page.screenshot({ path: ART + "/2-list-live.png" });
      return await page.evaluate(() => window.__noReload === 1);
    });
    await step("opening it shows the evidence from the message and the window", async () => {
      await page.click("#incidents tbody tr:has-text('Test rule ssh-brute-force')");
      await page.waitForSelector("#evidence tbody tr:has-text('Failed password for root')");
      const head = await page.textContent("#inc-head");
      return head.includes("user.name=mallory") && (await page.textContent("#window")).includes("Window math");
    });
    await step("acknowledge asks for a reason and records it in the audit trail", async () => {
      await page.click("#act-acknowledge");
      await page.waitForSelector("#act-dialog[open]");
      await page.fill("#act-reason", "investigating from the console");
      await page.screenshot({ path: ART + "/3-reason.png" });
      await page.click("#act-ok");
      await page.waitForSelector("#audit tbody tr:has-text('investigating from the console')");
      const last = await page.textContent("#audit tbody tr:last-child");
      await page.screenshot({ path: ART + "/4-audit.png", fullPage: true });
      return last.includes("olga") && last.includes("acknowledge");
    });
    await step("the incident shows as acknowledged and the button is gone", async () => {
      await page.waitForSelector("#inc-head .facts:has-text('acknowledged')");
      return (await page.$("#act-acknowledge")) === null;
    });
    await step("a rule incident: the trace as pass/fail rows with actual values", async () => {
      execSync(process.env.SEED, { stdio: "ignore" });
      await page.click("text=← incidents");
      await page.click("#incidents tbody tr:has-text('SSH brute force')");
      await page.waitForSelector("#trace tbody tr td.pass");
      const rows = await page.$$eval("#trace tbody tr", (r) => r.map((x) => x.textContent));
      return rows.length === 3 && rows[0].includes("PASS") && rows[0].includes("sshd");
    });
    await step("its window math, evidence table and sequence timeline", async () => {
      const w = await page.textContent("#window");
      const ev = await page.$$eval("#evidence tbody tr", (r) => r.length);
      const seq = await page.$$eval("#sequence li", (r) => r.map((x) => x.textContent));
      await page.screenshot({ path: ART + "/5-incident.png", fullPage: true });
      return w.includes("12 ≥ 10") && w.includes("120 s") && ev === 2 && seq.length === 2 && seq[1].includes("+");
    });
    await step("a viewer sees the incident but no action buttons", async () => {
      const ctx = await browser.newContext();
      const p2 = await ctx.newPage();
      await p2.goto(U + "/");
      await p2.fill("#token", process.env.VIEWER_TOKEN);
      await p2.click("#login-btn");
      await p2.waitForSelector("#incidents tbody tr:has-text('SSH brute force')");
      await p2.click("#incidents tbody tr:has-text('SSH brute force')");
      await p2.waitForSelector("#trace tbody tr td.pass");
      const buttons = await p2.$$("#actions button");
      await p2.screenshot({ path: ART + "/6-viewer.png" });
      await ctx.close();
      return buttons.length === 0;
    });
    await step("the events page finds the syslog messages by host, app and text", async () => {
      await page.goto(U + "/#/events");
      await page.waitForSelector("#events-view", { state: "visible" });
      await page.fill("#ev-host", "web1");
      await page.fill("#ev-app", "sshd");
      await page.fill("#ev-text", "Failed password");
      await page.click("#ev-search");
      await page.waitForSelector("#events tbody tr:has-text('Failed password for root from 203.0.113.7')");
      const rows = await page.$$eval("#events tbody tr", (r) => r.map((x) => x.textContent));
      await page.fill("#ev-host", "no-such-host");
      await page.click("#ev-search");
      await page.waitForSelector("#events tbody tr", { state: "detached" });
      return rows.length === 1 && rows[0].includes("web1") && rows[0].includes("info");
    });
    await step("the volume chart is fed by the counts endpoint, grouped by host", async () => {
      await page.fill("#ev-host", "");
      await page.fill("#ev-text", "");
      await page.selectOption("#ev-group", "host");
      await page.waitForSelector("#ev-legend span:has-text('web1 1')");
      await page.screenshot({ path: ART + "/7-events.png", fullPage: true });
      return (await page.getAttribute("#ev-chart", "data-total")) === "1";
    });
    await step("no console errors (CSP violations, script errors)", async () => {
      if (csp.length) console.log("# " + csp.join("\n# "));
      return csp.length === 0;
    });
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})().catch((e) => { console.log("# " + e.stack); process.exit(1); });
