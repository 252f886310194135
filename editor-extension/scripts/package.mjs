// Build the .vsix: bundle the extension, put the server's wheel inside, package with vsce.
// Usage: node scripts/package.mjs [--out PATH]   (PYTHON=... picks the interpreter for `pip wheel`)
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const repo = path.dirname(here);
const outIndex = process.argv.indexOf("--out");
const out =
  outIndex === -1 ? path.join(here, "bai-bridge.vsix") : path.resolve(process.argv[outIndex + 1]);
const python = process.env.PYTHON ?? path.join(repo, ".venv", "bin", "python");

function run(command, args, cwd = here) {
  execFileSync(command, args, { cwd, stdio: ["ignore", "inherit", "inherit"] });
}

run(process.execPath, [path.join(here, "esbuild.mjs")]);

const wheels = path.join(here, "wheels");
rmSync(wheels, { recursive: true, force: true });
mkdirSync(wheels, { recursive: true });
if (!existsSync(python)) throw new Error(`no Python at ${python} (set PYTHON)`);
run(python, [
  "-m",
  "pip",
  "wheel",
  "--quiet",
  "--no-deps",
  "--disable-pip-version-check",
  repo,
  "-w",
  wheels,
]);
const built = readdirSync(wheels).filter((file) => file.endsWith(".whl"));
if (built.length !== 1)
  throw new Error(`expected one server wheel, found ${built.join(", ") || "none"}`);

const vsce = path.join(here, "node_modules", "@vscode", "vsce", "vsce");
run(process.execPath, [vsce, "package", "--no-dependencies", "--skip-license", "--out", out]);
console.log(`packaged ${out} (server wheel ${built[0]})`);
