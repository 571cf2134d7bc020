// moa-serve playground: streams tokens over SSE with fetch + ReadableStream (no dependencies).
(() => {
  const $ = (id) => document.getElementById(id);
  const form = $("form"), output = $("output"), errorBox = $("error"), status = $("status");
  const history = [];
  let controller = null;

  // A server with API keys answers 401 until the page sends one; the key stays in this tab only.
  const key = () => sessionStorage.getItem("moa-api-key") || "";
  const auth = () => (key() ? { Authorization: "Bearer " + key() } : {});
  function askForKey() { $("key-row").hidden = false; $("apikey").focus(); }

  async function loadModels() {
    try {
      const r = await fetch("/v1/models", { headers: auth() });
      const body = await r.json();
      if (r.status === 401) askForKey();
      if (!r.ok) throw apiError(r.status, body);
      errorBox.hidden = true;
      $("model").innerHTML = "";
      // generators only (an encoder computes embeddings); one not loaded yet loads on its first request
      for (const m of body.data.filter((m) => m.kind !== "encoder")) {
        const o = document.createElement("option");
        o.value = m.id;
        o.textContent = m.status && m.status !== "loaded" ? `${m.id} (${m.status}${m.status === "unloaded" ? ": loads when used" : ""})` : m.id;
        $("model").appendChild(o);
      }
    } catch (e) { showError(e); }
  }

  function apiError(status, body) {
    const e = body && body.error ? body.error : { message: "HTTP " + status };
    const hint = status === 401 ? " Enter this server's API key above."
      : status === 429 ? " The server is busy; try again in a moment."
      : status === 503 ? " The server is starting or shutting down." : "";
    return new Error(`${status}: ${e.message}${e.param ? " (field: " + e.param + ")" : ""}.${hint}`);
  }

  function showError(e) { errorBox.hidden = false; errorBox.textContent = e.message || String(e); }

  function params() {
    const p = { model: $("model").value || undefined, max_tokens: Number($("max_tokens").value),
                temperature: Number($("temperature").value), top_p: Number($("top_p").value), stream: true,
                stream_options: { include_usage: true } };
    if ($("seed").value !== "") p.seed = Number($("seed").value);
    if ($("stop").value !== "") p.stop = [$("stop").value.replace(/\\n/g, "\n")];
    if ($("show-routing").checked && $("mode").value !== "chat") p.return_routing = true;
    return p;
  }

  function renderHistory() {
    const box = $("history");
    box.hidden = history.length === 0 || $("mode").value !== "chat";
    box.innerHTML = "";
    for (const m of history) {
      const d = document.createElement("div");
      d.className = "msg";
      const b = document.createElement("b"); b.textContent = m.role + ": ";
      d.appendChild(b); d.appendChild(document.createTextNode(m.content));
      box.appendChild(d);
    }
  }

  async function generate(ev) {
    ev.preventDefault();
    errorBox.hidden = true;
    output.textContent = "";
    const chat = $("mode").value === "chat";
    const body = params();
    if (chat) {
      history.push({ role: "user", content: $("prompt").value });
      body.messages = history.slice();
      renderHistory();
    } else {
      body.prompt = $("prompt").value;
    }
    controller = new AbortController();
    $("generate").disabled = true; $("stopBtn").disabled = false;
    status.textContent = "generating…";
    const t0 = performance.now();
    let first = 0, tokens = 0, text = "", routing = null;
    $("routing").hidden = true;
    try {
      const r = await fetch(chat ? "/v1/chat/completions" : "/v1/completions", {
        method: "POST", headers: { "Content-Type": "application/json", ...auth() },
        body: JSON.stringify(body), signal: controller.signal });
      if (r.status === 401) askForKey();
      if (!r.ok) throw apiError(r.status, await r.json().catch(() => null));
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buf.indexOf("\n\n")) >= 0) {
          const event = buf.slice(0, cut); buf = buf.slice(cut + 2);
          for (const line of event.split("\n")) {
            if (!line.startsWith("data:")) continue;
            const data = line.slice(5).trim();
            if (data === "[DONE]") continue;
            const chunk = JSON.parse(data);
            if (chunk.error) throw new Error(chunk.error.message);
            if (chunk.usage) {
              // the exact count: stream chunks are not tokens (a stop string's look-ahead can merge some)
              tokens = chunk.usage.completion_tokens;
              $("ntok").textContent = `${tokens} tokens`;
              const secs = first ? (performance.now() - first) / 1000 : 0;
              if (secs > 0) $("tps").textContent = `${(tokens / secs).toFixed(1)} tokens/s`;
            }
            const c = chunk.choices && chunk.choices[0];
            if (c && c.routing) routing = c.routing;
            const piece = c ? (chat ? (c.delta && c.delta.content) || "" : c.text || "") : "";
            if (piece) {
              if (!first) { first = performance.now(); $("ttft").textContent = `TTFT ${(first - t0).toFixed(0)} ms`; }
              tokens++; text += piece; output.textContent = text;
              const secs = (performance.now() - first) / 1000;
              $("ntok").textContent = `${tokens} tokens`;
              if (secs > 0) $("tps").textContent = `${(tokens / secs).toFixed(1)} tokens/s`;
            }
          }
        }
      }
      if (routing) await showRouting(body.prompt + text, routing);
      status.textContent = "done";
    } catch (e) {
      if (e.name === "AbortError") status.textContent = "stopped";
      else { showError(e); status.textContent = "error"; }
    } finally {
      if (chat && text) { history.push({ role: "assistant", content: text }); renderHistory(); }
      controller = null;
      $("generate").disabled = false; $("stopBtn").disabled = true;
    }
  }

  // --- routing view: the answer's `routing` object (docs/api.md "Routing") over the text's tokens ---
  const ints = (a) => { const b = atob(a.data); const v = new DataView(new ArrayBuffer(b.length));
    for (let i = 0; i < b.length; i++) v.setUint8(i, b.charCodeAt(i));
    return Array.from({ length: b.length / 4 }, (_, i) => v.getInt32(4 * i, true)); };
  let R = null;

  async function showRouting(fullText, routing) {
    const r = await fetch("/tokenize", { method: "POST", headers: { "Content-Type": "application/json", ...auth() },
      body: JSON.stringify({ model: $("model").value || undefined, prompt: fullText, return_token_strs: true }) });
    const tk = await r.json();
    if (!r.ok) throw apiError(r.status, tk);
    const q = ints(routing.queries), k = ints(routing.keys);
    const [rows, L, G, kq] = routing.queries.shape, kkv = routing.keys.shape[3];
    R = { routing, q, k, rows, L, G, kq, kkv, strs: tk.token_strs.slice(0, routing.tokens) };
    for (const [id, n] of [["r-layer", L], ["r-expert", G]]) {
      $(id).innerHTML = "";
      for (let i = 0; i < n; i++) { const o = document.createElement("option"); o.value = i; o.textContent = i; $(id).appendChild(o); }
    }
    const box = $("r-tokens"); box.innerHTML = "";
    R.strs.forEach((s, p) => {
      const span = document.createElement("span");
      span.textContent = s; span.dataset.pos = p;
      if (Math.floor(p / routing.routed_window) < routing.first_window) span.className = "window-0";
      span.addEventListener("click", () => pick(p));
      box.appendChild(span);
    });
    $("r-info").textContent = `${routing.tokens} tokens, ${L} layers, ${G} experts, routed window ${routing.routed_window}, `
      + `local window ${routing.local_window}: click a token.`;
    heat(); shade();
    $("routing").hidden = false;
  }

  const cell = (row, l, e) => (row * R.L + l) * R.G + e;
  const queriesOf = (row, l, e) => R.q.slice(cell(row, l, e) * R.kq, (cell(row, l, e) + 1) * R.kq).filter((p) => p >= 0);
  const keysOf = (row, l, e) => R.k.slice(cell(row, l, e) * R.kkv, (cell(row, l, e) + 1) * R.kkv).filter((p) => p >= 0);

  /** Tokens shaded by how many routed windows the chosen expert attended them from at the chosen layer. */
  function shade() {
    const l = Number($("r-layer").value), e = Number($("r-expert").value);
    const count = new Array(R.strs.length).fill(0);
    for (let row = 0; row < R.rows; row++) for (const p of keysOf(row, l, e)) count[p]++;
    const most = Math.max(1, ...count);
    $("r-tokens").querySelectorAll("span").forEach((s, p) => {
      s.style.background = count[p] ? `rgba(214, 39, 40, ${(0.15 + 0.6 * count[p] / most).toFixed(2)})` : "";
      s.title = `position ${p}: attended from ${count[p]} routed window(s) by expert ${e} at layer ${l}`;
    });
  }

  function heat() {
    const t = $("r-heat"); t.innerHTML = "";
    const head = t.insertRow(); head.insertCell().textContent = "layer / expert";
    for (let row = 0; row < R.rows; row++) head.insertCell().textContent = R.routing.first_window + row;
    for (let l = 0; l < R.L; l++) for (let e = 0; e < R.G; e++) {
      const tr = t.insertRow(); tr.insertCell().textContent = `${l} / ${e}`;
      for (let row = 0; row < R.rows; row++) {
        const n = queriesOf(row, l, e).length, td = tr.insertCell();
        td.textContent = n; td.style.background = `rgba(31, 119, 180, ${(0.1 + 0.7 * n / R.kq).toFixed(2)})`;
      }
    }
  }

  function pick(p) {
    const l = Number($("r-layer").value), e = Number($("r-expert").value), w = R.routing.routed_window;
    const spans = $("r-tokens").querySelectorAll("span");
    spans.forEach((s) => s.classList.remove("picked", "attended", "query", "local"));
    const mark = (j, cls) => spans[j] && spans[j].classList.add(cls); // a stop string's tokens are routed, not shown
    for (let j = Math.max(0, p - R.routing.local_window); j <= p; j++) mark(j, "local");
    spans[p].classList.add("picked");
    const row = Math.floor(p / w) - R.routing.first_window;
    if (row < 0) { $("r-info").textContent = `position ${p} is in window ${Math.floor(p / w)}: local attention only.`; return; }
    for (const j of queriesOf(row, l, e)) mark(j, "query");
    for (const j of keysOf(row, l, e)) mark(j, "attended");
    const by = [];
    for (let ll = 0; ll < R.L; ll++) for (let ee = 0; ee < R.G; ee++) if (queriesOf(row, ll, ee).includes(p)) by.push(`L${ll}/E${ee}`);
    $("r-info").textContent = `position ${p} (window ${Math.floor(p / w)}): routed by ${by.length ? by.join(", ") : "no expert"}; `
      + `expert ${e} at layer ${l} attended ${keysOf(row, l, e).length} earlier tokens for this window.`;
  }

  $("r-layer").addEventListener("change", () => { shade(); });
  $("r-expert").addEventListener("change", () => { shade(); });
  form.addEventListener("submit", generate);
  $("apikey").value = key();
  if (key()) $("key-row").hidden = false;
  $("apikey").addEventListener("change", () => { sessionStorage.setItem("moa-api-key", $("apikey").value.trim()); loadModels(); });
  $("stopBtn").addEventListener("click", () => controller && controller.abort());
  $("clear").addEventListener("click", () => { history.length = 0; output.textContent = ""; renderHistory(); errorBox.hidden = true; });
  $("mode").addEventListener("change", () => {
    $("prompt-label").textContent = $("mode").value === "chat" ? "Message" : "Prompt";
    renderHistory();
  });
  loadModels();
})();
