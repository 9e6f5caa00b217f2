// Run as a child process by openPglite: creates an embedded database folder (initdb) and exits.
// initdb grows WebAssembly memory to about 650 MB, which a process never gives back; done here, it
// goes with this process and the server starts near its idle size.
import { PGlite } from "@electric-sql/pglite";

const [dataDir, settings] = process.argv.slice(2);
if (!dataDir || !settings) throw new Error("usage: create-pglite-data-dir.ts <dataDir> <settings JSON>");
const pglite = new PGlite({ dataDir, postgresqlconf: JSON.parse(settings) as string[] });
await pglite.waitReady;
await pglite.close();
