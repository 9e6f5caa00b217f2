// envhooks live updates: any element with data-live="<url>" listens to that server-sent event stream.
// Each "patch" event carries {"id", "html", "into"?, "where"?}: the element with that id is replaced by
// the new markup, or, when there is none yet, the markup is put first (or last, where: "append") in
// the element named by "into" (the data-live element by default). A "done" event closes the stream.
// Also: a link with data-more="<tbody id>" (older rows) appends the next page's rows in place instead
// of loading the whole page; a select with data-type-switch shows only the form fields whose
// data-types name the chosen type.
// Without JavaScript the pages are complete; they just don't move.

(() => {
  const apply = (container, patch) => {
    const template = document.createElement("template");
    template.innerHTML = patch.html;
    const old = patch.id ? document.getElementById(patch.id) : null;
    if (old) {
      old.replaceWith(template.content);
      return;
    }
    if (!patch.html) return;
    const into = (patch.into && document.getElementById(patch.into)) || container;
    if (patch.where === "append") into.append(template.content);
    else into.prepend(template.content);
  };
  const listen = (container) => {
    const url = container.getAttribute("data-live");
    if (!url || typeof EventSource === "undefined") return;
    const source = new EventSource(url);
    source.addEventListener("patch", (event) => {
      try {
        apply(container, JSON.parse(event.data));
      } catch (error) {
        console.warn("envhooks: a live update could not be applied", error);
      }
    });
    source.addEventListener("done", () => source.close());
    window.addEventListener("pagehide", () => source.close());
  };
  // "Older …": fetch the next page, append its rows (those not shown yet), and take its own link.
  const more = async (link) => {
    const target = document.getElementById(link.getAttribute("data-more"));
    const holder = link.closest("[id]");
    if (!target || !holder) return false;
    const response = await fetch(link.href, { headers: { accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) return false;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const rows = page.getElementById(target.id);
    if (!rows) return false;
    for (const row of [...rows.children]) {
      if (!row.id || !document.getElementById(row.id)) target.append(document.importNode(row, true));
    }
    const next = page.getElementById(holder.id);
    holder.replaceWith(next ? document.importNode(next, true) : document.createElement("div"));
    return true;
  };
  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a[data-more]") : null;
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    link.setAttribute("aria-busy", "true");
    more(link)
      .then((done) => {
        if (!done) window.location.assign(link.href);
      })
      .catch(() => window.location.assign(link.href));
  });
  const switchTypes = (select) => {
    const form = select.form;
    if (!form) return;
    for (const field of form.querySelectorAll("[data-types]")) {
      field.hidden = !field.getAttribute("data-types").split(" ").includes(select.value);
    }
  };
  document.addEventListener("change", (event) => {
    if (event.target instanceof HTMLSelectElement && event.target.hasAttribute("data-type-switch")) {
      switchTypes(event.target);
    }
  });
  const start = () => {
    for (const container of document.querySelectorAll("[data-live]")) listen(container);
    for (const select of document.querySelectorAll("select[data-type-switch]")) switchTypes(select);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
