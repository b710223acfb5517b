// Who is watching: the chosen profile, per tab (a reload keeps it, a new visit asks).

import { accountId } from "./api.js";

const key = () => `matinee.profile.${accountId() || "anon"}`;

export function currentProfile() {
  try {
    return JSON.parse(sessionStorage.getItem(key()) || "null");
  } catch {
    return null;
  }
}

export function chooseProfile(profile) {
  if (profile) {
    const { id, name, maturity } = profile;
    sessionStorage.setItem(key(), JSON.stringify({ id, name, maturity }));
  } else {
    sessionStorage.removeItem(key());
  }
  window.dispatchEvent(new CustomEvent("matinee:profile"));
}

/** The catalog/search audience filter of the current profile. */
export function maturity() {
  return currentProfile()?.maturity || undefined;
}

/** Remembered playback positions, so resume works even before the server answers. */
export function savedPosition(titleId) {
  const profile = currentProfile();
  if (!profile) return 0;
  const raw = localStorage.getItem(`matinee.pos.${profile.id}.${titleId}`);
  const value = raw ? Number(raw) : 0;
  return Number.isFinite(value) ? value : 0;
}

export function savePosition(titleId, seconds) {
  const profile = currentProfile();
  if (!profile) return;
  const name = `matinee.pos.${profile.id}.${titleId}`;
  if (seconds > 0) localStorage.setItem(name, String(Math.floor(seconds)));
  else localStorage.removeItem(name);
}
