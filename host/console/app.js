// The console's views and router: connectors overview, connector page, plugins, worker,
// tenants and sign-in, each rendered from the REST API. Hash routes (#/connectors/NAME) so the
// worker serves one page and a reload keeps the view.

import {
  ApiError, api, badge, basic, bytes, confirmAction, errorBox, h, keepingFocus, notify, parseMetrics,
  replace, session, shortNumber, sparkline,
} from "./dom.js";
import { connectorForm } from "./form.js";

const main = document.getElementById("main");
const REFRESH_MS = 2000;

/** Who is signed in: `tenancy` (credentials needed), `operator` (worker-wide views). */
const identity = { tenancy: false, operator: false, name: null, known: false };

/** Timers of the current view, cleared when the route changes. */
let timers = [];
function every(ms, fn) {
  timers.push(setInterval(fn, ms));
}

/** Plugin versions by class, refreshed with the overview. */
let pluginVersions = new Map();
async function loadPluginVersions() {
  try {
    const plugins = await api("GET", "/connector-plugins?connectorsOnly=false");
    pluginVersions = new Map(plugins.map((p) => [p.class, p.version]));
  } catch {
    // Versions are a nicety; the views work without them.
  }
  return pluginVersions;
}

function versionOf(klass) {
  if (!klass) return "";
  if (pluginVersions.has(klass)) return pluginVersions.get(klass);
  for (const [name, version] of pluginVersions) {
    if (name.endsWith(`.${klass}`) || klass.endsWith(`.${name}`) || name === `${klass}Connector`) return version;
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Identity and sign-in

/** Finds out whether credentials are needed and whether the caller is the operator. */
async function whoAmI() {
  try {
    await api("GET", "/connectors");
  } catch (error) {
    if (error.status === 401) {
      identity.tenancy = true;
      identity.operator = false;
      identity.known = false;
      return false;
    }
    throw error;
  }
  identity.tenancy = identity.tenancy || Boolean(session.authorization);
  try {
    await api("GET", "/admin/cluster");
    identity.operator = true;
  } catch (error) {
    if (error.status !== 403) throw error;
    identity.operator = false;
  }
  identity.known = true;
  renderChrome();
  return true;
}

function renderChrome() {
  document.getElementById("nav-tenants").hidden = !(identity.operator && identity.tenancy);
  const who = document.getElementById("who");
  if (identity.tenancy && identity.known) {
    replace(
      who,
      h("span", {}, identity.operator ? "Operator" : `Tenant ${identity.name ?? ""}`),
      h("button", { type: "button", onclick: signOut }, "Sign out"),
    );
  } else {
    who.replaceChildren();
  }
}

function signOut() {
  session.authorization = null;
  sessionStorage.removeItem("wasm-connect.console.user");
  identity.known = false;
  identity.name = null;
  renderChrome();
  location.hash = "#/login";
}

session.onUnauthorized = () => {
  if (!location.hash.startsWith("#/login")) {
    identity.known = false;
    renderChrome();
    const back = location.hash || "#/";
    location.hash = `#/login?next=${encodeURIComponent(back)}`;
  }
};

function viewLogin(params) {
  const error = h("div", { role: "alert" });
  const user = h("input", { id: "login-user", name: "user", type: "text", autocomplete: "username", required: true });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password" });
  const token = h("input", { id: "login-token", name: "token", type: "password", autocomplete: "off" });
  const submit = async (event) => {
    event.preventDefault();
    const auth = token.value.trim()
      ? `Bearer ${token.value.trim()}`
      : basic(user.value.trim(), password.value);
    session.authorization = auth;
    try {
      const ok = await whoAmI();
      if (!ok) throw new ApiError(401, "The worker did not accept these credentials.");
      identity.name = token.value.trim() ? "(token)" : user.value.trim();
      sessionStorage.setItem("wasm-connect.console.user", identity.name);
      renderChrome();
      location.hash = params.get("next") || "#/";
    } catch (e) {
      session.authorization = null;
      replace(error, errorBox(e));
    }
  };
  replace(
    main,
    h("h1", {}, "Sign in"),
    h("p", {}, "This worker runs connectors for several tenants. Sign in as a tenant with its name and password, or with a bearer token; the operator signs in with the operator's name and password."),
    h(
      "form",
      { class: "login panel", onsubmit: submit },
      h("div", { class: "row" }, h("label", { for: "login-user" }, "Tenant or operator name"), user),
      h("div", { class: "row" }, h("label", { for: "login-password" }, "Password"), password),
      h("div", { class: "row" }, h("label", { for: "login-token" }, "Or a bearer token"), token),
      h("button", { type: "submit" }, "Sign in"),
      error,
    ),
  );
  user.focus();
}

// ---------------------------------------------------------------------------------------------
// Connectors overview

const STATES = ["RUNNING", "FAILED", "PAUSED", "STOPPED", "UNASSIGNED", "RESTARTING"];

function connectorRows(expanded, filter) {
  const rows = Object.entries(expanded ?? {}).map(([name, { status, info }]) => {
    const tasks = status?.tasks ?? [];
    const state = status?.connector?.state ?? "UNASSIGNED";
    const failed = state === "FAILED" || tasks.some((t) => t.state === "FAILED");
    return { name, status, info, tasks, state, failed };
  });
  const shown = rows.filter(
    (row) => !filter || row.state === filter || row.tasks.some((t) => t.state === filter),
  );
  shown.sort((a, b) => Number(b.failed) - Number(a.failed) || a.name.localeCompare(b.name));
  return shown;
}

function viewConnectors() {
  const filter = h(
    "select",
    { id: "state-filter" },
    h("option", { value: "" }, "All states"),
    STATES.map((s) => h("option", { value: s }, s)),
  );
  const body = h("tbody");
  const summary = h("p", { class: "muted", id: "overview-summary" });
  const problem = h("div");
  const table = h(
    "table",
    { class: "responsive", id: "connectors" },
    h("caption", { class: "muted", style: "text-align:left" }, "Failed connectors first, then by name. Refreshed every 2 seconds."),
    h(
      "thead",
      {},
      h("tr", {}, ["Name", "Type", "Class", "Version", "State", "Tasks", "Worker"].map((c) => h("th", { scope: "col" }, c))),
    ),
    body,
  );
  replace(
    main,
    h("h1", {}, "Connectors"),
    h(
      "div",
      { class: "toolbar" },
      h("div", {}, h("label", { for: "state-filter" }, "Show "), filter),
      h("a", { class: "button", href: "#/new" }, "New connector"),
    ),
    problem,
    h("div", { class: "table-scroll" }, table),
    summary,
  );
  let last = null;
  let shown = null;
  const render = () => {
    if (!last) return;
    const rows = connectorRows(last, filter.value);
    const total = Object.keys(last).length;
    const failed = rows.filter((r) => r.failed).length;
    summary.textContent = `${total} connector${total === 1 ? "" : "s"}${failed ? `, ${failed} failing` : ""}. Updated ${new Date().toLocaleTimeString()}.`;
    // Rebuilt only when something changed, keeping the focus where it was.
    const key = JSON.stringify([filter.value, rows, [...pluginVersions]]);
    if (key === shown) return;
    shown = key;
    keepingFocus(body, () => replace(
      body,
      rows.length === 0
        ? h("tr", {}, h("td", { colspan: 7 }, filter.value ? `No connector is ${filter.value}.` : "No connectors yet. Create one with New connector."))
        : rows.map((row) =>
            h(
              "tr",
              { dataset: { connector: row.name, state: row.state } },
              h("td", { "data-label": "Name" }, h("a", { id: `open-${row.name}`, href: `#/connectors/${encodeURIComponent(row.name)}` }, row.name)),
              h("td", { "data-label": "Type" }, row.info?.type ?? row.status?.type ?? ""),
              h("td", { "data-label": "Class", class: "wrap" }, row.info?.config?.["connector.class"] ?? ""),
              h("td", { "data-label": "Version" }, row.status?.connector?.version ?? versionOf(row.info?.config?.["connector.class"])),
              h("td", { "data-label": "State" }, badge(row.state)),
              h(
                "td",
                { "data-label": "Tasks" },
                h("span", { class: "tasks" }, row.tasks.length === 0 ? h("span", { class: "muted" }, "none") : row.tasks.map((t) => h("span", { title: `task ${t.id}` }, badge(t.state)))),
              ),
              h("td", { "data-label": "Worker", class: "wrap" }, row.status?.connector?.worker_id ?? ""),
            ),
          ),
    ));
  };
  const refresh = async () => {
    try {
      last = await api("GET", "/connectors?expand=status&expand=info");
      problem.replaceChildren();
      render();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };
  filter.addEventListener("change", render);
  loadPluginVersions().then(render);
  refresh();
  every(REFRESH_MS, refresh);
}

// ---------------------------------------------------------------------------------------------
// Connector page

/** Recent metric samples per connector: `[{t, records, errors}]`, the last 60. */
const history = new Map();

async function sampleMetrics(name, type) {
  const text = await fetch("/metrics", {
    credentials: "omit",
    headers: session.authorization ? { Authorization: session.authorization } : {},
  }).then((r) => (r.ok ? r.text() : Promise.reject(new ApiError(r.status, "metrics"))));
  const samples = parseMetrics(text).filter((s) => s.labels.connector === name);
  const sum = (metric) => samples.filter((s) => s.name === metric).reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0);
  const records = type === "sink"
    ? sum("kafka_connect_sink_task_sink_record_read_total")
    : sum("kafka_connect_source_task_source_record_write_total");
  const errors = sum("kafka_connect_task_error_total_record_errors");
  const points = history.get(name) ?? [];
  points.push({ t: performance.now() / 1000, records, errors });
  while (points.length > 61) points.shift();
  history.set(name, points);
  return points;
}

function rates(points, field) {
  const out = [];
  for (let i = 1; i < points.length; i++) {
    const dt = points[i].t - points[i - 1].t;
    const dv = points[i][field] - points[i - 1][field];
    out.push(dt > 0 && dv >= 0 ? dv / dt : 0);
  }
  return out;
}

function chart(title, values, unit) {
  const now = values.length ? values[values.length - 1] : NaN;
  return h(
    "figure",
    { class: "chart" },
    h("figcaption", {}, title),
    h("div", { class: "now" }, `${shortNumber(now)} ${unit}`),
    sparkline(values, `${title}: ${shortNumber(now)} ${unit} now, ${values.length} samples over the last ${Math.round((values.length * REFRESH_MS) / 1000)} s`),
  );
}

/** Hides PASSWORD settings and secret references (`${provider:path:key}`). */
function shownValue(key, value, passwordKeys) {
  if (passwordKeys.has(key)) return h("span", { class: "muted" }, "hidden (password)");
  if (typeof value === "string" && /\$\{[^}]*\}/.test(value)) return h("span", { class: "muted" }, "hidden (secret reference)");
  return value;
}

async function passwordKeysOf(klass) {
  const keys = new Set();
  try {
    const defs = await api("GET", `/connector-plugins/${encodeURIComponent(klass)}/config`);
    for (const def of defs) if (def.type === "PASSWORD") keys.add(def.name);
  } catch {
    // Unknown plugin: hide nothing extra; secret references are still hidden.
  }
  return keys;
}

function viewConnector(name) {
  const path = `/connectors/${encodeURIComponent(name)}`;
  const heading = h("h1", {}, name);
  const problem = h("div");
  const facts = h("dl", { class: "facts" });
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Connector actions" });
  const tasks = h("div");
  const trace = h("div");
  const charts = h("div", { class: "charts" });
  const topics = h("div");
  const offsets = h("div");
  const config = h("div");
  replace(
    main,
    h("p", {}, h("a", { href: "#/" }, "← Connectors")),
    heading,
    problem,
    h("section", { class: "panel", "aria-labelledby": "about-h" }, h("h2", { id: "about-h" }, "About"), facts, actions),
    trace,
    h("section", { "aria-labelledby": "tasks-h" }, h("h2", { id: "tasks-h" }, "Tasks"), tasks),
    h("section", { "aria-labelledby": "metrics-h" }, h("h2", { id: "metrics-h" }, "Throughput and errors"), charts),
    h("section", { "aria-labelledby": "topics-h" }, h("h2", { id: "topics-h" }, "Active topics"), topics),
    h("section", { "aria-labelledby": "offsets-h" }, h("h2", { id: "offsets-h" }, "Offsets"), offsets),
    h("section", { "aria-labelledby": "config-h" }, h("h2", { id: "config-h" }, "Configuration"), config),
  );

  let info = null;
  let status = null;
  let passwordKeys = new Set();

  const act = async (question, method, suffix, done, detail) => {
    if (!(await confirmAction(question, "Confirm", detail))) return;
    try {
      await api(method, `${path}${suffix}`);
      notify(done);
      if (method === "DELETE" && suffix === "") {
        location.hash = "#/";
        return;
      }
      await refreshStatus();
      await refreshOffsets();
      await refreshTopics();
    } catch (error) {
      notify(error.message, "error");
    }
  };

  const renderActions = () => {
    const state = status?.connector?.state;
    const hasFailed = (status?.tasks ?? []).some((t) => t.state === "FAILED");
    replace(
      actions,
      h("button", { type: "button", id: "act-pause", disabled: state === "PAUSED", onclick: () => act(`Pause ${name}?`, "PUT", "/pause", `${name} is pausing.`, "Its tasks stop processing records until it is resumed.") }, "Pause"),
      h("button", { type: "button", id: "act-resume", disabled: state === "RUNNING", onclick: () => act(`Resume ${name}?`, "PUT", "/resume", `${name} is resuming.`) }, "Resume"),
      h("button", { type: "button", id: "act-stop", disabled: state === "STOPPED", onclick: () => act(`Stop ${name}?`, "PUT", "/stop", `${name} is stopping.`, "Its tasks are shut down; offsets can then be reset or edited.") }, "Stop"),
      h("button", { type: "button", id: "act-restart", class: "secondary", onclick: () => act(`Restart ${name}?`, "POST", "/restart", `${name} restarted.`) }, "Restart connector"),
      h("button", { type: "button", id: "act-restart-all", class: "secondary", onclick: () => act(`Restart ${name} and all its tasks?`, "POST", "/restart?includeTasks=true", `${name} and its tasks restarted.`) }, "Restart all tasks"),
      h("button", { type: "button", id: "act-restart-failed", class: "secondary", disabled: !hasFailed && state !== "FAILED", onclick: () => act(`Restart the failed parts of ${name}?`, "POST", "/restart?includeTasks=true&onlyFailed=true", `The failed parts of ${name} restarted.`) }, "Restart failed"),
      h("a", { id: "act-edit", class: "button secondary", href: `#/connectors/${encodeURIComponent(name)}/edit` }, "Edit"),
      h("button", { type: "button", id: "act-delete", class: "danger", onclick: () => act(`Delete ${name}?`, "DELETE", "", `${name} deleted.`, "The connector and its tasks are removed. Its topics and committed offsets stay.") }, "Delete"),
    );
  };

  const renderStatus = () => {
    replace(heading, name, " ", badge(status?.connector?.state));
    const klass = info?.config?.["connector.class"] ?? "";
    replace(
      facts,
      h("dt", {}, "Type"), h("dd", {}, info?.type ?? status?.type ?? ""),
      h("dt", {}, "Class"), h("dd", {}, klass),
      h("dt", {}, "Version"), h("dd", {}, status?.connector?.version ?? (versionOf(klass) || "–")),
      h("dt", {}, "Worker"), h("dd", {}, status?.connector?.worker_id ?? ""),
      h("dt", {}, "Tasks"), h("dd", {}, `${(status?.tasks ?? []).length} (tasks.max ${info?.config?.["tasks.max"] ?? "1"})`),
    );
    renderActions();
    replace(
      trace,
      status?.connector?.trace &&
        h("section", { class: "error-box", "aria-labelledby": "ctrace-h" }, h("h2", { id: "ctrace-h" }, "The connector failed"), h("pre", { class: "trace", tabindex: 0 }, status.connector.trace)),
    );
    const list = status?.tasks ?? [];
    replace(
      tasks,
      list.length === 0
        ? h("p", { class: "muted" }, "No tasks.")
        : h(
            "table",
            { class: "responsive", id: "tasks" },
            h("thead", {}, h("tr", {}, ["Task", "State", "Worker", "Trace", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              {},
              list.map((task) =>
                h(
                  "tr",
                  { dataset: { task: task.id } },
                  h("td", { "data-label": "Task" }, String(task.id)),
                  h("td", { "data-label": "State" }, badge(task.state)),
                  h("td", { "data-label": "Worker", class: "wrap" }, task.worker_id ?? ""),
                  h(
                    "td",
                    { "data-label": "Trace" },
                    task.trace
                      ? h("details", { open: task.state === "FAILED" }, h("summary", { id: `trace-${task.id}` }, "Trace"), h("pre", { class: "trace", tabindex: 0, "aria-label": `Trace of task ${task.id}` }, task.trace))
                      : h("span", { class: "muted" }, "–"),
                  ),
                  h(
                    "td",
                    { "data-label": "Actions" },
                    h("button", { type: "button", id: `restart-task-${task.id}`, class: "secondary", onclick: () => act(`Restart task ${task.id} of ${name}?`, "POST", `/tasks/${task.id}/restart`, `Task ${task.id} restarted.`) }, `Restart task ${task.id}`),
                  ),
                ),
              ),
            ),
          ),
    );
  };

  // A task's <details> the user opened or closed stays that way across refreshes.
  let shownStatus = null;
  const refreshStatus = async () => {
    try {
      const opened = new Map([...tasks.querySelectorAll("tr[data-task] details")].map((d) => [d.closest("tr").dataset.task, d.open]));
      status = await api("GET", `${path}/status`);
      problem.replaceChildren();
      // Rebuilt only when the status changed, keeping the focus where it was.
      const key = JSON.stringify(status);
      if (key === shownStatus) return;
      shownStatus = key;
      keepingFocus(main, renderStatus);
      for (const d of tasks.querySelectorAll("tr[data-task] details")) {
        const before = opened.get(d.closest("tr").dataset.task);
        if (before !== undefined) d.open = before;
      }
      problem.replaceChildren();
    } catch (error) {
      replace(problem, errorBox(error));
    }
  };

  const refreshCharts = async () => {
    if (!identity.operator) {
      replace(charts, h("p", { class: "muted" }, "Metrics are worker-wide; the operator sees them here."));
      return;
    }
    try {
      const points = await sampleMetrics(name, info?.type ?? status?.type);
      replace(charts, chart("Records per second", rates(points, "records"), "rec/s"), chart("Record errors per second", rates(points, "errors"), "err/s"));
    } catch {
      replace(charts, h("p", { class: "muted" }, "Metrics are not available."));
    }
  };

  const refreshTopics = async () => {
    try {
      const answer = await api("GET", `${path}/topics`);
      const list = answer?.[name]?.topics ?? [];
      replace(topics, list.length ? h("ul", {}, list.map((t) => h("li", {}, h("code", {}, t)))) : h("p", { class: "muted" }, "No topics used yet."));
    } catch (error) {
      replace(topics, h("p", { class: "muted" }, error.message));
    }
  };

  const refreshOffsets = async () => {
    let answer;
    try {
      answer = await api("GET", `${path}/offsets`);
    } catch (error) {
      replace(offsets, h("p", { class: "muted" }, error.message));
      return;
    }
    const list = answer?.offsets ?? [];
    const stopped = status?.connector?.state === "STOPPED";
    const editor = h("textarea", { id: "offsets-json", spellcheck: false, "aria-describedby": "offsets-help" }, JSON.stringify({ offsets: list }, null, 2));
    replace(
      offsets,
      list.length
        ? h(
            "table",
            { class: "responsive" },
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Partition"), h("th", { scope: "col" }, "Offset"))),
            h("tbody", {}, list.map((o) => h("tr", {}, h("td", { "data-label": "Partition", class: "mono wrap" }, JSON.stringify(o.partition)), h("td", { "data-label": "Offset", class: "mono wrap" }, JSON.stringify(o.offset))))),
          )
        : h("p", { class: "muted" }, "No committed offsets."),
      stopped
        ? h(
            "details",
            { class: "group" },
            h("summary", {}, "Reset or edit offsets"),
            h("p", { id: "offsets-help", class: "muted" }, "The connector is stopped, so its offsets can change. Edit the JSON (Kafka Connect's PATCH /connectors/{name}/offsets body) and apply, or reset them all."),
            h("label", { for: "offsets-json" }, "Offsets"),
            editor,
            h(
              "div",
              { class: "actions" },
              h("button", {
                type: "button",
                onclick: async () => {
                  let body;
                  try {
                    body = JSON.parse(editor.value);
                  } catch (error) {
                    notify(`The offsets are not valid JSON: ${error.message}`, "error");
                    return;
                  }
                  if (!(await confirmAction(`Change the offsets of ${name}?`))) return;
                  try {
                    const done = await api("PATCH", `${path}/offsets`, body);
                    notify(done?.message ?? "Offsets changed.");
                    refreshOffsets();
                  } catch (error) {
                    notify(error.message, "error");
                  }
                },
              }, "Apply offsets"),
              h("button", { type: "button", class: "danger", onclick: () => act(`Reset every offset of ${name}?`, "DELETE", "/offsets", "Offsets reset.", "The connector starts from the beginning when resumed.") }, "Reset offsets"),
            ),
          )
        : h("p", { class: "muted" }, "Stop the connector to reset or edit its offsets."),
    );
  };

  const load = async () => {
    try {
      info = await api("GET", path);
    } catch (error) {
      replace(problem, errorBox(error));
      return;
    }
    await loadPluginVersions();
    passwordKeys = await passwordKeysOf(info.config?.["connector.class"] ?? "");
    const entries = Object.entries(info.config ?? {}).sort(([a], [b]) => a.localeCompare(b));
    replace(
      config,
      h(
        "table",
        { class: "responsive", id: "config" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Setting"), h("th", { scope: "col" }, "Value"))),
        h("tbody", {}, entries.map(([key, value]) => h("tr", {}, h("td", { "data-label": "Setting", class: "mono" }, key), h("td", { "data-label": "Value", class: "mono wrap" }, shownValue(key, value, passwordKeys))))),
      ),
    );
    await refreshStatus();
    refreshTopics();
    refreshOffsets();
    refreshCharts();
  };
  load();
  let lastState = null;
  every(REFRESH_MS, async () => {
    await refreshStatus();
    refreshCharts();
    const state = status?.connector?.state;
    if (state !== lastState) {
      lastState = state;
      refreshOffsets();
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Plugins

function viewPlugins() {
  const body = h("tbody");
  const result = h("div", { id: "upload-result", role: "status", "aria-live": "polite" });
  const input = h("input", { id: "upload-file", type: "file", accept: ".wasm,application/wasm" });
  const zone = h(
    "div",
    { class: "dropzone", id: "dropzone" },
    h("p", {}, "Drop a component (.wasm) here, or choose one:"),
    h("label", { for: "upload-file" }, "Component file "),
    input,
  );
  const upload = async (file) => {
    replace(result, h("p", {}, `Uploading ${file.name} (${bytes(file.size)})…`));
    try {
      const answer = await api("POST", "/connector-plugins", file);
      replace(
        result,
        h("div", { class: "panel" }, h("strong", {}, `Admitted: ${answer.class} ${answer.version ?? ""} (${answer.type})`), h("p", { class: "muted mono wrap" }, `digest ${answer.digest ?? ""}`)),
      );
      refresh();
    } catch (error) {
      replace(result, h("div", { class: "error-box", role: "alert" }, h("strong", {}, `Refused: `), error.message));
    }
  };
  input.addEventListener("change", () => input.files[0] && upload(input.files[0]));
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const file = event.dataTransfer?.files?.[0];
    if (file) upload(file);
  });
  const refresh = async () => {
    try {
      const plugins = await api("GET", "/connector-plugins?connectorsOnly=false");
      replace(
        body,
        plugins.map((p) =>
          h(
            "tr",
            { dataset: { plugin: p.class } },
            h("td", { "data-label": "Class", class: "wrap" }, p.class),
            h("td", { "data-label": "Type" }, p.type),
            h("td", { "data-label": "Version" }, p.version ?? ""),
            h(
              "td",
              { "data-label": "Actions" },
              ["source", "sink", "transformation"].includes(p.type) &&
                h("button", {
                  type: "button",
                  class: "secondary",
                  "aria-label": `Delete ${p.class} ${p.version ?? ""}`,
                  onclick: async () => {
                    if (!(await confirmAction(`Delete plugin ${p.class} ${p.version ?? ""}?`, "Delete", "Only uploaded plugins that no connector uses can be deleted."))) return;
                    try {
                      const query = p.version ? `?version=${encodeURIComponent(p.version)}` : "";
                      await api("DELETE", `/connector-plugins/${encodeURIComponent(p.class)}${query}`);
                      notify(`${p.class} deleted.`);
                      refresh();
                    } catch (error) {
                      notify(error.message, "error");
                    }
                  },
                }, "Delete"),
            ),
          ),
        ),
      );
    } catch (error) {
      replace(body, h("tr", {}, h("td", { colspan: 4 }, errorBox(error))));
    }
  };
  replace(
    main,
    h("h1", {}, "Plugins"),
    h("section", { "aria-labelledby": "upload-h" }, h("h2", { id: "upload-h" }, "Upload a component"), zone, result),
    h("section", { "aria-labelledby": "installed-h" }, h("h2", { id: "installed-h" }, "Installed"),
      h("div", { class: "table-scroll" }, h("table", { class: "responsive", id: "plugins" }, h("thead", {}, h("tr", {}, ["Class", "Type", "Version", "Actions"].map((c) => h("th", { scope: "col" }, c)))), body))),
  );
  refresh();
}

// ---------------------------------------------------------------------------------------------
// Worker

function viewWorker() {
  const facts = h("dl", { class: "facts" });
  const cluster = h("div");
  const loggers = h("div");
  replace(
    main,
    h("h1", {}, "Worker"),
    h("section", { class: "panel", "aria-labelledby": "w-h" }, h("h2", { id: "w-h" }, "This worker"), facts),
    h("section", { "aria-labelledby": "c-h" }, h("h2", { id: "c-h" }, "Cluster"), cluster),
    h("section", { "aria-labelledby": "l-h" }, h("h2", { id: "l-h" }, "Log levels"), loggers),
  );
  const load = async () => {
    try {
      const root = await api("GET", "/");
      const rows = [
        ["Version", root.version],
        ["Commit", root.commit],
        ["Kafka cluster", root.kafka_cluster_id ?? "none"],
        ["Wasm instances", root.capacity ? `${root.capacity.instances} of ${root.capacity.instances_max}` : "–"],
      ];
      let info = null;
      if (identity.operator) {
        info = await api("GET", "/admin/cluster");
        rows.push(["Mode", info.mode], ["Worker id", info.worker_id], ["Record log", info.log === "kafka" ? "Kafka (bootstrap.servers)" : "embedded log"]);
      }
      replace(facts, rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v ?? ""))]));
      if (!identity.operator) {
        replace(cluster, h("p", { class: "muted" }, "The cluster and log levels are the operator's."));
        loggers.replaceChildren();
        return;
      }
      if (info.mode === "distributed") {
        replace(
          cluster,
          h("p", {}, `Leader: ${info.leader ?? "none"} (epoch ${info.epoch})`),
          h(
            "table",
            { class: "responsive" },
            h("thead", {}, h("tr", {}, ["Worker", "URL", "Runs"].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, (info.workers ?? []).map((w) => h("tr", {}, h("td", { "data-label": "Worker" }, w.id), h("td", { "data-label": "URL" }, w.url), h("td", { "data-label": "Runs", class: "mono wrap" }, Object.entries(w.assignment ?? {}).map(([c, t]) => `${c}: ${t.map((id) => (id < 0 ? "connector" : `task ${id}`)).join(", ")}`).join("; "))))),
          ),
        );
      } else {
        replace(cluster, h("p", {}, "Standalone: this worker runs every connector itself."));
      }
      const levels = await api("GET", "/admin/loggers");
      const choices = ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"];
      replace(
        loggers,
        h(
          "table",
          { class: "responsive", id: "loggers" },
          h("thead", {}, h("tr", {}, ["Logger", "Level", "Changed"].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            Object.entries(levels).map(([logger, { level, last_modified }]) => {
              const id = `level-${logger.replace(/[^a-zA-Z0-9]/g, "-")}`;
              const select = h("select", { id, "aria-label": `Level of ${logger}` }, choices.map((c) => h("option", { value: c, selected: c === level }, c)));
              select.addEventListener("change", async () => {
                try {
                  await api("PUT", `/admin/loggers/${encodeURIComponent(logger)}`, { level: select.value });
                  notify(`${logger} logs at ${select.value}.`);
                } catch (error) {
                  notify(error.message, "error");
                }
              });
              return h("tr", {}, h("td", { "data-label": "Logger", class: "mono" }, logger), h("td", { "data-label": "Level" }, select), h("td", { "data-label": "Changed" }, last_modified ? new Date(last_modified).toLocaleString() : "–"));
            }),
          ),
        ),
      );
    } catch (error) {
      replace(facts, errorBox(error));
    }
  };
  load();
}

// ---------------------------------------------------------------------------------------------
// Tenants (operator, tenancy on)

function viewTenants() {
  const body = h("div");
  replace(main, h("h1", {}, "Tenants"), body);
  const load = async () => {
    try {
      const tenants = await api("GET", "/admin/tenants");
      const quota = (t, key, format = String) => (t.quotas?.[key] === undefined ? "no limit" : format(t.quotas[key]));
      replace(
        body,
        tenants.length === 0
          ? h("p", { class: "muted" }, "No tenants yet (POST /admin/tenants creates one).")
          : h(
              "table",
              { class: "responsive", id: "tenants" },
              h("thead", {}, h("tr", {}, ["Tenant", "Connectors", "Tasks", "Memory", "Upload quota", "Records/s quota", "Topic prefixes"].map((c) => h("th", { scope: "col" }, c)))),
              h(
                "tbody",
                {},
                tenants.map((t) =>
                  h(
                    "tr",
                    {},
                    h("td", { "data-label": "Tenant" }, t.name),
                    h("td", { "data-label": "Connectors" }, `${t.usage?.connectors ?? 0} of ${quota(t, "connectors")}`),
                    h("td", { "data-label": "Tasks" }, `${t.usage?.tasks ?? 0} of ${quota(t, "tasks")}`),
                    h("td", { "data-label": "Memory" }, `${bytes(t.usage?.memory_bytes ?? 0)} of ${quota(t, "memory_bytes", bytes)}`),
                    h("td", { "data-label": "Upload quota" }, quota(t, "plugin_bytes", bytes)),
                    h("td", { "data-label": "Records/s quota" }, quota(t, "records_per_second")),
                    h("td", { "data-label": "Topic prefixes", class: "mono wrap" }, (t.topics?.prefixes ?? []).join(", ")),
                  ),
                ),
              ),
            ),
      );
    } catch (error) {
      replace(body, errorBox(error));
    }
  };
  load();
  every(REFRESH_MS * 2, load);
}

// ---------------------------------------------------------------------------------------------
// Router

const routes = [
  [/^#?\/?$/, () => viewConnectors(), "connectors", "Connectors"],
  [/^#\/connectors\/([^/]+)\/edit$/, (m) => connectorForm(main, { name: decodeURIComponent(m[1]), identity }), "connectors", "Edit connector"],
  [/^#\/connectors\/([^/]+)$/, (m) => viewConnector(decodeURIComponent(m[1])), "connectors", "Connector"],
  [/^#\/new$/, () => connectorForm(main, { identity }), "connectors", "New connector"],
  [/^#\/plugins$/, () => viewPlugins(), "plugins", "Plugins"],
  [/^#\/worker$/, () => viewWorker(), "worker", "Worker"],
  [/^#\/tenants$/, () => viewTenants(), "tenants", "Tenants"],
];

async function route() {
  for (const timer of timers) clearInterval(timer);
  timers = [];
  const [hash, query = ""] = (location.hash || "#/").split("?");
  const params = new URLSearchParams(query);
  if (hash === "#/login") {
    document.title = "Sign in · wasm-connect";
    viewLogin(params);
    return;
  }
  if (!identity.known) {
    try {
      if (!(await whoAmI())) return; // whoAmI's 401 moved us to #/login
    } catch (error) {
      replace(main, errorBox(error));
      return;
    }
  }
  for (const [pattern, view, nav, title] of routes) {
    const match = pattern.exec(hash);
    if (!match) continue;
    document.title = `${title} · wasm-connect`;
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.dataset.view === nav) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    view(match);
    return;
  }
  replace(main, h("h1", {}, "Not found"), h("p", {}, "The console has no such page. "), h("a", { href: "#/" }, "Connectors"));
}

identity.name = sessionStorage.getItem("wasm-connect.console.user");
window.addEventListener("hashchange", () => {
  route();
  main.focus({ preventScroll: true });
});
route();
