// The review page: a grid of results filled page by page from /api/items, keyboard first.
// No framework and nothing fetched from elsewhere: the server embeds its settings in #boot.
"use strict";
(function () {
  const boot = JSON.parse(document.getElementById("boot").textContent);
  const $ = (id) => document.getElementById(id);
  const grid = $("grid"), status = $("status"), more = $("more");
  let items = [], sel = -1, next = null, loading = false, filters = "";
  const undo = []; // keys decided in this session, last first
  let busy = false; // a decision is in flight: keys wait for it, so `a` then `b` never hit one item
  let openSeq = 0; // the latest detail request: an older answer arriving late is dropped

  function url(path, params) {
    const q = new URLSearchParams(params || {});
    if (boot.token) q.set("token", boot.token);
    const s = q.toString();
    return path + (s ? "?" + s : "");
  }
  function headers(post) {
    const h = {};
    if (boot.token) h["X-Review-Token"] = boot.token;
    if (post) { h["X-Review-Csrf"] = boot.csrf; h["Content-Type"] = "application/json"; }
    return h;
  }
  function toast(text, err) {
    const t = $("toast");
    t.textContent = text;
    t.className = err ? "err" : "";
    t.hidden = false;
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => { t.hidden = true; }, err ? 8000 : 3000);
  }
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  // The ETag is in the URL so a cached thumbnail is never one of older content.
  function thumbParams(it) { return it.etag ? { key: it.key, etag: it.etag } : { key: it.key }; }
  function badge(verdict) { return el("span", "badge v-" + verdict, verdict); }

  function tile(it, i) {
    const t = el("div", "tile");
    t.dataset.key = it.key;
    t.dataset.verdict = it.verdict;
    t.setAttribute("role", "gridcell");
    if (boot.thumbs && it.key) {
      const img = el("img", "thumb");
      img.loading = "lazy";
      img.alt = it.key;
      img.src = url("thumb", thumbParams(it));
      img.onerror = () => img.replaceWith(el("div", "ph", "no preview"));
      t.appendChild(img);
    } else {
      t.appendChild(el("div", "ph", "no preview"));
    }
    const info = el("div", "info");
    const head = el("div");
    head.appendChild(badge(it.verdict));
    if (it.reviewed) {
      head.appendChild(el("span", "badge human", "human: " + it.reviewed.decision));
    }
    info.appendChild(head);
    info.appendChild(el("div", "key", it.key || it.sidecar));
    if (it.categories.length) {
      info.appendChild(el("div", "cats", it.categories.map(([c, s]) => c + " " + Math.round(s)).join(" · ")));
    }
    if (it.labels.length) info.appendChild(el("div", "labels", it.labels.join(", ")));
    if (it.hits.length) info.appendChild(el("div", "hits", "text: " + it.hits.join(", ")));
    t.appendChild(info);
    t.title = it.reason;
    t.addEventListener("click", () => { select(i); open(); });
    return t;
  }

  function render() {
    grid.replaceChildren(...items.map(tile));
    more.hidden = next === null;
    status.textContent = items.length ? items.length + " shown" + (next === null ? "" : ", more below") : "nothing matches these filters";
    if (items.length) select(Math.max(0, Math.min(sel, items.length - 1)));
  }

  async function load(reset) {
    if (loading) return;
    loading = true;
    if (reset) { items = []; sel = 0; next = null; }
    const params = new URLSearchParams(filters);
    if (!reset && next !== null) params.set("cursor", next);
    try {
      const r = await fetch(url("api/items", params), { headers: headers(false) });
      const body = await r.json();
      if (!r.ok) throw new Error(body.error || r.status);
      items = items.concat(body.items);
      next = body.next === undefined ? null : body.next;
      render();
      // A page that scanned without filling: keep going while the grid is short.
      if (next !== null && body.items.length === 0) { loading = false; return load(false); }
    } catch (e) {
      status.textContent = "";
      toast("loading failed: " + e.message, true);
    } finally {
      loading = false;
    }
  }

  function select(i) {
    if (!items.length) return;
    sel = Math.max(0, Math.min(i, items.length - 1));
    grid.querySelectorAll(".tile.sel").forEach((t) => t.classList.remove("sel"));
    const t = grid.children[sel];
    if (t) { t.classList.add("sel"); t.scrollIntoView({ block: "nearest" }); }
    if (sel >= items.length - 3 && next !== null) load(false);
  }
  function columns() {
    const tiles = grid.children;
    if (tiles.length < 2) return 1;
    const top = tiles[0].offsetTop;
    let n = 0;
    while (n < tiles.length && tiles[n].offsetTop === top) n++;
    return Math.max(1, n);
  }

  async function open() {
    const it = items[sel];
    if (!it || !it.key) return;
    const seq = ++openSeq;
    const body = $("detail-body");
    body.replaceChildren(el("p", "", "loading…"));
    $("detail").hidden = false;
    let report;
    try {
      const r = await fetch(url("api/item", { key: it.key }), { headers: headers(false) });
      report = await r.json();
    } catch (e) {
      report = { error: e.message };
    }
    if (seq !== openSeq) return; // another item was opened meanwhile
    const frag = [];
    if (boot.thumbs) {
      const img = el("img", "big");
      img.alt = it.key;
      img.src = url("thumb", thumbParams(it));
      frag.push(img);
    }
    const h = el("h2");
    h.appendChild(badge(it.verdict));
    h.appendChild(document.createTextNode(" " + it.key));
    if (it.etag) h.appendChild(el("span", "etag", " ETag " + it.etag));
    frag.push(h, el("p", "reason", it.reason));
    if (it.reviewed) {
      frag.push(el("p", "", "decided by " + it.reviewed.reviewer + " (" + it.reviewed.decision + ") at " + it.reviewed.at + "; the machine said " + it.machine_verdict));
    }
    frag.push(el("p", "", "a approve · b block · u undo · Esc close"));
    frag.push(el("pre", "result", JSON.stringify(report, null, 2)));
    body.replaceChildren(...frag);
  }
  function close() { $("detail").hidden = true; }

  // Resolves to "ok", "conflict" (the item changed or is gone: reload) or "failed".
  async function decide(decision, key) {
    const i = items.findIndex((it) => it.key === key);
    if (i < 0) return "conflict";
    let r, body;
    try {
      r = await fetch(url("api/decide"), {
        method: "POST",
        headers: headers(true),
        // The version the reviewer saw: the server refuses if the result changed since.
        body: JSON.stringify({ key: key, decision: decision, etag: items[i].etag || "" }),
      });
      body = await r.json().catch(() => ({}));
    } catch (e) {
      toast(key + ": " + e.message, true);
      return "failed";
    }
    if (!r.ok) {
      toast(body.error || ("HTTP " + r.status), true);
      return r.status === 409 || r.status === 404 ? "conflict" : "failed";
    }
    items[i] = body.item;
    const t = tile(body.item, i);
    grid.children[i].replaceWith(t);
    toast(key + ": " + (decision === "undo" ? "decision undone, " : "") + body.item.verdict);
    return "ok";
  }

  async function act(decision) {
    const it = items[sel];
    if (!it || !it.key) return;
    busy = true;
    try {
      if (await decide(decision, it.key) === "ok") {
        undo.unshift(it.key);
        const wasOpen = !$("detail").hidden;
        select(sel + 1);
        if (wasOpen) open();
      }
    } finally {
      busy = false;
    }
  }

  async function undoLast() {
    const key = undo.shift();
    if (key === undefined) { toast("nothing to undo"); return; }
    const i = items.findIndex((it) => it.key === key);
    if (i >= 0) select(i);
    busy = true;
    try {
      const done = await decide("undo", key);
      // Retried later only when it may work then; a changed or missing item leaves the stack.
      if (done === "failed") undo.unshift(key);
      else if (done === "conflict") toast(key + ": not undone (it changed or is no longer listed): dropped from the undo list", true);
    } finally {
      busy = false;
    }
  }

  document.addEventListener("keydown", (e) => {
    if (e.target.closest && e.target.closest("#filters")) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const deciding = e.key === "a" || e.key === "b" || e.key === "u";
    // A held key repeats: one decision per press. While one is in flight every key waits,
    // as the selection moves only when it is written.
    if (deciding && (e.repeat || busy)) return;
    if (busy && e.key in { ArrowLeft: 1, ArrowRight: 1, ArrowUp: 1, ArrowDown: 1 }) return;
    const cols = columns();
    const moves = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -cols, ArrowDown: cols };
    if (e.key in moves) {
      e.preventDefault();
      select(sel + moves[e.key]);
      if (!$("detail").hidden) open();
    } else if (e.key === "Enter") { open(); }
    else if (e.key === "Escape") { close(); }
    else if (e.key === "a") { act("approve"); }
    else if (e.key === "b") { act("block"); }
    else if (e.key === "u") { undoLast(); }
  });
  $("close").addEventListener("click", close);
  more.addEventListener("click", () => load(false));
  $("filters").addEventListener("submit", (e) => {
    e.preventDefault();
    const f = new URLSearchParams(new FormData(e.target));
    for (const [k, v] of [...f]) if (!v) f.delete(k);
    filters = f.toString();
    document.activeElement.blur();
    load(true);
  });
  filters = "verdict=review";
  load(true);
})();
