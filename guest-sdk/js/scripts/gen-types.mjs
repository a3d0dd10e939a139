// Generates TypeScript declarations for the WIT contract (the `source-connector` and
// `sink-connector` worlds) into `types/wit/`, or with `--check` fails if the checked-in files
// differ from what `wit/` generates now.
//
// `jco types <dir>` cannot read WIT paths in jco 1.35.0 (its WASI shim has no preopens), so this
// hands jco's type generator the WIT as source text: every `wit/*.wit` file joined into one
// document under a single `package` line.
import { readFileSync, readdirSync, mkdirSync, writeFileSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { $init, generateTypes } from "@bytecodealliance/jco-transpile/component";

const here = dirname(fileURLToPath(import.meta.url));
const witDir = join(here, "../../../wit");
const outDir = join(here, "../types/wit");
const check = process.argv.includes("--check");

const files = readdirSync(witDir).filter((f) => f.endsWith(".wit")).sort();
let pkg = null;
const bodies = [];
for (const file of files) {
  const text = readFileSync(join(witDir, file), "utf8");
  const match = text.match(/^package\s+([^;]+);\s*$/m);
  if (!match) throw new Error(`${file}: no \`package\` line`);
  if (pkg && pkg !== match[1]) throw new Error(`${file}: package ${match[1]}, expected ${pkg}`);
  pkg = match[1];
  bodies.push(`// ${file}\n` + text.replace(match[0], ""));
}
const source = `package ${pkg};\n` + bodies.join("\n");

await $init;
const generated = new Map();
for (const world of ["source-connector", "sink-connector"]) {
  const out = generateTypes(world, {
    wit: { tag: "source", val: source },
    world,
    instantiation: undefined,
    tlaCompat: false,
    guest: true,
    strict: false,
  });
  for (const [name, bytes] of out) {
    const text = Buffer.from(bytes).toString("utf8");
    const previous = generated.get(name);
    if (previous !== undefined && previous !== text) {
      throw new Error(`${name} differs between the two worlds`);
    }
    generated.set(name, text);
  }
}

let stale = [];
for (const [name, text] of [...generated].sort()) {
  const path = join(outDir, name);
  if (check) {
    if (!existsSync(path) || readFileSync(path, "utf8") !== text) stale.push(name);
  } else {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  }
}
if (check && stale.length) {
  console.error(
    `types/wit is out of date with wit/ (${stale.join(", ")}); run \`node guest-sdk/js/scripts/gen-types.mjs\``,
  );
  process.exit(1);
}
console.log(check ? "types/wit is up to date" : `wrote ${generated.size} files to types/wit`);
