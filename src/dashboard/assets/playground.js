// The playground: loads the models a project may call, sends a message to one model or two
// side by side, streams each answer, then shows its provider, cost, latency, time to first
// token and cache status.
(function () {
  const form = document.getElementById("pg");
  if (!form) return;
  const $ = (id) => document.getElementById(id);
  const csrf = form.dataset.csrf;
  const columns = { a: { history: [], box: $("chat-a") }, b: { history: [], box: $("chat-b") } };
  const status = $("pg-status");

  async function loadModels() {
    const project = $("pg-project").value;
    if (!project) return;
    status.textContent = "Loading models…";
    const r = await fetch("/playground/models/" + encodeURIComponent(project));
    const body = await r.json().catch(() => ({}));
    if (!r.ok) { status.textContent = (body.error && body.error.message) || "Models could not be loaded."; return; }
    const ids = (body.data || []).map((m) => m.id).sort();
    for (const [select, blank] of [[$("pg-model-a"), false], [$("pg-model-b"), true]]) {
      select.replaceChildren();
      if (blank) select.append(new Option("(none)", ""));
      for (const id of ids) select.append(new Option(id, id));
    }
    status.textContent = ids.length + " models this project can route.";
  }

  function bubble(box, role, text) {
    const div = document.createElement("div");
    div.className = "msg " + role;
    div.textContent = text;
    box.append(div);
    return div;
  }

  async function cost(project, requestId) {
    for (let i = 0; i < 20; i++) {
      const r = await fetch("/playground/usage/" + encodeURIComponent(project) + "/" + encodeURIComponent(requestId));
      const record = r.ok ? await r.json() : null;
      if (record) return record.cost_usd;
      await new Promise((done) => setTimeout(done, 150));
    }
    return null;
  }

  async function ask(column, model, text) {
    const col = columns[column];
    col.history.push({ role: "user", content: text });
    bubble(col.box, "user", text);
    const out = bubble(col.box, "assistant", "");
    const meta = document.createElement("div");
    meta.className = "meta";
    col.box.append(meta);
    const project = $("pg-project").value;
    const started = performance.now();
    let first = null;
    let answer = "";
    const r = await fetch("/playground/chat", {
      method: "POST",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify({
        project, model, system: $("pg-system").value, messages: col.history,
        temperature: parseFloat($("pg-temperature").value), max_tokens: parseInt($("pg-max").value, 10),
      }),
    });
    if (!r.ok || !r.body) {
      const body = await r.json().catch(() => ({}));
      out.textContent = (body.error && body.error.message) || ("Error " + r.status);
      out.classList.add("error");
      col.history.pop();
      return;
    }
    const reader = r.body.getReader();
    const decoder = new TextDecoder();
    let pending = "";
    let failed = null;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += decoder.decode(value, { stream: true });
      let end;
      while ((end = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, end).trim();
        pending = pending.slice(end + 1);
        if (!line.startsWith("data:")) continue;
        const data = line.slice(5).trim();
        if (data === "[DONE]") continue;
        const chunk = JSON.parse(data);
        if (chunk.error) { failed = chunk.error.message; continue; }
        const delta = chunk.choices && chunk.choices[0] && chunk.choices[0].delta;
        if (delta && delta.content) {
          if (first === null) first = performance.now();
          answer += delta.content;
          out.textContent = answer;
        }
      }
    }
    const total = Math.round(performance.now() - started);
    if (failed) { out.textContent = answer + "\n[" + failed + "]"; out.classList.add("error"); }
    col.history.push({ role: "assistant", content: answer });
    const provider = r.headers.get("x-tollgate-provider") || "?";
    const cache = r.headers.get("x-tollgate-cache") || "?";
    const ttft = first === null ? "-" : Math.round(first - started) + " ms";
    meta.textContent = model + " via " + provider + " · latency " + total + " ms · first token " + ttft + " · cache " + cache;
    const id = r.headers.get("x-request-id");
    if (id) {
      const usd = await cost(project, id);
      if (usd !== null) meta.textContent += " · cost $" + usd.toFixed(6);
    }
  }

  $("pg-project").addEventListener("change", () => { clear(); loadModels(); });
  $("pg-model-b").addEventListener("change", () => { $("col-b").hidden = !$("pg-model-b").value; });
  function clear() { for (const c of Object.values(columns)) { c.history = []; c.box.replaceChildren(); } }
  $("pg-clear").addEventListener("click", clear);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = $("pg-message").value.trim();
    if (!text) return;
    $("pg-message").value = "";
    $("pg-send").disabled = true;
    status.textContent = "Sending…";
    const jobs = [ask("a", $("pg-model-a").value, text)];
    if ($("pg-model-b").value) jobs.push(ask("b", $("pg-model-b").value, text));
    await Promise.all(jobs);
    $("pg-send").disabled = false;
    status.textContent = "Done.";
  });
  loadModels();
})();
