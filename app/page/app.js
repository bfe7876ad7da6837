// The page's behaviour: ask, stream the answer, show sources and errors in words.
// No framework and no external asset: the page must work offline under `default-src 'self'`.
"use strict";

(() => {
  const KEY_STORAGE = "qa-service.api-key";
  const BROKEN = "The connection closed before the answer was complete; ask again.";
  // The API's bounds on a conversation (app/schemas.py): the oldest turns are left out first.
  const MAX_MESSAGES = 19;
  const MAX_ANSWER_CHARS = 8000;
  const MAX_CONVERSATION_CHARS = 24000;

  // The page is only ever served at the service root, so its own path is the API base.
  // A stage URL without its trailing slash (`/prod`) would make `ask` resolve to `/ask`,
  // outside the stage: add the slash before resolving the relative API paths.
  const basePath = location.pathname.endsWith("/") ? location.pathname : `${location.pathname}/`;
  const apiBase = new URL(basePath, location.href);
  const apiUrl = (relative) => new URL(relative, apiBase).toString();

  const $ = (id) => document.getElementById(id);
  const el = {
    form: $("ask-form"),
    question: $("question"),
    topK: $("top-k"),
    mode: $("mode"),
    stream: $("stream"),
    button: $("ask-button"),
    status: $("status"),
    error: $("error"),
    result: $("result"),
    answer: $("answer"),
    meta: $("meta"),
    notice: $("notice"),
    sources: $("sources"),
    history: $("history"),
    turns: $("turns"),
    followUpHelp: $("follow-up-help"),
    newConversation: $("new-conversation"),
    keyForm: $("key-form"),
    keyReason: $("key-reason"),
    keyInput: $("api-key"),
    keyCancel: $("key-cancel"),
    forgetKey: $("forget-key"),
  };

  // --- API key: session storage only, never localStorage or a cookie ------------------------

  const storage = {
    get() {
      try {
        return sessionStorage.getItem(KEY_STORAGE) || "";
      } catch {
        return "";
      }
    },
    set(value) {
      try {
        sessionStorage.setItem(KEY_STORAGE, value);
      } catch {
        // Storage disabled: the key still works for this request through `memoryKey`.
      }
      memoryKey = value;
      el.forgetKey.hidden = false;
    },
    clear() {
      try {
        sessionStorage.removeItem(KEY_STORAGE);
      } catch {
        // Nothing stored.
      }
      memoryKey = "";
      el.forgetKey.hidden = true;
    },
  };
  let memoryKey = storage.get();
  el.forgetKey.hidden = !memoryKey;

  // --- errors -----------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, message, requestId) {
      super(message);
      this.status = status;
      this.requestId = requestId || "";
    }
  }

  // API Gateway answers 403 when the key is missing or wrong; the service itself never does.
  class KeyRequired extends Error {}

  const describe = (detail) => {
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d) => (d && d.msg ? `${(d.loc || []).slice(1).join(".")}: ${d.msg}` : JSON.stringify(d)))
        .join("; ");
    }
    return detail == null ? "" : JSON.stringify(detail);
  };

  async function errorFrom(response) {
    const requestId = response.headers.get("x-request-id") || "";
    let message = "";
    const type = response.headers.get("content-type") || "";
    try {
      if (type.includes("json")) {
        const body = await response.json();
        message = describe(body.error ?? body.message ?? body.detail);
        if (body.request_id) return withRetry(response, message, String(body.request_id));
      } else if (type.startsWith("text/plain")) {
        message = (await response.text()).trim().slice(0, 300);
      }
    } catch {
      // An unreadable body: the status line below still says what happened.
    }
    return withRetry(response, message, requestId);
  }

  function withRetry(response, message, requestId) {
    const text = message || response.statusText || "The service answered with an error.";
    const retry = response.headers.get("retry-after");
    const hint = retry && /^\d+$/.test(retry) ? ` (retry after ${retry} s)` : "";
    return new ApiError(response.status, text + hint, requestId);
  }

  // --- requests ---------------------------------------------------------------------------

  async function post(path, body, accept) {
    const headers = { "content-type": "application/json", accept };
    if (memoryKey) headers["x-api-key"] = memoryKey;
    const response = await fetch(apiUrl(path), {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    if (response.status === 403) {
      throw new KeyRequired(memoryKey ? "refused" : "missing");
    }
    return response;
  }

  async function askOnce(body) {
    const response = await post("ask", body, "application/json");
    if (!response.ok) throw await errorFrom(response);
    const data = await response.json();
    showSources(data.sources || []);
    renderAnswer(data.answer || "");
    showMeta(data);
    showOutcome(data);
    return data.answer || "";
  }

  // Returns false when streaming is not available here, so the caller falls back to `ask`.
  async function askStream(body) {
    const response = await post("ask/stream", body, "text/event-stream");
    if ([404, 405, 501].includes(response.status)) return false;
    if (!response.ok) throw await errorFrom(response);
    const type = response.headers.get("content-type") || "";
    if (!response.body || !type.includes("text/event-stream")) return false;

    let text = "";
    let done = false;
    const meta = { request_id: response.headers.get("x-request-id") || "" };
    const handle = (event) => {
      const data = parseData(event.data);
      if (event.type === "sources") {
        const sources = Array.isArray(data) ? data : data.sources || [];
        showSources(sources);
        Object.assign(meta, Array.isArray(data) ? {} : data);
        showMeta(meta);
      } else if (event.type === "delta") {
        text += typeof data === "string" ? data : (data.text ?? data.delta ?? "");
        renderAnswer(text);
      } else if (event.type === "done") {
        Object.assign(meta, data);
        if (typeof data.answer === "string" && !text) renderAnswer((text = data.answer));
        showMeta(meta);
        showOutcome(meta);
        done = true;
      } else if (event.type === "error") {
        const message = describe(data.error ?? data.message) || "The answer failed midway.";
        throw new ApiError(data.status || 0, message, data.request_id || meta.request_id);
      }
    };
    try {
      for await (const event of readEvents(response.body)) handle(event);
    } catch (error) {
      // A connection that breaks mid-stream is not "unreachable": say what was lost.
      if (!(error instanceof TypeError)) throw error;
    }
    if (!done) throw new ApiError(0, BROKEN, meta.request_id);
    return text;
  }

  function parseData(raw) {
    try {
      return JSON.parse(raw);
    } catch {
      return raw;
    }
  }

  // Server-sent events over fetch (EventSource cannot POST or send headers):
  // https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
  async function* readEvents(stream) {
    const reader = stream.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let type = "";
    let data = [];
    try {
      for (;;) {
        const { value, done } = await reader.read();
        buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
        const lines = buffer.split(/\r\n|\r|\n/);
        buffer = done ? "" : lines.pop();
        for (const line of lines) {
          if (line === "") {
            if (data.length) yield { type: type || "message", data: data.join("\n") };
            type = "";
            data = [];
            continue;
          }
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let value = colon < 0 ? "" : line.slice(colon + 1);
          if (value.startsWith(" ")) value = value.slice(1);
          if (field === "event") type = value;
          else if (field === "data") data.push(value);
        }
        if (done) break;
      }
    } finally {
      reader.releaseLock();
    }
  }

  // --- rendering --------------------------------------------------------------------------

  // `[n]` in the answer becomes a link to source n; everything else stays plain text.
  function renderAnswer(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(/\[(\d{1,2})\]/g)) {
      const n = Number(match[1]);
      if (!document.getElementById(`source-${n}`)) continue;
      fragment.append(text.slice(last, match.index));
      const link = document.createElement("a");
      link.href = `#source-${n}`;
      link.className = "cite";
      link.textContent = match[0];
      link.setAttribute("aria-label", `source ${n}`);
      fragment.append(link);
      last = match.index + match[0].length;
    }
    fragment.append(text.slice(last));
    el.answer.replaceChildren(fragment);
    el.result.hidden = false;
  }

  function showSources(sources) {
    const items = sources.map((source, i) => {
      const item = document.createElement("li");
      item.id = `source-${i + 1}`;
      const head = document.createElement("p");
      head.className = "source-head";
      const name = document.createElement("strong");
      name.className = "source-document";
      name.textContent = source.document;
      head.append(name);
      const facts = [];
      if (source.page != null) facts.push(`page ${source.page}`);
      if (source.chunk != null) facts.push(`chunk ${source.chunk}`);
      if (typeof source.score === "number") facts.push(`score ${source.score.toFixed(3)}`);
      const detail = document.createElement("span");
      detail.className = "source-facts";
      detail.textContent = facts.join(" · ");
      head.append(" ", detail);
      const snippet = document.createElement("blockquote");
      snippet.className = "snippet";
      snippet.textContent = source.snippet || "";
      item.append(head, snippet);
      return item;
    });
    if (items.length === 0) {
      const none = document.createElement("li");
      none.className = "none";
      none.textContent = "No passage of the documents matched this question.";
      items.push(none);
    }
    el.sources.replaceChildren(...items);
    el.result.hidden = false;
  }

  function showMeta(data) {
    const parts = [];
    if (data.model) parts.push(data.model === "extractive" ? "extractive (no LLM)" : data.model);
    const t = data.timings_ms;
    if (t && typeof t.total === "number") {
      parts.push(`${Math.round(t.total)} ms (retrieve ${Math.round(t.retrieve ?? 0)}, generate ${Math.round(t.generate ?? 0)})`);
    }
    const usage = data.usage;
    if (usage && (usage.input_tokens != null || usage.output_tokens != null)) {
      parts.push(`${usage.input_tokens ?? "?"} tokens in, ${usage.output_tokens ?? "?"} out`);
    }
    if (data.request_id) parts.push(`request ${data.request_id}`);
    el.meta.textContent = parts.join(" · ");
  }

  // How the answer ended (stop reason, truncated, blocked) and which sources it cites.
  function showOutcome(data) {
    const notes = [];
    if (data.blocked) {
      notes.push(
        data.stop_reason === "content_filtered"
          ? "The model's content filter stopped this answer."
          : "A guardrail stopped this answer; the text above is its notice.",
      );
      if (data.stop_reason === "content_filtered") el.answer.replaceChildren();
    }
    if (data.truncated) notes.push("The answer was cut short (the model's length limit); it may be incomplete.");
    const removed = data.citations_removed || [];
    if (removed.length) {
      notes.push(`The model cited sources that do not exist (${removed.map((n) => `[${n}]`).join(" ")}); those citations were removed.`);
    }
    el.notice.textContent = notes.join(" ");
    el.notice.hidden = notes.length === 0;
    if (Array.isArray(data.cited)) {
      const cited = new Set(data.cited);
      el.sources.querySelectorAll("li[id^='source-']").forEach((item) => {
        const n = Number(item.id.slice("source-".length));
        const uncited = !cited.has(n);
        item.classList.toggle("uncited", uncited);
        const head = item.querySelector(".source-head");
        if (uncited && head && !head.querySelector(".uncited-label")) {
          const label = document.createElement("span");
          label.className = "uncited-label";
          label.textContent = " · not cited";
          head.append(label);
        }
      });
    }
  }

  function showError(error) {
    let text;
    if (error instanceof ApiError) {
      text = error.status ? `Error ${error.status}: ${error.message}` : `Error: ${error.message}`;
      if (error.requestId) text += ` (request ${error.requestId})`;
    } else if (error instanceof TypeError) {
      text = `Could not reach the service: ${error.message}. Check the connection and try again.`;
    } else {
      text = `Unexpected error: ${error && error.message ? error.message : error}`;
    }
    el.error.textContent = text;
    el.error.hidden = false;
  }

  function setBusy(busy) {
    el.button.disabled = busy;
    el.button.textContent = busy ? "Asking…" : "Ask";
    el.answer.setAttribute("aria-busy", String(busy));
    el.form.classList.toggle("busy", busy);
    if (busy) el.status.textContent = "Searching the documents…";
  }

  // --- flow -------------------------------------------------------------------------------

  let pending = null;

  // --- conversation: each answered question and its answer, sent with the next question ----

  let conversation = [];

  // The conversation plus `question`, within the API's bounds: whole question-and-answer
  // pairs are left out from the oldest, so the messages still start with a user turn.
  function boundedMessages(question) {
    let turns = conversation.map((t) => ({
      role: t.role,
      content: t.role === "assistant" ? t.content.slice(0, MAX_ANSWER_CHARS) : t.content,
    }));
    const size = (list) => list.reduce((sum, t) => sum + t.content.length, question.length);
    while (turns.length && (turns.length + 1 > MAX_MESSAGES || size(turns) > MAX_CONVERSATION_CHARS)) {
      turns = turns.slice(2);
    }
    return [...turns, { role: "user", content: question }];
  }

  function showConversation() {
    const items = conversation.map((turn) => {
      const item = document.createElement("li");
      const role = document.createElement("span");
      role.className = "role";
      role.textContent = turn.role === "user" ? "You: " : "Answer: ";
      item.append(role, turn.content);
      return item;
    });
    el.turns.replaceChildren(...items);
    const following = conversation.length > 0;
    el.history.hidden = !following;
    el.newConversation.hidden = !following;
    el.followUpHelp.hidden = !following;
  }

  function requestBody() {
    const question = el.question.value.trim();
    const body = conversation.length && question
      ? { messages: boundedMessages(question), mode: el.mode.value }
      : { question, mode: el.mode.value };
    const topK = Number.parseInt(el.topK.value, 10);
    if (!Number.isNaN(topK)) body.top_k = topK;
    return body;
  }

  function asked(body) {
    return body.messages ? body.messages[body.messages.length - 1].content : body.question;
  }

  async function run(body) {
    el.error.hidden = true;
    el.result.hidden = true;
    el.answer.replaceChildren();
    el.meta.textContent = "";
    el.notice.hidden = true;
    setBusy(true);
    try {
      const streamed = el.stream.checked && "ReadableStream" in window && (await askStream(body));
      const answer = streamed === false ? await askOnce(body) : streamed;
      conversation = [
        ...(body.messages ? body.messages.slice(0, -1) : []),
        { role: "user", content: asked(body) },
        { role: "assistant", content: answer || "(no answer)" },
      ];
      showConversation();
      el.question.value = "";
      el.status.textContent = "Answer ready.";
    } catch (error) {
      el.status.textContent = "";
      if (error instanceof KeyRequired) {
        askForKey(body, error.message);
      } else {
        showError(error);
      }
    } finally {
      setBusy(false);
    }
  }

  function askForKey(body, reason) {
    pending = body;
    if (reason === "refused") {
      storage.clear();
      el.keyReason.textContent = "The API gateway refused the key (403). Enter a valid key.";
    } else {
      el.keyReason.textContent = "This service is behind an API gateway that needs an API key (403).";
    }
    el.keyForm.hidden = false;
    el.keyInput.value = "";
    el.keyInput.focus();
  }

  el.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = requestBody();
    if (!asked(body)) {
      showError(new ApiError(0, "Type a question first."));
      el.question.focus();
      return;
    }
    run(body);
  });

  el.newConversation.addEventListener("click", () => {
    conversation = [];
    showConversation();
    el.result.hidden = true;
    el.status.textContent = "New conversation.";
    el.question.focus();
  });

  el.question.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) el.form.requestSubmit();
  });

  el.keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = el.keyInput.value.trim();
    if (!key) {
      el.keyReason.textContent = "Enter the API key, or Cancel.";
      el.keyInput.focus();
      return;
    }
    storage.set(key);
    el.keyInput.value = "";
    el.keyForm.hidden = true;
    const body = pending;
    pending = null;
    if (body) run(body);
  });

  el.keyCancel.addEventListener("click", () => {
    pending = null;
    el.keyForm.hidden = true;
    showError(new ApiError(403, "The question was not sent: this service needs an API key."));
    el.question.focus();
  });

  el.forgetKey.addEventListener("click", () => {
    storage.clear();
    el.status.textContent = "API key forgotten.";
  });
})();
