// Highlight the spans of a title the search matched. Spans are code-point offsets
// (the search service counts characters, not UTF-16 units), hence Array.from.

import { h } from "./dom.js";

export function highlighted(title, spans) {
  const chars = Array.from(title);
  const parts = [];
  let at = 0;
  for (const [start, end] of [...(spans || [])].sort((a, b) => a[0] - b[0])) {
    if (start < at || end <= start || end > chars.length) continue;
    if (start > at) parts.push(chars.slice(at, start).join(""));
    parts.push(h("mark", {}, chars.slice(start, end).join("")));
    at = end;
  }
  if (at < chars.length) parts.push(chars.slice(at).join(""));
  return parts;
}
