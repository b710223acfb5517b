// Search results with genre and decade facets and page numbers.

import { api, describe, query } from "../api.js";
import { h, replace } from "../dom.js";
import { highlighted } from "../highlight.js";
import { generatedPoster } from "../poster.js";
import { go } from "../router.js";
import { currentProfile, maturity } from "../state.js";

const PAGE_SIZE = 24;

function resultCard(item) {
  const label = item.year ? `${item.title} (${item.year})` : item.title;
  return h("li", { class: "card" },
    h("a", { class: "card-link", href: `#/title/${item.id}`, "aria-label": label, dataset: { titleId: item.id } },
      h("div", { class: "poster" }, generatedPoster({ id: item.id, name: item.title, year: item.year })),
      h("span", { class: "card-name" }, highlighted(item.title, item.spans)),
      item.year ? h("span", { class: "card-year" }, String(item.year)) : null));
}

export async function searchView({ main, query: params, signal }) {
  const q = params.get("q") || "";
  const genre = params.get("genre") || "";
  const decade = params.get("decade") || "";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const here = { q, genre, decade };
  const visit = (changes) => {
    const next = { ...here, ...changes };
    go("/search", Object.fromEntries(Object.entries(next).filter(([, v]) => v !== "" && v !== undefined)));
  };
  document.title = q ? `“${q}” · Matinee` : "Search · Matinee";
  if (!q) {
    replace(main, h("section", {}, h("h1", {}, "Search"), h("p", { class: "muted" }, "Type a title or a name in the search box above.")));
    return;
  }
  replace(main, h("p", { class: "loading" }, "Searching…"));
  let found;
  try {
    found = await api(`/api/search${query({ q, genre, decade, page, page_size: PAGE_SIZE, profile: currentProfile()?.id, max_maturity: maturity() })}`, { signal });
  } catch (err) {
    if (!signal.aborted) replace(main, h("section", {}, h("h1", {}, `Results for “${q}”`), h("p", { class: "form-error", role: "alert" }, describe(err))));
    return;
  }
  const facet = (label, values, key, current, format) =>
    values.length ? h("div", { class: "facet", role: "group", "aria-label": label },
      h("h2", { class: "small-heading" }, label),
      h("ul", { class: "chips", role: "list" },
        values.map((v) => {
          const value = String(v.value);
          const on = value === current;
          return h("li", {}, h("button", {
            class: `chip${on ? " chip-on" : ""}`, type: "button", "aria-pressed": on ? "true" : "false",
            onclick: () => visit({ [key]: on ? "" : value, page: "" }),
          }, `${format(v.value)} (${v.count})`));
        }))) : null;
  const genres = found.facets.genres.map((g) => ({ value: g.name, count: g.count }));
  const decades = found.facets.decades.map((d) => ({ value: d.decade, count: d.count }))
    .sort((a, b) => b.value - a.value);
  const pages = Math.max(1, Math.ceil(found.total / PAGE_SIZE));
  const pager = pages > 1 ? h("nav", { class: "pager", "aria-label": "Result pages" },
    h("button", { class: "btn", type: "button", disabled: page <= 1, onclick: () => visit({ page: page - 1 }) }, "‹ Previous"),
    h("span", { "aria-current": "page" }, ` Page ${page} of ${pages} `),
    h("button", { class: "btn", type: "button", disabled: page >= pages, onclick: () => visit({ page: page + 1 }) }, "Next ›"),
  ) : null;
  replace(main, h("section", { class: "results", "aria-labelledby": "results-heading" },
    h("h1", { id: "results-heading" }, `Results for “${q}”`),
    h("p", { class: "muted", role: "status" }, found.total === 1 ? "1 title" : `${found.total} titles`,
      genre ? ` in ${genre}` : "", decade ? ` from the ${decade}s` : ""),
    h("div", { class: "results-layout" },
      h("aside", { class: "facets", "aria-label": "Filters" },
        facet("Genre", genres, "genre", genre, (v) => v),
        facet("Decade", decades, "decade", decade, (v) => `${v}s`)),
      h("div", {},
        found.items.length ? h("ul", { class: "grid", role: "list" }, found.items.map(resultCard))
          : h("p", {}, "No titles match. Try fewer words or another spelling."),
        pager))));
}
