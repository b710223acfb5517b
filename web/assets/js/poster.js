// Posters: the title's artwork when it has one, else one drawn here from the
// title and a colour derived from its id (the same title always looks the same).

import { h, s } from "./dom.js";

function hue(id) {
  let x = Number(id) || 0;
  if (!Number.isFinite(x) || x === 0) {
    x = [...String(id)].reduce((acc, ch) => (acc * 31 + ch.codePointAt(0)) >>> 0, 7);
  }
  // A multiplicative hash spreads neighbouring ids around the colour wheel.
  return Math.floor(((x * 2654435761) >>> 0) / 2 ** 32 * 360);
}

function lines(text, width, max) {
  const words = String(text).split(/\s+/).filter(Boolean);
  const out = [];
  let line = "";
  for (const word of words) {
    const next = line ? `${line} ${word}` : word;
    if (next.length > width && line) {
      out.push(line);
      line = word;
    } else {
      line = next;
    }
  }
  if (line) out.push(line);
  if (out.length > max) {
    out.length = max;
    out[max - 1] = `${out[max - 1].slice(0, width - 1)}…`;
  }
  return out;
}

/** An SVG poster for a title without artwork (decorative: the card names the title). */
export function generatedPoster(title) {
  const base = hue(title.id);
  const gradient = `g${title.id}`;
  const text = lines(title.name || "Untitled", 14, 4);
  return s(
    "svg",
    { viewBox: "0 0 200 300", class: "poster-art", "aria-hidden": "true", focusable: "false" },
    s(
      "defs",
      {},
      s(
        "linearGradient",
        { id: gradient, x1: 0, y1: 0, x2: 1, y2: 1 },
        s("stop", { offset: "0", "stop-color": `hsl(${base} 60% 42%)` }),
        s("stop", { offset: "1", "stop-color": `hsl(${(base + 50) % 360} 55% 16%)` }),
      ),
    ),
    s("rect", { width: 200, height: 300, fill: `url(#${gradient})` }),
    s("rect", { x: 12, y: 12, width: 176, height: 276, fill: "none", stroke: "rgba(255,255,255,.25)" }),
    s(
      "text",
      { x: 100, y: 150 - (text.length - 1) * 13, "text-anchor": "middle", fill: "#fff",
        "font-size": 22, "font-weight": 700, "font-family": "system-ui, sans-serif" },
      text.map((line, i) => s("tspan", { x: 100, dy: i === 0 ? 0 : 26 }, line)),
    ),
    title.year ? s("text", { x: 100, y: 268, "text-anchor": "middle", fill: "rgba(255,255,255,.8)",
      "font-size": 16, "font-family": "system-ui, sans-serif" }, String(title.year)) : null,
  );
}

/** The poster of a title: its artwork, falling back to the generated one if it fails. */
export function poster(title) {
  const url = title.artwork?.poster_url;
  if (!url) return generatedPoster(title);
  const img = h("img", { src: url, alt: "", loading: "lazy", decoding: "async", class: "poster-art" });
  img.addEventListener("error", () => img.replaceWith(generatedPoster(title)), { once: true });
  return img;
}

/** A card linking to a title's page: poster, name and year. */
export function card(title) {
  const label = title.year ? `${title.name} (${title.year})` : title.name;
  return h(
    "li",
    { class: "card" },
    h(
      "a",
      { href: `#/title/${title.id}`, class: "card-link", "aria-label": label, dataset: { titleId: title.id } },
      h("div", { class: "poster" }, poster(title)),
      h("span", { class: "card-name" }, title.name),
      title.year ? h("span", { class: "card-year" }, String(title.year)) : null,
    ),
  );
}
