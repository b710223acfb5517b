// Genres: the list of genres, and one genre's titles with infinite scroll
// (an IntersectionObserver near the end, and a "Load more" button for keyboards).

import { api, describe, query } from "../api.js";
import { allGenres } from "../catalog.js";
import { h, replace } from "../dom.js";
import { card } from "../poster.js";
import { maturity } from "../state.js";

const PAGE_SIZE = 30;

export async function genresView({ main, signal }) {
  replace(main, h("p", { class: "loading" }, "Loading genres…"));
  try {
    const genres = await allGenres(signal);
    replace(main, h("section", { "aria-labelledby": "genres-heading" },
      h("h1", { id: "genres-heading" }, "Genres"),
      h("ul", { class: "genre-grid", role: "list" }, genres.map((g) =>
        h("li", {}, h("a", { class: "genre-tile", href: `#/genre/${g.id}` },
          h("span", {}, g.name), h("span", { class: "muted small" }, `${g.title_count} titles`)))))));
  } catch (err) {
    if (!signal.aborted) replace(main, h("p", { class: "form-error", role: "alert" }, describe(err)));
  }
}

export async function genreView({ main, params, signal }) {
  const grid = h("ul", { class: "grid", role: "list" });
  const status = h("p", { class: "muted", role: "status" });
  const more = h("button", { class: "btn", type: "button" }, "Load more");
  const sentinel = h("div", { class: "sentinel", "aria-hidden": "true" });
  const heading = h("h1", { id: "genre-heading" }, "Genre");
  replace(main, h("section", { "aria-labelledby": "genre-heading" }, heading, grid, status, more, sentinel));
  allGenres(signal).then((genres) => {
    const genre = genres.find((g) => String(g.id) === params.id);
    if (genre) {
      heading.textContent = genre.name;
      document.title = `${genre.name} · Matinee`;
    }
  }).catch(() => {});

  let page = 0;
  let total = Infinity;
  let loading = false;
  let shown = 0;
  async function next() {
    if (loading || shown >= total || signal.aborted) return;
    loading = true;
    more.disabled = true;
    status.textContent = "Loading…";
    try {
      const answer = await api(
        `/api/genres/${encodeURIComponent(params.id)}/titles${query({ page: page + 1, page_size: PAGE_SIZE, max_maturity: maturity() })}`,
        { signal },
      );
      page += 1;
      total = answer.total;
      shown += answer.items.length;
      grid.append(...answer.items.map(card));
      if (!answer.items.length) total = shown;
      status.textContent = total ? `Showing ${shown} of ${total}` : "No titles here yet.";
    } catch (err) {
      if (signal.aborted) return;
      status.textContent = describe(err);
    } finally {
      loading = false;
      more.disabled = false;
      more.hidden = shown >= total;
    }
  }
  more.addEventListener("click", next);
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) next();
  }, { rootMargin: "600px" });
  observer.observe(sentinel);
  signal.addEventListener("abort", () => observer.disconnect());
  await next();
}
