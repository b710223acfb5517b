// A hash router: "#/title/42?x=1" -> the view for "/title/:id" with {id: "42"}.
// Every view gets an AbortSignal that fires when the user leaves it, so its
// requests, timers and players stop with it.

const routes = [];
let current = null;

/** Register a view for a pattern such as "/title/:id". */
export function route(pattern, view, options = {}) {
  const names = [];
  const regex = new RegExp(
    `^${pattern.replace(/:([a-z]+)/g, (_, name) => {
      names.push(name);
      return "([^/]+)";
    })}$`,
  );
  routes.push({ regex, names, view, options });
}

/** Navigate to a hash path, e.g. go("/search", {q: "toy"}). */
export function go(path, params) {
  const q = params ? new URLSearchParams(params).toString() : "";
  const target = `#${path}${q ? `?${q}` : ""}`;
  if (location.hash === target) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = target;
}

/** Parse the current location into a path and its query. */
export function location_() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = hash.split("?");
  return { path, query: new URLSearchParams(search) };
}

export async function render(guard) {
  const { path, query } = location_();
  const found = routes.find((r) => r.regex.test(path)) || routes.find((r) => r.options.fallback);
  const match = found.regex.exec(path) || [];
  const params = Object.fromEntries(found.names.map((n, i) => [n, decodeURIComponent(match[i + 1] || "")]));
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  const redirect = guard ? guard(found.options) : null;
  if (redirect) {
    go(redirect);
    return;
  }
  const main = document.getElementById("main");
  document.body.dataset.view = found.options.name || "page";
  try {
    await found.view({ main, params, query, signal: controller.signal });
  } catch (err) {
    if (err?.name !== "AbortError") throw err;
  }
}
