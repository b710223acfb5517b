// Catalog look-ups shared by views (the genre list is small and rarely changes).

import { api } from "./api.js";

let genres = null;

/** Return every genre [{id, name, title_count}], fetched once per page load. */
export async function allGenres(signal) {
  if (!genres) {
    genres = api("/api/genres", { signal }).catch((err) => {
      genres = null;
      throw err;
    });
  }
  return genres;
}
