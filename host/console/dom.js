// The console's building blocks: element creation, the REST client (credentials, errors),
// confirmation dialogs and small formatting helpers. No framework: the page is a handful of
// views re-rendered from the API's answers.

/** Creates an element: `h("a", {href: "#/"}, "text", child)`. `on*` attributes are listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (key in el && typeof value !== "string") {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/**
 * Runs `render` (which rebuilds part of `container`) and puts the keyboard focus back on the
 * element with the same id if it was inside: live views refresh without losing the user's
 * place.
 */
export function keepingFocus(container, render) {
  const active = document.activeElement;
  const id = active && container.contains(active) ? active.id : null;
  render();
  if (id) document.getElementById(id)?.focus();
}

/** Replaces every child of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** An error the API answered (`{"error_code", "message"}`) or a failed request. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const AUTH_KEY = "wasm-connect.console.auth";

/** The credentials sent with every API call: an `Authorization` value, or none. */
export const session = {
  get authorization() {
    return sessionStorage.getItem(AUTH_KEY);
  },
  set authorization(value) {
    if (value) sessionStorage.setItem(AUTH_KEY, value);
    else sessionStorage.removeItem(AUTH_KEY);
  },
  /** Called when the API answers 401: the app shows its sign-in form. */
  onUnauthorized: () => {},
};

/**
 * Calls the REST API. `body` is JSON unless it is a Blob/ArrayBuffer (sent as
 * `application/wasm`). Resolves to the parsed answer (or text, or null when empty); rejects
 * with an ApiError carrying the API's message.
 */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const auth = session.authorization;
  if (auth) headers.Authorization = auth;
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    headers["Content-Type"] = "application/wasm";
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    // credentials: "omit" keeps the browser from answering a 401 with its own password prompt;
    // the console sends the Authorization header itself.
    response = await fetch(path, { method, headers, body: payload, credentials: "omit" });
  } catch (error) {
    throw new ApiError(0, `The worker did not answer (${error.message}). Is it running?`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (response.status === 401) {
    session.onUnauthorized();
  }
  if (!response.ok) {
    const message =
      (data && typeof data === "object" && data.message) ||
      (typeof data === "string" && data) ||
      `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

/** The `Authorization` value for a name and password (HTTP Basic, UTF-8). */
export function basic(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `Basic ${btoa(binary)}`;
}

/**
 * Asks the user to confirm `question` in a modal dialog; resolves to true on confirm. The
 * dialog traps focus (a native <dialog>) and Escape cancels.
 */
export function confirmAction(question, confirmLabel = "Confirm", detail = "") {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title" },
      h("h2", { id: "confirm-title" }, question),
      detail && h("p", {}, detail),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", class: "secondary", value: "cancel", onclick: () => dialog.close("cancel") }, "Cancel"),
        h("button", { type: "button", class: "danger", value: "confirm", onclick: () => dialog.close("confirm") }, confirmLabel),
      ),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "confirm");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** A short status message for screen readers and sighted users (role=status). */
export function notify(message, kind = "info") {
  const region = document.getElementById("notice");
  replace(region, h("p", { class: `notice ${kind}` }, message));
  clearTimeout(notify.timer);
  notify.timer = setTimeout(() => region.replaceChildren(), 8000);
}

/** A state badge: RUNNING, FAILED, PAUSED, STOPPED, UNASSIGNED, RESTARTING. */
export function badge(state) {
  const value = state ?? "UNKNOWN";
  return h("span", { class: `badge state-${value.toLowerCase()}` }, value);
}

/** Renders an error in place of a view's content. */
export function errorBox(error) {
  return h("div", { class: "error-box", role: "alert" }, h("strong", {}, "Error: "), error.message ?? String(error));
}

/** `value` as a short human number (1.2k, 3.4M). */
export function shortNumber(value) {
  if (!Number.isFinite(value)) return "–";
  const abs = Math.abs(value);
  if (abs >= 1e6) return `${(value / 1e6).toFixed(1)}M`;
  if (abs >= 1e3) return `${(value / 1e3).toFixed(1)}k`;
  if (abs >= 10 || value === 0) return value.toFixed(0);
  return value.toFixed(2);
}

/** `value` bytes in binary units (512 MiB). */
export function bytes(value) {
  if (!Number.isFinite(value)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let n = value;
  let unit = 0;
  while (Math.abs(n) >= 1024 && unit < units.length - 1) {
    n /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? n.toFixed(0) : n.toFixed(1).replace(/\.0$/, "")} ${units[unit]}`;
}

/** Debounces `fn` by `ms`. */
export function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A small line chart (inline SVG) of `points`, labelled for assistive technology. */
export function sparkline(points, label) {
  const width = 240;
  const height = 48;
  const max = Math.max(1, ...points);
  const step = points.length > 1 ? width / (points.length - 1) : width;
  const coords = points.map((p, i) => `${(i * step).toFixed(1)},${(height - (p / max) * (height - 4) - 2).toFixed(1)}`);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
  line.setAttribute("points", coords.join(" ") || `0,${height - 2} ${width},${height - 2}`);
  svg.append(line);
  return svg;
}

/** Parses Prometheus' text format into `[{name, labels, value}]` (samples only). */
export function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    if (match[3]) {
      for (const pair of match[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
        labels[pair[1]] = pair[2].replace(/\\(.)/g, (_, c) => (c === "n" ? "\n" : c));
      }
    }
    samples.push({ name: match[1], labels, value: Number(match[4]) });
  }
  return samples;
}
