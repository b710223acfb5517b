// The player page: start a playback session, play it, report heartbeats, resume.

import { api, ApiError, describe } from "../api.js";
import { clock, h, replace } from "../dom.js";
import { Player } from "../player.js";
import { currentProfile, savedPosition, savePosition } from "../state.js";

const HEIGHTS = [360, 480, 720, 1080, 1440, 2160];

function device() {
  // The smallest standard height that fills this screen; the plan caps it again.
  const short = Math.min(screen.width, screen.height) * (window.devicePixelRatio || 1);
  const max_height = HEIGHTS.find((x) => x >= short) || 2160;
  const codecs = [];
  const probe = (family, type) => {
    try {
      if (window.MediaSource?.isTypeSupported(type) || document.createElement("video").canPlayType(type)) codecs.push(family);
    } catch {
      // isTypeSupported throws on some browsers for unknown strings: not supported.
    }
  };
  probe("avc1", 'video/mp4; codecs="avc1.64001f"');
  probe("hvc1", 'video/mp4; codecs="hvc1.1.6.L93.B0"');
  probe("av01", 'video/mp4; codecs="av01.0.05M.08"');
  probe("vp09", 'video/mp4; codecs="vp09.00.10.08"');
  probe("mp4a", 'audio/mp4; codecs="mp4a.40.2"');
  return { max_height, codecs };
}

function refusal(err) {
  if (!(err instanceof ApiError)) return { heading: "Can't start playback", text: describe(err) };
  const detail = err.problem.detail || "";
  if (err.status === 403) {
    return {
      heading: "Playback isn't allowed right now",
      text: detail || "Your plan's stream limit is reached: stop watching on another screen, or upgrade your plan.",
    };
  }
  if (err.status === 409) return { heading: "Not ready to stream yet", text: detail || "This title has no video yet." };
  if (err.status === 404 && /no route/i.test(detail)) {
    return { heading: "Playback isn't available yet", text: "This server does not offer playback yet." };
  }
  if (err.status === 404) return { heading: "We can't find that title", text: detail };
  return { heading: "Can't start playback", text: describe(err) };
}

export async function watchView({ main, params, query, signal }) {
  const profile = currentProfile();
  const titleId = Number(params.id);
  const heading = h("h1", { class: "player-title" }, "Now playing");
  const video = h("video", { id: "video", class: "video", controls: true, playsInline: true, preload: "auto",
    "aria-label": "Video player" });
  const message = h("div", { class: "player-message", id: "player-message", role: "alert", hidden: true });
  const bigPlay = h("button", { class: "big-play", type: "button", hidden: true, "aria-label": "Play" }, "▶");
  const quality = h("select", { id: "quality", "aria-label": "Quality", disabled: true }, h("option", { value: "-1" }, "Auto"));
  const statsButton = h("button", { class: "btn btn-small", type: "button", "aria-pressed": "false", "aria-controls": "stats",
    title: "Stats for nerds (i)" }, "Stats");
  const stats = h("dl", { class: "stats", id: "stats", hidden: true, "aria-label": "Playback statistics" });
  const stage = h("div", { class: "stage" }, video, bigPlay, stats, message);
  replace(main, h("section", { class: "watch", "aria-labelledby": "player-heading" },
    h("div", { class: "player-bar" },
      h("a", { class: "btn btn-small", href: `#/title/${params.id}` }, "‹ Back"),
      h("div", { id: "player-heading" }, heading),
      h("label", { class: "quality" }, h("span", {}, "Quality "), quality),
      statsButton),
    stage,
    h("p", { class: "muted small keys" }, "Keys: Space play/pause · ←/→ 10 s · F full screen · M mute · I stats")));
  document.body.dataset.player = "starting";

  const fail = (heading_, text) => {
    message.replaceChildren(h("h2", {}, heading_), h("p", {}, text),
      h("a", { class: "btn", href: `#/title/${params.id}` }, "Back to the title"));
    message.hidden = false;
    document.body.dataset.player = "error";
  };

  api(`/api/titles/${titleId}`, { signal }).then((title) => {
    heading.textContent = title.name;
    video.setAttribute("aria-label", `Video player: ${title.name}`);
    document.title = `Watching ${title.name} · Matinee`;
  }).catch(() => {}); // the catalog is not on the play path: playing needs no title name

  let session;
  try {
    session = await api("/api/playback/start", {
      method: "POST",
      signal,
      body: { title_id: titleId, profile_id: profile.id, device: device(),
        network: navigator.connection?.downlink ? { throughput_kbps: Math.round(navigator.connection.downlink * 1000) } : undefined },
    });
  } catch (err) {
    if (signal.aborted) return;
    const { heading: title, text } = refusal(err);
    fail(title, text);
    return;
  }
  if (signal.aborted) return;

  const from = query.get("from");
  // The server's word wins (it also decides that a title watched to the credits starts
  // over); the local copy covers a playback service that does not say.
  const serverResume = Number(session.resume_position_s);
  const startAt = from !== null ? Number(from) || 0
    : Number.isFinite(serverResume) && session.resume_position_s !== null ? serverResume : savedPosition(titleId);
  const player = new Player(video, session, startAt, {
    onLevels(levels) {
      replace(quality, h("option", { value: "-1" }, "Auto"),
        [...levels].sort((a, b) => b.height - a.height || b.bitrate - a.bitrate)
          .map((l) => h("option", { value: String(l.index) }, `${l.height}p · ${(l.bitrate / 1e6).toFixed(1)} Mb/s`)));
      quality.disabled = levels.length < 2;
    },
    onLevel(index, auto) {
      const level = player.hls?.levels[index];
      quality.options[0].textContent = auto && level ? `Auto (${level.height}p)` : "Auto";
    },
    onFailover(manifest) {
      document.body.dataset.failovers = String(Number(document.body.dataset.failovers || 0) + 1);
      message.hidden = true;
      void manifest;
    },
    onFatal(text) {
      fail("Playback stopped", text);
      stop();
    },
  });
  quality.addEventListener("change", () => player.setQuality(quality.value));

  // Heartbeats keep the stream's lease; a pause reports the position at once.
  let sessionId = session.session_id;
  let ended = false;
  const every = Math.max(2, Number(session.lease?.heartbeat_every_s) || 10) * 1000;
  async function beat() {
    if (ended || !video.currentTime) return;
    const s = player.stats();
    if (!video.ended) savePosition(titleId, s.position_s);
    try {
      await api(`/api/playback/${encodeURIComponent(sessionId)}/heartbeat`, {
        method: "POST",
        body: { position_s: s.position_s, buffer_s: s.buffer_s, bitrate_kbps: s.bitrate_kbps,
          rebuffers: s.rebuffers, throughput_kbps: s.throughput_kbps || undefined, node_id: s.node || undefined },
      });
      // What the server last heard, for anyone checking that resume has something to go on.
      document.body.dataset.reportedPosition = s.position_s.toFixed(2);
    } catch (err) {
      if (!(err instanceof ApiError) || ended) return;
      if (err.status === 403) {
        video.pause();
        fail("Playback isn't allowed right now", err.problem.detail || "Your plan's stream limit is reached.");
        ended = true;
      } else if (err.status === 404 || err.status === 410) {
        // The lease lapsed (a sleeping laptop): take a new session and go on.
        try {
          const again = await api("/api/playback/start", { method: "POST",
            body: { title_id: titleId, profile_id: profile.id, device: device() } });
          sessionId = again.session_id;
        } catch {
          // Keep playing what is buffered; the next beat tries again.
        }
      }
    }
  }
  const timer = setInterval(beat, every);
  let lastSaved = 0;
  video.addEventListener("timeupdate", () => {
    if (Math.abs(video.currentTime - lastSaved) >= 2) {
      lastSaved = video.currentTime;
      savePosition(titleId, video.currentTime);
    }
  });
  video.addEventListener("pause", () => {
    if (!video.ended) beat();
  });
  video.addEventListener("ended", () => {
    savePosition(titleId, 0);
    beat();
  });
  video.addEventListener("playing", () => {
    bigPlay.hidden = true;
    document.body.dataset.player = "playing";
  });

  function stop() {
    if (ended) return;
    ended = true;
    clearInterval(timer);
    const position = video.ended ? 0 : video.currentTime || 0;
    if (position) savePosition(titleId, position);
    // keepalive: the stop still reaches the server when the page is going away.
    api(`/api/playback/${encodeURIComponent(sessionId)}/stop`, { method: "POST", keepalive: true,
      body: { position_s: position } }).catch(() => {});
  }
  const onHide = () => stop();
  window.addEventListener("pagehide", onHide);

  // Stats overlay.
  const row = (k, v) => [h("dt", {}, k), h("dd", {}, v)];
  let statsTimer = 0;
  function drawStats() {
    const s = player.stats();
    stats.replaceChildren(
      ...row("Resolution", s.width ? `${s.width}×${s.height}` : "–"),
      ...row("Bitrate", s.bitrate_kbps ? `${s.bitrate_kbps} kb/s${s.auto ? " (auto)" : ""}` : "–"),
      ...row("Buffer", `${s.buffer_s.toFixed(1)} s`),
      ...row("CDN node", s.node ? `${s.node}${s.region ? ` (${s.region})` : ""}` : "–"),
      ...row("Throughput", s.throughput_kbps ? `${s.throughput_kbps} kb/s` : "–"),
      ...row("Position", clock(s.position_s)),
      ...row("Rebuffers", String(s.rebuffers)),
      ...row("Dropped frames", String(s.dropped)),
      ...row("Engine", s.mode || "–"),
    );
  }
  function toggleStats() {
    stats.hidden = !stats.hidden;
    statsButton.setAttribute("aria-pressed", stats.hidden ? "false" : "true");
    clearInterval(statsTimer);
    if (!stats.hidden) {
      drawStats();
      statsTimer = setInterval(drawStats, 500);
    }
  }
  statsButton.addEventListener("click", toggleStats);

  // Keyboard: the usual player keys, unless a form control has the focus.
  const onKey = (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const tag = document.activeElement?.tagName || "";
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(tag)) return;
    const key = event.key.toLowerCase();
    if ((key === " " && tag !== "BUTTON" && tag !== "A" && tag !== "VIDEO") || key === "k") {
      event.preventDefault();
      if (video.paused) video.play().catch(() => {});
      else video.pause();
    } else if (key === "arrowright" && tag !== "VIDEO") video.currentTime += 10;
    else if (key === "arrowleft" && tag !== "VIDEO") video.currentTime = Math.max(0, video.currentTime - 10);
    else if (key === "f") {
      if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
      else stage.requestFullscreen?.().catch(() => {});
    } else if (key === "m") video.muted = !video.muted;
    else if (key === "i") toggleStats();
  };
  document.addEventListener("keydown", onKey);

  signal.addEventListener("abort", () => {
    stop();
    clearInterval(statsTimer);
    window.removeEventListener("pagehide", onHide);
    document.removeEventListener("keydown", onKey);
    player.destroy();
    delete document.body.dataset.player;
    delete document.body.dataset.reportedPosition;
  });

  bigPlay.addEventListener("click", () => video.play().catch(() => {}));
  await player.start();
  if (signal.aborted || ended) return;
  try {
    await video.play();
  } catch (err) {
    // Autoplay refused (no user gesture yet, e.g. after a reload): one click starts it.
    if (err?.name === "NotAllowedError") {
      bigPlay.hidden = false;
      bigPlay.focus();
      document.body.dataset.player = "click-to-play";
    }
  }
}
