// The page's only script: served from /static under a CSP of 'self', so nothing here is inline.
// Every piece of user or server text reaches the page through textContent or DOM nodes, never
// through innerHTML: a tweet holding "<script>" must show as the literal text it is.
"use strict";

(() => {
  const MAX_CHARS = 500; // the API's limit, counted like Python: code points of the trimmed text
  const KEY_STORAGE = "bad-buzz-api-key"; // sessionStorage only: the key dies with the tab
  const FEEDBACK_THANKS = "thanks, recorded";
  const FEEDBACK_NOT_YET = "feedback is not available yet";
  // A 503 means "not stored yet, try again": retried after Retry-After (or 1, 2, 4 s), 3 times.
  const FEEDBACK_RETRIES = 3;
  const MAX_RETRY_DELAY_MS = 10_000;

  const byId = (id) => document.getElementById(id);
  const ui = {
    form: byId("predict-form"),
    tweet: byId("tweet"),
    counter: byId("counter"),
    predict: byId("predict"),
    keyRow: byId("api-key-row"),
    key: byId("api-key"),
    message: byId("message"),
    result: byId("result"),
    label: byId("label"),
    probability: byId("probability"),
    bar: byId("bar"),
    barFill: byId("bar-fill"),
    barThreshold: byId("bar-threshold"),
    barLegend: byId("bar-legend"),
    highlighted: byId("highlighted"),
    terms: byId("terms"),
    modelVersion: byId("model-version"),
    language: byId("language"),
    wrong: byId("wrong"),
    right: byId("right"),
    feedbackMessage: byId("feedback-message"),
  };
  const state = { busy: false, lastPrediction: null };

  function countChars(text) {
    return Array.from(text.trim()).length;
  }

  function updateCounter() {
    const count = countChars(ui.tweet.value);
    const over = count > MAX_CHARS;
    ui.counter.textContent = `${count} / ${MAX_CHARS}`;
    ui.counter.classList.toggle("over", over);
    ui.tweet.setAttribute("aria-invalid", String(over));
    ui.predict.disabled = state.busy || count === 0 || over;
  }

  function showMessage(text) {
    ui.message.textContent = text;
    ui.message.hidden = !text;
  }

  // --- API key: asked for only when the server answers 401 ---------------------------------
  function showKeyField() {
    ui.keyRow.hidden = false;
    ui.key.focus();
  }

  function rememberKey() {
    const key = ui.key.value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
  }

  function restoreKey() {
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) {
      ui.key.value = key;
      ui.keyRow.hidden = false;
    }
  }

  // --- HTTP -------------------------------------------------------------------------------
  async function postJson(url, body) {
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    const key = ui.key.value.trim();
    if (key) headers["x-api-key"] = key;
    const response = await fetch(url, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null; // an empty or non-JSON body: the status says enough
    }
    const retryAfter = Number(response.headers.get("Retry-After"));
    return { status: response.status, ok: response.ok, data, retryAfter };
  }

  function describeError(reply) {
    const message = reply.data && reply.data.error && reply.data.error.message;
    return typeof message === "string" && message ? message : `request failed (HTTP ${reply.status})`;
  }

  // --- predict ------------------------------------------------------------------------------
  function setBusy(busy) {
    state.busy = busy;
    ui.predict.textContent = busy ? "Predicting…" : "Predict";
    ui.result.setAttribute("aria-busy", String(busy));
    updateCounter();
  }

  async function submitTweet(event) {
    event.preventDefault();
    const text = ui.tweet.value.trim();
    if (state.busy || !text || countChars(text) > MAX_CHARS) return;
    showMessage("");
    setBusy(true);
    try {
      const reply = await postJson("/api/predict", { text });
      if (reply.status === 401) {
        showKeyField();
        showMessage(`${describeError(reply)}: enter the API key, then predict again.`);
      } else if (!reply.ok) {
        showMessage(describeError(reply));
      } else {
        renderResult(text, reply.data);
      }
    } catch {
      showMessage("Could not reach the server. Check your connection and try again.");
    } finally {
      setBusy(false);
    }
  }

  // --- result -------------------------------------------------------------------------------
  function formatPercent(probability) {
    return `${(probability * 100).toFixed(1)} %`;
  }

  function renderBar(probability, threshold) {
    const percent = Math.min(100, Math.max(0, probability * 100));
    const mark = Math.min(100, Math.max(0, threshold * 100));
    // CSSOM properties, not a style attribute: allowed by style-src 'self'.
    ui.barFill.style.width = `${percent}%`;
    ui.barThreshold.style.left = `${mark}%`;
    ui.bar.setAttribute("aria-valuenow", percent.toFixed(1));
    ui.bar.setAttribute("aria-valuetext", `${formatPercent(probability)} negative`);
    ui.barLegend.textContent =
      `P(negative) ${formatPercent(probability)}; the mark is the threshold, ${formatPercent(threshold)}.`;
  }

  function describeLanguage(data) {
    const code = String(data.language || "und");
    if (data.translated) return `${code}, translated to English for the model`;
    const reason = data.translation_reason;
    if (!reason || reason === "already English") return code;
    return `${code}, not translated (${reason})`;
  }

  function renderResult(text, data) {
    // "unknown": the model found nothing it knows in the text, so there is no verdict to show.
    const label = ["negative", "positive"].includes(data.label) ? data.label : "unknown";
    ui.label.textContent = label === "unknown" ? "cannot judge" : label;
    ui.label.className = `label ${label}`;
    ui.probability.textContent =
      label === "unknown"
        ? "no words, emoji or emoticons the model knows"
        : `${formatPercent(data.negative_probability)} negative`;
    renderBar(Number(data.negative_probability), Number(data.threshold));
    const explanation = Array.isArray(data.explanation) ? data.explanation : [];
    renderHighlights(ui.highlighted, text, explanation);
    renderTerms(ui.terms, explanation);
    ui.modelVersion.textContent = String(data.model_version);
    ui.language.textContent = describeLanguage(data);
    // Feedback sends back what predict returned: the text the model read (masked, maybe
    // translated), the label, and the token that proves this API made the prediction.
    state.lastPrediction = {
      prediction_id: data.prediction_id,
      text: data.model_text || text,
      predicted_label: data.label,
      model_version: data.model_version,
      language: data.language,
      feedback_token: data.feedback_token,
    };
    labelFeedbackButtons(data.label);
    setFeedbackEnabled(true);
    ui.feedbackMessage.textContent = "";
    ui.result.hidden = false;
  }

  // --- explanation highlighting (best effort: terms are normalised n-grams) -----------------
  function foldWord(word) {
    return word
      .normalize("NFD")
      .replace(/\p{M}+/gu, "")
      .toLowerCase()
      .replace(/'/g, "")
      .replace(/(.)\1{2,}/gu, "$1$1");
  }

  function tokenize(text) {
    const tokens = [];
    for (const match of text.matchAll(/[\p{L}\p{N}_']+/gu)) {
      tokens.push({ start: match.index, end: match.index + match[0].length, key: foldWord(match[0]) });
    }
    return tokens;
  }

  function markTokens(tokens, explanation) {
    const marks = new Array(tokens.length).fill(null);
    const terms = explanation
      .filter((item) => typeof item.term === "string" && !item.term.includes("<"))
      .sort((a, b) => Math.abs(b.weight) - Math.abs(a.weight));
    for (const item of terms) {
      const words = item.term.split(" ").filter(Boolean).map(foldWord);
      for (let i = 0; words.length && i + words.length <= tokens.length; i += 1) {
        if (!words.every((word, k) => tokens[i + k].key === word)) continue;
        for (let k = 0; k < words.length; k += 1) marks[i + k] = marks[i + k] || item;
      }
    }
    return marks;
  }

  function renderHighlights(container, text, explanation) {
    const tokens = tokenize(text);
    const marks = markTokens(tokens, explanation);
    const nodes = [];
    let position = 0;
    for (let i = 0; i < tokens.length; i += 1) {
      if (!marks[i]) continue;
      let last = i;
      while (last + 1 < tokens.length && marks[last + 1] === marks[i]) last += 1;
      nodes.push(document.createTextNode(text.slice(position, tokens[i].start)));
      nodes.push(buildMark(text.slice(tokens[i].start, tokens[last].end), marks[i]));
      position = tokens[last].end;
      i = last;
    }
    nodes.push(document.createTextNode(text.slice(position)));
    container.replaceChildren(...nodes);
  }

  function buildMark(text, item) {
    const mark = document.createElement("mark");
    mark.className = item.weight > 0 ? "negative" : "positive";
    mark.textContent = text;
    mark.title = `${item.term}: ${Number(item.weight).toFixed(2)}`;
    return mark;
  }

  function renderTerms(list, explanation) {
    const items = explanation.map((item) => {
      const entry = document.createElement("li");
      entry.className = item.weight > 0 ? "negative" : "positive";
      const sign = item.weight > 0 ? "+" : "−";
      // A term not written as such in the tweet says which of the tweet's words it came from.
      const from = item.source ? ` (from “${item.source}”)` : "";
      entry.textContent = `${item.term}${from} ${sign}${Math.abs(Number(item.weight)).toFixed(2)}`;
      return entry;
    });
    list.replaceChildren(...items);
  }

  // --- feedback -----------------------------------------------------------------------------
  // A negative or positive answer: "wrong" is a correction, "right" a confirmation. An
  // "unknown" answer (the model saw nothing it knows) cannot be right or wrong: the two buttons
  // then say which label it should have been (a correction with that label).
  function labelFeedbackButtons(label) {
    const unknown = label === "unknown";
    ui.wrong.textContent = unknown ? "It is negative" : "This prediction is wrong";
    ui.right.textContent = unknown ? "It is positive" : "This prediction is right";
  }

  function setFeedbackEnabled(enabled) {
    ui.wrong.disabled = !enabled;
    ui.right.disabled = !enabled;
  }

  function feedbackFor(button) {
    const prediction = state.lastPrediction;
    if (prediction.predicted_label === "unknown") {
      const correct = button === ui.wrong ? "negative" : "positive";
      return { ...prediction, kind: "correction", correct_label: correct };
    }
    return { ...prediction, kind: button === ui.wrong ? "correction" : "confirmation" };
  }

  function retryDelay(reply, attempt) {
    const asked = reply.retryAfter > 0 ? reply.retryAfter * 1000 : 1000 * 2 ** attempt;
    return Math.min(asked, MAX_RETRY_DELAY_MS);
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function sendFeedback(body) {
    let reply = await postJson("/api/feedback", body);
    for (let attempt = 0; reply.status === 503 && attempt < FEEDBACK_RETRIES; attempt += 1) {
      if (reply.data && reply.data.error && reply.data.error.code !== "feedback_unavailable") break;
      ui.feedbackMessage.textContent = "Not stored yet, trying again…";
      await sleep(retryDelay(reply, attempt));
      reply = await postJson("/api/feedback", body);
    }
    return reply;
  }

  async function reportFeedback(event) {
    if (!state.lastPrediction) return;
    const body = feedbackFor(event.currentTarget);
    setFeedbackEnabled(false);
    ui.feedbackMessage.textContent = "Sending…";
    try {
      const reply = await sendFeedback(body);
      if (reply.status === 404) {
        ui.feedbackMessage.textContent = FEEDBACK_NOT_YET;
      } else if (reply.ok) {
        ui.feedbackMessage.textContent = FEEDBACK_THANKS;
      } else {
        if (reply.status === 401) showKeyField();
        ui.feedbackMessage.textContent = describeError(reply);
        // 401 (key), 429 (later) and 503 (still not stored) can succeed on another click.
        setFeedbackEnabled([401, 429, 503].includes(reply.status));
      }
    } catch {
      ui.feedbackMessage.textContent = "Could not reach the server. Try again.";
      setFeedbackEnabled(true);
    }
  }

  function submitOnCtrlEnter(event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) ui.form.requestSubmit();
  }

  ui.tweet.addEventListener("input", updateCounter);
  ui.tweet.addEventListener("keydown", submitOnCtrlEnter);
  ui.key.addEventListener("input", rememberKey);
  ui.form.addEventListener("submit", submitTweet);
  ui.wrong.addEventListener("click", reportFeedback);
  ui.right.addEventListener("click", reportFeedback);
  restoreKey();
  updateCounter();
})();
