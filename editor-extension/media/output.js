// The output view's script: draws runs and their items as the extension sends them.
// Server HTML (pandas tables) is sanitised; the CSP blocks scripts and inline styles anyway.
(function () {
  "use strict";
  const vscode = acquireVsCodeApi();
  const runsEl = document.getElementById("runs");
  const emptyEl = document.getElementById("empty");
  const follower = window.baiBridgeFollow.createFollower();
  const DROP = new Set([
    "SCRIPT",
    "IFRAME",
    "OBJECT",
    "EMBED",
    "LINK",
    "META",
    "STYLE",
    "BASE",
    "FORM",
  ]);

  function sanitise(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const walker = document.createTreeWalker(template.content, NodeFilter.SHOW_ELEMENT);
    const doomed = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (DROP.has(node.tagName)) doomed.push(node);
      for (const attr of Array.from(node.attributes)) {
        const name = attr.name.toLowerCase();
        const value = attr.value.trim().toLowerCase();
        if (name.startsWith("on") || name === "style" || value.startsWith("javascript:")) {
          node.removeAttribute(attr.name);
        }
      }
    }
    doomed.forEach((node) => node.remove());
    return template.content;
  }

  function runElement(run) {
    let el = document.getElementById("run-" + run.runId);
    if (!el) {
      el = document.createElement("section");
      el.id = "run-" + run.runId;
      el.className = "run";
      el.dataset.runId = run.runId;
      const head = document.createElement("h2");
      head.className = "run-label";
      const items = document.createElement("div");
      items.className = "items";
      el.append(head, items);
      runsEl.append(el);
      follower.runStarted();
    }
    return el;
  }

  function itemElement(runId, index, item) {
    const el = document.createElement("div");
    el.className = "item item-" + item.kind;
    el.dataset.index = String(index);
    if (item.kind === "text") {
      const pre = document.createElement("pre");
      pre.className = "stream-" + item.stream;
      pre.innerHTML = item.html; // escaped by the extension (ansi.ts)
      el.append(pre);
      if (item.hidden > 0) {
        const more = document.createElement("button");
        more.type = "button";
        more.className = "show-more";
        more.textContent = "show more (" + item.hidden + " more lines)";
        more.addEventListener("click", () => {
          follower.hold(); // the person reads on from here; do not jump past what unfolds
          vscode.postMessage({ type: "more", runId, index });
        });
        el.append(more);
      }
    } else if (item.kind === "html") {
      el.append(sanitise(item.html));
    } else if (item.kind === "image") {
      const img = document.createElement("img");
      img.src = item.src;
      img.alt = item.alt;
      el.append(img);
    } else {
      el.textContent = item.text;
    }
    return el;
  }

  function updateRun(run) {
    const el = runElement(run);
    const label = el.querySelector(".run-label");
    label.textContent = run.label + " · " + run.outcome.text;
    for (const tone of ["running", "failed", "interrupted"]) {
      el.classList.toggle(tone, run.outcome.tone === tone);
    }
    const items = el.querySelector(".items");
    for (const { index, item } of run.items) {
      const fresh = itemElement(run.runId, index, item);
      const old = items.children[index];
      if (old) old.replaceWith(fresh);
      else items.append(fresh);
    }
  }

  function maxScroll() {
    return document.documentElement.scrollHeight - window.innerHeight;
  }

  /** Scroll to the newest output if the person has not scrolled away from it. */
  function follow() {
    if (!follower.pinned) return;
    window.scrollTo(0, maxScroll());
    follower.movedTo(window.scrollY);
  }

  function update(message) {
    for (const run of message.runs) updateRun(run);
    const keep = new Set(message.keep);
    for (const el of Array.from(runsEl.querySelectorAll(".run"))) {
      if (!keep.has(el.dataset.runId)) el.remove();
    }
    emptyEl.hidden = runsEl.querySelector(".run") !== null;
    follow();
  }

  window.addEventListener("scroll", () => follower.scrolled(window.scrollY, maxScroll()), {
    passive: true,
  });
  // Pictures load, "show more" expands, the panel is resized or shown again: keep following.
  new ResizeObserver(follow).observe(runsEl);
  window.addEventListener("resize", follow);

  document.getElementById("clear").addEventListener("click", () => {
    for (const el of Array.from(runsEl.querySelectorAll(".run"))) el.remove();
    emptyEl.hidden = false;
    follower.runStarted();
    vscode.postMessage({ type: "clear" });
  });

  window.addEventListener("message", (event) => {
    if (event.data && event.data.type === "update") update(event.data);
  });
})();
