// Files in the directories the worker grants the connector (`sandbox.fs.read`,
// `sandbox.fs.write`; deny by default), over `wasi:filesystem`. Paths are absolute host paths,
// as the grants are written; anything outside a grant fails with an error saying which
// setting would allow it. QuickJS has no `TextEncoder`, so UTF-8 is done here.

import * as imports from "./host-imports.js";
import { FatalError } from "./errors.js";

/** Text of ASCII characters only, which is its own UTF-8 (checked by QuickJS's C regex engine). */
const ASCII = /^[\x00-\x7f]*$/;

/** `text` as UTF-8 bytes. */
export function utf8Encode(text) {
  // QuickJS interprets every step of a loop over the characters (about 0.2 µs a character), so
  // the work is left to its built-ins written in C: `encodeURIComponent` makes UTF-8 (as %XX
  // escapes), `unescape` turns those into one character a byte, `btoa` and
  // `Uint8Array.fromBase64` into bytes. ASCII skips the first two.
  // Base64 to bytes in C where the engine has it (QuickJS-ng does; Node only from 22).
  if (typeof Uint8Array.fromBase64 === "function") {
    if (ASCII.test(text)) return Uint8Array.fromBase64(btoa(text));
    try {
      return Uint8Array.fromBase64(btoa(unescape(encodeURIComponent(text))));
    } catch {
      // A lone surrogate (URIError): the loop writes it as U+FFFD.
    }
  }
  return utf8EncodeLoop(text);
}

/** [`utf8Encode`] a character at a time, for engines without `Uint8Array.fromBase64`. */
export function utf8EncodeLoop(text) {
  const length = text.length;
  if (ASCII.test(text)) {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = text.charCodeAt(i);
    return out;
  }
  const out = new Uint8Array(length * 3);
  let at = 0;
  for (let i = 0; i < length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[at++] = c;
      continue;
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd; // a lone surrogate
    if (c < 0x800) {
      out[at++] = 0xc0 | (c >> 6);
      out[at++] = 0x80 | (c & 63);
    } else if (c < 0x10000) {
      out[at++] = 0xe0 | (c >> 12);
      out[at++] = 0x80 | ((c >> 6) & 63);
      out[at++] = 0x80 | (c & 63);
    } else {
      out[at++] = 0xf0 | (c >> 18);
      out[at++] = 0x80 | ((c >> 12) & 63);
      out[at++] = 0x80 | ((c >> 6) & 63);
      out[at++] = 0x80 | (c & 63);
    }
  }
  return out.slice(0, at);
}

/** UTF-8 bytes as text (malformed sequences become U+FFFD). */
export function utf8Decode(bytes) {
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i];
    let c = 0xfffd;
    let n = 1;
    if (b < 0x80) c = b;
    else if (b >= 0xc2 && b < 0xe0 && (bytes[i + 1] & 0xc0) === 0x80) {
      c = ((b & 31) << 6) | (bytes[i + 1] & 63);
      n = 2;
    } else if (b >= 0xe0 && b < 0xf0 && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80) {
      c = ((b & 15) << 12) | ((bytes[i + 1] & 63) << 6) | (bytes[i + 2] & 63);
      n = 3;
    } else if (b >= 0xf0 && b < 0xf5 && (bytes[i + 1] & 0xc0) === 0x80 && (bytes[i + 2] & 0xc0) === 0x80 && (bytes[i + 3] & 0xc0) === 0x80) {
      c = ((b & 7) << 18) | ((bytes[i + 1] & 63) << 12) | ((bytes[i + 2] & 63) << 6) | (bytes[i + 3] & 63);
      n = 4;
    }
    out += String.fromCodePoint(c);
    i += n;
  }
  return out;
}

function code(error) {
  if (typeof error === "string") return error;
  return error?.val ?? error?.tag ?? error?.message ?? String(error);
}

function fail(what, path, error) {
  return new FatalError(`${what} ${path}: ${code(error)}`);
}

let directories = null;

/** The granted directory holding `path`, and `path` relative to it. */
function resolve(path) {
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new FatalError(`file paths must be absolute, got ${JSON.stringify(path)}`);
  }
  // The host's grants are fixed for an instance's life (under Node, the double keeps one live list).
  directories ??= imports.preopens.getDirectories();
  let best = null;
  for (const [descriptor, root] of directories) {
    const base = root.endsWith("/") ? root.slice(0, -1) : root;
    if ((path === base || path.startsWith(base + "/")) && (!best || base.length > best.base.length)) {
      best = { descriptor, base };
    }
  }
  if (!best) {
    throw new FatalError(`no access to ${path}: grant its directory to the connector with sandbox.fs.write (or sandbox.fs.read; in a Node test, testing.grantDirectory)`);
  }
  const rest = path.slice(best.base.length).replace(/^\/+/, "");
  return { dir: best.descriptor, rel: rest === "" ? "." : rest };
}

const CHUNK = 4096; // the most `blocking-write-and-flush` takes at once

function writeAll(stream, bytes) {
  for (let at = 0; at < bytes.length; at += CHUNK) {
    stream.blockingWriteAndFlush(bytes.subarray(at, Math.min(at + CHUNK, bytes.length)));
  }
}

function bytesOf(data) {
  if (data instanceof Uint8Array) return data;
  if (typeof data === "string") return utf8Encode(data);
  throw new FatalError(`file data must be a string or a Uint8Array, got ${typeof data}`);
}

/** An open file. Close it when done (or let the instance end). */
export class File {
  constructor(path, descriptor) {
    this.path = path;
    this.descriptor = descriptor;
  }
  /** Appends a string (as UTF-8) or bytes. */
  append(data) {
    const bytes = bytesOf(data);
    let stream;
    try {
      stream = this.descriptor.appendViaStream();
      writeAll(stream, bytes);
    } catch (error) {
      throw fail("cannot append to", this.path, error);
    } finally {
      stream?.[Symbol.dispose]?.();
    }
  }
  /** The file's size in bytes. */
  size() {
    try {
      return Number(this.descriptor.stat().size);
    } catch (error) {
      throw fail("cannot stat", this.path, error);
    }
  }
  /** Cuts (or extends) the file to `size` bytes. */
  truncate(size) {
    try {
      this.descriptor.setSize(size);
    } catch (error) {
      throw fail("cannot truncate", this.path, error);
    }
  }
  /** Makes what was written durable (fdatasync). */
  sync() {
    try {
      this.descriptor.syncData();
    } catch (error) {
      throw fail("cannot sync", this.path, error);
    }
  }
  close() {
    this.descriptor?.[Symbol.dispose]?.();
    this.descriptor = null;
  }
}

/** Opens `path` for appending, creating it if missing. */
export function openAppend(path) {
  const { dir, rel } = resolve(path);
  try {
    return new File(path, dir.openAt({ symlinkFollow: false }, rel, { create: true }, { read: true, write: true }));
  } catch (error) {
    throw fail("cannot open", path, error);
  }
}

/** The whole file as bytes, or null if it does not exist. */
export function readBytes(path) {
  const { dir, rel } = resolve(path);
  let descriptor;
  try {
    descriptor = dir.openAt({ symlinkFollow: false }, rel, {}, { read: true });
  } catch (error) {
    if (code(error) === "no-entry") return null;
    throw fail("cannot open", path, error);
  }
  try {
    const parts = [];
    let offset = 0;
    for (;;) {
      const [chunk, eof] = descriptor.read(65536, offset);
      parts.push(chunk);
      offset += chunk.length;
      if (eof || chunk.length === 0) break;
    }
    const out = new Uint8Array(offset);
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  } catch (error) {
    throw fail("cannot read", path, error);
  } finally {
    descriptor[Symbol.dispose]?.();
  }
}

/** The whole file as UTF-8 text, or null if it does not exist. */
export function readText(path) {
  const bytes = readBytes(path);
  return bytes === null ? null : utf8Decode(bytes);
}

/**
 * Replaces the file's content with `data` (a string or bytes) and syncs it. Not atomic: a
 * crash part-way leaves the file empty or half-written. For state read back at a restart
 * (offsets, checkpoints) use `replaceFile`.
 */
export function writeFile(path, data) {
  const { dir, rel } = resolve(path);
  let descriptor;
  let stream;
  try {
    descriptor = dir.openAt({ symlinkFollow: false }, rel, { create: true, truncate: true }, { write: true });
    stream = descriptor.writeViaStream(0);
    writeAll(stream, bytesOf(data));
    stream[Symbol.dispose]?.();
    stream = null;
    descriptor.syncData();
  } catch (error) {
    throw fail("cannot write", path, error);
  } finally {
    stream?.[Symbol.dispose]?.();
    descriptor?.[Symbol.dispose]?.();
  }
}

/**
 * Replaces the file's content atomically: writes and syncs `<path>.tmp`, then renames it over
 * `path` and syncs the directory. After a crash at any point `path` holds either its old
 * content or `data`, never a mix or nothing (a leftover `<path>.tmp` is overwritten by the
 * next call).
 */
export function replaceFile(path, data) {
  const tmp = `${path}.tmp`;
  writeFile(tmp, data);
  const target = resolve(path);
  const source = resolve(tmp);
  try {
    source.dir.renameAt(source.rel, target.dir, target.rel);
  } catch (error) {
    throw fail("cannot rename over", path, error);
  }
  syncParent(target);
}

/** Makes a rename in `target`'s directory durable, where the host allows syncing it. */
function syncParent({ dir, rel }) {
  const slash = rel.lastIndexOf("/");
  let parent = dir;
  try {
    if (slash > 0) parent = dir.openAt({ symlinkFollow: false }, rel.slice(0, slash), { directory: true }, { read: true });
    parent.syncData();
  } catch {
    // Not every filesystem syncs directories; the rename itself is still atomic.
  } finally {
    if (parent !== dir) parent?.[Symbol.dispose]?.();
  }
}

/** Whether `path` exists. */
export function exists(path) {
  const { dir, rel } = resolve(path);
  try {
    dir.statAt({ symlinkFollow: false }, rel);
    return true;
  } catch (error) {
    if (code(error) === "no-entry") return false;
    throw fail("cannot stat", path, error);
  }
}

/** The names in directory `path`, sorted. */
export function list(path) {
  const { dir, rel } = resolve(path);
  let descriptor = null;
  try {
    descriptor = rel === "." ? dir : dir.openAt({ symlinkFollow: false }, rel, { directory: true }, { read: true });
    const entries = descriptor.readDirectory();
    const names = [];
    for (let entry = entries.readDirectoryEntry(); entry; entry = entries.readDirectoryEntry()) names.push(entry.name);
    entries[Symbol.dispose]?.();
    return names.sort();
  } catch (error) {
    throw fail("cannot list", path, error);
  } finally {
    if (descriptor && descriptor !== dir) descriptor[Symbol.dispose]?.();
  }
}

/** Creates directory `path` (its parent must exist); does nothing if it exists. */
export function mkdir(path) {
  if (exists(path)) return;
  const { dir, rel } = resolve(path);
  try {
    dir.createDirectoryAt(rel);
  } catch (error) {
    throw fail("cannot create directory", path, error);
  }
}

/** Removes file `path`; does nothing if it does not exist. */
export function remove(path) {
  const { dir, rel } = resolve(path);
  try {
    dir.unlinkFileAt(rel);
  } catch (error) {
    if (code(error) === "no-entry") return;
    throw fail("cannot remove", path, error);
  }
}
