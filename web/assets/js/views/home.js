// Home: horizontal rows from /api/home. A source that is down costs its rows,
// not the page: the gateway already serves its last good rows; on top of that we
// keep the last complete page per profile and fill in rows the answer lacks.

import { api, describe } from "../api.js";
import { h, replace } from "../dom.js";
import { card } from "../poster.js";
import { currentProfile } from "../state.js";

const cacheKey = (profile) => `matinee.home.${profile}`;

function remember(profileId, rows) {
  try {
    localStorage.setItem(cacheKey(profileId), JSON.stringify({ rows, at: Date.now() }));
  } catch {
    // Storage full or blocked: the fallback is a nicety, not a requirement.
  }
}

function recall(profileId) {
  try {
    return JSON.parse(localStorage.getItem(cacheKey(profileId)) || "null")?.rows || [];
  } catch {
    return [];
  }
}

/** Arrow keys move between cards of a row (left/right) and between rows (up/down). */
export function rowKeys(container) {
  container.addEventListener("keydown", (event) => {
    const link = event.target.closest?.(".card-link");
    if (!link) return;
    const cards = [...link.closest(".row-items").querySelectorAll(".card-link")];
    const index = cards.indexOf(link);
    let target = null;
    if (event.key === "ArrowRight") target = cards[index + 1];
    else if (event.key === "ArrowLeft") target = cards[index - 1];
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const rows = [...container.querySelectorAll(".row-items")];
      const row = rows[rows.indexOf(link.closest(".row-items")) + (event.key === "ArrowDown" ? 1 : -1)];
      const other = row ? [...row.querySelectorAll(".card-link")] : [];
      target = other[Math.min(index, other.length - 1)];
    }
    if (target) {
      event.preventDefault();
      target.focus();
      target.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
  });
}

function rowSection(row, stale) {
  const id = `row-${row.id.replace(/[^a-z0-9-]/gi, "-")}`;
  return h(
    "section",
    { class: `row${stale ? " row-stale" : ""}`, "aria-labelledby": id, dataset: { rowId: row.id } },
    h("h2", { id, class: "row-title" }, row.title, stale ? h("span", { class: "muted small" }, " · saved earlier") : null),
    h("ul", { class: "row-items", role: "list" }, row.items.map(card)),
  );
}

export async function homeView({ main, signal }) {
  const profile = currentProfile();
  replace(main, h("p", { class: "loading" }, "Loading your rows…"));
  let page = null;
  let failure = null;
  try {
    page = await api(`/api/home?profile=${encodeURIComponent(profile.id)}`, { signal });
  } catch (err) {
    if (signal.aborted) return;
    failure = err;
  }
  const fresh = page?.rows || [];
  const degraded = page ? page.degraded || [] : ["home"];
  if (fresh.length && !degraded.length) remember(profile.id, fresh);
  const have = new Set(fresh.map((r) => r.id));
  const saved = degraded.length ? recall(profile.id).filter((r) => !have.has(r.id)) : [];
  const rows = h("div", { class: "rows" },
    fresh.map((r) => rowSection(r, false)),
    saved.map((r) => rowSection(r, true)));
  rowKeys(rows);
  const notices = [];
  if (degraded.length) {
    notices.push(
      h("p", { class: "notice", role: "status", dataset: { degraded: degraded.join(",") } },
        fresh.length || saved.length
          ? "Some rows can't be updated right now; showing what we have."
          : failure ? describe(failure) : "Nothing to show right now; try again shortly.",
        " ",
        h("button", { class: "btn btn-small", onclick: () => homeView({ main, signal }) }, "Retry")),
    );
  }
  replace(
    main,
    h("h1", { class: "visually-hidden" }, `Home for ${profile.name}`),
    notices,
    rows,
  );
}
