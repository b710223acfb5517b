// The video engine: hls.js where Media Source Extensions exist (it gives Auto and
// manual quality and the stats), the browser's own HLS where they do not (iOS).
//
// The playback service hands out manifest URLs on several CDN nodes, best first.
// A fatal error on one node moves playback to the next at the same position;
// only when every node failed does the player give up.

const HLS_URL = "/vendor/hls/hls.min.mjs";

let hlsModule = null;

/** Load hls.js from the vendor mount (npm's copy); null when it is not installed. */
export async function loadHls() {
  if (!hlsModule) {
    hlsModule = import(HLS_URL).then((m) => m.default).catch(() => null);
  }
  return hlsModule;
}

export function nativeHls(video) {
  return Boolean(video.canPlayType("application/vnd.apple.mpegurl"));
}

function bufferAhead(video) {
  const t = video.currentTime;
  for (let i = 0; i < video.buffered.length; i++) {
    if (video.buffered.start(i) <= t + 0.25 && t <= video.buffered.end(i)) {
      return Math.max(0, video.buffered.end(i) - t);
    }
  }
  return 0;
}

// Fail over quickly: another node is a better bet than a long retry on this one.
const RETRY_ONCE = {
  default: {
    maxTimeToFirstByteMs: 8000,
    maxLoadTimeMs: 20000,
    timeoutRetry: { maxNumRetry: 1, retryDelayMs: 0, maxRetryDelayMs: 0 },
    errorRetry: { maxNumRetry: 1, retryDelayMs: 300, maxRetryDelayMs: 1000 },
  },
};

export class Player {
  /**
   * video: the <video>; session: the playback service's answer; startAt: seconds;
   * events: {onLevels(levels), onLevel(index, auto), onFailover(node), onFatal(message)}.
   */
  constructor(video, session, startAt, events = {}) {
    this.video = video;
    this.session = session;
    this.manifests = session.manifests || [];
    this.startAt = startAt || 0;
    this.events = events;
    this.node = -1;
    this.hls = null;
    this.Hls = null;
    this.mode = "";
    this.rebuffers = 0;
    this.started = false;
    this.recoveredMedia = false;
    this.destroyed = false;
    this.maxHeight = Math.max(0, ...(session.ladder || []).map((r) => Number(r.height) || 0)) || Infinity;
    this._onWaiting = () => {
      if (this.started && !this.video.seeking) this.rebuffers += 1;
    };
    this._onPlaying = () => {
      this.started = true;
    };
    this._onNativeError = () => this.failover("the stream could not be decoded");
    video.addEventListener("waiting", this._onWaiting);
    video.addEventListener("playing", this._onPlaying);
  }

  /** Start on the first node; resolves once the source is attached. */
  async start() {
    const Hls = await loadHls();
    if (Hls && Hls.isSupported()) {
      this.Hls = Hls;
      this.mode = "hls.js";
    } else if (nativeHls(this.video)) {
      this.mode = "native";
      this.video.addEventListener("error", this._onNativeError);
    } else {
      this.events.onFatal?.(
        Hls ? "This browser can't play HLS video." : "The player library is not installed on this server (run the bootstrap).",
      );
      return;
    }
    this.next(this.startAt);
  }

  /** Attach the next node's manifest at `position`; false when none is left. */
  next(position) {
    this.node += 1;
    const manifest = this.manifests[this.node];
    if (!manifest) return false;
    if (this.mode === "native") {
      const seek = () => {
        if (position > 0) this.video.currentTime = position;
      };
      this.video.addEventListener("loadedmetadata", seek, { once: true });
      this.video.src = manifest.url;
      return true;
    }
    const Hls = this.Hls;
    const hls = new Hls({
      startPosition: position > 0 ? position : -1,
      abrEwmaDefaultEstimate: (this.session.initial_bitrate_kbps || 1500) * 1000,
      capLevelToPlayerSize: false,
      enableWorker: true,
      manifestLoadPolicy: RETRY_ONCE,
      playlistLoadPolicy: RETRY_ONCE,
      fragLoadPolicy: RETRY_ONCE,
    });
    this.hls = hls;
    hls.on(Hls.Events.MANIFEST_PARSED, () => {
      const allowed = hls.levels
        .map((level, index) => ({ index, height: level.height, bitrate: level.bitrate }))
        .filter((l) => !l.height || l.height <= this.maxHeight);
      const top = allowed.reduce((m, l) => Math.max(m, l.index), -1);
      if (top >= 0 && top < hls.levels.length - 1) hls.autoLevelCapping = top;
      this.events.onLevels?.(allowed);
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, (_, data) => {
      this.events.onLevel?.(data.level, hls.autoLevelEnabled);
    });
    hls.on(Hls.Events.ERROR, (_, data) => {
      if (!data.fatal || hls !== this.hls) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !this.recoveredMedia) {
        this.recoveredMedia = true;
        hls.recoverMediaError();
        return;
      }
      this.failover(`${data.type}: ${data.details}`);
    });
    hls.loadSource(manifest.url);
    hls.attachMedia(this.video);
    if (this.node > 0) this.events.onFailover?.(manifest);
    return true;
  }

  failover(reason) {
    if (this.destroyed) return;
    const position = this.video.currentTime || this.startAt;
    const wasPlaying = !this.video.paused;
    if (this.hls) {
      this.hls.destroy();
      this.hls = null;
    }
    if (!this.next(position)) {
      this.events.onFatal?.(`We couldn't play this title: every server failed (${reason}).`);
      return;
    }
    if (wasPlaying) this.video.play().catch(() => {});
  }

  /** Choose a quality: -1 for Auto, else an index of hls.levels. */
  setQuality(index) {
    if (this.hls) this.hls.nextLevel = Number(index);
  }

  /** What the stats overlay and the heartbeats report. */
  stats() {
    const video = this.video;
    const level = this.hls && this.hls.currentLevel >= 0 ? this.hls.levels[this.hls.currentLevel] : null;
    const manifest = this.manifests[this.node] || {};
    const quality = video.getVideoPlaybackQuality?.();
    return {
      mode: this.mode,
      width: video.videoWidth,
      height: video.videoHeight,
      bitrate_kbps: level ? Math.round(level.bitrate / 1000) : 0,
      throughput_kbps: this.hls ? Math.round((this.hls.bandwidthEstimate || 0) / 1000) : 0,
      buffer_s: bufferAhead(video),
      position_s: video.currentTime,
      node: manifest.node_id || "",
      region: manifest.region || "",
      auto: this.hls ? this.hls.autoLevelEnabled : true,
      dropped: quality ? quality.droppedVideoFrames : 0,
      rebuffers: this.rebuffers,
    };
  }

  destroy() {
    this.destroyed = true;
    this.video.removeEventListener("waiting", this._onWaiting);
    this.video.removeEventListener("playing", this._onPlaying);
    this.video.removeEventListener("error", this._onNativeError);
    if (this.hls) this.hls.destroy();
    this.hls = null;
    this.video.removeAttribute("src");
    this.video.load();
  }
}
