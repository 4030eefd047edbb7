// The console's page of an incident this daemon never held (#23): the API
// reads it from the report source (PostgreSQL), the page shows its title
// and hit count, says where it was read from, and offers no actions (they
// change this daemon's store only, where they would answer 404). Signs in
// as an operator, who would otherwise see the action buttons. Any page or
// console error fails it. Environment: URL, OP_TOKEN, INCIDENT_ID, TITLE,
// HITS (the API document's).
// Prints what it saw; exit status 0 when everything held.
"use strict";
const { chromium } = require("playwright-core");

(async () => {
  const U = process.env.URL;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: process.getuid && process.getuid() === 0 ? ["--no-sandbox"] : [],
  });
  const errors = [];
  let ok = false;
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => errors.push("page error: " + e.message));
    page.on("console", (m) => { if (m.type() === "error") errors.push("console: " + m.text()); });
    page.setDefaultTimeout(10000);
    await page.goto(U + "/");
    await page.fill("#token", process.env.OP_TOKEN);
    await page.click("#login-btn");
    await page.waitForSelector("#overview-view[data-ready]");
    await page.goto(U + "/#/incident/" + process.env.INCIDENT_ID);
    await page.waitForSelector("#inc-head h1:has-text('" + process.env.TITLE + "')");
    await page.waitForSelector("#actions:has-text('read from')");
    const head = await page.textContent("#inc-head");
    const actions = await page.textContent("#actions");
    const buttons = (await page.$$("#actions button")).length;
    console.log("head: " + head.replace(/\s+/g, " ").slice(0, 200));
    console.log("actions: " + actions + " (" + buttons + " buttons)");
    ok = buttons === 0 && /read from pg/.test(actions) &&
      new RegExp("hits\\s*" + process.env.HITS + "(\\D|$)").test(head);
  } catch (e) {
    errors.push(String(e));
  } finally {
    await browser.close();
  }
  for (const e of errors) console.log(e);
  process.exit(ok && errors.length === 0 ? 0 : 1);
})();
