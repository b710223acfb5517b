// Matinee's viewer app: boot, the header, and the routes.

import { onSessionChange, restore, signedIn, signOut } from "./api.js";
import { h, replace } from "./dom.js";
import { render, route } from "./router.js";
import { mountSearch } from "./searchbox.js";
import { currentProfile } from "./state.js";
import { signInView, signUpView } from "./views/auth.js";
import { genresView, genreView } from "./views/genres.js";
import { homeView } from "./views/home.js";
import { profilesView } from "./views/profiles.js";
import { searchView } from "./views/search.js";
import { titleView } from "./views/title.js";
import { watchView } from "./views/watch.js";

route("/login", signInView, { name: "login", public: true });
route("/signup", signUpView, { name: "signup", public: true });
route("/profiles", profilesView, { name: "profiles", noProfile: true });
route("/", homeView, { name: "home", fallback: true });
route("/title/:id", titleView, { name: "title" });
route("/watch/:id", watchView, { name: "watch" });
route("/search", searchView, { name: "search" });
route("/genres", genresView, { name: "genres" });
route("/genre/:id", genreView, { name: "genre" });

/** Where a user who may not see a view goes instead (null: stay). */
function guard(options) {
  if (options.public) return signedIn() ? "/profiles" : null;
  if (!signedIn()) return "/login";
  if (!options.noProfile && !currentProfile()) return "/profiles";
  return null;
}

function drawHeader() {
  const bar = document.getElementById("topbar");
  const profile = signedIn() ? currentProfile() : null;
  bar.hidden = !signedIn();
  document.getElementById("search").hidden = !profile;
  const who = document.getElementById("who");
  if (!signedIn()) {
    who.replaceChildren();
    return;
  }
  const menu = h("div", { class: "menu", id: "account-menu", hidden: true },
    h("a", { href: "#/profiles" }, "Switch profile"),
    h("a", { href: "#/profiles?manage=1" }, "Manage profiles"),
    h("button", { type: "button", onclick: async () => {
      await signOut();
      location.hash = "#/login";
    } }, "Sign out"));
  const button = h("button", { class: "who-button", type: "button", "aria-haspopup": "true", "aria-expanded": "false",
    "aria-controls": "account-menu" }, profile ? profile.name : "Account", " ▾");
  button.addEventListener("click", () => {
    menu.hidden = !menu.hidden;
    button.setAttribute("aria-expanded", String(!menu.hidden));
    if (!menu.hidden) menu.querySelector("a")?.focus();
  });
  menu.addEventListener("click", () => {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
  });
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      menu.hidden = true;
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
  replace(who, button, menu);
}

async function navigate() {
  document.title = "Matinee";
  drawHeader();
  await render(guard);
  const main = document.getElementById("main");
  // Move focus to the new page for keyboard and screen-reader users, unless the view
  // already put it somewhere useful.
  if (!main.contains(document.activeElement) && document.activeElement?.id !== "search-input") {
    main.focus({ preventScroll: true });
  }
  window.scrollTo(0, 0);
}

async function boot() {
  mountSearch(document.getElementById("search"));
  await restore();
  onSessionChange(() => drawHeader());
  window.addEventListener("matinee:profile", drawHeader);
  window.addEventListener("hashchange", navigate);
  await navigate();
}

boot();
