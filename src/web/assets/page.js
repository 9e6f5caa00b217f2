// envhooks page behaviours, for every page of the dashboard. Without JavaScript the pages are complete.
//
// - Times: every <time data-when datetime="ISO"> (the server prints it in UTC to the second) reads
//   "12 s ago" or "in 40 s" and stays fresh; its title holds the exact time in the viewer's zone and in UTC.
//   Times that live updates bring in are rewritten as they arrive.
// - Copy: a <button data-copy="text"> copies that text; <button data-copy-from="id"> copies the text
//   of the element with that id. The buttons are hidden in the markup and shown here.

(() => {
  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const HOUR = 60 * MINUTE;
  const DAY = 24 * HOUR;

  /** "12 s ago", "in 40 s", "3 min ago", "2 h ago", "5 d ago"; "just now" within a second. */
  const relative = (ms) => {
    const size = Math.abs(ms);
    if (size < SECOND) return "just now";
    let text;
    if (size < MINUTE) text = `${Math.floor(size / SECOND)} s`;
    else if (size < HOUR) text = `${Math.floor(size / MINUTE)} min`;
    else if (size < DAY) text = `${Math.floor(size / HOUR)} h`;
    else text = `${Math.floor(size / DAY)} d`;
    return ms < 0 ? `in ${text}` : `${text} ago`;
  };

  const pad = (n) => String(n).padStart(2, "0");
  const utc = (date) =>
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} UTC`;
  let local;
  try {
    local = new Intl.DateTimeFormat(undefined, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "short",
    });
  } catch {
    local = undefined;
  }

  const refreshTimes = () => {
    const now = Date.now();
    for (const element of document.querySelectorAll("time[data-when]")) {
      const date = new Date(element.getAttribute("datetime") ?? "");
      if (Number.isNaN(date.getTime())) continue;
      const ago = now - date.getTime();
      const text = ago >= 0 && element.getAttribute("data-when") === "due" ? "due now" : relative(ago);
      if (element.textContent !== text) element.textContent = text;
      if (!element.hasAttribute("data-titled")) {
        const exact = utc(date);
        element.title = local ? `${local.format(date)} · ${exact}` : exact;
        element.setAttribute("data-titled", "");
      }
    }
  };

  /** The Clipboard API needs a secure context (https or localhost); elsewhere, a selected textarea. */
  const writeClipboard = async (text) => {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const copied = document.execCommand("copy");
    area.remove();
    if (!copied) throw new Error("the browser refused to copy");
  };

  const copy = async (button) => {
    const from = button.getAttribute("data-copy-from");
    const text = from
      ? (document.getElementById(from)?.textContent ?? "")
      : (button.getAttribute("data-copy") ?? "");
    const label = button.getAttribute("data-label") ?? button.textContent;
    button.setAttribute("data-label", label);
    try {
      await writeClipboard(text);
      button.textContent = "Copied";
    } catch (error) {
      console.warn("envhooks: could not copy", error);
      button.textContent = "Copy failed: select and copy by hand";
    }
    setTimeout(() => {
      button.textContent = label;
    }, 2000);
  };

  const showCopyButtons = () => {
    for (const button of document.querySelectorAll(
      "button[data-copy][hidden], button[data-copy-from][hidden]",
    ))
      button.hidden = false;
  };

  const start = () => {
    refreshTimes();
    showCopyButtons();
    setInterval(() => {
      refreshTimes();
      showCopyButtons();
    }, SECOND);
    // Live updates (live.js) replace markup: rewrite their times at once rather than at the next tick.
    if (typeof MutationObserver !== "undefined") {
      new MutationObserver(() => {
        refreshTimes();
        showCopyButtons();
      }).observe(document.body, { childList: true, subtree: true });
    }
    document.addEventListener("click", (event) => {
      const button =
        event.target instanceof Element
          ? event.target.closest("button[data-copy], button[data-copy-from]")
          : null;
      if (button) copy(button);
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
