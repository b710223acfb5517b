// "Who's watching?": pick, add and remove profiles.

import { api, describe } from "../api.js";
import { h, replace, toast } from "../dom.js";
import { go } from "../router.js";
import { chooseProfile, currentProfile } from "../state.js";

const MAX_PROFILES = 5;

function avatar(profile) {
  const letter = [...(profile.name || "?")][0].toUpperCase();
  const hue = [...profile.id].reduce((acc, ch) => (acc * 31 + ch.codePointAt(0)) % 360, 11);
  const el = h("span", { class: "avatar", "aria-hidden": "true" }, letter);
  el.style.setProperty("--hue", String(hue));
  return el;
}

export async function profilesView({ main, query, signal }) {
  const managing = query.get("manage") === "1";
  replace(main, h("p", { class: "loading" }, "Loading profiles…"));
  let profiles;
  try {
    profiles = await api("/api/profiles", { signal });
  } catch (err) {
    if (signal.aborted) return;
    replace(main, h("section", { class: "profiles" }, h("h1", {}, "Who's watching?"),
      h("p", { class: "form-error", role: "alert" }, describe(err)),
      h("button", { class: "btn", onclick: () => go("/profiles") }, "Try again")));
    return;
  }
  const list = h("ul", { class: "profile-list", role: "list" });
  for (const profile of profiles) {
    const label = managing ? `Remove ${profile.name}` : `Watch as ${profile.name}`;
    const button = h(
      "button",
      { class: "profile", type: "button", "aria-label": label, dataset: { profileId: profile.id } },
      avatar(profile),
      h("span", { class: "profile-name" }, profile.name),
      profile.maturity === "kids" ? h("span", { class: "badge" }, "Kids") : null,
      managing ? h("span", { class: "remove-mark" }, "Remove") : null,
    );
    button.addEventListener("click", async () => {
      if (!managing) {
        chooseProfile(profile);
        go("/");
        return;
      }
      if (button.dataset.confirm !== "1") {
        // Two presses to remove: the first asks, the second does it.
        button.dataset.confirm = "1";
        button.setAttribute("aria-label", `Press again to remove ${profile.name} for good`);
        button.querySelector(".remove-mark").textContent = "Press again to remove";
        return;
      }
      try {
        await api(`/api/profiles/${encodeURIComponent(profile.id)}`, { method: "DELETE" });
        if (currentProfile()?.id === profile.id) chooseProfile(null);
        toast(`Removed ${profile.name}`);
        go("/profiles", { manage: "1" });
      } catch (err) {
        toast(describe(err));
      }
    });
    list.append(h("li", {}, button));
  }
  const section = h(
    "section",
    { class: "profiles", "aria-labelledby": "profiles-heading" },
    h("h1", { id: "profiles-heading" }, managing ? "Manage profiles" : "Who's watching?"),
    list,
  );
  if (profiles.length < MAX_PROFILES) section.append(addForm());
  section.append(
    managing
      ? h("a", { class: "btn", href: "#/profiles" }, "Done")
      : h("a", { class: "btn", href: "#/profiles?manage=1" }, "Manage profiles"),
  );
  replace(main, section);
  (list.querySelector("button") || section.querySelector("input"))?.focus();
}

function addForm() {
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "add-profile", "aria-label": "Add a profile" },
    h("h2", {}, "Add a profile"),
    h("label", { class: "field" }, h("span", {}, "Name"),
      h("input", { name: "name", required: true, maxLength: 50, autocomplete: "off" })),
    h(
      "label",
      { class: "field" },
      h("span", {}, "Who is it for?"),
      h(
        "select",
        { name: "maturity" },
        h("option", { value: "adult" }, "Adults (all titles)"),
        h("option", { value: "teen" }, "Teens (up to PG-13 / TV-14)"),
        h("option", { value: "kids" }, "Kids (G, PG, TV-Y)"),
      ),
    ),
    error,
    h("button", { type: "submit", class: "btn btn-primary" }, "Add profile"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    try {
      const created = await api("/api/profiles", {
        method: "POST",
        body: { name: String(data.get("name")).trim(), maturity: data.get("maturity") },
      });
      toast(`Added ${created.name}`);
      go("/profiles");
    } catch (err) {
      error.textContent = describe(err);
    }
  });
  return form;
}
