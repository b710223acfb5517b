// The header's search box: a combobox whose suggestions follow every keystroke.
//
// Keystrokes are debounced; each request carries a sequence number and the one
// before it is aborted, so a slow answer to "to" can never replace the answer to
// "toy". Arrow keys move through the suggestions, Enter opens one (or the results
// page when none is selected), Escape closes the list.

import { api, query } from "./api.js";
import { debounce, h, replace } from "./dom.js";
import { highlighted } from "./highlight.js";
import { go, location_ } from "./router.js";
import { currentProfile, maturity } from "./state.js";

const DEBOUNCE_MS = 120;
const LIMIT = 8;

export function mountSearch(container) {
  const input = h("input", {
    id: "search-input",
    type: "search",
    placeholder: "Titles, people…",
    autocomplete: "off",
    spellcheck: false,
    role: "combobox",
    "aria-label": "Search titles",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": "search-suggestions",
  });
  const list = h("ul", { id: "search-suggestions", role: "listbox", "aria-label": "Suggestions", class: "suggestions", hidden: true });
  const form = h("form", { class: "search-form", action: "#" }, input, list);
  replace(container, form);

  let seq = 0;
  let inflight = null;
  let items = [];
  let active = -1;

  function close() {
    list.hidden = true;
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    active = index;
    list.querySelectorAll("[role=option]").forEach((el, i) => el.setAttribute("aria-selected", i === index ? "true" : "false"));
    if (index >= 0) input.setAttribute("aria-activedescendant", `suggestion-${index}`);
    else input.removeAttribute("aria-activedescendant");
  }

  function open(item) {
    close();
    input.blur();
    go(`/title/${item.id}`);
  }

  function show(answer) {
    items = answer.items;
    list.replaceChildren(...items.map((item, i) =>
      h("li", { id: `suggestion-${i}`, role: "option", "aria-selected": "false", class: "suggestion", dataset: { titleId: item.id },
        onmousedown: (e) => e.preventDefault(), onclick: () => open(item) },
      h("span", { class: "suggestion-title" }, highlighted(item.title, item.spans)),
      item.year ? h("span", { class: "muted small" }, ` ${item.year}`) : null,
      item.matched === "cast" ? h("span", { class: "muted small" }, " · cast") : null)));
    if (!items.length && input.value.trim()) {
      list.append(h("li", { class: "suggestion muted", role: "option", "aria-disabled": "true" }, "No matching titles"));
    }
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
    highlight(-1);
  }

  const fetchSuggestions = debounce(async (text) => {
    const mine = ++seq;
    inflight?.abort();
    const controller = new AbortController();
    inflight = controller;
    try {
      const answer = await api(`/api/search/suggest${query({ q: text, limit: LIMIT, profile: currentProfile()?.id, max_maturity: maturity() })}`, { signal: controller.signal });
      if (mine === seq && input.value.trim() === text) show(answer);
    } catch {
      // An aborted or failed suggestion is simply not shown: typing goes on.
    }
  }, DEBOUNCE_MS);

  input.addEventListener("input", () => {
    const text = input.value.trim();
    if (!text) {
      fetchSuggestions.cancel();
      seq++;
      inflight?.abort();
      close();
      return;
    }
    fetchSuggestions(text);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      if (list.hidden || !items.length) return;
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      // Positions run -1 (the input itself) .. n-1 and wrap around.
      let next = active + step;
      if (next >= items.length) next = -1;
      else if (next < -1) next = items.length - 1;
      highlight(next);
    } else if (event.key === "Escape") {
      if (!list.hidden) {
        event.preventDefault();
        close();
      }
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (active >= 0 && items[active]) {
      open(items[active]);
      return;
    }
    const text = input.value.trim();
    if (text) {
      close();
      go("/search", { q: text });
    }
  });
  input.addEventListener("blur", () => setTimeout(close, 100));
  input.addEventListener("focus", () => {
    if (items.length && input.value.trim()) show({ items });
  });
  // Keep the box in step with the results page ("/" focuses it, as on many sites).
  window.addEventListener("hashchange", () => {
    const { path, query: q } = location_();
    if (path === "/search" && document.activeElement !== input) input.value = q.get("q") || "";
  });
  document.addEventListener("keydown", (event) => {
    const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
    if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      input.focus();
    }
  });
}
