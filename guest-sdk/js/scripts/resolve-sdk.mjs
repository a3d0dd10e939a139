// Loaded with `node --import` by `test.sh`: lets a connector's code and tests import
// "wasm-connect-sdk" (and "wasm-connect-sdk/src/testing.js") under Node as the component build
// does, from this SDK, with no node_modules link in the connector's directory.
import { register } from "node:module";

register(
  "data:text/javascript," +
    encodeURIComponent(`
      const sdk = ${JSON.stringify(new URL("../", import.meta.url).href)};
      export async function resolve(specifier, context, next) {
        if (specifier === "wasm-connect-sdk") return next(sdk + "src/index.js", context);
        if (specifier.startsWith("wasm-connect-sdk/")) {
          return next(sdk + specifier.slice("wasm-connect-sdk/".length), context);
        }
        return next(specifier, context);
      }
    `),
);
