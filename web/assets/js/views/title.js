// A title's page: synopsis, year, runtime, genres, cast, maturity rating, play or resume.
// Thumbs up/down are left out on purpose: no ratings API exists yet.

import { api, describe } from "../api.js";
import { allGenres } from "../catalog.js";
import { clock, h, replace, runtime } from "../dom.js";
import { poster } from "../poster.js";
import { savedPosition } from "../state.js";

export async function titleView({ main, params, signal }) {
  replace(main, h("p", { class: "loading" }, "Loading…"));
  let title;
  try {
    title = await api(`/api/titles/${encodeURIComponent(params.id)}`, { signal });
  } catch (err) {
    if (signal.aborted) return;
    replace(main, h("section", { class: "title-page" },
      h("h1", {}, err.status === 404 ? "We can't find that title" : "This title can't be shown right now"),
      h("p", { class: "muted" }, describe(err)),
      h("p", {}, h("a", { class: "btn", href: `#/watch/${params.id}` }, "Try to play it anyway"), " ",
        h("a", { class: "btn", href: "#/" }, "Back to home"))));
    return;
  }
  document.title = `${title.name} · Matinee`;
  const resumeAt = savedPosition(title.id);
  const facts = [
    title.year ? h("span", { class: "fact" }, String(title.year)) : null,
    title.maturity_rating ? h("span", { class: "rating", "aria-label": `Rated ${title.maturity_rating}` }, title.maturity_rating) : null,
    title.runtime_minutes ? h("span", { class: "fact" }, runtime(title.runtime_minutes)) : null,
    h("span", { class: "fact" }, title.kind === "series" ? "Series" : "Film"),
  ];
  const genreList = h("ul", { class: "chips", role: "list", "aria-label": "Genres" },
    title.genres.map((g) => h("li", {}, h("span", { class: "chip" }, g))));
  const actions = h("div", { class: "actions" },
    h("a", { class: "btn btn-primary btn-play", href: `#/watch/${title.id}`, id: "play" },
      resumeAt > 5 ? `▶ Resume from ${clock(resumeAt)}` : "▶ Play"),
    resumeAt > 5 ? h("a", { class: "btn", href: `#/watch/${title.id}?from=0` }, "Play from the beginning") : null);
  replace(
    main,
    h("article", { class: "title-page", "aria-labelledby": "title-name" },
      h("div", { class: "title-poster" }, poster(title)),
      h("div", { class: "title-info" },
        h("h1", { id: "title-name" }, title.name),
        title.original_title && title.original_title !== title.name
          ? h("p", { class: "muted" }, title.original_title) : null,
        h("p", { class: "facts" }, facts),
        actions,
        h("p", { class: "synopsis" }, title.synopsis || "No synopsis yet."),
        title.genres.length ? h("div", {}, h("h2", { class: "small-heading" }, "Genres"), genreList) : null,
        title.cast.length ? h("div", {}, h("h2", { class: "small-heading" }, "Cast"),
          h("p", { class: "cast" }, title.cast.slice(0, 12).join(", "))) : null)),
  );
  document.getElementById("play").focus();
  // Genre chips become links once the genre ids are known (a missing list costs nothing).
  allGenres(signal).then((genres) => {
    const ids = new Map(genres.map((g) => [g.name, g.id]));
    for (const chip of genreList.querySelectorAll(".chip")) {
      const id = ids.get(chip.textContent);
      if (id) chip.replaceWith(h("a", { class: "chip", href: `#/genre/${id}` }, chip.textContent));
    }
  }).catch(() => {});
}
