// The raw host imports. This file is the Node stand-in (the double in `./testing.js`);
// `build.sh` replaces it inside the component with the WIT imports of the connector's world.
import { doubles } from "./testing.js";

export const world = doubles.world;
export const logging = doubles.logging;
export const connectorContext = doubles.connectorContext;
export const offsetStorageReader = doubles.offsetStorageReader;
export const sourceTaskContext = doubles.sourceTaskContext;
export const sinkTaskContext = doubles.sinkTaskContext;
export const errantRecordReporter = doubles.errantRecordReporter;
// Under Node, `fs` reaches the directories a test granted (`testing.grantDirectory`).
export const preopens = doubles.preopens;
