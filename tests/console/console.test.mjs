// End-to-end tests of the web console (/ui/) in headless Chromium, driven by playwright-core,
// against real workers started from target/debug/wasm-connect on loopback, each with its own
// data.dir and port. Every test saves screenshots under target/console-screenshots/.
//
// Run: tests/console/run.sh  (builds nothing; `cargo build -p wasm-connect` and
// `cargo build-connectors` first).

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const BIN = process.env.WASM_CONNECT_BIN ?? join(ROOT, "target/debug/wasm-connect");
const WASM = join(ROOT, "target/wasm32-wasip2/wasm");
const SHOTS = join(ROOT, "target/console-screenshots");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
const OPERATOR_PASSWORD = "operator-password-1";

mkdirSync(SHOTS, { recursive: true });

/** Starts a worker with `settings`; resolves once its REST API answers /health. */
async function startWorker(settings = {}) {
  const dir = mkdtempSync(join(tmpdir(), "wasm-connect-console-"));
  const plugins = join(dir, "plugins");
  mkdirSync(plugins);
  writeFileSync(join(plugins, "test_source.wasm"), readFileSync(join(WASM, "test_source.wasm")));
  const properties = {
    "listeners": "http://127.0.0.1:0",
    "data.dir": join(dir, "data"),
    // Compiled components are shared with the Rust tests' cache, so built-ins compile once.
    "cache.dir": join(ROOT, "target/test-compile-cache"),
    "plugin.path": plugins,
    "offset.flush.interval.ms": "200",
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
    ...settings,
  };
  const file = join(dir, "worker.properties");
  writeFileSync(file, Object.entries(properties).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
  const log = openSync(join(dir, "worker.log"), "w");
  const child = spawn(BIN, ["standalone", file], { stdio: ["ignore", log, log] });
  let exited = null;
  child.on("exit", (code) => (exited = code));
  const urlFile = join(dir, "data", "rest.url");
  const start = Date.now();
  for (;;) {
    if (exited !== null) throw new Error(`the worker exited (${exited}): ${readFileSync(join(dir, "worker.log"), "utf8")}`);
    if (Date.now() - start > 90_000) throw new Error(`the worker did not start: ${readFileSync(join(dir, "worker.log"), "utf8")}`);
    if (existsSync(urlFile)) {
      const url = readFileSync(urlFile, "utf8").trim().replace(/\/$/, "");
      const health = await fetch(`${url}/health`).catch(() => null);
      if (health?.ok) {
        return {
          url,
          dir,
          stop() {
            child.kill("SIGTERM");
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
    }
    await sleep(100);
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

/** A REST call to `worker` (JSON), optionally with an Authorization value. */
async function rest(worker, method, path, body, auth) {
  const headers = { "Content-Type": "application/json" };
  if (auth) headers.Authorization = auth;
  const response = await fetch(`${worker.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

function basic(user, password) {
  return `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
}

/** Waits until `check()` resolves truthy (polling), failing with `what` after 60 s. */
async function until(what, check) {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > 60_000) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // As root in CI Chromium needs --no-sandbox; the rest keep it off the (closed) network.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A page at 1280×800 that fails the test on any script error. */
async function newPage(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, ...options });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.scriptErrors = errors;
  return page;
}

async function shot(page, name) {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Confirms the modal dialog an action opened. */
async function confirm(page) {
  const dialog = page.locator("dialog.confirm");
  await dialog.waitFor();
  await dialog.locator("button.danger").click();
  await dialog.waitFor({ state: "detached" });
}

/** axe-core on the page as it is: the serious and critical violations. */
async function seriousViolations(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  return result.filter((v) => v.impact === "serious" || v.impact === "critical");
}

describe("console on a worker without tenancy", () => {
  let worker;
  let browser;
  // A directory of its own: a file connector may not be granted one holding a worker's data.dir.
  const inputDir = mkdtempSync(join(tmpdir(), "console-input-"));
  const input = join(inputDir, "orders.txt");

  before(async () => {
    writeFileSync(input, "first\nsecond\nthird\n");
    [worker, browser] = await Promise.all([startWorker(), launch()]);
  });
  after(async () => {
    await browser?.close();
    worker?.stop();
    rmSync(inputDir, { recursive: true, force: true });
  });

  test("creates a FileStreamSource through the form, showing a missing field's error first", async () => {
    const page = await newPage(browser);
    await page.goto(`${worker.url}/ui/#/new`);
    await page.selectOption("#plugin", "FileStreamSource");
    await page.locator("#f-name").fill("orders-file");
    await page.locator("#f-file").fill(input);
    // `topic` is required and left empty: the form stays, the error shows next to the field.
    await page.getByRole("button", { name: "Create" }).click();
    const topicError = page.locator("#f-topic-error");
    await topicError.waitFor({ state: "visible" });
    assert.match(await topicError.textContent(), /topic/);
    assert.equal(await page.locator("#f-topic").getAttribute("aria-invalid"), "true");
    assert.deepEqual((await rest(worker, "GET", "/connectors")).body, [], "nothing was created");
    await shot(page, "create-missing-field");

    await page.locator("#f-topic").fill("orders");
    await topicError.waitFor({ state: "hidden" });
    await page.getByRole("button", { name: "Create" }).click();
    await page.waitForURL(/#\/connectors\/orders-file$/);
    await page.getByRole("link", { name: "Connectors", exact: true }).click();
    await page.locator('tr[data-connector="orders-file"][data-state="RUNNING"]').waitFor({ timeout: 30_000 });
    const config = (await rest(worker, "GET", "/connectors/orders-file/config")).body;
    assert.equal(config.file, input);
    assert.equal(config.topic, "orders");
    await shot(page, "overview-running");
    assert.deepEqual(page.scriptErrors, []);
  });

  test("pauses and resumes a connector, restarts a failed task and shows its trace", async () => {
    await rest(worker, "POST", "/connectors", { name: "steady", config: { "connector.class": "FileStreamSource", file: input, topic: "steady" } });
    await rest(worker, "POST", "/connectors", { name: "trapper", config: { "connector.class": "TestSource", modes: "panic", topic: "trapped" } });
    const page = await newPage(browser);
    await page.goto(`${worker.url}/ui/#/connectors/steady`);
    const heading = page.locator("h1");
    await heading.locator(".state-running").waitFor({ timeout: 30_000 });

    await page.getByRole("button", { name: "Pause" }).click();
    await confirm(page);
    await heading.locator(".state-paused").waitFor();
    assert.equal((await rest(worker, "GET", "/connectors/steady/status")).body.connector.state, "PAUSED");
    await shot(page, "connector-paused");
    await page.getByRole("button", { name: "Resume" }).click();
    await confirm(page);
    await heading.locator(".state-running").waitFor();
    assert.equal((await rest(worker, "GET", "/connectors/steady/status")).body.connector.state, "RUNNING");

    // The trapping connector fails first on the overview, its trace is on its page.
    await page.goto(`${worker.url}/ui/#/`);
    await page.locator('tr[data-connector="trapper"]').waitFor();
    await until("trapper's task to fail", async () => (await rest(worker, "GET", "/connectors/trapper/status")).body.tasks?.[0]?.state === "FAILED");
    await page.locator('#connectors tbody tr:first-child[data-connector="trapper"]').waitFor();
    await page.getByRole("link", { name: "trapper" }).click();
    const trace = page.locator('tr[data-task="0"] pre.trace');
    await trace.waitFor();
    assert.match(await trace.textContent(), /panic from test-source task 0/);
    await shot(page, "connector-failed-trace");

    // Every trap of task 0, whatever its cause: the restarted task panics again.
    const traps = async () => {
      const text = await (await fetch(`${worker.url}/metrics`)).text();
      return text
        .split("\n")
        .filter((l) => l.startsWith("wasm_connect_task_traps_total{") && l.includes('connector="trapper"') && l.includes('task="0"'))
        .reduce((sum, l) => sum + Number(l.split(" ").pop()), 0);
    };
    const before = await traps();
    await page.getByRole("button", { name: "Restart task 0" }).click();
    await confirm(page);
    await page.locator("#notice").getByText("Task 0 restarted.").waitFor();
    await until("the restarted task to trap again", async () => (await traps()) > before);
    await page.locator('tr[data-task="0"] pre.trace').waitFor();
    assert.deepEqual(page.scriptErrors, []);
  });

  test("uploads a component and lists it; refuses a non-component and says why", async () => {
    const page = await newPage(browser);
    await page.goto(`${worker.url}/ui/#/plugins`);
    await page.locator('#plugins tr[data-plugin="FileStreamSource"]').waitFor();
    await page.setInputFiles("#upload-file", join(WASM, "test_sink.wasm"));
    await page.locator("#upload-result").getByText(/Admitted: TestSink/).waitFor({ timeout: 60_000 });
    await page.locator('#plugins tr[data-plugin="TestSink"]').waitFor();
    assert.ok((await rest(worker, "GET", "/connector-plugins")).body.some((p) => p.class === "TestSink"));
    await shot(page, "plugin-uploaded");

    const junk = join(worker.dir, "not-a-component.wasm");
    writeFileSync(junk, "this is text, not WebAssembly\n");
    await page.setInputFiles("#upload-file", junk);
    const refused = page.locator("#upload-result .error-box");
    await refused.waitFor();
    const text = await refused.textContent();
    assert.match(text, /^Refused: /);
    assert.ok(text.length > "Refused: ".length + 10, `the refusal says why: ${text}`);
    await shot(page, "plugin-refused");
    assert.deepEqual(page.scriptErrors, []);
  });

  test("keeps the keyboard focus across live refreshes and opens a connector with Enter", async () => {
    const page = await newPage(browser);
    await page.goto(`${worker.url}/ui/#/`);
    const link = page.locator("#open-orders-file");
    await link.waitFor();
    await link.focus();
    const summary = page.locator("#overview-summary");
    const seen = await summary.textContent();
    // Two refreshes later (the summary's time changes), the link still has the focus.
    await until("a refresh", async () => (await summary.textContent()) !== seen);
    const next = await summary.textContent();
    await until("another refresh", async () => (await summary.textContent()) !== next);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "open-orders-file");
    await shot(page, "overview-focus-kept");
    await page.keyboard.press("Enter");
    await page.waitForURL(/#\/connectors\/orders-file$/);
    assert.deepEqual(page.scriptErrors, []);
  });

  test("edits a connector: adds a transform with its settings, shown in the raw JSON, saved", async () => {
    const page = await newPage(browser);
    await page.goto(`${worker.url}/ui/#/connectors/orders-file/edit`);
    await page.locator("#f-topic").waitFor();
    assert.equal(await page.locator("#f-name").getAttribute("readonly"), "");
    await page.getByRole("button", { name: "Add transform" }).click();
    await page.selectOption("#t-0-type", "org.apache.kafka.connect.transforms.InsertField$Value");
    // InsertField without a field to insert: its error shows in the transforms section.
    const chainError = page.locator('[data-errors="transforms"]');
    await chainError.waitFor({ state: "visible" });
    assert.match(await chainError.textContent(), /transforms\.t1\./);
    await shot(page, "edit-transform-error");
    await page.locator("#t-0-settings").fill("static.field=origin\nstatic.value=console");
    await chainError.waitFor({ state: "hidden" });
    await page.locator("details:has(#raw-json) > summary").click();
    await until("the raw JSON to show the transform", async () => (await page.locator("#raw-json").inputValue()).includes('"transforms.t1.static.field": "origin"'));
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/#\/connectors\/orders-file$/);
    const config = (await rest(worker, "GET", "/connectors/orders-file/config")).body;
    assert.equal(config.transforms, "t1");
    assert.equal(config["transforms.t1.type"], "org.apache.kafka.connect.transforms.InsertField$Value");
    assert.equal(config["transforms.t1.static.value"], "console");
    assert.equal(config.file, input, "settings the form did not touch are kept");

    // The raw JSON view loads a whole config into the form.
    await page.goto(`${worker.url}/ui/#/connectors/orders-file/edit`);
    await page.locator("#f-topic").waitFor();
    await page.locator("details:has(#raw-json) > summary").click();
    const raw = JSON.parse(await page.locator("#raw-json").inputValue());
    raw["batch.size"] = "7";
    delete raw.transforms;
    for (const key of Object.keys(raw)) if (key.startsWith("transforms.")) delete raw[key];
    await page.locator("#raw-json").fill(JSON.stringify(raw));
    await page.getByRole("button", { name: "Apply JSON" }).click();
    await until("the form to take the JSON", async () => (await page.locator("#f-batch-size").inputValue()) === "7");
    assert.equal(await page.locator("#t-0-type").count(), 0);
    await page.getByRole("button", { name: "Save" }).click();
    await page.waitForURL(/#\/connectors\/orders-file$/);
    const saved = (await rest(worker, "GET", "/connectors/orders-file/config")).body;
    assert.equal(saved["batch.size"], "7");
    assert.equal(saved.transforms, undefined);
    assert.deepEqual(page.scriptErrors, []);
  });

  test("stops a connector, then resets its offsets", async () => {
    await until("orders-file to commit offsets", async () => (await rest(worker, "GET", "/connectors/orders-file/offsets")).body?.offsets?.length > 0);
    const page = await newPage(browser);
    await page.goto(`${worker.url}/ui/#/connectors/orders-file`);
    await page.locator("h1 .state-running").waitFor({ timeout: 30_000 });
    await page.getByText("Stop the connector to reset or edit its offsets.").waitFor();
    await page.getByRole("button", { name: "Stop" }).click();
    await confirm(page);
    await page.locator("h1 .state-stopped").waitFor();
    await page.getByText("Reset or edit offsets").click();
    await page.locator("#offsets-json").waitFor();
    assert.match(await page.locator("#offsets-json").inputValue(), /"partition"/);
    await shot(page, "connector-stopped-offsets");
    await page.getByRole("button", { name: "Reset offsets" }).click();
    await confirm(page);
    await page.locator("#notice").getByText("Offsets reset.").waitFor();
    assert.deepEqual((await rest(worker, "GET", "/connectors/orders-file/offsets")).body.offsets, []);
    await page.getByRole("button", { name: "Resume" }).click();
    await confirm(page);
    await page.locator("h1 .state-running").waitFor();
    assert.deepEqual(page.scriptErrors, []);
  });

  test("uploads a component by drag and drop and deletes it; a built-in cannot be deleted", async () => {
    const page = await newPage(browser);
    await page.goto(`${worker.url}/ui/#/plugins`);
    await page.locator('#plugins tr[data-plugin="FileStreamSource"]').waitFor();
    const bytes = [...readFileSync(join(WASM, "test_transform.wasm"))];
    const dataTransfer = await page.evaluateHandle((data) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(data)], "test_transform.wasm", { type: "application/wasm" }));
      return transfer;
    }, bytes);
    await page.dispatchEvent("#dropzone", "drop", { dataTransfer });
    await page.locator("#upload-result").getByText(/Admitted: .* \(transformation\)/).waitFor({ timeout: 60_000 });
    const row = page.locator("#plugins tr", { hasText: "transformation" }).filter({ hasNot: page.getByText("org.apache.kafka") });
    await row.first().waitFor();
    const uploaded = await row.first().getAttribute("data-plugin");
    await shot(page, "plugin-dropped");
    await row.first().getByRole("button", { name: /^Delete / }).click();
    await confirm(page);
    await page.locator("#notice").getByText(`${uploaded} deleted.`).waitFor();
    await page.locator(`#plugins tr[data-plugin="${uploaded}"]`).waitFor({ state: "detached" });
    const listed = (await rest(worker, "GET", "/connector-plugins?connectorsOnly=false")).body;
    assert.ok(!listed.some((p) => p.class === uploaded), `${uploaded} is gone`);

    await page.locator('#plugins tr[data-plugin="FileStreamSource"]').getByRole("button", { name: /^Delete / }).click();
    await confirm(page);
    await page.locator("#notice .error").waitFor();
    assert.match(await page.locator("#notice").textContent(), /is built in; only uploaded plugins can be deleted/);
    await shot(page, "plugin-builtin-not-deleted");
    assert.deepEqual(page.scriptErrors, []);
  });

  test("every page has no serious or critical accessibility violation, at desktop and phone widths", async () => {
    await until("orders-file", async () => (await rest(worker, "GET", "/connectors/orders-file/status")).status === 200);
    const pages = [
      ["overview", "#/", "#connectors tbody tr"],
      ["connector", "#/connectors/orders-file", "#tasks"],
      ["connector-failed", "#/connectors/trapper", "#tasks"],
      ["new", "#/new", "#plugin"],
      ["edit", "#/connectors/orders-file/edit", "#f-topic"],
      ["plugins", "#/plugins", "#plugins tbody tr"],
      ["worker", "#/worker", "#loggers"],
    ];
    for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
      const page = await newPage(browser, { viewport, bypassCSP: true });
      for (const [name, hash, ready] of pages) {
        await page.goto(`${worker.url}/ui/${hash}`);
        await page.locator(ready).first().waitFor();
        if (name === "new") {
          await page.selectOption("#plugin", "FileStreamSource");
          await page.locator("#f-topic").waitFor();
        }
        if (name === "worker") {
          // /admin/cluster says which record log the worker uses.
          await page.locator("dl.facts").getByText("embedded log").waitFor();
        }
        const violations = await seriousViolations(page);
        assert.deepEqual(violations, [], `${name} at ${viewport.width}px`);
        await shot(page, `a11y-${name}-${viewport.width}`);
      }
      assert.deepEqual(page.scriptErrors, []);
    }
  });
});

describe("console with tenancy", () => {
  let worker;
  let browser;
  const operator = basic("operator", OPERATOR_PASSWORD);

  before(async () => {
    const hash = execFileSync(BIN, ["hash-password"], { input: OPERATOR_PASSWORD }).toString().trim();
    [worker, browser] = await Promise.all([
      startWorker({ "tenancy.enabled": "true", "tenancy.operator.password.hash": hash }),
      launch(),
    ]);
    for (const name of ["acme", "globex"]) {
      const created = await rest(worker, "POST", "/admin/tenants", { name, password: `${name}-password-1` }, operator);
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const made = await rest(worker, "POST", "/connectors", { name: "acme-orders", config: { "connector.class": "TestSource", modes: "ok", topic: "acme.orders" } }, basic("acme", "acme-password-1"));
    assert.equal(made.status, 201, JSON.stringify(made.body));
  });
  after(async () => {
    await browser?.close();
    worker?.stop();
  });

  async function signIn(page, user, password) {
    await page.goto(`${worker.url}/ui/`);
    await page.waitForURL(/#\/login/);
    await page.locator("#login-user").fill(user);
    await page.locator("#login-password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#connectors").waitFor();
  }

  test("tenant B never sees tenant A's connector", async () => {
    const page = await newPage(browser);
    await signIn(page, "globex", "globex-password-1");
    await page.getByText("No connectors yet").waitFor();
    assert.equal(await page.locator('tr[data-connector="acme-orders"]').count(), 0);
    await shot(page, "tenant-globex-overview");
    // Not even by its address.
    await page.goto(`${worker.url}/ui/#/connectors/acme-orders`);
    await page.locator(".error-box").first().waitFor();
    assert.match(await page.locator(".error-box").first().textContent(), /not found/i);
    assert.equal(await page.locator("#tasks").count(), 0);
    // The worker-wide views are the operator's.
    assert.ok(await page.locator("#nav-tenants").isHidden());

    const acme = await newPage(browser);
    await signIn(acme, "acme", "acme-password-1");
    await acme.locator('tr[data-connector="acme-orders"]').waitFor();
    await shot(acme, "tenant-acme-overview");
    assert.deepEqual([...page.scriptErrors, ...acme.scriptErrors], []);
  });

  test("the operator sees the tenants and their use; sign-in and tenants pages are accessible", async () => {
    const page = await newPage(browser, { bypassCSP: true });
    await page.goto(`${worker.url}/ui/`);
    await page.waitForURL(/#\/login/);
    await page.locator("#login-user").waitFor();
    assert.deepEqual(await seriousViolations(page), [], "sign-in page");
    await shot(page, "login");
    await page.locator("#login-user").fill("operator");
    await page.locator("#login-password").fill(OPERATOR_PASSWORD);
    await page.getByRole("button", { name: "Sign in" }).click();
    // The operator sees every tenant's connectors under their full names.
    await page.locator('tr[data-connector="acme/acme-orders"]').waitFor();
    await page.getByRole("link", { name: "Tenants" }).click();
    const acme = page.locator("#tenants tr", { hasText: "acme" });
    await acme.waitFor();
    assert.match(await acme.textContent(), /1 of/);
    assert.deepEqual(await seriousViolations(page), [], "tenants page");
    await shot(page, "tenants");
    assert.deepEqual(page.scriptErrors, []);
  });
});
