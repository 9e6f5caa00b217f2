// envhooks live updates: any element with data-live="<url>" listens to that server-sent event stream.
// Each "patch" event carries {"id", "html", "into"?, "where"?}: the element with that id is replaced by
// the new markup, or, when there is none yet, the markup is put first (or last, where: "append") in
// the element named by "into" (the data-live element by default). A "done" event closes the stream.
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
  const start = () => {
    for (const container of document.querySelectorAll("[data-live]")) listen(container);
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
