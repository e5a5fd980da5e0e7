// Drives the dashboard in Debian's headless Chromium with playwright-core
// (from web/node_modules; no browser download): the page lists the running
// container, a chart draws and updates, the log view shows what the
// container printed, and the Stop button stops it. Prints "PASS desc" /
// "FAIL desc" lines that dashboard.sh numbers into TAP.
//   env: DASH_URL, DASH_WEB (web/ dir), DASH_CTR (container name),
//        DASH_SHOT (screenshot path), DASH_VM (a VM name to expect, optional)
import { createRequire } from "node:module";

const require = createRequire(process.env.DASH_WEB + "/package.json");
const { chromium } = require("playwright-core");
const ctr = process.env.DASH_CTR;
let failed = 0;

function result(ok, desc, why = "") {
  if (!ok) failed++;
  console.log(`${ok ? "PASS" : "FAIL"} ${desc}${ok || !why ? "" : "  # " + why}`);
}

async function step(desc, fn) {
  try {
    const r = await fn();
    result(r !== false, desc, r === false ? "condition false" : "");
  } catch (e) {
    result(false, desc, String(e.message || e).split("\n")[0]);
  }
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const errors = [];
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } });
  page.on("pageerror", (e) => errors.push(String(e)));
  const external = [];
  page.on("request", (r) => {
    if (!r.url().startsWith(new URL(process.env.DASH_URL).origin)) external.push(r.url());
  });
  await page.goto(process.env.DASH_URL);
  const row = page.locator(`tr[data-testid="container-${ctr}"]`);
  await step("the page lists the running container", async () => {
    await row.waitFor({ timeout: 20000 });
    await row.locator('[data-state="running"]').waitFor({ timeout: 20000 });
  });
  await step("the host tiles show the running container", async () =>
    /1 running/.test(await page.locator('[data-tile="containers"]').innerText()));
  await step("the CPU chart draws (uPlot canvas with a line on it)", async () => {
    await page.waitForFunction(
      () => Number(document.getElementById("cpu-chart")?.dataset.points ?? 0) >= 2,
      null, { timeout: 20000 });
    return page.evaluate(() => {
      const c = document.querySelector("#cpu-chart canvas");
      if (!c || c.width === 0) return false;
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let ink = 0;
      for (let i = 3; i < d.length; i += 4) if (d[i] > 0) ink++;
      return ink > 100;
    });
  });
  await step("the memory chart has the container as a series", async () =>
    (await page.locator("#mem-chart").innerText()).includes(`container ${ctr}`));
  await step("the log view shows a line the container printed", async () => {
    await row.locator('button[data-action="logs"]').click();
    await page.locator("#log").filter({ hasText: "v2-dash-hello" }).waitFor({ timeout: 20000 });
  });
  if (process.env.DASH_VM) {
    await step("the page lists the running VM", async () =>
      page.locator(`tr[data-testid="vm-${process.env.DASH_VM}"] [data-state="running"]`)
        .waitFor({ timeout: 20000 }));
    await step("the comparison view puts the VM beside the container", async () =>
      /1 \/ 1/.test(await page.locator('tr[data-testid="kind-vm"]').innerText()) &&
      /1 \/ 1/.test(await page.locator('tr[data-testid="kind-container"]').innerText()));
  }
  await step("the images list has the container's image", async () =>
    page.locator("#images").filter({ hasText: "apitest-busybox" }).waitFor({ timeout: 20000 }));
  await step("the page lists the deployed function", async () =>
    page.locator('tr[data-testid="function-v2-dfn"]').waitFor({ timeout: 20000 }));
  const before = Number(await page.locator("#cpu-chart").getAttribute("data-points"));
  if (process.env.DASH_SHOT) await page.screenshot({ path: process.env.DASH_SHOT, fullPage: true });
  await step("the Stop button stops the container", async () => {
    await row.locator('button[data-action="stop"]').click();
    try {
      await row.locator('[data-state="exited"]').waitFor({ timeout: 60000 });
    } catch (e) {
      const st = await page.locator("#status").innerText();
      const state = await row.locator(".state").innerText();
      throw new Error(`row state ${state}, page status "${st}"`);
    }
  });
  await step("the chart keeps updating", async () => {
    await page.waitForFunction(
      (n) => Number(document.getElementById("cpu-chart")?.dataset.points ?? 0) > n,
      before, { timeout: 20000 });
  });
  await step("the row offers Start once stopped", async () =>
    row.locator('button[data-action="start"]').waitFor({ timeout: 10000 }));
  if (process.env.DASH_VM) {
    await step("the console view shows the VM's console output", async () => {
      await page.locator(`tr[data-testid="vm-${process.env.DASH_VM}"] button[data-action="console"]`).click();
      await page.locator("#log").filter({ hasText: "ISOLA-GUEST" }).waitFor({ timeout: 20000 });
    });
  }
  result(external.length === 0, "the page loads nothing from elsewhere", external.join(" "));
  result(errors.length === 0, "no script errors on the page", errors.join("; "));
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
