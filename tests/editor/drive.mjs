// Drives code-server in headless Chromium through the bai-bridge scenario. Run by
// test_vscode.py with Node 24: node drive.mjs CONFIG_JSON. Prints one JSON line per step;
// exits non-zero on the first failure (after a screenshot of what the editor showed).
import { readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";

const config = JSON.parse(process.argv[2]);
const { chromium } = createRequire(import.meta.url)(config.playwright);
const WAIT = config.waitMs ?? 90_000;

const report = (step, detail = {}) =>
  console.log(JSON.stringify({ step, ...detail }));
const shot = (page, name) =>
  page.screenshot({ path: path.join(config.artifacts, `${name}.png`) });

/** Wait until `check` returns a truthy value (re-checked every 250 ms), or fail with `what`. */
async function until(page, what, check, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await page.waitForTimeout(250); // the polling interval of a condition wait
  }
  throw new Error(
    `timed out waiting for ${what}${last ? `: ${last.message}` : ""}`,
  );
}

/** Run the palette command whose title has `title`. Its row is clicked, not Enter pressed:
 * Enter runs the focused row, which may still be another (a recently used command) while the
 * palette filters under load. */
async function command(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: WAIT });
  await input.fill(`>${title}`);
  await page
    .locator(".quick-input-list .monaco-list-row", { hasText: title })
    .first()
    .locator(".label-name")
    .click({ timeout: WAIT });
}

/** Run the palette command titled exactly `title`, not another that starts the same way
 * ("Run File" and "Run File as Job"). Returns the palette's titles matching `title`. */
async function exactCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: WAIT });
  await input.fill(`>${title}`);
  const names = page.locator(".quick-input-list .monaco-list-row .label-name");
  const exact = names.filter({ hasText: new RegExp(`^${title}$`) }).first();
  await exact.waitFor({ state: "visible", timeout: WAIT });
  const titles = await names.allTextContents();
  await exact.click();
  return titles;
}

async function openFile(page, name) {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: WAIT });
  await input.fill(name);
  await page
    .locator(".quick-input-list .monaco-list-row", { hasText: name })
    .first()
    .waitFor({ timeout: WAIT });
  await page.keyboard.press("Enter");
  await page
    .locator(`.tab.active[aria-label*="${name}"]`)
    .waitFor({ timeout: WAIT });
}

/** Ctrl+G to `line`; done once the status bar shows the cursor there. Enter is pressed only
 * after the picker has taken the number in ("go to line N"): pressed earlier, it closes the
 * picker and leaves the cursor where it was. */
async function goToLine(page, line) {
  await page.keyboard.press("Control+G");
  const widget = page.locator(".quick-input-widget");
  const input = widget.locator("input");
  await input.waitFor({ state: "visible", timeout: WAIT });
  await input.fill(`:${line}`);
  await widget
    .getByText(new RegExp(`go to line ${line}\\b`, "i"))
    .first()
    .waitFor();
  await page.keyboard.press("Enter");
  await input.waitFor({ state: "hidden", timeout: WAIT });
  const position = page.locator('[id="status.editor.selection"]');
  await until(page, `the cursor to be on line ${line}`, async () =>
    (await position.innerText()).startsWith(`Ln ${line},`),
  );
}

function outputFrame(page) {
  return page
    .frameLocator("iframe.webview.ready")
    .frameLocator("iframe#active-frame");
}

/** Wait until the output view has scrolled `element` (the newest output) into its viewport by
 * itself: the test never scrolls the view, so this proves it follows new output. */
async function followedTo(page, element, what) {
  await until(page, `the output view to follow to ${what}`, () =>
    element.evaluate((el) => {
      const box = el.getBoundingClientRect();
      return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
    }),
  );
}

async function terminalText(page) {
  return page
    .locator(".terminal-wrapper.active .xterm-rows:visible")
    .innerText();
}

async function runCell(page) {
  await goToLine(page, config.cellLine);
  await page.keyboard.press("Control+Enter");
  const frame = outputFrame(page);
  const text = frame.locator("pre", { hasText: config.expectText });
  await text.first().waitFor({ timeout: WAIT });
  const png = frame.locator('img[src^="data:image/png"]').first();
  await png.waitFor({ timeout: WAIT });
  const size = await until(page, "the plot to load", () =>
    png.evaluate(
      (img) =>
        img.complete &&
        img.naturalWidth > 0 && [img.naturalWidth, img.naturalHeight],
    ),
  );
  const table = await frame.locator(".item-html table").count();
  const coloured = await frame.locator("pre span.ansi-fg-2").count();
  await frame.locator(".run:not(.running)").first().waitFor({ timeout: WAIT });
  await shot(page, "02-cell-output");
  report("run-cell", { png: size, tables: table, colouredSpans: coloured });
}

async function inputBox(page) {
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.type('answer = input("your name: ")');
  await page.keyboard.press("Enter");
  await page.keyboard.type('print("hello", answer)');
  await page.keyboard.press("Escape");
  await page.keyboard.press("ArrowUp");
  await page.keyboard.press("Shift+Enter");
  const box = page.locator(".quick-input-widget", { hasText: "your name" });
  await box.waitFor({ state: "visible", timeout: WAIT });
  await page.keyboard.type(config.inputAnswer);
  await shot(page, "03-input-box");
  await page.keyboard.press("Enter");
  await box.waitFor({ state: "hidden", timeout: WAIT });
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Home");
  await page.keyboard.press("Shift+Enter");
  const frame = outputFrame(page);
  await frame
    .locator("pre", { hasText: `hello ${config.inputAnswer}` })
    .first()
    .waitFor({ timeout: WAIT });
  report("input-box");
}

async function foldedOutput(page) {
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.type(
    'print("\\n".join(f"row {i}" for i in range(5000)))',
  );
  await page.keyboard.press("Escape");
  await page.keyboard.press("Shift+Enter");
  const frame = outputFrame(page);
  const more = frame.locator("button.show-more", {
    hasText: "4800 more lines",
  });
  await more.waitFor({ timeout: WAIT });
  const before = await frame.locator("pre", { hasText: "row 199" }).count();
  await more.click();
  await frame
    .locator("button.show-more", { hasText: "2800 more lines" })
    .waitFor({ timeout: WAIT });
  const after = await frame.locator("pre", { hasText: "row 2199" }).count();
  await shot(page, "04-folded-output");
  report("folded-output", { shownBefore: before, shownAfter: after });
}

async function completion(page) {
  await page.locator(".monaco-editor .view-lines").first().click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.type(config.completionPrefix, { delay: 30 });
  const row = page.locator(".suggest-widget.visible .monaco-list-row", {
    hasText: config.completionName,
  });
  await until(
    page,
    `"${config.completionName}" in the suggest widget`,
    async () => {
      if (await row.count()) return true;
      if (!(await page.locator(".suggest-widget.visible").count()))
        await page.keyboard.press("Control+Space");
      return false;
    },
  );
  await shot(page, "04-completion");
  const labels = await page
    .locator(".suggest-widget.visible .monaco-list-row")
    .allInnerTexts();
  report("completion", { labels: labels.slice(0, 8) });
  await page.keyboard.press("Escape");
}

async function sessionInfo(page) {
  await command(page, "Backend.AI: Session Info");
  const editor = page.locator(
    ".editor-group-container .monaco-editor .view-lines",
    {
      hasText: "sessionName",
    },
  );
  await editor.first().waitFor({ timeout: WAIT });
  const text = await editor.first().innerText();
  await shot(page, "05-session-info");
  report("session-info", { hasStatus: /"status"/.test(text) });
  await page.keyboard.press("Control+W");
  await page
    .locator(`.tab.active[aria-label*="${config.fileName}"]`)
    .waitFor({ timeout: WAIT });
}

async function sessionTerminal(page) {
  // From the status bar item: its click offers the session actions.
  await page.locator('[id$="baiBridge.status"]').click();
  const pick = page.locator(".quick-input-widget", {
    hasText: "Backend.AI session",
  });
  await pick.waitFor({ state: "visible", timeout: WAIT });
  await page.keyboard.type("Open Session Terminal");
  await page
    .locator(".quick-input-list .monaco-list-row", {
      hasText: "Open Session Terminal",
    })
    .first()
    .waitFor();
  await page.keyboard.press("Enter");
  await page
    .locator(".terminal-wrapper.active .xterm-rows:visible")
    .waitFor({ timeout: WAIT });
  await until(page, "the session shell's prompt", async () =>
    /\$\s*$|#\s*$/m.test(await terminalText(page)),
  );
  await page.keyboard.type("echo bridge-$((6*7))\r", { delay: 20 });
  await until(page, "echo output in the session terminal", async () =>
    /^bridge-42\s*$/m.test(await terminalText(page)),
  );
  await shot(page, "06-terminal-echo");
  report("terminal-echo");
}

async function savedFileReachesSession(page) {
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.type(`# ${config.saveMarker}`);
  await page.keyboard.press("Control+S");
  await page
    .locator(".tab.active.dirty")
    .waitFor({ state: "detached", timeout: WAIT });
  await page.locator(".terminal-wrapper.active .xterm-screen:visible").click();
  const found = new RegExp(`^found: 1\\s*$`, "m");
  await until(page, "the saved file in the session", async () => {
    if (found.test(await terminalText(page))) return true;
    await page.keyboard.type(
      `echo "found: $(grep -c ${config.saveMarker} ${config.fileName})"\r`,
    );
    return until(
      page,
      "a grep answer",
      async () => found.test(await terminalText(page)),
      3000,
    ).catch(() => false);
  });
  await shot(page, "07-saved-file-in-session");
  report("saved-file");
}

async function terminalReconnects(page) {
  await command(page, "View: Toggle Maximized Panel");
  await page.locator(".terminal-wrapper.active .xterm-screen:visible").click();
  await page.keyboard.type("exit\r");
  await until(page, "the note that the terminal ended", async () =>
    (await terminalText(page)).includes("Press any key to reconnect"),
  );
  await page.keyboard.press("Enter");
  // Typed only at the new shell's prompt: keys sent while it starts may be flushed by it.
  await until(
    page,
    "the reconnected shell's prompt",
    async () =>
      (await terminalText(page)).includes("reconnected to") &&
      /[$#]\s*$/m.test(await afterLastNote(page)),
  );
  await page.keyboard.type("echo again-$((2*3))\r", { delay: 20 });
  await until(page, "echo after reconnecting", async () =>
    /^again-6\s*$/m.test(await terminalText(page)),
  );
  const text = await terminalText(page);
  await shot(page, "08-terminal-reconnected");
  report("terminal-reconnect", {
    keptScreen: /^bridge-42\s*$/m.test(text) && /^found: 1\s*$/m.test(text),
  });
  await command(page, "View: Toggle Maximized Panel");
}

async function terminalProfile(page) {
  await command(page, "Create New Terminal (With Profile)");
  const row = page.locator(".quick-input-list .monaco-list-row", {
    hasText: "Backend.AI session",
  });
  await row.first().waitFor({ timeout: WAIT });
  await page.keyboard.type("Backend.AI session");
  await page.keyboard.press("Enter");
  await until(
    page,
    "a second terminal",
    async () => (await page.locator(".terminal-wrapper").count()) >= 2,
  );
  // The new terminal opens as a second tab behind the current one: bring it to the front.
  await page.locator(".terminal-tabs-entry").nth(1).click();
  await until(
    page,
    "the new terminal in front",
    async () => !(await terminalText(page)).includes("found: 1"),
  );
  await page.locator(".terminal-wrapper.active .xterm-screen:visible").click();
  // Typed at once: keys typed while the terminal connects are sent when it opens. The session
  // has one shell, so this terminal shows it from now on (the server keeps no scrollback).
  await page.keyboard.type("echo profile-$((1+1))\r", { delay: 20 });
  await until(page, "echo in the profile's terminal", async () =>
    /^profile-2\s*$/m.test(await terminalText(page)),
  );
  await shot(page, "09-terminal-profile");
  const text = await terminalText(page);
  report("terminal-profile", {
    fresh:
      text.includes("connecting to the session terminal") &&
      !text.includes("found: 1"),
  });
}

/** Our language server: the `bai_bridge lsp` process below this code-server (not other tests'). */
function languageServerPids() {
  const parents = new Map();
  const commands = new Map();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(
        Number(entry),
        Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]),
      );
      commands.set(
        Number(entry),
        readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0"),
      );
    } catch {
      // the process ended while we looked
    }
  }
  const below = (pid) => {
    for (let p = parents.get(pid); p; p = parents.get(p))
      if (p === config.codeServerPid) return true;
    return false;
  };
  return [...commands]
    .filter(
      ([pid, argv]) =>
        argv.includes("bai_bridge") && argv.includes("lsp") && below(pid),
    )
    .map(([pid]) => pid);
}

async function serverCrashRestarts(page) {
  const [pid] = languageServerPids();
  if (pid === undefined)
    throw new Error("no language server process found below code-server");
  process.kill(pid, "SIGKILL");
  const toast = page.locator(
    ".notifications-toasts .notification-list-item-message",
    {
      hasText: "stopped unexpectedly",
    },
  );
  await toast.first().waitFor({ timeout: WAIT });
  const message = await toast.first().innerText();
  const status = page.locator('[id$="baiBridge.status"]');
  await until(page, "a new language server", () =>
    languageServerPids().some((p) => p !== pid),
  );
  await until(page, "the session running again", async () =>
    /: running/.test(await status.innerText()),
  );
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await goToLine(page, 16);
  await page.keyboard.press("Shift+Enter");
  await outputFrame(page)
    .locator("pre", { hasText: "second cell" })
    .first()
    .waitFor({ timeout: WAIT });
  await shot(page, "10-server-restarted");
  report("server-restart", { message });
}

/** Type `code` on a new last line of the file and run it (Run Selection or Line). */
async function runNewLine(page, code) {
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("Enter");
  await page.keyboard.type(code);
  await page.keyboard.press("Escape");
  await page.keyboard.press("Shift+Enter");
}

/** Answer the modal confirmation of a session command. */
async function confirmDialog(page, action) {
  const dialog = page.locator(".monaco-dialog-box");
  await dialog.waitFor({ state: "visible", timeout: WAIT });
  await dialog.locator(".monaco-button", { hasText: action }).first().click();
  await dialog.waitFor({ state: "detached", timeout: WAIT });
}

const statusItem = (page) => page.locator('[id$="baiBridge.status"]');

async function statusShows(page, state) {
  const pattern = new RegExp(`: ${state}\\b`);
  await until(page, `the status bar to show "${state}"`, async () =>
    pattern.test(await statusItem(page).innerText()),
  );
}

/** Record every text the status item shows from now on (a state may last only a moment). */
async function recordStatus(page) {
  await page.evaluate(() => {
    const seen = [];
    const bar =
      document.getElementById("workbench.parts.statusbar") ?? document.body;
    const read = () => {
      const text =
        document.querySelector('[id$="baiBridge.status"]')?.textContent ?? "";
      if (seen.at(-1) !== text) seen.push(text);
    };
    new MutationObserver(read).observe(bar, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
    });
    window.baiBridgeStatusSeen = seen;
  });
}

const statusSeen = (page) => page.evaluate(() => window.baiBridgeStatusSeen);

async function interruptRun(page) {
  await runNewLine(page, "while True: pass");
  await statusShows(page, "busy");
  await command(page, "Backend.AI: Interrupt");
  const frame = outputFrame(page);
  const interrupted = frame
    .locator("pre", { hasText: "KeyboardInterrupt" })
    .first();
  await interrupted.waitFor();
  await statusShows(page, "running");
  const labelText = await runLabel(
    page,
    "KeyboardInterrupt",
    / · interrupted$/,
  );
  await followedTo(page, interrupted, "the interrupted run");
  await shot(page, "11-interrupted");
  await runNewLine(page, 'print("after", "interrupt")');
  await frame.locator("pre", { hasText: "after interrupt" }).first().waitFor();
  report("interrupt", { label: labelText });
}

async function restartSession(page) {
  const frame = outputFrame(page);
  // A variable, and a file written by the session itself (no sync could bring it back).
  await runNewLine(
    page,
    'kept_before_restart = 7; open("written_before_restart.txt", "w").write("kept"); ' +
      'print("defined", kept_before_restart)',
  );
  await frame.locator("pre", { hasText: "defined 7" }).first().waitFor();
  await statusShows(page, "running");
  await recordStatus(page);
  await command(page, "Backend.AI: Restart Session");
  await confirmDialog(page, "Restart");
  await until(page, "the session restarted (status bar)", async () => {
    const seen = await statusSeen(page);
    const restarting = seen.findIndex((text) => /: restarting/.test(text));
    return (
      restarting >= 0 &&
      seen.slice(restarting).some((text) => /: running/.test(text))
    );
  });
  await runNewLine(
    page,
    `print("after", "restart:", "kept_before_restart" in globals(), ` +
      `open("${config.fileName}").read().count("${config.saveMarker}"), ` +
      `open("written_before_restart.txt").read())`,
  );
  const after = frame.locator("pre", { hasText: "after restart:" }).first();
  await after.waitFor();
  await followedTo(page, after, "the run after the restart");
  const text = await after.innerText();
  await shot(page, "12-restarted");
  report("restart-session", {
    variableGone: /after restart: False\b/.test(text),
    fileKept: /after restart: \w+ [1-9]\d* kept\b/.test(text),
    text,
  });
}

async function destroySession(page) {
  await command(page, "Backend.AI: Destroy Session");
  await confirmDialog(page, "Destroy");
  await statusShows(page, "terminated");
  await shot(page, "13-destroyed");
  const terminated = (await statusItem(page).innerText()).trim();
  await runNewLine(page, 'print("recreated", 2 + 3)');
  const recreated = outputFrame(page)
    .locator("pre", { hasText: "recreated 5" })
    .first();
  await recreated.waitFor();
  await statusShows(page, "running");
  await followedTo(page, recreated, "the run on the re-created session");
  await shot(page, "14-recreated");
  report("destroy-session", {
    terminated,
    after: (await statusItem(page).innerText()).trim(),
  });
}

/** The label of the newest run whose output has `text`, once it has ended like `pattern`. */
async function runLabel(page, text, pattern) {
  const frame = outputFrame(page);
  const label = frame
    .locator(".run", { has: frame.locator("pre", { hasText: text }) })
    .last()
    .locator(".run-label");
  return until(
    page,
    `the run showing "${text}" labelled ${pattern}`,
    async () => {
      const shown = (await label.innerText()).trim();
      return pattern.test(shown) && shown;
    },
  );
}

async function failedRun(page) {
  await runNewLine(page, "1 / 0");
  const label = await runLabel(page, "ZeroDivisionError", / · failed$/);
  await shot(page, "15-failed");
  report("failed-run", { label });
}

/** The Variables view (Backend.AI panel), open before a run, lists what the run defined once
 * it ends, and a row expands to its details. */
async function variablesView(page) {
  await command(page, "Backend.AI: Focus on Variables View");
  const rows = page.locator(".part.panel .monaco-list-row");
  await runNewLine(page, "bridge_view_probe = [1, 2, 3]");
  const row = rows.filter({ hasText: "bridge_view_probe" }).first();
  const text = await until(page, "the variable in the Variables view", async () => {
    const shown = await row.innerText();
    return shown.includes("list len 3 = [1, 2, 3]") && shown;
  });
  await row.click();
  // hasText matches textContent: the label and its description have no space between them.
  const detail = rows
    .filter({ hasText: /^\s*value\s*\[1, 2, 3\]\s*$/ })
    .first();
  await detail.waitFor({ timeout: WAIT });
  await shot(page, "17-variables");
  report("variables-view", { row: text, detail: await detail.innerText() });
}

/** The output view's scroll offset and how far it is from the bottom. */
function outputScroll(page) {
  return outputFrame(page)
    .locator("body")
    .evaluate(() => ({
      top: window.scrollY,
      fromBottom:
        document.documentElement.scrollHeight -
        window.innerHeight -
        window.scrollY,
    }));
}

/** Scroll the output view with the mouse wheel, as a person would. */
async function wheelOverOutput(page, deltaY) {
  const box = await page.locator("iframe.webview.ready").boundingBox();
  await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
  await page.mouse.wheel(0, deltaY);
}

/** While a run streams, scrolling up leaves the person where they are; scrolling back to the
 * bottom follows the output again. */
async function scrolledUp(page) {
  const frame = outputFrame(page);
  const ticks = (n) =>
    frame.locator("pre", { hasText: new RegExp(`^tick ${n}$`, "m") });
  await runNewLine(
    page,
    "import time; [(print('tick', i, flush=True), time.sleep(0.25)) for i in range(60)]",
  );
  await ticks(5).first().waitFor();
  await wheelOverOutput(page, -400);
  const held = await until(page, "the output view to scroll up", async () => {
    const where = await outputScroll(page);
    return where.fromBottom > 100 && where;
  });
  await ticks(25).first().waitFor(); // more output arrived while scrolled up
  const stayed = await outputScroll(page);
  await shot(page, "16-scrolled-up");
  await wheelOverOutput(page, 100_000);
  await ticks(59).first().waitFor();
  await runLabel(page, "tick 59", / · finished$/);
  await until(page, "the output view to follow again", async () => {
    return (await outputScroll(page)).fromBottom <= 8;
  });
  report("scrolled-up", { heldTop: held.top, stayedTop: stayed.top });
}

/** The Python running our language server (argv[0] of its process). */
function languageServerPython() {
  const [pid] = languageServerPids();
  if (pid === undefined)
    throw new Error("no language server process found below code-server");
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
}

/** The interpreter lacks bai_bridge: accept the offer, then the session works. */
async function installScenario(page) {
  const offer = page.locator(".notifications-toasts .notification-list-item", {
    hasText: "not installed",
  });
  await offer.first().waitFor({ timeout: WAIT });
  const message = await offer
    .first()
    .locator(".notification-list-item-message")
    .innerText();
  await shot(page, "01-install-offer");
  report("install-offer", { message });
  await offer.first().locator(".monaco-button", { hasText: "Install" }).click();
  const status = page.locator('[id$="baiBridge.status"]');
  await until(page, "the session to be running after the install", async () =>
    /: (running|busy)/.test(await status.innerText()),
  );
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await goToLine(page, 1);
  await page.keyboard.press("Shift+Enter");
  await outputFrame(page)
    .locator("pre", { hasText: config.expectText })
    .first()
    .waitFor();
  await shot(page, "02-installed-run");
  report("installed-run", { serverPython: languageServerPython() });
}

/** Type `text` at the end of the file, slowly as a person does, until the suggestion list is
 * open on a row with `name`; the list is left open. */
async function typeWithSuggestions(page, text, name) {
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await page.keyboard.press("Control+End");
  await page.keyboard.press("End");
  await page.keyboard.press("Enter");
  await page.keyboard.type(text, { delay: 40 });
  const row = page.locator(".suggest-widget.visible .monaco-list-row", {
    hasText: name,
  });
  await until(page, `"${name}" in the open suggestion list`, async () => {
    if (await row.count()) return true;
    if (!(await page.locator(".suggest-widget.visible").count()))
      await page.keyboard.press("Control+Space");
    return false;
  });
}

/** What the editor shows on the line that has `text`. */
const editorLine = (page, text) =>
  page
    .locator(".editor-group-container .monaco-editor .view-line", {
      hasText: text,
    })
    .last();

/** The output view's last run labelled `label`, once it has finished. */
async function finishedRun(page, label) {
  const frame = outputFrame(page);
  const run = frame
    .locator(".run", {
      has: frame.locator(".run-label", { hasText: `${label} · finished` }),
    })
    .last();
  await run.waitFor({ timeout: WAIT });
  return run;
}

/** Run File runs the file in the session's namespace: its plot shows in the output view and
 * the name it defined answers a Run Selection after it. */
async function runFileInSession(page) {
  await openFile(page, config.runFileName);
  const titles = await exactCommand(page, "Backend.AI: Run File");
  const frame = outputFrame(page);
  const run = await finishedRun(page, config.runFileName);
  const png = run.locator('img[src^="data:image/png"]').first();
  const size = await until(page, "the file's plot to load", () =>
    png.evaluate(
      (img) =>
        img.complete &&
        img.naturalWidth > 0 && [img.naturalWidth, img.naturalHeight],
    ),
  );
  await runNewLine(page, config.runFileProbe);
  await frame
    .locator("pre", { hasText: config.runFileExpect })
    .first()
    .waitFor({ timeout: WAIT });
  await shot(page, "05-run-file");
  report("run-file", { titles, png: size });
}

/** A two-folder workspace: Run File on a file of the second folder runs it in that folder's
 * place in the session (its label is the session path, its working directory that folder). */
async function foldersScenario(page) {
  await openFile(page, config.fileName);
  // The palette offers Run File for a focused Python editor (its `when`): focus is put there.
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await exactCommand(page, "Backend.AI: Run File");
  const run = await finishedRun(page, config.runLabel);
  const printed = await until(page, "the file's output", async () => {
    const text = await run.innerText();
    return text.includes("CWD=") && text;
  });
  await shot(page, "folders-run-file");
  report("folders", { printed, ...(await workbenchState(page)) });
}

/** Open the scenario's file and run its first line with Shift+Enter, to its end. */
async function runFirstLine(page) {
  await openFile(page, config.fileName);
  await page
    .locator(".editor-group-container .monaco-editor .view-lines")
    .first()
    .click();
  await goToLine(page, 1);
  await page.keyboard.press("Shift+Enter");
  await outputFrame(page)
    .locator(".run-label", { hasText: `${config.fileName}, line 1 · finished` })
    .waitFor();
}

/** The session starts when the workspace opens; the run keys run the line as typed while the
 * suggestion list is open; the session terminal survives a restart of the session. */
async function firstHourScenario(page) {
  await until(
    page,
    "the session to be running before any file is opened",
    async () => /: (running|busy)/.test(await statusItem(page).innerText()),
  );
  const tabs = await page.locator(".tab").count();
  await shot(page, "01-started-without-a-file");
  report("started-without-file", {
    tabs,
    status: (await statusItem(page).innerText()).trim(),
  });

  await runFirstLine(page); // defines bridge_seen
  const frame = outputFrame(page);

  await typeWithSuggestions(page, "bridge_seen", "bridge_seen");
  await shot(page, "02-suggestions-open");
  await page.keyboard.press("Shift+Enter");
  await frame.locator("pre", { hasText: "'seen-42'" }).first().waitFor();
  await shot(page, "03-shift-enter-ran");
  report("shift-enter-with-suggestions", {
    listOpen: await page.locator(".suggest-widget.visible").count(),
    line: await editorLine(page, "bridge_seen").innerText(),
  });

  await typeWithSuggestions(page, "bridge_seen.upper", "upper");
  await page.keyboard.press("Control+Enter");
  await frame.locator("pre", { hasText: "str.upper" }).first().waitFor();
  await shot(page, "04-ctrl-enter-ran");
  report("ctrl-enter-with-suggestions", {
    listOpen: await page.locator(".suggest-widget.visible").count(),
    line: await editorLine(page, "bridge_seen.").innerText(),
  });

  await runFileInSession(page);

  await command(page, "Backend.AI: Open Session Terminal");
  await page.locator(".terminal-wrapper.active .xterm-rows:visible").waitFor();
  await until(page, "the session shell's prompt", async () =>
    /\$\s*$|#\s*$/m.test(await terminalText(page)),
  );
  await page.keyboard.type("echo before-$((1+1))\r", { delay: 20 });
  await until(page, "echo before the restart", async () =>
    /^before-2\s*$/m.test(await terminalText(page)),
  );
  await command(page, "Backend.AI: Restart Session");
  await confirmDialog(page, "Restart");
  await until(
    page,
    "the restarted session's prompt, no key pressed",
    async () =>
      (await terminalText(page)).includes("reconnected to") &&
      /[$#]\s*$/m.test(await afterLastNote(page)),
  );
  await page.locator(".terminal-wrapper.active .xterm-screen:visible").click();
  await page.keyboard.type("echo after-$((2+2))\r", { delay: 20 });
  await until(page, "echo after the restart", async () =>
    /^after-4\s*$/m.test(await terminalText(page)),
  );
  const text = await terminalText(page);
  await shot(page, "06-terminal-after-restart");
  report("terminal-after-restart", {
    keptScreen: /^before-2\s*$/m.test(text),
    askedForKey: text.includes("Press any key"),
  });
  await terminalAfterDestroy(page);
}

/** What the terminal shows after its last "[Backend.AI]" note. */
async function afterLastNote(page) {
  const text = await terminalText(page);
  const at = text.lastIndexOf("[Backend.AI]");
  return at < 0 ? text : text.slice(text.indexOf("\n", at) + 1);
}

/** Destroy Session ends the session's shell; the next run creates a new session, and the
 * terminal attaches to the new session's shell by itself: its prompt shows, no key pressed. */
async function terminalAfterDestroy(page) {
  await recordStatus(page); // "terminated" lasts only until the next action
  await command(page, "Backend.AI: Destroy Session");
  await confirmDialog(page, "Destroy");
  await until(page, "the session destroyed (status bar)", async () =>
    (await statusSeen(page)).some((text) => /: terminated/.test(text)),
  );
  await until(page, "the terminal's note that the session is gone", async () =>
    (await terminalText(page)).includes("attaches to the next session"),
  );
  await shot(page, "07-terminal-after-destroy");
  await runNewLine(page, 'print("recreated", 2 + 3)');
  await outputFrame(page)
    .locator("pre", { hasText: "recreated 5" })
    .first()
    .waitFor();
  await until(
    page,
    "the new session's prompt in the terminal, no key pressed",
    async () => /[$#]\s*$/m.test(await afterLastNote(page)),
  );
  const text = await terminalText(page);
  await shot(page, "08-terminal-after-re-create");
  await page.locator(".terminal-wrapper.active .xterm-screen:visible").click();
  await page.keyboard.type("echo new-$((3*3))\r", { delay: 20 });
  await until(page, "echo in the new session's terminal", async () =>
    /^new-9\s*$/m.test(await terminalText(page)),
  );
  report("terminal-after-destroy", {
    askedForKey: text.includes("Press any key to reconnect"),
    keptScreen: /^after-4\s*$/m.test(text),
  });
}

/** The session's name in the status bar once it is running. */
async function runningSession(page, what, unlike = undefined) {
  return until(page, what, async () => {
    const match = /(\S+): (running|busy)/.exec(
      await statusItem(page).innerText(),
    );
    return match && match[1] !== unlike && match[1];
  });
}

/** Open "Attach to Session…" and wait for its list: the rows' texts. */
async function openSessionPicker(page, expected) {
  await command(page, "Backend.AI: Attach to Session…");
  const rows = page.locator(".quick-input-list .monaco-list-row");
  // The command palette's rows show first: wait for the picker's own ("New session" first).
  return until(page, `${expected} rows in the session picker`, async () => {
    const texts = await rows.allInnerTexts();
    return (
      texts.length >= expected && texts[0]?.includes("New session") && texts
    );
  });
}

/** Attach to Session…: "New session" first, the sessions with image · status · age; a new
 * session has none of the first one's variables, and attaching back finds them. */
async function attachScenario(page) {
  const first = await runningSession(page, "the first session");
  await runFirstLine(page); // defines bridge_seen
  const frame = outputFrame(page);

  const before = await openSessionPicker(page, 2);
  await shot(page, "01-picker");
  await page
    .locator(".quick-input-list .monaco-list-row", { hasText: "New session" })
    .first()
    .click();
  const second = await runningSession(page, "a new session", first);
  await runNewLine(page, "print('new-session-has', 'bridge_seen' in dir())");
  await frame
    .locator("pre", { hasText: "new-session-has False" })
    .first()
    .waitFor();

  const after = await openSessionPicker(page, 3);
  await shot(page, "02-picker-again");
  const rows = page.locator(".quick-input-list .monaco-list-row");
  // Its label, then its description (no separator): not the new one, named first + "-…".
  const index = after.findIndex((text) => {
    const shown = text.trim();
    return shown.startsWith(first) && !shown.startsWith(`${first}-`);
  });
  if (index < 0)
    throw new Error(`no row for ${first} in ${JSON.stringify(after)}`);
  await rows.nth(index).click();
  const back = await runningSession(page, "the first session again", second);
  await runNewLine(page, "print('back-has', bridge_seen)");
  await frame.locator("pre", { hasText: "back-has seen-42" }).first().waitFor();
  await shot(page, "03-attached-back");
  report("attach", { first, second, back, before, after });
}

async function mainScenario(page) {
  const status = page.locator('[id$="baiBridge.status"]');
  await until(page, "the session to be running (status bar)", async () =>
    /: (running|busy)/.test(await status.innerText()),
  );
  report("session-running", { status: (await status.innerText()).trim() });
  await shot(page, "01-workbench");
  const steps = [
    runCell,
    inputBox,
    foldedOutput,
    completion,
    sessionInfo,
    sessionTerminal,
    savedFileReachesSession,
    terminalReconnects,
    terminalProfile,
  ];
  for (const step of steps) await step(page);
  const toasts = await page
    .locator(".notifications-toasts .notification-list-item-message")
    .allInnerTexts();
  report("notifications", { toasts });
  await serverCrashRestarts(page);
  for (const step of [
    interruptRun,
    restartSession,
    destroySession,
    failedRun,
    scrolledUp,
    variablesView,
  ])
    await step(page);
}

/** What the workbench showed when a step failed: toasts, session status, cursor position. */
async function workbenchState(page) {
  const text = (selector) =>
    page
      .locator(selector)
      .allInnerTexts()
      .catch((error) => [`(unreadable: ${error.message})`]);
  return {
    toasts: await text(".notifications-toasts .notification-list-item-message"),
    status: await text('[id$="baiBridge.status"]'),
    cursor: await text('[id="status.editor.selection"]'),
  };
}

async function main() {
  const browser = await chromium.launch({
    executablePath: config.chromium,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--disable-dev-shm-usage",
    ],
  });
  const page = await browser.newPage({
    viewport: { width: 1600, height: 1000 },
  });
  page.setDefaultTimeout(WAIT);
  try {
    const opened = config.workspaceFile
      ? `workspace=${encodeURIComponent(config.workspaceFile)}`
      : `folder=${encodeURIComponent(config.workspace)}`;
    await page.goto(`${config.url}/?${opened}`);
    await page.locator(".monaco-workbench").waitFor({ timeout: WAIT });
    if (config.scenario === "first-hour") {
      await firstHourScenario(page);
    } else if (config.scenario === "attach") {
      await attachScenario(page);
    } else if (config.scenario === "folders") {
      await foldersScenario(page);
    } else {
      await openFile(page, config.fileName);
      await (config.scenario === "install"
        ? installScenario(page)
        : mainScenario(page));
    }
  } catch (error) {
    await shot(page, "failure").catch(() => undefined);
    report("failed", {
      error: String(error?.stack ?? error),
      ...(await workbenchState(page)),
    });
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

await main();
