// The create and edit form: a plugin's settings rendered from what
// `PUT /connector-plugins/{plugin}/config/validate` answers (definitions, groups, defaults,
// importance, documentation, recommended values, visibility of dependents), validated live
// with each error next to its field; transforms and predicates from the built-ins; a raw JSON
// view for power users.

import { api, debounce, errorBox, h, notify, replace } from "./dom.js";

const VALIDATE_DELAY_MS = 300;
/** Keys the transforms editor owns; the generated fields leave them out. */
const CHAIN_KEYS = new Set(["transforms", "predicates"]);

function fieldId(key) {
  return `f-${key.replace(/[^a-zA-Z0-9_-]/g, "-")}`;
}

/** Splits `transforms.*` and `predicates.*` keys out of a flat config. */
function splitChain(config) {
  const plain = {};
  const list = (value) => (value ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const transforms = list(config.transforms).map((alias) => ({ alias, type: "", predicate: "", negate: false, settings: "" }));
  const predicates = list(config.predicates).map((alias) => ({ alias, type: "", settings: "" }));
  const lines = new Map();
  for (const [key, value] of Object.entries(config)) {
    if (CHAIN_KEYS.has(key)) continue;
    const match = /^(transforms|predicates)\.([^.]+)\.(.+)$/.exec(key);
    const entry = match && (match[1] === "transforms" ? transforms : predicates).find((e) => e.alias === match[2]);
    if (!entry) {
      plain[key] = value;
      continue;
    }
    const setting = match[3];
    if (setting === "type") entry.type = value;
    else if (match[1] === "transforms" && setting === "predicate") entry.predicate = value;
    else if (match[1] === "transforms" && setting === "negate") entry.negate = value === "true";
    else {
      const text = lines.get(entry) ?? [];
      text.push(`${setting}=${value}`);
      lines.set(entry, text);
    }
  }
  for (const [entry, text] of lines) entry.settings = text.join("\n");
  return { plain, transforms, predicates };
}

/** `key=value` lines into pairs; a line without `=` is an error naming it. */
function parseLines(text, where) {
  const pairs = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const at = line.indexOf("=");
    if (at <= 0) throw new Error(`${where}: "${line}" is not key=value`);
    pairs.push([line.slice(0, at).trim(), line.slice(at + 1).trim()]);
  }
  return pairs;
}

/**
 * Renders the form into `main`: `name` edits an existing connector, otherwise a plugin is
 * picked first.
 */
export async function connectorForm(main, { name, identity }) {
  const editing = Boolean(name);
  const state = {
    klass: "",
    plain: {},
    transforms: [],
    predicates: [],
    touched: new Set(),
    submitted: false,
    result: null,
    rendered: "",
  };
  const formError = h("div", { id: "form-error" });
  const picker = h("div");
  const body = h("div");
  const chain = h("section", { class: "panel", "aria-labelledby": "chain-h" });
  const raw = h("div");
  const submitButton = h("button", { type: "submit" }, editing ? "Save" : "Create");
  const form = h(
    "form",
    { novalidate: true, id: "connector-form", "aria-labelledby": "form-h" },
    picker,
    body,
    chain,
    raw,
    formError,
    h("div", { class: "actions" }, submitButton, h("a", { class: "button secondary", href: editing ? `#/connectors/${encodeURIComponent(name)}` : "#/" }, "Cancel")),
  );
  replace(main, h("p", {}, h("a", { href: "#/" }, "← Connectors")), h("h1", { id: "form-h" }, editing ? `Edit ${name}` : "New connector"), form);

  let transformTypes = [];
  let predicateTypes = [];
  try {
    const plugins = await api("GET", "/connector-plugins?connectorsOnly=false");
    transformTypes = plugins.filter((p) => p.type === "transformation").map((p) => p.class);
    predicateTypes = plugins.filter((p) => p.type === "predicate").map((p) => p.class);
    if (!editing) {
      const connectors = plugins.filter((p) => p.type === "source" || p.type === "sink");
      const select = h(
        "select",
        { id: "plugin", required: true, "aria-describedby": "plugin-help" },
        h("option", { value: "" }, "Choose a plugin…"),
        connectors.map((p) => h("option", { value: p.class }, `${p.class} (${p.type}${p.version ? ` ${p.version}` : ""})`)),
      );
      select.addEventListener("change", async () => {
        state.klass = select.value;
        state.plain = select.value ? { "connector.class": select.value, name: state.plain.name ?? "" } : {};
        state.transforms = [];
        state.predicates = [];
        state.touched.clear();
        state.submitted = false;
        state.rendered = "";
        await validate();
      });
      replace(
        picker,
        h("div", { class: "field" }, h("div", {}, h("label", { for: "plugin" }, "Plugin"), h("span", { class: "key" }, "connector.class")), h("div", { class: "control" }, select, h("p", { class: "help", id: "plugin-help" }, "The connector to run. Upload more on the Plugins page."))),
      );
    }
  } catch (error) {
    replace(formError, errorBox(error));
    return;
  }

  const fullConfig = () => {
    const config = {};
    for (const [key, value] of Object.entries(state.plain)) {
      if (value !== "" && value !== undefined && value !== null) config[key] = String(value);
    }
    if (state.transforms.length) {
      config.transforms = state.transforms.map((t) => t.alias).join(",");
      for (const t of state.transforms) {
        if (t.type) config[`transforms.${t.alias}.type`] = t.type;
        if (t.predicate) config[`transforms.${t.alias}.predicate`] = t.predicate;
        if (t.negate) config[`transforms.${t.alias}.negate`] = "true";
        for (const [k, v] of parseLines(t.settings, `transform ${t.alias}`)) config[`transforms.${t.alias}.${k}`] = v;
      }
    }
    if (state.predicates.length) {
      config.predicates = state.predicates.map((p) => p.alias).join(",");
      for (const p of state.predicates) {
        if (p.type) config[`predicates.${p.alias}.type`] = p.type;
        for (const [k, v] of parseLines(p.settings, `predicate ${p.alias}`)) config[`predicates.${p.alias}.${k}`] = v;
      }
    }
    return config;
  };

  let validation = 0;
  const validate = async () => {
    if (!state.klass) {
      body.replaceChildren();
      chain.replaceChildren();
      raw.replaceChildren();
      return null;
    }
    const mine = ++validation;
    let config;
    try {
      config = fullConfig();
    } catch (error) {
      replace(formError, errorBox(error));
      return null;
    }
    if (!("name" in config)) config.name = "";
    let result;
    try {
      result = await api("PUT", `/connector-plugins/${encodeURIComponent(state.klass)}/config/validate`, config);
    } catch (error) {
      replace(formError, errorBox(error));
      return null;
    }
    if (mine !== validation) return null; // a newer validation is under way
    formError.replaceChildren();
    state.result = result;
    const shape = result.configs.map((c) => c.definition?.name ?? "").join("|");
    if (shape !== state.rendered) {
      renderFields(result);
      state.rendered = shape;
    }
    showResults(result);
    return result;
  };
  const validateSoon = debounce(validate, VALIDATE_DELAY_MS);

  const onValue = (key, value) => {
    state.plain[key] = value;
    state.touched.add(key);
    validateSoon();
  };

  const control = (def, id, describedBy) => {
    const value = state.plain[def.name] ?? "";
    const common = { id, name: def.name, "aria-describedby": describedBy, "aria-required": def.required ? "true" : undefined };
    let input;
    if (def.type === "BOOLEAN") {
      input = h(
        "select",
        common,
        h("option", { value: "" }, `Default${def.default_value !== null ? ` (${def.default_value})` : ""}`),
        h("option", { value: "true", selected: value === "true" }, "true"),
        h("option", { value: "false", selected: value === "false" }, "false"),
      );
      input.addEventListener("change", () => onValue(def.name, input.value));
      return input;
    }
    const type = def.type === "PASSWORD" ? "password" : "text";
    input = h("input", {
      ...common,
      type,
      value,
      list: `${id}-options`,
      autocomplete: def.type === "PASSWORD" ? "new-password" : "off",
      spellcheck: false,
      placeholder: def.default_value !== null && def.default_value !== "" ? `default: ${def.default_value}` : undefined,
      inputmode: ["INT", "LONG", "SHORT", "DOUBLE"].includes(def.type) ? "decimal" : undefined,
      readonly: (editing && def.name === "name") || def.name === "connector.class",
    });
    input.addEventListener("input", () => onValue(def.name, input.value));
    return [input, h("datalist", { id: `${id}-options` })];
  };

  const renderField = (def) => {
    const id = fieldId(def.name);
    const help = `${id}-help`;
    const error = `${id}-error`;
    return h(
      "div",
      { class: "field", dataset: { key: def.name } },
      h(
        "div",
        {},
        h("label", { for: id }, def.display_name || def.name, def.required ? h("span", { "aria-hidden": "true" }, " *") : null),
        h("span", { class: "importance", title: "importance" }, def.importance),
        h("span", { class: "key" }, def.name),
      ),
      h(
        "div",
        { class: "control" },
        control(def, id, `${help} ${error}`),
        h("p", { class: "field-error", id: error, hidden: true }),
        h(
          "p",
          { class: "help", id: help },
          def.documentation || "",
          def.type ? ` Type ${def.type}${def.type === "LIST" ? " (comma-separated)" : ""}.` : "",
          def.default_value !== null && def.default_value !== "" ? ` Default ${def.default_value}.` : def.required ? " Required." : "",
          def.dependents?.length ? ` Affects ${def.dependents.join(", ")}.` : "",
        ),
      ),
    );
  };

  const renderFields = (result) => {
    const focused = document.activeElement?.id;
    const groups = new Map();
    groups.set("", []);
    groups.set("Common", []);
    for (const group of result.groups ?? []) if (!groups.has(group)) groups.set(group, []);
    for (const c of result.configs) {
      const def = c.definition;
      if (!def || CHAIN_KEYS.has(def.name)) continue;
      const group = def.group ?? "";
      if (!groups.has(group)) groups.set(group, []);
      groups.get(group).push(def);
    }
    replace(
      body,
      [...groups.entries()]
        .filter(([, defs]) => defs.length)
        .map(([group, defs]) => {
          defs.sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
          const open = group === "" || group === "Common" || defs.some((d) => d.required);
          return h(
            "details",
            { class: "group", open, dataset: { group: group || "plugin" } },
            h("summary", {}, group === "" ? `${state.klass} settings` : group),
            defs.map(renderField),
          );
        }),
    );
    renderChain();
    renderRaw();
    if (focused) document.getElementById(focused)?.focus();
  };

  const showResults = (result) => {
    const problems = [];
    for (const c of result.configs) {
      const key = c.value?.name ?? c.definition?.name;
      const errors = c.value?.errors ?? [];
      if (!c.definition) {
        if (errors.length) problems.push(`${key}: ${errors.join(" ")}`);
        continue;
      }
      const show = state.submitted || state.touched.has(key);
      if (CHAIN_KEYS.has(key)) {
        const box = chain.querySelector(`[data-errors="${key}"]`);
        if (box) {
          box.hidden = !(show || state.touched.has("chain")) || errors.length === 0;
          box.textContent = errors.join(" ");
        }
        continue;
      }
      const row = body.querySelector(`.field[data-key="${CSS.escape(key)}"]`);
      if (!row) continue;
      row.hidden = c.value?.visible === false;
      const id = fieldId(key);
      const input = document.getElementById(id);
      const error = document.getElementById(`${id}-error`);
      const visibleErrors = show ? errors : [];
      error.hidden = visibleErrors.length === 0;
      error.textContent = visibleErrors.join(" ");
      if (visibleErrors.length) input?.setAttribute("aria-invalid", "true");
      else input?.removeAttribute("aria-invalid");
      const options = document.getElementById(`${id}-options`);
      if (options) replace(options, (c.value?.recommended_values ?? []).map((v) => h("option", { value: v })));
    }
    if (problems.length && state.submitted) {
      replace(formError, h("div", { class: "error-box", role: "alert" }, h("strong", {}, "Settings the plugin does not define: "), h("ul", {}, problems.map((p) => h("li", {}, p)))));
    }
  };

  const renderChain = () => {
    const changed = () => {
      state.touched.add("chain");
      validateSoon();
      renderRaw();
    };
    const typeSelect = (id, types, value, label, onChange) => {
      const select = h("select", { id, "aria-label": label }, h("option", { value: "" }, "Choose a type…"), types.map((t) => h("option", { value: t, selected: t === value }, t.replace(/^org\.apache\.kafka\.connect\.transforms\.(predicates\.)?/, ""))));
      select.addEventListener("change", () => onChange(select.value));
      return select;
    };
    const aliasInput = (id, entry, kind) => {
      const input = h("input", { id, type: "text", value: entry.alias, spellcheck: false });
      input.addEventListener("change", () => {
        const alias = input.value.trim().replace(/[^a-zA-Z0-9_-]/g, "");
        if (!alias) return;
        if (kind === "predicate") for (const t of state.transforms) if (t.predicate === entry.alias) t.predicate = alias;
        entry.alias = alias;
        renderChain();
        changed();
      });
      return input;
    };
    const settingsInput = (id, entry) => {
      const area = h("textarea", { id, spellcheck: false, placeholder: "field=value, one per line" }, entry.settings);
      area.addEventListener("input", () => {
        entry.settings = area.value;
        changed();
      });
      return area;
    };
    replace(
      chain,
      h("h2", { id: "chain-h" }, "Transforms and predicates"),
      h("p", { class: "muted" }, "Single message transforms run in order on every record; a predicate limits a transform to matching records."),
      h("p", { class: "field-error", "data-errors": "transforms", hidden: true, role: "alert" }),
      state.transforms.map((t, i) =>
        h(
          "fieldset",
          { class: "transform", dataset: { transform: t.alias } },
          h("legend", {}, `Transform ${i + 1}: ${t.alias}`),
          h("div", {}, h("label", { for: `t-${i}-alias` }, "Alias"), aliasInput(`t-${i}-alias`, t, "transform")),
          h("div", {}, h("label", { for: `t-${i}-type` }, "Type"), typeSelect(`t-${i}-type`, transformTypes, t.type, `Type of transform ${t.alias}`, (v) => { t.type = v; changed(); })),
          h(
            "div",
            {},
            h("label", { for: `t-${i}-predicate` }, "Predicate"),
            (() => {
              const select = h("select", { id: `t-${i}-predicate` }, h("option", { value: "" }, "Every record"), state.predicates.map((p) => h("option", { value: p.alias, selected: p.alias === t.predicate }, p.alias)));
              select.addEventListener("change", () => { t.predicate = select.value; changed(); });
              return select;
            })(),
          ),
          h(
            "div",
            {},
            (() => {
              const box = h("input", { id: `t-${i}-negate`, type: "checkbox", checked: t.negate });
              box.addEventListener("change", () => { t.negate = box.checked; changed(); });
              return box;
            })(),
            h("label", { for: `t-${i}-negate` }, " Negate the predicate"),
          ),
          h("div", { class: "wide" }, h("label", { for: `t-${i}-settings` }, "Settings"), settingsInput(`t-${i}-settings`, t)),
          h("div", { class: "wide" }, h("button", { type: "button", class: "secondary", onclick: () => { state.transforms.splice(i, 1); renderChain(); changed(); } }, `Remove transform ${t.alias}`)),
        ),
      ),
      h("p", { class: "field-error", "data-errors": "predicates", hidden: true, role: "alert" }),
      state.predicates.map((p, i) =>
        h(
          "fieldset",
          { class: "transform", dataset: { predicate: p.alias } },
          h("legend", {}, `Predicate ${i + 1}: ${p.alias}`),
          h("div", {}, h("label", { for: `p-${i}-alias` }, "Alias"), aliasInput(`p-${i}-alias`, p, "predicate")),
          h("div", {}, h("label", { for: `p-${i}-type` }, "Type"), typeSelect(`p-${i}-type`, predicateTypes, p.type, `Type of predicate ${p.alias}`, (v) => { p.type = v; changed(); })),
          h("div", { class: "wide" }, h("label", { for: `p-${i}-settings` }, "Settings"), settingsInput(`p-${i}-settings`, p)),
          h("div", { class: "wide" }, h("button", { type: "button", class: "secondary", onclick: () => { state.predicates.splice(i, 1); for (const t of state.transforms) if (t.predicate === p.alias) t.predicate = ""; renderChain(); changed(); } }, `Remove predicate ${p.alias}`)),
        ),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => { state.transforms.push({ alias: uniqueAlias("t", state.transforms), type: "", predicate: "", negate: false, settings: "" }); renderChain(); document.getElementById(`t-${state.transforms.length - 1}-type`)?.focus(); } }, "Add transform"),
        h("button", { type: "button", class: "secondary", onclick: () => { state.predicates.push({ alias: uniqueAlias("p", state.predicates), type: "", settings: "" }); renderChain(); document.getElementById(`p-${state.predicates.length - 1}-type`)?.focus(); } }, "Add predicate"),
      ),
    );
    if (state.result) showResults(state.result);
  };

  const renderRaw = () => {
    const area = h("textarea", { id: "raw-json", spellcheck: false, "aria-describedby": "raw-help" });
    try {
      area.value = JSON.stringify(fullConfig(), null, 2);
    } catch (error) {
      area.value = `// ${error.message}`;
    }
    const details = raw.querySelector("details");
    const open = details?.open ?? false;
    replace(
      raw,
      h(
        "details",
        { class: "group", open },
        h("summary", {}, "Raw JSON"),
        h("p", { id: "raw-help", class: "muted" }, "The config as the REST API takes it. Edit and apply to load it into the form."),
        h("label", { for: "raw-json" }, "Config JSON"),
        area,
        h(
          "div",
          { class: "actions" },
          h("button", {
            type: "button",
            class: "secondary",
            onclick: async () => {
              let parsed;
              try {
                parsed = JSON.parse(area.value);
                if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("the config must be a JSON object");
              } catch (error) {
                notify(`Not applied: ${error.message}`, "error");
                return;
              }
              const config = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v === null ? "" : String(v)]));
              if (editing) config.name = name;
              const split = splitChain(config);
              state.plain = split.plain;
              state.transforms = split.transforms;
              state.predicates = split.predicates;
              if (config["connector.class"] && config["connector.class"] !== state.klass && !editing) {
                state.klass = config["connector.class"];
                const select = document.getElementById("plugin");
                if (select) select.value = state.klass;
              }
              state.rendered = "";
              await validate();
              notify("JSON applied to the form.");
            },
          }, "Apply JSON"),
        ),
      ),
    );
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    state.submitted = true;
    submitButton.disabled = true;
    try {
      const result = await validate();
      if (!result) return;
      if (result.error_count > 0) {
        const first = form.querySelector('[aria-invalid="true"]');
        replace(formError, h("div", { class: "error-box", role: "alert" }, `${result.error_count} setting${result.error_count === 1 ? " needs" : "s need"} attention; each error is next to its field.`));
        first?.focus();
        return;
      }
      const config = fullConfig();
      const target = config.name;
      if (editing) {
        await api("PUT", `/connectors/${encodeURIComponent(name)}/config`, config);
        notify(`${name} saved.`);
      } else {
        await api("POST", "/connectors", { name: target, config });
        notify(`${target} created.`);
      }
      location.hash = `#/connectors/${encodeURIComponent(editing ? name : target)}`;
    } catch (error) {
      replace(formError, errorBox(error));
    } finally {
      submitButton.disabled = false;
    }
  });

  if (editing) {
    try {
      const config = await api("GET", `/connectors/${encodeURIComponent(name)}/config`);
      const split = splitChain(config);
      state.plain = split.plain;
      state.transforms = split.transforms;
      state.predicates = split.predicates;
      state.klass = config["connector.class"];
      replace(picker, h("p", {}, "Plugin ", h("code", {}, state.klass)));
    } catch (error) {
      replace(formError, errorBox(error));
      return;
    }
    await validate();
  }
  void identity;
}

function uniqueAlias(prefix, entries) {
  for (let n = entries.length + 1; ; n++) {
    const alias = `${prefix}${n}`;
    if (!entries.some((e) => e.alias === alias)) return alias;
  }
}
