// A process that takes envhooks' data folder lock, says so, and lets it go: what a restarted
// server does first (openPglite takes this lock before anything else). Run by
// test/unit/lock-data-dir.test.ts.
import { lockDataDir } from "../../src/store/lock-data-dir.ts";

const dataDir = process.argv[2];
if (!dataDir) throw new Error("usage: node lock-data-dir-process.ts <data folder>");
const release = await lockDataDir(dataDir, { log: { info: console.log, warn: console.log } });
console.log(`locked ${dataDir} as pid ${process.pid}`);
release();
