// The pagefix web page: files dropped or chosen here are sent, a few at a time, to the service's
// POST /document-preprocessing (the same API as every other client), and each corrected page is
// shown beside its original with the figures of its result, ready to download.
//
// Contract for tests and scripts: every corrected page sits in an element with a data-page
// attribute holding its <img> and its <a download>; a failed file's message sits in an element
// with a data-error attribute.

import { pdfFromPngs } from "./pdf.js";

const API_URL = new URL("document-preprocessing", document.baseURI).href;
const SETTINGS_URL = new URL("ui/settings.json", document.baseURI).href;
// Files in flight at once: enough to keep two workers busy, few enough not to fill the queue.
const PARALLEL = 2;
// A busy server (503) is asked again after its Retry-After, this many times at most.
const MAX_RETRIES = 20;
const STORED_SETTINGS = "pagefix.settings.v1";
const STORED_KEY = "pagefix.apiKey";
const PDF_NAME = /\.pdf$/i;
const IMAGE_NAME = /\.(jpe?g|png|tiff?|webp|bmp)$/i;
const SHOWN_BY_BROWSER = new Set(["image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp"]);

const $ = (id) => document.getElementById(id);
const form = {
  orientation: $("orientation"),
  unwarping: $("unwarping"),
  skipFlat: $("skip-flat"),
  keepMargin: $("keep-margin"),
};
const cards = $("cards");
let server = {
  useDocOrientationClassify: true, useDocUnwarping: true, skipFlatPages: true, keepMargin: 0,
  maxKeepMargin: 0.5, maxRequestBytes: null, maxPages: null,
};

// ---- elements ----

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.append(child);
  return node;
}

function announce(text) {
  $("announce").textContent = text;
}

function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function stem(name) {
  const base = name.replace(/\.[^.]*$/, "") || "page";
  return base.replace(/[^\p{L}\p{N}._-]+/gu, "_");
}

// ---- settings: the server's defaults, then what this browser remembers ----

function readSettings() {
  return {
    orientation: form.orientation.checked,
    unwarping: form.unwarping.checked,
    skipFlat: form.skipFlat.checked,
    keepMargin: Math.min(Math.max(Number(form.keepMargin.value) || 0, 0), server.maxKeepMargin * 100),
  };
}

function showSettings(values) {
  form.orientation.checked = values.orientation && server.useDocOrientationClassify;
  form.unwarping.checked = values.unwarping && server.useDocUnwarping;
  form.skipFlat.checked = values.skipFlat;
  form.keepMargin.value = String(values.keepMargin);
  form.orientation.disabled = !server.useDocOrientationClassify;
  form.unwarping.disabled = !server.useDocUnwarping;
  syncUnwarpControls();
  const missing = [];
  if (!server.useDocOrientationClassify) missing.push("turning pages upright");
  if (!server.useDocUnwarping) missing.push("flattening");
  $("settings-note").hidden = !missing.length;
  $("settings-note").textContent = missing.length ? `This server was started without ${missing.join(" or ")}.` : "";
}

function syncUnwarpControls() {
  // The flat-page rule and the margin only matter to pages that are flattened.
  form.skipFlat.disabled = !form.unwarping.checked;
  form.keepMargin.disabled = !form.unwarping.checked;
}

function remembered() {
  try {
    return JSON.parse(localStorage.getItem(STORED_SETTINGS) || "null");
  } catch {
    return null; // storage off or the value spoilt: the server's defaults
  }
}

function remember() {
  try {
    localStorage.setItem(STORED_SETTINGS, JSON.stringify(readSettings()));
  } catch {
    // Storage refused (private mode, quota): the settings hold for this visit only.
  }
}

async function loadSettings() {
  try {
    const answer = await fetch(SETTINGS_URL, { credentials: "same-origin" });
    if (answer.ok) server = { ...server, ...(await answer.json()) };
  } catch {
    // An older or stripped-down server: keep the reference defaults.
  }
  form.keepMargin.max = String(Math.round(server.maxKeepMargin * 100));
  const defaults = {
    orientation: server.useDocOrientationClassify, unwarping: server.useDocUnwarping,
    skipFlat: server.skipFlatPages, keepMargin: Math.round(server.keepMargin * 100),
  };
  showSettings({ ...defaults, ...(remembered() || {}) });
}

function requestSwitches(settings, file) {
  const body = {
    useDocOrientationClassify: settings.orientation,
    useDocUnwarping: settings.unwarping,
    // The original shown beside the correction: the file itself where the browser can show it;
    // otherwise (PDF pages, TIFF) the decoded input page the service returns with `visualize`,
    // which more than doubles the answer.
    visualize: !SHOWN_BY_BROWSER.has(file.type),
  };
  if (settings.unwarping) {
    body.skipFlatPages = settings.skipFlat;
    body.keepMargin = settings.keepMargin / 100;
  }
  return body;
}

// ---- the API key (asked once, kept for this tab) ----

let keyRequest = null;
let memoryKey = null;

function storedKey() {
  try {
    return sessionStorage.getItem(STORED_KEY);
  } catch {
    return memoryKey;
  }
}

function storeKey(key) {
  memoryKey = key;
  try {
    sessionStorage.setItem(STORED_KEY, key);
  } catch {
    // sessionStorage refused: the key lives in this page's memory instead.
  }
}

// Resolves once the user has given a key; calls that arrive meanwhile share the same question.
function askForKey(refused) {
  if (!keyRequest) {
    const keyForm = $("key-form");
    $("key-message").textContent = refused
      ? "The server did not accept that key. Enter another one; it is kept in this tab only."
      : "This server asks for an API key. It is kept in this tab only.";
    keyForm.hidden = false;
    $("api-key").value = "";
    $("api-key").focus();
    keyRequest = new Promise((resolve) => {
      keyForm.addEventListener("submit", (event) => {
        event.preventDefault();
        storeKey($("api-key").value.trim());
        $("api-key").value = "";
        keyForm.hidden = true;
        keyRequest = null;
        resolve();
      }, { once: true });
    });
  }
  return keyRequest;
}

// ---- talking to the service ----

// One POST; resolves with {status, headers, body (parsed JSON or null)}. XMLHttpRequest rather
// than fetch: it reports upload and download progress.
function post(json, key, onProgress) {
  return new Promise((resolve) => {
    const request = new XMLHttpRequest();
    request.open("POST", API_URL);
    request.setRequestHeader("Content-Type", "application/json");
    if (key) request.setRequestHeader("Authorization", `Bearer ${key}`);
    request.upload.onprogress = (event) => onProgress("upload", event);
    request.upload.onload = () => onProgress("server");
    request.onprogress = (event) => onProgress("download", event);
    request.onload = () => {
      let body = null;
      try {
        body = JSON.parse(request.responseText);
      } catch {
        body = null; // a proxy's HTML page, a cut answer: reported by status below
      }
      resolve({
        status: request.status,
        body,
        retryAfter: request.getResponseHeader("Retry-After"),
        authenticate: request.getResponseHeader("WWW-Authenticate") || "",
      });
    };
    request.onerror = () => resolve({ status: 0, body: null });
    request.onabort = () => resolve({ status: 0, body: null });
    request.send(json);
  });
}

function sleep(seconds, onTick) {
  return new Promise((resolve) => {
    let left = Math.ceil(seconds);
    onTick(left);
    const timer = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(timer);
        resolve();
      } else {
        onTick(left);
      }
    }, 1000);
  });
}

function retryDelay(header) {
  if (!header) return 5; // a 503 without Retry-After: the service's own default
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(Math.max(seconds, 1), 120);
  const date = Date.parse(header || "");
  if (!Number.isNaN(date)) return Math.min(Math.max((date - Date.now()) / 1000, 1), 120);
  return 5;
}

// Send until there is an answer to show: a 503 waits its Retry-After, a 401 asks for the key.
async function call(json, card) {
  for (let attempt = 0; ; attempt++) {
    const key = storedKey();
    const answer = await post(json, key, (phase, event) => card.progress(phase, event));
    if (answer.status === 401 && /bearer/i.test(answer.authenticate)) {
      if (storedKey() === key) {
        card.status("Waiting for an API key");
        await askForKey(Boolean(key));
      }
      attempt -= 1; // asking for a key is not a retry
      continue;
    }
    if (answer.status === 503 && attempt < MAX_RETRIES) {
      await sleep(retryDelay(answer.retryAfter), (left) => card.status(`Server busy; trying again in ${left} s`));
      continue;
    }
    return answer;
  }
}

function errorText(answer) {
  if (answer.body && typeof answer.body.errorMsg === "string" && answer.body.errorMsg) {
    return answer.body.errorMsg;
  }
  if (answer.status === 0) return "The server could not be reached.";
  return `The server answered HTTP ${answer.status}.`;
}

// ---- base64 and files ----

function readAsBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).slice(String(reader.result).indexOf(",") + 1));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

function blobOf(base64, type) {
  if (typeof Uint8Array.fromBase64 === "function") return new Blob([Uint8Array.fromBase64(base64)], { type });
  const text = atob(base64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return new Blob([bytes], { type });
}

function fileTypeOf(file) {
  if (file.type === "application/pdf" || PDF_NAME.test(file.name)) return 0;
  if (file.type.startsWith("image/") || IMAGE_NAME.test(file.name)) return 1;
  return null; // the server tells from the content, and says what it found
}

// ---- one card per file ----

const urls = new Set();

function objectUrl(blob) {
  const url = URL.createObjectURL(blob);
  urls.add(url);
  return url;
}

class Card {
  constructor(file) {
    this.file = file;
    this.statusLine = el("p", { class: "status", text: "Waiting" });
    this.bar = el("progress", { max: 1, value: 0, "aria-label": `Progress of ${file.name}` });
    this.pages = el("div", { class: "pages" });
    this.node = el("li", { class: "card", "aria-busy": "true" },
      el("h3", { class: "file-name", text: file.name }),
      el("p", { class: "file-size", text: formatBytes(file.size) }),
      this.statusLine, this.bar, this.pages);
    cards.append(this.node);
    $("empty").hidden = true;
  }

  status(text) {
    this.statusLine.textContent = text;
  }

  progress(phase, event) {
    if (phase === "upload" && event.lengthComputable) {
      this.bar.value = event.loaded / event.total;
      this.status(`Sending ${Math.round(100 * event.loaded / event.total)} %`);
    } else if (phase === "server") {
      this.bar.removeAttribute("value"); // the server gives no progress: an indeterminate bar
      this.status("Being corrected on the server");
    } else if (phase === "download") {
      this.status("Receiving the corrected pages");
    }
  }

  finish() {
    this.bar.remove();
    this.node.removeAttribute("aria-busy");
    $("clear").disabled = false;
  }

  fail(message) {
    this.node.classList.add("failed");
    this.status("Failed");
    this.node.insertBefore(el("p", { class: "error", "data-error": true, text: message }), this.pages);
    this.finish();
    announce(`${this.file.name}: failed. ${message}`);
  }

  async show(result, settings) {
    const pages = result.docPreprocessingResults;
    const sizes = result.dataInfo.type === "image" ? [result.dataInfo] : result.dataInfo.pages || [];
    const multi = pages.length > 1 || result.dataInfo.type !== "image";
    const name = stem(this.file.name);
    const corrected = [];
    pages.forEach((page, i) => {
      const png = blobOf(page.outputImage, "image/png");
      corrected.push(png);
      const original = page.inputImage ? blobOf(page.inputImage, "image/jpeg") : (multi ? null : this.file);
      this.pages.append(pageView(this.file.name, name, i + 1, multi, page, png, original, sizes[i]));
    });
    this.status(`Done: ${pages.length} page${pages.length === 1 ? "" : "s"}` +
      (settings.unwarping ? "" : ", not flattened") + (settings.orientation ? "" : ", not turned"));
    if (result.dataInfo.type !== "image" && server.maxPages && pages.length >= server.maxPages) {
      this.node.insertBefore(el("p", { class: "hint", text: `This server corrects at most ${server.maxPages} ` +
        "pages of a file; any pages after those were left out." }), this.pages);
    }
    if (pages.length > 1) {
      const pdf = await pdfFromPngs(corrected);
      const link = el("a", { class: "button", href: objectUrl(pdf), download: `${name}_corrected.pdf`,
        text: `Download all ${pages.length} pages as one PDF (${formatBytes(pdf.size)})` });
      this.node.insertBefore(el("p", { class: "all-pages" }, link), this.pages);
    }
    this.finish();
    announce(`${this.file.name}: ${pages.length} page${pages.length === 1 ? "" : "s"} corrected.`);
  }
}

function describeAngle(angle) {
  if (angle === -1) return "not checked";
  if (angle === 0) return "none, already upright";
  return `${angle}° clockwise, turned back`;
}

function describeSkew(angle) {
  const size = Math.abs(Number(angle)).toFixed(2);
  if (Number(angle) === 0) return "none";
  return `${size}° ${Number(angle) > 0 ? "counter-clockwise" : "clockwise"}`;
}

const FACTS = {
  angle: ["Turn undone", describeAngle],
  angle_model: ["Orientation model", (value) => value],
  unwarp_applied: ["Flattened", (value) => (value ? "yes" : "no")],
  warp_score: ["Warp score", (value) => `${Number(value).toFixed(2)} ‰ of the diagonal`],
  skew_angle: ["Skew", describeSkew],
  model_settings: ["Stages run", (value) => [
    value.use_doc_orientation_classify ? "orientation" : null,
    value.use_doc_unwarping ? "unwarping" : null,
  ].filter(Boolean).join(", ") || "none"],
};

function facts(pruned, size, image) {
  const list = el("dl", { class: "facts" });
  const row = (term, value) => list.append(el("dt", { text: term }), el("dd", { text: value }));
  // The known figures in a fixed order (the warp score, absent when the probe did not run, says
  // so), then any the page does not know yet, as they come.
  const keys = [...Object.keys(FACTS), ...Object.keys(pruned).filter((key) => !(key in FACTS))];
  for (const key of keys) {
    const value = pruned[key];
    const known = FACTS[key];
    if (key === "warp_score" && (value === null || value === undefined)) row(known[0], "not measured");
    else if (value === null || value === undefined) continue;
    else if (known) row(known[0], known[1](value));
    else row(key.replace(/_/g, " "), typeof value === "object" ? JSON.stringify(value) : String(value));
  }
  const sizeRow = el("dd", { text: size ? `${size.width} × ${size.height} px` : "" });
  list.append(el("dt", { text: "Size" }), sizeRow);
  image.addEventListener("load", () => {
    const after = `${image.naturalWidth} × ${image.naturalHeight} px`;
    sizeRow.textContent = size ? `${size.width} × ${size.height} → ${after}` : after;
  }, { once: true });
  return list;
}

function pageView(fileName, name, number, multi, page, png, original, size) {
  const label = multi ? `${fileName}, page ${number}` : fileName;
  const views = el("div", { class: "views" });
  if (original) {
    const figure = el("figure", { class: "original" },
      el("img", { src: objectUrl(original), alt: `Original of ${label}` }),
      el("figcaption", { text: "Original" }));
    // A file the browser cannot show after all: the corrected page stands alone.
    figure.firstChild.addEventListener("error", () => figure.remove(), { once: true });
    views.append(figure);
  }
  const image = el("img", { src: objectUrl(png), alt: `Corrected ${label}` });
  const download = el("a", {
    class: "button", href: image.src, download: `${name}_page${number}.png`,
    text: `Download page ${number} (PNG, ${formatBytes(png.size)})`,
  });
  const corrected = el("div", { class: "corrected", "data-page": number },
    el("figure", {}, image, el("figcaption", { text: "Corrected" })),
    facts(page.prunedResult, size, image), download);
  views.append(corrected);
  return el("section", { class: "page", "aria-label": label },
    multi ? el("h4", { text: `Page ${number}` }) : null, views);
}

// ---- the queue: PARALLEL files in flight, the rest wait ----

const waiting = [];
let running = 0;

function pump() {
  while (running < PARALLEL && waiting.length) {
    const job = waiting.shift();
    running += 1;
    handle(job).finally(() => {
      running -= 1;
      pump();
    });
  }
}

async function handle({ card, settings }) {
  const file = card.file;
  try {
    // base64 grows a file by a third; a file that cannot fit is refused here, not after sending it.
    if (server.maxRequestBytes && Math.ceil(file.size / 3) * 4 + 1024 > server.maxRequestBytes) {
      card.fail(`The file is larger than this server accepts (${formatBytes(server.maxRequestBytes * 3 / 4)}).`);
      return;
    }
    card.status("Reading");
    const body = { file: await readAsBase64(file), fileType: fileTypeOf(file), ...requestSwitches(settings, file) };
    const answer = await call(JSON.stringify(body), card);
    if (answer.status === 200 && answer.body && answer.body.result) {
      await card.show(answer.body.result, settings);
    } else {
      card.fail(errorText(answer));
    }
  } catch (error) {
    card.fail(`This file could not be handled in the page: ${error && error.message ? error.message : error}`);
  }
}

function add(files) {
  const settings = readSettings();
  const list = Array.from(files).filter((file) => file.size > 0 || file.type);
  for (const file of list) waiting.push({ card: new Card(file), settings });
  if (list.length) announce(`${list.length} file${list.length === 1 ? "" : "s"} added.`);
  pump();
}

// ---- wiring ----

function wire() {
  const input = $("files");
  const zone = $("drop-zone");
  input.addEventListener("change", () => {
    add(input.files);
    input.value = ""; // choosing the same file again starts it again
  });
  // Drops anywhere on the page count; without this the browser would open the dropped file.
  let depth = 0;
  document.addEventListener("dragenter", (event) => {
    event.preventDefault();
    depth += 1;
    zone.classList.add("dragging");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.classList.remove("dragging");
  });
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    if (event.dataTransfer) event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    depth = 0;
    zone.classList.remove("dragging");
    if (event.dataTransfer && event.dataTransfer.files.length) add(event.dataTransfer.files);
  });
  $("settings").addEventListener("submit", (event) => event.preventDefault());
  $("settings").addEventListener("change", () => {
    syncUnwarpControls();
    remember();
  });
  $("clear").addEventListener("click", () => {
    for (const node of Array.from(cards.children)) {
      if (node.getAttribute("aria-busy")) continue;
      for (const image of node.querySelectorAll("img, a[download]")) {
        const url = image.getAttribute("src") || image.getAttribute("href");
        if (urls.delete(url)) URL.revokeObjectURL(url);
      }
      node.remove();
    }
    $("clear").disabled = true;
    $("empty").hidden = cards.children.length > 0;
  });
}

wire();
loadSettings();
