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
      for (const m of body.data) {
        const o = document.createElement("option");
        o.value = m.id; o.textContent = m.id;
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
    let first = 0, tokens = 0, text = "";
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
