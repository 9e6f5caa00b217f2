// `npm run build` (and `npm start`, before it starts): src/ as JavaScript in dist/, which is what
// `npm start` and the image run. Node runs the TypeScript sources too, but to strip their types it
// loads its TypeScript stripper (amaro: swc as WebAssembly) into every thread that imports a .ts
// file, and keeps it: an idle envhooks held 26 MB more on PostgreSQL (one thread) and 45 MB more
// on the embedded store (two; docs/performance.md, Memory). The transform here is Node's own,
// module.stripTypeScriptTypes(), done once: types become blanks, so every line and column stays
// where it is in src/ and stack traces point at the source's lines. Relative specifiers that name
// a .ts file (imports, and the `new URL("./x.ts", import.meta.url)` of workers and child scripts)
// are made to name the .js one; other files (migrations, web assets) are copied as they are.
//
// tsc could emit the JavaScript (rewriteRelativeImportExtensions), but it is a devDependency the
// image's production install leaves out, it neither copies the other files nor rewrites a worker's
// URL, and its output is not the code Node runs from src/ in tests: this one is.
//
//   node scripts/build.ts   (dist/ beside src/)
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { stripTypeScriptTypes } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

const root = resolve(import.meta.dirname, "..");
const SRC = join(root, "src");
const DIST = join(root, "dist");

/**
 * Node's flags for envhooks, as `npm start` and the image's CMD pass them (a test checks that they
 * agree), for a small service: V8 otherwise lets the young generation grow to 3 × 16 MB and more
 * and the old one to several times what is live before it collects, and keeps the pages. Measured
 * on PostgreSQL (docs/performance.md, Memory): idle 129 -> 110 MB, the most under a backlog
 * ~420 -> ~200 MB, for ~20 % more CPU then. V8 flags: only the command line sets them for the main
 * thread; they hold for the embedded store's thread too.
 */
export const RUNTIME_FLAGS = ["--max-semi-space-size=4", "--heap-growing-percent=50"];

/** A relative specifier, quoted, naming a .ts file: `"./a/b.ts"`, `'../c.ts'`. */
const TS_SPECIFIER = /(["'])(\.{1,2}\/[^"'\n]*?)\.ts\1/g;

/** A module's TypeScript source as the JavaScript Node would run: types blanked, .ts specifiers as .js. */
export function toJavaScript(source: string): string {
  return stripTypeScriptTypes(source, { mode: "strip" }).replace(TS_SPECIFIER, "$1$2.js$1");
}

function* files(folder: string): Generator<string> {
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else if (entry.isFile()) yield path;
  }
}

/** Whether a process of that id runs (a build at the same time keeps its folders). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Writes src/ as JavaScript into dist/, whole or not at all: into a new folder beside it, renamed
 * into place once complete, the old one moved aside first and removed after (a server running from
 * dist/ meanwhile keeps what it loaded; a worker it starts later finds the same code). Leftovers of
 * a build that was killed (its process gone) are removed first.
 */
export function build(): { modules: number; copied: number } {
  for (const entry of readdirSync(root)) {
    const pid = /^dist\.(?:building|old)-(\d+)$/.exec(entry)?.[1];
    if (pid && !alive(Number(pid))) rmSync(join(root, entry), { recursive: true, force: true });
  }
  const staging = `${DIST}.building-${process.pid}`;
  const old = `${DIST}.old-${process.pid}`;
  let modules = 0;
  let copied = 0;
  try {
    for (const file of files(SRC)) {
      const target = join(staging, relative(SRC, file));
      mkdirSync(dirname(target), { recursive: true });
      if (file.endsWith(".ts") && !file.endsWith(".d.ts")) {
        writeFileSync(target.replace(/\.ts$/, ".js"), toJavaScript(readFileSync(file, "utf8")));
        modules++;
      } else {
        cpSync(file, target);
        copied++;
      }
    }
    if (existsSync(DIST)) renameSync(DIST, old);
    renameSync(staging, DIST);
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
  return { modules, copied };
}

if (process.argv[1] && resolve(process.argv[1]) === import.meta.filename) {
  const { modules, copied } = build();
  console.log(`built ${modules} modules and copied ${copied} files into ${relative(process.cwd(), DIST)}`);
}
